// Sends log records to logproc with the OpenTelemetry JavaScript SDK and its
// OTLP/HTTP JSON exporter (@opentelemetry/exporter-logs-otlp-http).
//
// argv[2]: {"endpoint", "service", "gzip", "steps": [{"logger", "count",
// "severity_number"?, "severity_text"?, "body"?}]}.
// Exits 0 once every record was exported and acknowledged.
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';

const plan = JSON.parse(process.argv[2]);
let failed = false;
class CheckedExporter extends OTLPLogExporter {
  export(records, done) {
    super.export(records, (result) => {
      if (result.code !== 0) {
        failed = true;
        console.error('export failed:', result.error);
      }
      done(result);
    });
  }
}
const exporter = new CheckedExporter({
  url: plan.endpoint,
  compression: plan.gzip ? 'gzip' : 'none',
  timeoutMillis: 30000,
});
const provider = new LoggerProvider({
  resource: resourceFromAttributes({ 'service.name': plan.service }),
  processors: [new BatchLogRecordProcessor({ exporter, maxQueueSize: 1000000, maxExportBatchSize: 1000 })],
});
for (const step of plan.steps) {
  const logger = provider.getLogger(step.logger);
  for (let i = 0; i < step.count; i++) {
    const record = { body: step.body ?? `record ${i} of ${step.logger}`, attributes: { 'step.index': i } };
    if (step.severity_number !== undefined) record.severityNumber = step.severity_number;
    if (step.severity_text !== undefined) record.severityText = step.severity_text;
    logger.emit(record);
  }
}
await provider.forceFlush();
await provider.shutdown();
process.exit(failed ? 1 : 0);
