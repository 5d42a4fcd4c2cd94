"""The parse queue's consumer: S3 events (uploads landing) and parse requests."""

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from kb_ingest.dal.blobs import S3FileStore, parse_upload_key
from kb_ingest.dal.documents import get_document_store
from kb_ingest.dal.queues import delay_redelivery
from kb_ingest.domain.uploads import RetryLater, on_upload_landed
from kb_ingest.observability import logger, metrics, tracer
from kb_ingest.settings import get_settings

processor = BatchProcessor(event_type=EventType.SQS)


def handle_s3_event(body: dict[str, Any]) -> None:
    for record in S3Event(body).records:
        key = unquote_plus(record.s3.get_object.key)  # S3 encodes keys (`+` for spaces, moto even `%2F`)
        upload = parse_upload_key(key)
        if upload is None or not record.event_name.startswith("ObjectCreated"):
            logger.info("S3 event ignored", extra={"key": key, "event": record.event_name})
            continue
        event_time = datetime.fromisoformat(record.event_time.replace("Z", "+00:00"))
        outcome = on_upload_landed(
            get_document_store(),
            S3FileStore(),
            upload,
            int(record.s3.get_object.size or 0),
            (datetime.now(UTC) - event_time).total_seconds(),
            get_settings().upload_expiry_grace_seconds,
        )
        logger.info("upload landed", extra={"key": key, "outcome": outcome})


def handle_message(record: SQSRecord) -> None:
    body = json.loads(record.body)
    try:
        if body.get("Event") == "s3:TestEvent":
            return  # sent once when the bucket notification is configured
        if "Records" in body:
            handle_s3_event(body)
            return
        logger.warning("unknown message dropped", extra={"body": body})
    except RetryLater as retry:
        delay_redelivery(record.event_source_arn, record.receipt_handle, retry.seconds)
        raise


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=handle_message, processor=processor, context=context)
