"""Bulk document deletions still under way, kept in the documents bucket under
`jobs/delete-documents/{dataset}/{job}.json` until the cleanup function has done them.

The object is the job's memory: it is written before the queue message, rewritten with what
remains when an invocation runs out of time, and deleted last. A schedule re-sends jobs whose
object has not changed for a while (their message was lost or dead-lettered).
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from kb_ingest.clock import new_id
from kb_ingest.dal.clients import client
from kb_ingest.domain.document_deletion import DeletionJob
from kb_ingest.settings import get_settings

PREFIX = "jobs/delete-documents/"


def job_key(dataset_id: str, job_id: str) -> str:
    return f"{PREFIX}{dataset_id}/{job_id}.json"


def _message(job: DeletionJob, key: str) -> str:
    return json.dumps({"job": "delete_documents", "tenant_id": job.tenant_id, "dataset_id": job.dataset_id, "key": key})


class S3DeletionJobs:
    def submit(self, job: DeletionJob) -> None:
        key = job_key(job.dataset_id, new_id())
        self.save(key, job)
        self._send(job, key)

    def _send(self, job: DeletionJob, key: str) -> None:
        client("sqs").send_message(QueueUrl=get_settings().cleanup_queue_url, MessageBody=_message(job, key))

    def save(self, key: str, job: DeletionJob) -> None:
        body = {
            "tenant_id": job.tenant_id,
            "dataset_id": job.dataset_id,
            "ids": job.ids,
            "created_before": job.created_before,
        }
        client("s3").put_object(Bucket=get_settings().documents_bucket, Key=key, Body=json.dumps(body).encode())

    def load(self, key: str) -> DeletionJob | None:
        """The job, or None when it is already done (its object is gone)."""
        s3 = client("s3")
        try:
            body: dict[str, Any] = json.loads(
                s3.get_object(Bucket=get_settings().documents_bucket, Key=key)["Body"].read()
            )
        except s3.exceptions.NoSuchKey:
            return None
        return DeletionJob(body["tenant_id"], body["dataset_id"], body["ids"], int(body["created_before"]))

    def carry_on(self, key: str, job: DeletionJob) -> None:
        """Out of time: remember what remains and continue in a fresh invocation."""
        self.save(key, job)
        self._send(job, key)

    def finish(self, key: str) -> None:
        client("s3").delete_object(Bucket=get_settings().documents_bucket, Key=key)

    def resend_stale(self, older_than: timedelta = timedelta(minutes=15), max_keys: int = 1000) -> int:
        """Re-send jobs untouched for `older_than`: a page of the jobs prefix, on a schedule."""
        s3, bucket = client("s3"), get_settings().documents_bucket
        cutoff = datetime.now(UTC) - older_than
        sent = 0
        for item in s3.list_objects_v2(Bucket=bucket, Prefix=PREFIX, MaxKeys=max_keys).get("Contents", []):
            if item["LastModified"] >= cutoff:
                continue
            job = self.load(item["Key"])
            if job is not None:
                self.carry_on(item["Key"], job)  # rewriting it also restarts its clock
                sent += 1
        return sent
