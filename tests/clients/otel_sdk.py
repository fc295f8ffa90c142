"""Sends log records to logproc with the OpenTelemetry Python SDK and its
OTLP/HTTP (protobuf) exporter, as an application would: through Python's
logging (the scope is the logger's name) and through the logs API directly.

argv[1]: {"endpoint", "service", "gzip", "steps": [{"logger", "count",
"level" (a logging level name) | "severity_text" | "body"}]}.
Exits 0 once every record was exported and acknowledged.
"""

import json
import logging
import sys

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExportResult
from opentelemetry.sdk.resources import Resource


class CheckedExporter(OTLPLogExporter):
    """Remembers a failed export: the processor only logs it."""

    failed = False

    def export(self, batch):
        result = super().export(batch)
        if result != LogRecordExportResult.SUCCESS:
            CheckedExporter.failed = True
        return result


plan = json.loads(sys.argv[1])
compression = Compression.Gzip if plan["gzip"] else Compression.NoCompression
provider = LoggerProvider(resource=Resource.create({"service.name": plan["service"]}))
exporter = CheckedExporter(endpoint=plan["endpoint"], compression=compression, timeout=30)
provider.add_log_record_processor(
    BatchLogRecordProcessor(exporter, max_queue_size=1_000_000, max_export_batch_size=1000)
)
handler = LoggingHandler(level=logging.NOTSET, logger_provider=provider)

for step in plan["steps"]:
    if "level" in step:
        logger = logging.getLogger(step["logger"])
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
        if handler not in logger.handlers:
            logger.addHandler(handler)
        level = getattr(logging, step["level"])
        for i in range(step["count"]):
            logger.log(level, "record %d of %s", i, step["logger"])
    else:
        logger = provider.get_logger(step["logger"])
        for _ in range(step["count"]):
            logger.emit(severity_text=step.get("severity_text"), body=step.get("body"))

flushed = provider.force_flush(timeout_millis=60_000)
provider.shutdown()
if not flushed or CheckedExporter.failed:
    sys.exit("an export failed or did not finish")
