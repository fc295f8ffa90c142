// Sends log lines to logproc's Loki push API with winston and winston-loki
// (protobuf compressed with snappy), the level as winston's `level` label.
//
// argv[2]: {"host", "service", "steps": [{"level", "component", "count"}]}.
// Exits 0 once Loki's endpoint acknowledged every batch.
import { createRequire } from 'node:module';
import winston from 'winston';
import LokiTransport from 'winston-loki';

// winston-loki falls back to JSON, silently, where snappy does not load:
// this test is of protobuf + snappy.
createRequire(import.meta.url)('snappy');
const plan = JSON.parse(process.argv[2]);
let failed = false;
const transport = new LokiTransport({
  host: plan.host,
  json: false,
  labels: { app: plan.service },
  interval: 0.2,
  timeout: 30000,
  onConnectionError: (error) => {
    failed = true;
    console.error('push failed:', error);
  },
});
const logger = winston.createLogger({ level: 'silly', transports: [transport] });
for (const step of plan.steps) {
  for (let i = 0; i < step.count; i++) {
    logger.log({ level: step.level, message: `line ${i}`, labels: { component: step.component } });
  }
}
await transport.flush();
await transport.close();
process.exit(failed ? 1 : 0);
