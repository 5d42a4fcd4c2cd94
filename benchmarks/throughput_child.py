"""One format's parse measurements, in a process of its own (so its peak RSS is its own).

    python -m benchmarks.throughput_child FILE NAME [WARMUP_FILE]   ->  one JSON line on stdout

WARMUP_FILE, a small document of the same format, is parsed first (untimed) so that lazy imports
and first-use caches of the format's libraries are not in the figures.

1. `chunk_document(data, NAME, "naive", {})` consumed fully: seconds, chunks, tokens, and the peak
   resident memory it added (the kernel's high-water mark VmHWM, reset just before, minus the RSS
   then; the input bytes are already loaded, the format libraries imported and the tokenizer
   loaded before the mark).
2. The same text extracted once (`extract`), then, in turn and ROUNDS times (CPU time, the best
   round of each): `count_tokens` over the joined text (tokenizing it once), our `naive_chunks`
   over the TextBlocks, and LangChain's `RecursiveCharacterTextSplitter` (chunk_size=128,
   chunk_overlap=0, length_function=count_tokens: the same cl100k count) over the joined text.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import resource
import sys
import time

ROUNDS = 3


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak() -> bool:
    """Reset the kernel's resident high-water mark (VmHWM) to the current RSS (Linux 4.0+).

    Without it the mark would hold whatever came before, including the parent's RSS at fork:
    ru_maxrss of a child started by a big process starts at the parent's size.
    """
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def main(path: str, name: str, warmup: str | None = None) -> dict[str, object]:
    from kb_ingest.domain.parsing import chunk_document, count_tokens, extract, naive_chunks

    with open(path, "rb") as handle:
        data = handle.read()
    count_tokens("load the encoder before the mark")
    for library in ("pypdf", "docx", "pptx", "openpyxl", "xlrd", "charset_normalizer", "bs4", "lxml.etree"):
        with contextlib.suppress(Exception):
            importlib.import_module(library)
    if warmup:
        with open(warmup, "rb") as handle:
            for _ in chunk_document(handle.read(), name, "naive", {}).chunks:
                pass
    gc.collect()
    peak_reset = reset_peak()
    before = rss_bytes()
    peak_before = peak_rss_bytes()

    started = time.perf_counter()
    result = chunk_document(data, name, "naive", {})
    chunks = tokens = 0
    first_chunk_peak = 0
    for chunk in result.chunks:
        if not chunks:
            first_chunk_peak = peak_rss_bytes()  # the document loaded, the first chunk cut
        chunks += 1
        tokens += chunk.token_count
    parse_seconds = time.perf_counter() - started
    peak_after = peak_rss_bytes()

    started = time.perf_counter()
    blocks = list(extract(data, name))
    extract_seconds = time.perf_counter() - started
    pages = len({block.page for block in blocks if block.page is not None})
    chars = sum(len(block.text) for block in blocks)
    text_bytes = sum(sys.getsizeof(block.text) for block in blocks)

    from langchain_text_splitters import RecursiveCharacterTextSplitter

    joined = "".join(block.text for block in blocks)
    splitter = RecursiveCharacterTextSplitter(chunk_size=128, chunk_overlap=0, length_function=count_tokens)
    # The three are timed in turn, ROUNDS times, and each keeps its fastest round: the machine is
    # shared, and CPU time (process_time) of the best round moves least with other load.
    tokenize_times, ours_times, langchain_times = [], [], []
    ours = theirs = 0
    for _ in range(ROUNDS):
        gc.collect()
        started = time.process_time()
        count_tokens(joined)
        tokenize_times.append(time.process_time() - started)
        gc.collect()
        started = time.process_time()
        ours = sum(1 for _ in naive_chunks(blocks))
        ours_times.append(time.process_time() - started)
        gc.collect()
        started = time.process_time()
        theirs = len(splitter.split_text(joined))
        langchain_times.append(time.process_time() - started)
    tokenize_seconds, ours_seconds, langchain_seconds = min(tokenize_times), min(ours_times), min(langchain_times)

    tokenized = tokenizer_work(blocks, joined, splitter)
    return {
        "tokenized": tokenized,
        "bytes": len(data),
        "parser": result.parser_id,
        "parse_seconds": parse_seconds,
        "chunks": chunks,
        "tokens": tokens,
        "rss_before": before,
        "peak_before": peak_before,
        "peak_after": peak_after,
        "peak_added": max(0, peak_after - before),
        "peak_reset": peak_reset,
        "extract_seconds": extract_seconds,
        "peak_added_before_first_chunk": max(0, first_chunk_peak - before) if first_chunk_peak else None,
        "text_bytes_in_memory": text_bytes,
        "blocks": len(blocks),
        "pages": pages,
        "chars": chars,
        "tokenize_once_seconds": tokenize_seconds,
        "split_rounds": ROUNDS,
        "split_ours_seconds": ours_seconds,
        "split_ours_chunks": ours,
        "split_langchain_seconds": langchain_seconds,
        "split_langchain_chunks": theirs,
    }


def tokenizer_work(blocks: list, joined: str, splitter: object) -> dict[str, int]:
    """How much each splitter asks of the tokenizer (an untimed, instrumented third run of each)."""
    from kb_ingest.domain.parsing import chunking, tokens

    counted = {"ours_calls": 0, "ours_chars": 0, "langchain_calls": 0, "langchain_chars": 0}
    real_counter = chunking._counter()

    def ours(text: str) -> int:
        counted["ours_calls"] += 1
        counted["ours_chars"] += len(text)
        return real_counter(text)

    def theirs(text: str) -> int:
        counted["langchain_calls"] += 1
        counted["langchain_chars"] += len(text)
        return tokens.count_tokens(text)

    saved = (chunking._counter, chunking.count_tokens)
    chunking._counter = lambda: ours  # type: ignore[assignment]
    chunking.count_tokens = ours  # type: ignore[assignment]
    try:
        for _ in chunking.naive_chunks(blocks):
            pass
    finally:
        chunking._counter, chunking.count_tokens = saved
    splitter._length_function = theirs  # type: ignore[attr-defined]
    splitter.split_text(joined)  # type: ignore[attr-defined]
    return counted


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
