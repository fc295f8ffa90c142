"""Sends log lines to logproc's Loki push API (JSON) with
python-logging-loki: the service as the `application` tag, the level as
its `severity` label, a component as a per-record tag.

argv[1]: {"url", "service", "steps": [{"level", "component", "count"}]}.
Exits 0 once every push was acknowledged.
"""

import json
import logging
import sys

import logging_loki


class CheckedHandler(logging_loki.LokiHandler):
    """A failed push fails the run: the handler would only print it."""

    def handleError(self, record):
        sys.exit(f"a push failed: {sys.exc_info()[1]}")


plan = json.loads(sys.argv[1])
handler = CheckedHandler(url=plan["url"], tags={"application": plan["service"]}, version="1")
logger = logging.getLogger("sender")
logger.setLevel(logging.DEBUG)
logger.propagate = False
logger.addHandler(handler)
for step in plan["steps"]:
    for i in range(step["count"]):
        logger.log(getattr(logging, step["level"]), "line %d", i, extra={"tags": {"component": step["component"]}})
