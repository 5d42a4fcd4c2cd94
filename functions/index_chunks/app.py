"""The index queue's consumer (an image function: the search engine is too big for a zip).

A batch holds changes of one or more datasets, each dataset's in order (its FIFO group). Each
dataset's changes are applied together by reading what the chunk store holds now, so duplicates
and reordering converge; a dataset that fails reports its messages failed (and only its), which
SQS redelivers in order, and after maxReceiveCount moves to the dead-letter queue."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from kb_ingest.dal.search_feed import apply_work, publish_indexed
from kb_ingest.domain.search_feed import Change, plan
from kb_ingest.observability import METRICS_NAMESPACE, logger, metrics, tracer


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records", [])
    message_ids: dict[str, list[str]] = {}  # dataset id -> its messages
    changes = []
    for record in records:
        change = Change.from_message(record.get("body", ""))
        if change is None:
            logger.warning("malformed index message dropped", extra={"body": str(record.get("body"))[:500]})
            continue
        changes.append(change)
        message_ids.setdefault(change.dataset_id, []).append(record["messageId"])
    failed: list[str] = []
    for dataset_id, work in plan(changes).items():
        try:
            outcome = apply_work(work)
        except Exception:
            logger.exception("index changes failed", extra={"dataset_id": dataset_id})
            failed.extend(message_ids[dataset_id])
            continue
        publish_indexed(outcome)
        logger.info(
            "index changes applied",
            extra={"dataset_id": dataset_id, "changes": len(work.event_ids), "skipped": outcome.skipped,
                   "documents": len(outcome.documents_indexed), "removed": outcome.documents_removed,
                   "upserted": outcome.chunks_upserted, "deleted": outcome.chunks_removed, "lag": outcome.lag_left,
                   "compacted": outcome.compacted},
        )  # fmt: skip
        _publish_lag(dataset_id, outcome.lag_left)
    metrics.add_metric(name="ChangesIndexed", unit=MetricUnit.Count, value=len(changes))
    if failed and len(failed) == len(records):
        raise RuntimeError(f"all {len(records)} index messages failed")
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def _publish_lag(dataset_id: str, lag: int) -> None:
    """SearchLag per dataset: a metric of its own for its dimension. Powertools' single_metric
    prints even when metrics are disabled (POWERTOOLS_METRICS_DISABLED), so it is asked first."""
    if is_metrics_disabled():
        return
    with single_metric(name="SearchLag", unit=MetricUnit.Count, value=lag, namespace=METRICS_NAMESPACE) as metric:
        metric.add_dimension(name="dataset_id", value=dataset_id)
