"""Chunks in S3: one folder per parse run, JSON Lines files of a thousand chunks each, and a
manifest written last. A million chunks cost a thousand PUTs to write, and any page of them
one or two GETs to read; DynamoDB holds only the counts.

    parsed/{tenant}/{dataset}/{document}/{run_id}/chunks-00000.jsonl
    parsed/{tenant}/{dataset}/{document}/{run_id}/manifest.json
"""

import json
from typing import Any

from kb_ingest.dal.blobs import delete_prefix, parsed_prefix
from kb_ingest.dal.clients import client
from kb_ingest.settings import get_settings

CHUNKS_PER_FILE = 1000


def run_prefix(tenant_id: str, dataset_id: str, document_id: str, run_id: str) -> str:
    return f"{parsed_prefix(tenant_id, dataset_id, document_id)}{run_id}/"


class ChunkWriter:
    """Buffers chunks and writes a file per thousand; `close` writes the manifest."""

    def __init__(self, tenant_id: str, dataset_id: str, document_id: str, run_id: str) -> None:
        self.prefix = run_prefix(tenant_id, dataset_id, document_id, run_id)
        self.bucket = get_settings().documents_bucket
        self._buffer: list[str] = []
        self.files = 0
        self.count = 0

    def add(self, chunk: dict[str, Any]) -> None:
        self._buffer.append(json.dumps(chunk, ensure_ascii=False))
        self.count += 1
        if len(self._buffer) >= CHUNKS_PER_FILE:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        body = ("\n".join(self._buffer) + "\n").encode("utf-8")
        client("s3").put_object(Bucket=self.bucket, Key=f"{self.prefix}chunks-{self.files:05d}.jsonl", Body=body)
        self.files += 1
        self._buffer = []

    def close(self, summary: dict[str, Any]) -> None:
        self._flush()
        manifest = {"chunks": self.count, "chunks_per_file": CHUNKS_PER_FILE, "files": self.files, **summary}
        client("s3").put_object(
            Bucket=self.bucket, Key=f"{self.prefix}manifest.json", Body=json.dumps(manifest).encode("utf-8")
        )

    def discard(self) -> None:
        delete_prefix(self.prefix)


def read_chunks(
    tenant_id: str, dataset_id: str, document_id: str, run_id: str, offset: int, count: int
) -> list[dict[str, Any]]:
    """Chunks [offset, offset + count) of a finished run, reading only the files they are in."""
    prefix = run_prefix(tenant_id, dataset_id, document_id, run_id)
    bucket = get_settings().documents_bucket
    chunks: list[dict[str, Any]] = []
    first_file = offset // CHUNKS_PER_FILE
    skip = offset % CHUNKS_PER_FILE
    file_index = first_file
    while len(chunks) < count:
        try:
            body = client("s3").get_object(Bucket=bucket, Key=f"{prefix}chunks-{file_index:05d}.jsonl")["Body"]
        except client("s3").exceptions.NoSuchKey:
            break
        lines = body.read().decode("utf-8").splitlines()
        chunks.extend(json.loads(line) for line in lines[skip:] if line)
        skip = 0
        file_index += 1
    return chunks[:count]


def delete_other_runs(tenant_id: str, dataset_id: str, document_id: str, keep_run_id: str | None) -> None:
    """Remove the output of every run but `keep_run_id` (older runs, abandoned attempts)."""
    base = parsed_prefix(tenant_id, dataset_id, document_id)
    paginator = client("s3").get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=get_settings().documents_bucket, Prefix=base, Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            run_folder = common["Prefix"][len(base) :].rstrip("/")
            if run_folder != keep_run_id:
                delete_prefix(common["Prefix"])
