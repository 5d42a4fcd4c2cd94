"""Removing what a deleted dataset leaves behind: chunks, document records, name claims, files
and parse output. Every step is safe to repeat, so a purge that dies midway is simply run again."""

import contextlib
import json
from collections.abc import Callable

from pynamodb.exceptions import DoesNotExist, UpdateError

from kb_ingest.clock import now_ms
from kb_ingest.dal.blobs import dataset_prefixes, delete_prefix
from kb_ingest.dal.chunks import remove_document_chunks
from kb_ingest.dal.clients import client
from kb_ingest.dal.models import DocumentModel, NameClaimModel, PurgeJobModel
from kb_ingest.dal.names import document_name_scope
from kb_ingest.settings import get_settings

# Stop starting new pages of work when less than this is left of the invocation.
_SAFETY_MARGIN_MS = 30_000


def purge_dataset(tenant_id: str, dataset_id: str, remaining_ms: Callable[[], int]) -> bool:
    """Purge one page at a time; True when everything is gone, False when out of time."""

    def out_of_time() -> bool:
        return remaining_ms() < _SAFETY_MARGIN_MS

    while True:
        # Consistent reads: an eventually consistent page could miss a document written a moment
        # before the dataset was deleted, and the job would end with it still there.
        page = list(DocumentModel.query(dataset_id, limit=100, attributes_to_get=["kb_id", "id"], consistent_read=True))
        if not page:
            break
        for item in page:  # chunks first: the document record is how a resumed purge finds them
            remove_document_chunks(item.id)
            if out_of_time():
                return False
        with DocumentModel.batch_write() as batch:
            for item in page:
                batch.delete(item)
        if out_of_time():
            return False
    while True:
        claims = list(NameClaimModel.query(document_name_scope(dataset_id), limit=100, consistent_read=True))
        if not claims:
            break
        with NameClaimModel.batch_write() as batch:
            for claim in claims:
                batch.delete(claim)
        if out_of_time():
            return False
    for prefix in dataset_prefixes(tenant_id, dataset_id):
        delete_prefix(prefix)
        if out_of_time():
            return False
    with contextlib.suppress(DoesNotExist):
        PurgeJobModel.get(dataset_id).delete()
    return True


def resend_stale_purge_jobs(older_than_ms: int) -> int:
    """Re-queue jobs requested long ago and still present (their message was lost or failed).

    A scan of the jobs table: it holds only datasets still being purged, and this runs on a
    schedule, never on a request path.
    """
    cutoff = now_ms() - older_than_ms
    sent = 0
    for job in PurgeJobModel.scan():
        if job.tenant_id is None:  # a job an unconditional update once wrote back after its purge
            job.delete()
            continue
        if max(int(job.requested_at or 0), int(job.last_sent_at or 0)) > cutoff:
            continue
        try:
            # Conditional: a purge that finished since the scan deleted the job, and an
            # unconditional update would write it back (a job without a dataset, forever).
            job.update(actions=[PurgeJobModel.last_sent_at.set(now_ms())], condition=PurgeJobModel.dataset_id.exists())
        except UpdateError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                continue
            raise
        client("sqs").send_message(
            QueueUrl=get_settings().cleanup_queue_url,
            MessageBody=json.dumps({"job": "purge_dataset", "tenant_id": job.tenant_id, "dataset_id": job.dataset_id}),
        )
        sent += 1
    return sent
