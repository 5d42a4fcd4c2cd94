"""Section 4: parse throughput and memory per format, and our chunker beside LangChain's splitter.

The corpus is generated in the run (benchmarks/corpus.py) into a temporary folder; each format is
measured in a subprocess of its own (benchmarks/throughput_child.py) so that its peak memory is
its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import corpus
from benchmarks.common import (
    INFO,
    LAYER_DIR,
    REPO_ROOT,
    SectionResult,
    Table,
    bar,
    guarded,
    mib,
    ratio,
    say,
    secs,
)

TITLE = "4. Parse throughput: chunk_document per format, and naive_chunks vs. LangChain's splitter"
MEMORY_LIMIT = 3.0  # peak memory added, in multiples of the input size
TOKENIZE_LIMIT = 2.0  # naive_chunks time, in multiples of count_tokens over the same text
LANGCHAIN_SPEEDUP = 3.0  # LangChain's splitter time over naive_chunks time, at least
CHILD_TIMEOUT = 600


def sizes(quick: bool) -> dict[str, Any]:
    if quick:
        return {"text_bytes": 1_000_000, "pdf_pages": 50, "docx_paragraphs": 2_000, "xlsx_rows": 10_000}
    return {"text_bytes": 10_000_000, "pdf_pages": 200, "docx_paragraphs": 10_000, "xlsx_rows": 50_000}


def run_child(path: Path, name: str, warmup: Path) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(LAYER_DIR), str(REPO_ROOT)])
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.throughput_child", str(path), name, str(warmup)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=CHILD_TIMEOUT,
    )
    if completed.returncode != 0:
        lines = [line for line in completed.stderr.strip().splitlines() if line.strip()]
        raise RuntimeError(lines[-1] if lines else f"exit code {completed.returncode}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> SectionResult:
    result = SectionResult("throughput", TITLE)
    size = sizes(quick)
    # (label, file name, the document, a small one of the same format for the warm-up, unit)
    formats = [
        (
            "mixed text (en/zh/ko/code)",
            "mixed.txt",
            lambda: corpus.mixed_text(size["text_bytes"]),
            lambda: corpus.mixed_text(20_000, seed=2),
            None,
        ),
        (
            f"PDF, {size['pdf_pages']} pages",
            "report.pdf",
            lambda: corpus.pdf(size["pdf_pages"]),
            lambda: corpus.pdf(3, seed=4),
            "pages",
        ),
        (
            f"DOCX, {size['docx_paragraphs']:,} paragraphs",
            "big.docx",
            lambda: corpus.docx(size["docx_paragraphs"]),
            lambda: corpus.docx(120, seed=6),
            None,
        ),
        (
            f"XLSX, {size['xlsx_rows']:,} rows",
            "orders.xlsx",
            lambda: corpus.xlsx(size["xlsx_rows"]),
            lambda: corpus.xlsx(200, seed=10),
            "rows",
        ),
    ]
    parse_table = Table(
        "chunk_document(data, name, 'naive', {}) consumed fully",
        ["input", "size", "time", "MB/s", "pages or rows/s", "chunks", "peak memory added", "x input", "bar ≤ 3x"],
    )
    split_table = Table(
        "Splitting the same extracted text (extraction not timed)",
        [
            "input",
            "text",
            "tokenize once",
            "naive_chunks",
            "naive / tokenize",
            f"bar ≤ {TOKENIZE_LIMIT:g}x",
            "LangChain splitter",
            "speed vs. LangChain",
            "chunks (ours / LC)",
            f"bar ≥ {LANGCHAIN_SPEEDUP:g}x",
        ],
    )
    parse_table.notes.append(
        "Peak memory added: the resident high-water mark (VmHWM, reset just before the parse) minus the RSS "
        "before it, in a process of its own with the input already in memory, the format libraries imported and "
        "the tokenizer loaded (one small document of the same format parsed first)."
    )
    split_table.notes.append(
        "Baseline: RecursiveCharacterTextSplitter(chunk_size=128, chunk_overlap=0, length_function=count_tokens) "
        "over the joined text, the same cl100k count as ours; ours: naive_chunks over the TextBlocks (128 tokens); "
        "tokenize once: count_tokens over the joined text. CPU time, the best of 3 rounds in which the three run "
        "in turn."
    )
    data: dict[str, Any] = {"sizes": size, "formats": {}}
    with tempfile.TemporaryDirectory(prefix="kb-bench-corpus-") as folder:
        for label, name, make, make_small, unit in formats:
            say(f"    throughput: {label}")

            def measure(
                label: str = label, name: str = name, make: Any = make, make_small: Any = make_small, unit: Any = unit
            ) -> None:
                started = time.perf_counter()
                content = make()
                generated = time.perf_counter() - started
                path = Path(folder) / name
                path.write_bytes(content)
                warmup = Path(folder) / ("warmup-" + name)
                warmup.write_bytes(make_small())
                out = run_child(path, name, warmup)
                out["generate_seconds"] = generated
                data["formats"][label] = out
                n_bytes = out["bytes"]
                per_s = ""
                if unit == "pages":
                    per_s = f"{out['pages'] / out['parse_seconds']:.0f} pages/s"
                elif unit == "rows":
                    per_s = f"{size['xlsx_rows'] / out['parse_seconds']:,.0f} rows/s"
                times_input = out["peak_added"] / n_bytes
                memory_ok = times_input < MEMORY_LIMIT
                parse_table.add(
                    label,
                    mib(n_bytes),
                    secs(out["parse_seconds"]),
                    f"{n_bytes / 1e6 / out['parse_seconds']:.2f}",
                    per_s or INFO,
                    f"{out['chunks']:,}",
                    mib(out["peak_added"]),
                    f"{times_input:.1f}x",
                    "MET" if memory_ok else "MISSED",
                )
                result.bars.append(
                    bar(
                        f"parse memory, {label}",
                        f"peak added < {MEMORY_LIMIT:g}x input ({mib(n_bytes * MEMORY_LIMIT)})",
                        f"{mib(out['peak_added'])} ({times_input:.1f}x)",
                        memory_ok,
                        memory_why(label, out),
                    )
                )
                speed = out["split_langchain_seconds"] / out["split_ours_seconds"]
                speed_ok = speed >= LANGCHAIN_SPEEDUP
                over_tokenize = out["split_ours_seconds"] / max(out["tokenize_once_seconds"], 1e-9)
                tokenize_ok = over_tokenize <= TOKENIZE_LIMIT
                split_table.add(
                    label,
                    f"{out['chars'] / 1e6:.2f} M chars",
                    secs(out["tokenize_once_seconds"]),
                    secs(out["split_ours_seconds"]),
                    f"{over_tokenize:.2f}x",
                    "MET" if tokenize_ok else "MISSED",
                    secs(out["split_langchain_seconds"]),
                    ratio(speed),
                    f"{out['split_ours_chunks']:,} / {out['split_langchain_chunks']:,}",
                    "MET" if speed_ok else "MISSED",
                )
                result.bars.append(
                    bar(
                        f"naive chunker vs. tokenizing once, {label}",
                        f"at most {TOKENIZE_LIMIT:g}x the time of count_tokens over the same text",
                        f"{over_tokenize:.2f}x ({secs(out['split_ours_seconds'])} vs "
                        f"{secs(out['tokenize_once_seconds'])})",
                        tokenize_ok,
                        tokenize_why(out),
                    )
                )
                result.bars.append(
                    bar(
                        f"naive chunker speed, {label}",
                        f"at least {LANGCHAIN_SPEEDUP:g}x as fast as LangChain's splitter",
                        f"{ratio(speed)} ({secs(out['split_ours_seconds'])} vs {secs(out['split_langchain_seconds'])})",
                        speed_ok,
                        speed_why(out),
                    )
                )

            def failed(message: str, label: str = label) -> None:
                parse_table.add(label, f"ERROR: {message}", "", "", "", "", "", "", "ERROR")
                split_table.add(label, "ERROR", "", "", "", "", "", "", "", "ERROR")
                data["formats"][label] = {"error": message}
                result.bars.append(bar(f"parse, {label}", "measured", message, None))

            guarded(f"throughput {label}", measure, failed)
    result.tables += [parse_table, split_table]
    result.data = data
    return result


# What holds the memory, per format (the figures in the message are measured in the run).
_MEMORY_CAUSES = {
    "text": "the text is decoded and cleaned in 1 MiB blocks, each block a str of its own beside the input bytes",
    "PDF": "every page is read before any is emitted (running headers and footers and the hyphenation "
    "dictionary need the whole document); the pages' lines are held deflated until the second pass, so what "
    "grows with the pages is that stream (about half the text's size) and the vocabulary, beside PDFium's "
    "document",
    "DOCX": "the peak before the first chunk is what opening the package and reading word/document.xml "
    "up to the first block holds; a peak that keeps growing after it means elements are kept once read "
    "(an XML tree that is not cleared as it is walked)",
    "XLSX": "rows are streamed from the sheet XML and dropped once parsed; what is held whole is the "
    "shared-strings table (openpyxl's list of every distinct string, needed for random access by index) and "
    "the text block being filled; the input is zipped XML",
}


def memory_why(label: str, out: dict[str, Any]) -> str:
    cause = next((text for key, text in _MEMORY_CAUSES.items() if key in label), "")
    early = out.get("peak_added_before_first_chunk")
    loaded = f"{mib(early)} of it was reached before the first chunk came out; " if early is not None else ""
    return (
        f"{mib(out['peak_added'])} peak added for a {mib(out['bytes'])} input; {loaded}the "
        f"{out['chars'] / 1e6:.2f} M characters of extracted text alone take {mib(out['text_bytes_in_memory'])} "
        f"as Python strings. {cause}."
    )


def speed_why(out: dict[str, Any]) -> str:
    work = out.get("tokenized") or {}
    if not work:
        return "no tokenizer figures"
    chars = out["chars"] or 1
    return (
        f"our chunker hands the tokenizer {work['ours_chars'] / chars:.2f}x the text in {work['ours_calls']:,} "
        f"calls, LangChain {work['langchain_chars'] / chars:.2f}x in {work['langchain_calls']:,} calls"
    )


def tokenize_why(out: dict[str, Any]) -> str:
    work = out.get("tokenized") or {}
    if not work:
        return "no tokenizer figures"
    chars = out["chars"] or 1
    return (
        f"the chunker hands the tokenizer {work['ours_chars'] / chars:.2f}x the text in {work['ours_calls']:,} "
        "calls (each piece between delimiters once, plus a few characters around the cuts where counts do not "
        "add up, as between CJK punctuation and the next word); each call costs about a microsecond beyond its "
        "text, and the rest is the Python that merges pieces into chunks"
    )
