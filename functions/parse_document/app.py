"""The parse queue's consumer: parse requests, "parse everything" fan-outs, and S3 events
(uploads landing). Each message is one record of a partial-batch response."""

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from kb_ingest.dal.blobs import S3FileStore, S3InboxObjects, object_key, parse_incoming_key
from kb_ingest.dal.chunks import ChunkWriter, delete_other_runs
from kb_ingest.dal.datasets import get_dataset_store
from kb_ingest.dal.documents import get_document_store
from kb_ingest.dal.events import EventBridgePublisher
from kb_ingest.dal.queues import ParseQueue, delay_redelivery
from kb_ingest.dal.runs import get_run_store
from kb_ingest.domain.inbox import inbox_dataset_id, reconcile_inbox_key
from kb_ingest.domain.parse_runs import start_runs
from kb_ingest.domain.parse_worker import ParseJob, run_parse
from kb_ingest.domain.uploads import RetryLater, on_upload_landed
from kb_ingest.observability import logger, metrics, tracer
from kb_ingest.settings import get_settings

# A message that cannot be decided yet (RetryLater: a drop-folder dataset not found within its
# 60 s grace, an upload without its record yet) is reported failed so SQS brings it back, but it
# is an expected answer: no traceback, no function error. handler() raises only for real errors.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
PAGE_OF_DOCUMENTS = 100


def parse(body: dict[str, Any], record: SQSRecord, context: Any) -> None:
    job = ParseJob(
        tenant_id=body["tenant_id"],
        dataset_id=body["dataset_id"],
        document_id=body["document_id"],
        run_id=body["run_id"],
        attempt=int(record.attributes.approximate_receive_count or 1),
        max_attempts=get_settings().parse_max_attempts,
    )
    files = S3FileStore()
    outcome = run_parse(
        job,
        get_document_store(),
        get_run_store(),
        read_file=lambda document: files.read_object(object_key(document)),
        new_sink=lambda document: ChunkWriter(document.tenant_id, document.kb_id, document.id, job.run_id),
        events=EventBridgePublisher(),
        remaining_ms=context.get_remaining_time_in_millis,
    )
    if outcome.startswith("done"):
        delete_other_runs(job.tenant_id, job.dataset_id, job.document_id, keep_run_id=job.run_id)
    logger.info("parse run", extra={"document_id": job.document_id, "run_id": job.run_id, "outcome": outcome})


def parse_all(body: dict[str, Any]) -> None:
    """Start one page of a dataset's documents, then hand the rest to the next message."""
    dataset = get_dataset_store().get(body["tenant_id"], body["dataset_id"])
    if dataset is None:
        return  # deleted meanwhile
    page, after = get_document_store().page_after(dataset.id, body.get("after"), PAGE_OF_DOCUMENTS)
    start_runs(get_run_store(), ParseQueue(), dataset, page)
    if after is not None:
        ParseQueue().request_parse_all(body["tenant_id"], body["dataset_id"], after)


def object_event(body: dict[str, Any]) -> None:
    for record in S3Event(body).records:
        key = unquote_plus(record.s3.get_object.key)  # S3 encodes keys (`+` for spaces, moto even `%2F`)
        event_time = datetime.fromisoformat(record.event_time.replace("Z", "+00:00"))
        age_seconds = (datetime.now(UTC) - event_time).total_seconds()
        if inbox_dataset_id(key) is not None:
            outcome = reconcile_inbox_key(
                key,
                age_seconds,
                get_dataset_store(),
                get_document_store(),
                get_run_store(),
                ParseQueue(),
                S3InboxObjects(),
                get_settings().max_presigned_upload_bytes,
            )
            logger.info("drop folder", extra={"key": key, "event": record.event_name, "outcome": outcome})
            continue
        upload = parse_incoming_key(key)
        if upload is None or not record.event_name.startswith("ObjectCreated"):
            logger.info("S3 event ignored", extra={"key": key, "event": record.event_name})
            continue
        outcome = on_upload_landed(
            get_document_store(),
            S3FileStore(),
            key,
            upload,
            age_seconds,
            get_settings().upload_expiry_grace_seconds,
            restart=parse_new_version,
        )
        logger.info("upload landed", extra={"key": key, "outcome": outcome})


def parse_new_version(document: Any) -> None:
    """A presigned document got a new file after it was parsed: parse the new version."""
    dataset = get_dataset_store().get(document.tenant_id, document.kb_id)
    if dataset is not None:
        start_runs(get_run_store(), ParseQueue(), dataset, [document], reason="A new version of the file was uploaded.")


JOB_FIELDS = {"parse": ("tenant_id", "dataset_id", "document_id", "run_id"), "parse_all": ("tenant_id", "dataset_id")}


def is_well_formed(body: Any) -> bool:
    """Retrying a message that can never be understood only delays its trip to the DLQ."""
    if not isinstance(body, dict):
        return False
    fields = JOB_FIELDS.get(body.get("job", ""), ())
    return all(isinstance(body.get(name), str) for name in fields)


def handle_message(record: SQSRecord, lambda_context: Any) -> None:
    try:
        body = json.loads(record.body)
    except ValueError:
        body = None
    if not is_well_formed(body):
        logger.warning("malformed message dropped", extra={"body": record.body[:1000]})
        return
    try:
        if body.get("Event") == "s3:TestEvent":
            return  # sent once when the bucket notification is configured
        if "Records" in body:
            object_event(body)
        elif body.get("job") == "parse":
            parse(body, record, lambda_context)
        elif body.get("job") == "parse_all":
            parse_all(body)
        else:
            logger.warning("unknown message dropped", extra={"body": body})
    except RetryLater as retry:
        delay_redelivery(record.event_source_arn, record.receipt_handle, retry.seconds)
        logger.info("message retried later", extra={"reason": str(retry), "retry_in_seconds": retry.seconds})
        raise


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse | dict[str, Any]:
    records = event.get("Records", [])
    metrics.add_metric(name="MessagesReceived", unit=MetricUnit.Count, value=len(records))
    response = process_partial_response(
        event=event, record_handler=handle_message, processor=processor, context=context
    )
    errors = [error for _, error, _ in processor.exceptions if not isinstance(error, RetryLater)]
    for error in errors:
        logger.error("message failed", exc_info=error)
    if errors and records and len(response.get("batchItemFailures", [])) == len(records):
        # Every message failed, some for real: fail the invocation as Powertools would (Errors alarm).
        raise RuntimeError(f"all {len(records)} messages failed; first error: {errors[0]!r}") from errors[0]
    return response
