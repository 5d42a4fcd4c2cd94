"""Run outcomes published on the project's EventBridge bus, for webhooks, queues or functions."""

import json
from typing import Any

from kb_ingest.dal.clients import client
from kb_ingest.observability import logger
from kb_ingest.settings import get_settings

SOURCE = "kb-ingest"
DETAIL_TYPE = "Document parse run ended"


class EventBridgePublisher:
    def run_ended(self, detail: dict[str, Any]) -> None:
        """Best effort: an event that cannot be published is logged, never fails the run."""
        bus = get_settings().event_bus_name
        if not bus:
            return
        try:
            response = client("events").put_events(
                Entries=[
                    {"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": json.dumps(detail), "EventBusName": bus}
                ]
            )
            if response.get("FailedEntryCount"):
                logger.warning("run event not accepted", extra={"response": response["Entries"]})
        except Exception:
            logger.exception("run event not published", extra={"detail": detail})
