"""Section 6: the chunk store. A parse's chunk writes (BatchWriteItem, 25 a call) against one
PutItem per chunk, and the cost of editing one chunk in a small and in a big document, all on
the local stack in the same run (moto: figures are relative; the ratios are what carry over)."""

from __future__ import annotations

import statistics
import time
from typing import Any

from benchmarks.common import SectionResult, Table, bar, say

TITLE = "6. Chunk store"


def _document(doc_id: str, dataset_id: str, tenant_id: str) -> Any:
    from kb_ingest.domain.documents import Document

    return Document(
        id=doc_id, kb_id=dataset_id, tenant_id=tenant_id, name="bench.txt", type="doc", parser_id="naive",
        parser_config={}, size=1, create_time=0, update_time=0,
    )  # fmt: skip


def _chunk(document: Any, index: int) -> Any:
    from kb_ingest.domain.chunks import StoredChunk

    return StoredChunk(
        id=f"{index:016x}", document_id=document.id, dataset_id=document.kb_id,
        content=f"Chunk {index}: all work and no play makes Jack a dull boy. " * 8, position=index, token_count=100,
    )  # fmt: skip


def run(quick: bool = False) -> SectionResult:
    from benchmarks.api import local_api
    from kb_ingest.clock import new_id
    from kb_ingest.dal.chunks import ChunkTableWriter, DynamoChunkStore, to_item
    from kb_ingest.dal.models import DocumentModel

    result = SectionResult("chunks", TITLE)
    count = 1000 if quick else 4000
    table = Table(TITLE, ["measure", "chunk store", "baseline (same run)", "ratio"])
    with local_api("chunks") as api:
        dataset_id = api.create_dataset()
        tenant_id = api.local.tenant_id
        say(f"    chunk store: writing {count} chunks both ways")
        batched = _document(new_id(), dataset_id, tenant_id)
        writer = ChunkTableWriter(batched, "run")
        started = time.perf_counter()
        for index in range(count):
            writer.add(_chunk(batched, index))
        writer.close({})
        batch_rate = count / (time.perf_counter() - started)
        single = _document(new_id(), dataset_id, tenant_id)
        started = time.perf_counter()
        for index in range(count):
            to_item(_chunk(single, index), tenant_id, "run").save()
        single_rate = count / (time.perf_counter() - started)
        table.add(
            f"parse output, {count} chunks (chunks/s)", f"{batch_rate:.0f}", f"{single_rate:.0f} (one PutItem each)",
            f"{batch_rate / single_rate:.1f}x",
        )  # fmt: skip
        result.bars.append(
            bar(
                "parse writes chunks in batches",
                "faster than one PutItem per chunk",
                f"{batch_rate / single_rate:.1f}x",
                batch_rate > single_rate,
            )
        )
        say("    chunk store: editing one chunk in a small and a big document")
        store = DynamoChunkStore()
        timings = {}
        for label, size in (("small", 10), ("big", count)):
            document = _document(new_id(), dataset_id, tenant_id)
            DocumentModel(
                dataset_id, document.id, tenant_id=tenant_id, created_by=tenant_id, name=f"{label}.txt",
                name_key=f"{label}-{document.id}", location="x", type="doc", parser_id="naive", parser_config={},
                size=1, source_type="local", status="1", run="3", progress=1, create_time=0, update_time=0,
                chunks_run_id="run", chunk_num=size, token_num=size * 100,
            ).save()  # fmt: skip
            writer = ChunkTableWriter(document, "run")
            for index in range(size):
                writer.add(_chunk(document, index))
            writer.close({})
            document = _fresh(dataset_id, document.id)
            target = _chunk(document, size // 2)
            samples = []
            for round_ in range(15 if quick else 40):
                changed = type(target)(**{**target.__dict__, "content": f"edited {round_} " * 20})
                began = time.perf_counter()
                store.update(document, changed, token_delta=round_ % 2)  # alternate: one item / with counts
                samples.append(time.perf_counter() - began)
            timings[label] = statistics.median(samples) * 1000
        ratio = timings["big"] / timings["small"]
        table.add(
            f"edit one chunk (ms, median), {count} vs 10 chunks in the document", f"{timings['big']:.1f}",
            f"{timings['small']:.1f}", f"{ratio:.2f}x",
        )  # fmt: skip
        result.bars.append(
            bar(
                "an edit costs what one chunk costs",
                "big/small latency ≤ 1.5",
                f"{ratio:.2f}x",
                ratio <= 1.5,
                "an edit reads or writes more than the chunk and its counters",
            )
        )
    table.notes.append(
        "Writes through the local stack's moto; in DynamoDB a BatchWriteItem of 25 costs one round trip."
    )
    result.tables.append(table)
    return result


def _fresh(dataset_id: str, document_id: str) -> Any:
    from kb_ingest.dal.documents import to_domain
    from kb_ingest.dal.models import DocumentModel

    return to_domain(DocumentModel.get(dataset_id, document_id, consistent_read=True))
