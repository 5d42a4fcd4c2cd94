"""Background cleanup from the cleanup queue: purge deleted datasets, expire unfinished
uploads, finish bulk document deletions. On a schedule: re-queue purge and deletion jobs whose
message was lost, and reclaim files under uploads/ whose record never came."""

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from kb_ingest.dal.blobs import S3FileStore
from kb_ingest.dal.deletion_jobs import S3DeletionJobs
from kb_ingest.dal.documents import get_document_store
from kb_ingest.dal.orphans import reclaim_orphan_uploads
from kb_ingest.dal.purge import purge_dataset, resend_stale_purge_jobs
from kb_ingest.dal.queues import CleanupQueue
from kb_ingest.domain.document_deletion import run_deletion_job
from kb_ingest.domain.uploads import expire_upload
from kb_ingest.observability import logger, metrics, tracer

STALE_PURGE_JOB_MS = 15 * 60 * 1000
# Stop starting new pages of a deletion when less than this is left of the invocation.
DELETION_MARGIN_MS = 30_000
processor = BatchProcessor(event_type=EventType.SQS)


def run_job(record: SQSRecord, lambda_context: Any) -> None:
    job = json.loads(record.body)
    tenant_id, dataset_id = job["tenant_id"], job["dataset_id"]
    if job.get("job", "purge_dataset") == "purge_dataset":
        finished = purge_dataset(tenant_id, dataset_id, lambda_context.get_remaining_time_in_millis)
        if not finished:  # out of time: carry on in a fresh invocation
            CleanupQueue().request_purge(tenant_id, dataset_id)
        logger.info("purge step", extra={"dataset_id": dataset_id, "finished": finished})
    elif job["job"] == "expire_upload":
        outcome = expire_upload(get_document_store(), S3FileStore(), dataset_id, job["document_id"])
        logger.info("upload expiry", extra={"document_id": job["document_id"], "outcome": outcome})
    elif job["job"] == "delete_documents":
        delete_documents_step(job["key"], lambda_context)
    else:
        logger.warning("unknown cleanup job dropped", extra={"job": job})


def delete_documents_step(key: str, lambda_context: Any) -> None:
    jobs = S3DeletionJobs()
    deletion = jobs.load(key)
    if deletion is None:
        return  # done already: a duplicate message
    remaining = run_deletion_job(
        get_document_store(),
        S3FileStore(),
        deletion,
        lambda: lambda_context.get_remaining_time_in_millis() < DELETION_MARGIN_MS,
    )
    if remaining is None:
        jobs.finish(key)
    else:
        jobs.carry_on(key, remaining)
    logger.info("deletion step", extra={"key": key, "finished": remaining is None})


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse | dict[str, Any]:
    metrics.add_metric(name="MessagesReceived", unit=MetricUnit.Count, value=len(event.get("Records", [])))
    if event.get("source") == "aws.events":
        orphans = reclaim_orphan_uploads()
        if orphans:
            logger.warning("orphaned uploads removed", extra={"keys": orphans})
        return {
            "requeued": resend_stale_purge_jobs(STALE_PURGE_JOB_MS),
            "deletions_requeued": S3DeletionJobs().resend_stale(),
            "orphans_removed": len(orphans),
        }
    return process_partial_response(event=event, record_handler=run_job, processor=processor, context=context)
