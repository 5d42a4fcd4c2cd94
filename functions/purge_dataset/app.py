"""Purge deleted datasets (SQS), and on a schedule re-queue purge jobs whose message was lost."""

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from kb_ingest.dal.purge import purge_dataset, resend_stale_purge_jobs
from kb_ingest.dal.queues import SqsPurgeQueue
from kb_ingest.observability import logger, metrics, tracer

STALE_JOB_MS = 15 * 60 * 1000
processor = BatchProcessor(event_type=EventType.SQS)


def purge_one(record: SQSRecord, lambda_context: Any) -> None:
    job = json.loads(record.body)
    finished = purge_dataset(job["tenant_id"], job["dataset_id"], lambda_context.get_remaining_time_in_millis)
    if not finished:  # out of time: carry on in a fresh invocation
        SqsPurgeQueue().request_purge(job["tenant_id"], job["dataset_id"])
    logger.info("purge step done", extra={"dataset_id": job["dataset_id"], "finished": finished})


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("source") == "aws.events":
        return {"requeued": resend_stale_purge_jobs(STALE_JOB_MS)}
    return process_partial_response(event=event, record_handler=purge_one, processor=processor, context=context)
