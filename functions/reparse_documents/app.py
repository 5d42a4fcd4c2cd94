"""On a schedule: re-queue what failed, stalled or changed (see kb_ingest.domain.reparse),
a bounded slice per run, resuming where the last run stopped."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from kb_ingest.clock import now_ms
from kb_ingest.dal.queues import ParseQueue
from kb_ingest.dal.runs import get_run_store
from kb_ingest.dal.sweep import DynamoSweepSource, load_cursor, save_cursor
from kb_ingest.domain.reparse import SweepBudget, sweep
from kb_ingest.observability import logger, metrics, tracer
from kb_ingest.settings import get_settings


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = get_settings()
    cursor = load_cursor()
    budget = SweepBudget(settings.reparse_max_documents, settings.reparse_max_requeues)
    report = sweep(
        DynamoSweepSource(), get_run_store(), ParseQueue(), cursor, budget, now_ms(),
        context.get_remaining_time_in_millis,
    )  # fmt: skip
    save_cursor(cursor)
    metrics.add_metric(name="DocumentsRequeued", unit=MetricUnit.Count, value=len(report.requeued))
    logger.info("reparse sweep", extra={"examined": report.examined, "requeued": report.requeued})
    return {
        "examined": report.examined,
        "requeued": report.requeued,
        "finished_lap": report.finished_lap,
        "stopped_because": report.stopped_because,
    }
