"""The chunk store's change feed (ChunksTable's stream) into the index queue: each change the
index must see becomes one small message in its dataset's FIFO group; the rest (an unpublished
parse's writes, a retired generation's deletion, a document enabled or disabled) is dropped.

A dataset whose changes cannot be sent fails from its first record on (ReportBatchItemFailures:
Lambda retries the batch from the lowest failed sequence number, bisecting it on errors)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from kb_ingest.dal.search_feed import changes_of, forward
from kb_ingest.observability import logger, metrics, tracer


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records", [])
    by_dataset: dict[str, list[Any]] = {}
    for record, change in changes_of(records):
        if change is not None:
            by_dataset.setdefault(change.dataset_id, []).append((record, change))
    failed: list[str] = []
    for dataset_id, pairs in by_dataset.items():
        try:
            forward([change for _, change in pairs])
        except Exception:
            logger.exception("changes not forwarded", extra={"dataset_id": dataset_id, "changes": len(pairs)})
            failed.append(str(pairs[0][0]["dynamodb"]["SequenceNumber"]))
    forwarded = sum(len(pairs) for pairs in by_dataset.values())
    metrics.add_metric(name="ChunkChangesSeen", unit=MetricUnit.Count, value=len(records))
    metrics.add_metric(name="ChunkChangesForwarded", unit=MetricUnit.Count, value=forwarded)
    if failed and len(failed) == len(by_dataset):
        raise RuntimeError(f"no change of {len(by_dataset)} dataset(s) could be forwarded")
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}
