"""6. Extraction quality and speed per format: ours beside markitdown, pdfminer.six and pypdfium2.

Documents: the shared corpus (`tests/fixtures/corpus`) and Unstructured-IO/unstructured's
`example-docs`, read from a git snapshot of that repository (`UNSTRUCTURED_REPO`, default the
mirror the search tool's `fetch github:Unstructured-IO/unstructured` leaves in
`/work/.mirror/Unstructured-IO+unstructured/repo`). References: Unstructured's own expected
outputs (`test_unstructured_ingest/expected-structured-output/**/<file>.json`, the elements' text
joined) and, for the scanned table, the cells of `table-multi-row-column-cells-actual.csv`.

Scores are Unstructured's text metrics (`unstructured/metrics/text_extraction.py`), restated:
- accuracy: 1 - weighted Levenshtein distance / reference length, bounded to [0, 1], after
  whitespace runs become one space and curly quotes straight ones; insertions cost 2,
  deletions and substitutions 1 (Unstructured's default weights);
- percent missing: the share of the reference's bag of words (lowercased, punctuation other
  than ``-`` and ``'`` removed, runs of single characters dropped unless alone) that the output
  lacks; duplicates in the output are not penalised.

`python -m benchmarks.extraction [--quick]` writes `results/extraction.md` and `.json`;
`make bench` runs it as section 6.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import REPO_ROOT, RESULTS_DIR, SectionResult, Table, bar, log, prepare_environment

TITLE = "6. Extraction quality and speed"
DEFAULT_MIRROR = Path("/work/.mirror/Unstructured-IO+unstructured/repo")
CORPUS_DIR = REPO_ROOT / "tests" / "fixtures" / "corpus"
EXPECTED_DIR = "test_unstructured_ingest/expected-structured-output"
SCANNED = {"single_table.pdf", "table-multi-row-column-cells.pdf", "loremipsum-flat.pdf"}
NO_TEXT = {"bmp_24.bmp"}  # a picture of three coloured triangles: nothing to read
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".gif"}
# Formats we render differently from Unstructured by design (sheets as `Header: value` rows, CSV
# likewise): there, percent missing is compared instead of accuracy.
BY_DESIGN = {"xlsx", "xls", "csv", "tsv"}
LONG_PDF = "DA-619p.pdf"
LONG_PDF_BAR_SECONDS = 5.0
# The example-docs read besides those with a reference: scanned pages, images, layouts the issue names.
EXTRA_EXAMPLES = [
    "pdf/single_table.pdf", "pdf/table-multi-row-column-cells.pdf", "pdf/loremipsum-flat.pdf",
    "pdf/embedded-images.pdf", "pdf/header-test-doc.pdf", "pdf/list-item-example.pdf", "pdf/reliance.pdf",
    "pdf/korean-text-with-tables.pdf", "img/table-multi-row-column-cells.png", "img/DA-1p.png",
    "img/english-and-korean.png", "img/layout-parser-paper-fast.jpg", "img/bmp_24.bmp",
    "eml/fake-email-utf-16.eml", "eml/fake-email-utf-16-le.eml", "fake-email-attachment.eml", "fake-doc.rtf",
    "fake.odt", "simple.odt", "winter-sports.epub", "simple.epub", "fake-email-attachment.msg", "fake-power-point.ppt",
    "fake-email.msg", "fake-html-with-footer-and-header.html", "example-10k-1p.html",
]  # fmt: skip


# --- Unstructured's metrics, restated ------------------------------------------------------------

_QUOTES = str.maketrans(
    dict.fromkeys("\u201c\u201d\u201e\u201f\u00ab\u00bb\u275d\u275e\u2e42\u301d\u301e\u301f\uff02", '"')
    | dict.fromkeys("\u2018\u2019\u201a\u201b\u2039\u203a\u275b\u275c\u300c\u300d\u300e\u300f\uff07", "'")
)
_PUNCTUATION: dict[int, None] | None = None
_BULLET_START = re.compile(
    r"^[\u2022\u2023\u2043\u2219\u25cb\u25cf\u25e6\u25aa\u25ab\u25a0\u25a1\u00b7\u2013\u2014*]\s*"
)


def accuracy(output: str, reference: str) -> float:
    from rapidfuzz.distance import Levenshtein

    out = " ".join(output.split()).translate(_QUOTES)
    ref = " ".join(reference.split()).translate(_QUOTES)
    distance = Levenshtein.distance(out, ref, weights=(2, 1, 1))
    return 1 - min(max(distance / max(len(ref), 1), 0.0), 1.0)


def _words(text: str) -> dict[str, int]:
    global _PUNCTUATION
    if _PUNCTUATION is None:
        _PUNCTUATION = {
            i: None
            for i in range(sys.maxunicode)
            if unicodedata.category(chr(i)).startswith("P") and chr(i) not in "-'"
        }
    tokens = _BULLET_START.sub("", text.lower().translate(_PUNCTUATION)).split()
    bag: dict[str, int] = {}
    i = 0
    while i < len(tokens):
        if len(tokens[i]) > 1:
            bag[tokens[i]] = bag.get(tokens[i], 0) + 1
            i += 1
            continue
        j = i
        while j < len(tokens) and len(tokens[j]) == 1:
            j += 1
        if j - i == 1 and tokens[i].isalnum():  # a lone one-letter word counts; s p a c e d words do not
            bag[tokens[i]] = bag.get(tokens[i], 0) + 1
        i = j
    return bag


def percent_missing(output: str, reference: str) -> float:
    have, want = _words(output), _words(reference)
    total = sum(want.values())
    if total == 0:
        return 0.0
    missing = sum(max(count - have.get(word, 0), 0) for word, count in want.items())
    return min(round(missing / total, 3), 1.0)


# --- the documents -------------------------------------------------------------------------------


class Snapshot:
    """Files of the unstructured repository's git snapshot (no work tree: read with git)."""

    def __init__(self, git_dir: Path) -> None:
        self.git_dir = git_dir
        listing = self._git("ls-tree", "-r", "--name-only", "HEAD")
        self.paths = listing.decode().splitlines()

    def _git(self, *args: str) -> bytes:
        return subprocess.run(["git", "-C", str(self.git_dir), *args], capture_output=True, check=True).stdout

    def read(self, path: str) -> bytes | None:
        try:
            return self._git("show", f"HEAD:{path}")
        except subprocess.CalledProcessError:
            return None  # listed but absent (large files are left out of the snapshot)

    def references(self) -> dict[str, str]:
        """File name -> the text of its elements in Unstructured's expected output (first found)."""
        found: dict[str, str] = {}
        # Element outputs first; a chunked output (the same text cut into chunks, no overlap) only
        # where no element output exists.
        candidates = sorted(
            (p for p in self.paths if p.startswith(EXPECTED_DIR + "/") and p.endswith(".json")),
            key=lambda p: ("chunk" in p, p),
        )
        for path in candidates:
            name = path.rsplit("/", 1)[1][: -len(".json")]
            if name in found:
                continue
            data = self.read(path)
            try:
                elements = json.loads(data or b"[]")
            except ValueError:
                continue
            texts = [e.get("text", "") for e in elements if isinstance(e, dict) and e.get("text")]
            if texts:
                found[name] = "\n\n".join(texts)
        csv = self.read("example-docs/table-multi-row-column-cells-actual.csv")
        if csv:
            import csv as csv_module

            rows = csv_module.reader(io.StringIO(csv.decode("utf-8", "replace")))
            cells = "\n".join(" ".join(cell for cell in row if cell.strip()) for row in rows)
            found["table-multi-row-column-cells.pdf"] = cells
            found["table-multi-row-column-cells.png"] = cells
        return found

    def example(self, name_or_path: str) -> tuple[str, bytes] | None:
        wanted = name_or_path if "/" in name_or_path else None
        for path in self.paths:
            if not path.startswith("example-docs/") or "test_evaluate_files" in path:
                continue
            if (wanted and path == f"example-docs/{wanted}") or (not wanted and path.rsplit("/", 1)[1] == name_or_path):
                data = self.read(path)
                return (path.rsplit("/", 1)[1], data) if data else None
        return None


def documents(snapshot: Snapshot | None, quick: bool) -> tuple[list[tuple[str, str, bytes]], dict[str, str]]:
    """(origin, file name, bytes) to score, and the references by file name."""
    docs: list[tuple[str, str, bytes]] = []
    for path in sorted(CORPUS_DIR.iterdir()):
        if path.name != "README.md":
            docs.append(("corpus", path.name, path.read_bytes()))
    references: dict[str, str] = {}
    if snapshot is not None:
        references = snapshot.references()
        seen = {name for _, name, _ in docs}
        for name in [*sorted(references), *EXTRA_EXAMPLES]:
            found = snapshot.example(name)
            if found and found[0] not in seen:
                seen.add(found[0])
                docs.append(("example-docs", found[0], found[1]))
        if quick:
            docs = [d for d in docs if d[1] in references or d[1] in SCANNED or Path(d[1]).suffix in IMAGE_SUFFIXES]
    return docs, references


# --- the extractors ------------------------------------------------------------------------------


def ours(name: str, data: bytes) -> str:
    from kb_ingest.domain.parsing import extract

    parts = []
    for block in extract(data, name):
        if block.table is not None:  # scored on the cells' text, not on the HTML we put in chunks
            parts.append("\n".join(" ".join(row) for row in block.table.cell_texts()) + "\n")
        else:
            parts.append(block.text)
    return "".join(parts)


_MARKITDOWN: Any = None


def markitdown(name: str, data: bytes) -> str:
    global _MARKITDOWN
    if _MARKITDOWN is None:
        from markitdown import MarkItDown

        _MARKITDOWN = MarkItDown(enable_plugins=False)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        return str(_MARKITDOWN.convert(str(path)).text_content or "")


def pdfminer(name: str, data: bytes) -> str:
    from pdfminer.high_level import extract_text

    return str(extract_text(io.BytesIO(data)))


def pypdfium2(name: str, data: bytes) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in pdf)
    finally:
        pdf.close()


PDF_ONLY = {"pdfminer", "pypdfium2"}
EXTRACTORS: dict[str, Callable[[str, bytes], str]] = {
    "ours": ours,
    "markitdown": markitdown,
    "pdfminer": pdfminer,
    "pypdfium2": pypdfium2,
}


def run_one(fn: Callable[[str, bytes], str], name: str, data: bytes) -> tuple[str | None, float, str]:
    import logging

    logging.disable(logging.WARNING)  # the peers log every oddity of real files
    started = time.perf_counter()
    try:
        text = fn(name, data)
        return text, time.perf_counter() - started, ""
    except Exception as exc:
        return None, time.perf_counter() - started, f"{type(exc).__name__}: {str(exc)[:80]}"
    finally:
        logging.disable(logging.NOTSET)


def fmt(name: str) -> str:
    return Path(name).suffix.lower().lstrip(".") or "none"


# --- the section ---------------------------------------------------------------------------------


def run(quick: bool = False) -> SectionResult:
    prepare_environment()
    result = SectionResult("extraction", TITLE)
    mirror = Path(os.environ.get("UNSTRUCTURED_REPO", str(DEFAULT_MIRROR)))
    snapshot = Snapshot(mirror) if mirror.is_dir() else None
    docs, references = documents(snapshot, quick)
    # Warm-up: load the OCR models and every peer's imports before anything is timed.
    from kb_ingest.domain.parsing import ocr

    ocr.local_engine()
    for fn in EXTRACTORS.values():
        run_one(fn, "warm.pdf", (CORPUS_DIR / "fake-memo.pdf").read_bytes())

    per_file = Table(
        "Per document: accuracy / percent missing against Unstructured's expected output (— : no reference); "
        "time to extract",
        ["origin", "file", "ours", "markitdown", "pdfminer", "pypdfium2", "ours time", "fastest peer time"],
    )
    rows: list[dict[str, Any]] = []
    for origin, name, data in docs:
        reference = references.get(name)
        row: dict[str, Any] = {"origin": origin, "file": name, "format": fmt(name), "reference": reference is not None}
        cells = []
        for label, fn in EXTRACTORS.items():
            if label in PDF_ONLY and fmt(name) != "pdf":
                row[label] = None
                cells.append("")
                continue
            text, seconds, error = run_one(fn, name, data)
            entry: dict[str, Any] = {"seconds": seconds, "chars": len(text or ""), "error": error}
            if text is not None and reference is not None:
                entry["accuracy"] = accuracy(text, reference)
                entry["missing"] = percent_missing(text, reference)
            row[label] = entry
            if error:
                cells.append("FAIL")
            elif "accuracy" in entry:
                cells.append(f"{entry['accuracy']:.3f} / {entry['missing']:.3f}")
            else:
                cells.append(f"— ({entry['chars']:,} chars)")
        peers = [row[p]["seconds"] for p in EXTRACTORS if p != "ours" and row.get(p) and not row[p]["error"]]
        per_file.add(origin, name, *cells, f"{row['ours']['seconds'] * 1000:.0f} ms",
                     f"{min(peers) * 1000:.0f} ms" if peers else "")  # fmt: skip
        rows.append(row)
        log(f"extraction {name}: {json.dumps({k: v for k, v in row.items() if k != 'reference'}, default=str)}")

    by_format = Table(
        "Per format, documents with a reference: mean accuracy / mean percent missing",
        ["format", "documents", "ours", "markitdown", "pdfminer", "pypdfium2", "best peer", "bar"],
    )
    for kind in sorted({r["format"] for r in rows if r["reference"]}):
        scored = [r for r in rows if r["format"] == kind and r["reference"]]
        means: dict[str, tuple[float, float] | None] = {}
        for label in EXTRACTORS:
            entries = [r[label] for r in scored if r.get(label)]
            if not entries:
                means[label] = None
                continue
            # A failed extraction scores 0 accuracy and misses everything.
            acc = sum(e.get("accuracy", 0.0) for e in entries) / len(entries)
            miss = sum(e.get("missing", 1.0) for e in entries) / len(entries)
            means[label] = (acc, miss)
        peer_scores = {label: value for label, value in means.items() if label != "ours" and value is not None}
        ours_score = means["ours"]
        assert ours_score is not None
        if kind in BY_DESIGN:
            best = min(peer_scores.items(), key=lambda item: item[1][1]) if peer_scores else None
            ok = best is None or ours_score[1] <= best[1][1] + 1e-9
            target = "percent missing ≤ best peer's (rendered as Header: value rows by design)"
        else:
            best = max(peer_scores.items(), key=lambda item: item[1][0]) if peer_scores else None
            ok = best is None or ours_score[0] >= best[1][0] - 1e-9
            target = "accuracy ≥ best peer's"
        by_format.add(
            kind,
            len(scored),
            *[f"{v[0]:.3f} / {v[1]:.3f}" if v else "" for v in means.values()],
            best[0] if best else "",
            "MET" if ok else "MISSED",
        )
        result.bars.append(
            bar(
                f"{kind}: ours vs best peer",
                target,
                f"ours {ours_score[0]:.3f} / {ours_score[1]:.3f}"
                + (f", {best[0]} {best[1][0]:.3f} / {best[1][1]:.3f}" if best else ""),
                ok,
                "see the per-document table for the files that pull the mean down",
            )
        )

    # Scanned PDFs and images: DONE with their text; accuracy ≥ 0.9 where a reference exists.
    for row in rows:
        if row["file"] in SCANNED or Path(row["file"]).suffix.lower() in IMAGE_SUFFIXES:
            entry = row["ours"]
            done = not entry["error"] and entry["chars"] > 0
            if row["file"] in NO_TEXT:
                result.bars.append(bar(f"OCR {row['file']}", "no error (the picture has no text)",
                                       entry["error"] or f"{entry['chars']:,} chars", not entry["error"], entry["error"]))  # fmt: skip
            elif "accuracy" in entry:
                result.bars.append(bar(f"OCR {row['file']}", "DONE, accuracy ≥ 0.9",
                                       f"accuracy {entry['accuracy']:.3f}", done and entry["accuracy"] >= 0.9,
                                       "OCR text differs from the reference"))  # fmt: skip
            else:
                result.bars.append(bar(f"OCR {row['file']}", "DONE with text (no reference)",
                                       entry["error"] or f"{entry['chars']:,} chars", done, entry["error"]))  # fmt: skip

    speed = Table(
        "Speed per format: total extraction time over the documents above",
        ["format", "documents", "ours", "fastest peer", "its time", "ours / fastest"],
    )
    for kind in sorted({r["format"] for r in rows}):
        group = [r for r in rows if r["format"] == kind]
        if any(r["ours"]["error"] for r in group):
            group = [r for r in group if not r["ours"]["error"]]
        if not group:
            continue
        ours_total = sum(r["ours"]["seconds"] for r in group)
        totals = {
            label: sum(r[label]["seconds"] for r in group)
            for label in EXTRACTORS
            if label != "ours" and all(r.get(label) and not r[label]["error"] for r in group)
        }
        if totals:
            fastest = min(totals, key=lambda label: totals[label])
            speed.add(kind, len(group), f"{ours_total * 1000:.0f} ms", fastest, f"{totals[fastest] * 1000:.0f} ms",
                      f"{ours_total / max(totals[fastest], 1e-9):.2f}x")  # fmt: skip
        else:
            speed.add(kind, len(group), f"{ours_total * 1000:.0f} ms", "(no peer reads all)", "", "")

    long_pdf = snapshot.example(f"pdf/{LONG_PDF}") if snapshot else None
    if long_pdf is not None:
        data = long_pdf[1]
        table = Table(
            f"{LONG_PDF}: 619 text pages",
            ["extractor", "time", "CPU time", "pages/s", "characters", "x pypdfium2's bare text", "note"],
        )
        timings: dict[str, float] = {}
        for label in ("pypdfium2", "ours", *(() if quick else ("pdfminer",))):
            cpu_started = time.process_time()  # beside the wall time: what the parse costs on a shared machine
            text, seconds, error = run_one(EXTRACTORS[label], LONG_PDF, data)
            cpu_seconds = time.process_time() - cpu_started
            timings[label] = seconds
            table.add(label, f"{seconds:.2f} s", f"{cpu_seconds:.2f} s", f"{619 / seconds:.0f}",
                      f"{len(text or ''):,}", f"{seconds / timings['pypdfium2']:.2f}x", error)  # fmt: skip
            if label == "ours":
                result.bars.append(bar(f"{LONG_PDF} parses in under {LONG_PDF_BAR_SECONDS:g} s",
                                       f"< {LONG_PDF_BAR_SECONDS:g} s (≥ 100 pages/s)", f"{seconds:.2f} s",
                                       seconds < LONG_PDF_BAR_SECONDS and not error,
                                       f"the machine was shared (load {os.getloadavg()[0]:.1f} on 2 cores); ours "
                                       f"is {seconds / timings['pypdfium2']:.2f}x PDFium's bare text extraction "
                                       "in the same run"))  # fmt: skip
        table.notes.append(
            "pypdfium2 here is PDFium's text with no layout work: the floor for any PDFium-based reader. "
            "Ours adds reading order, header/footer removal, paragraphs and hyphenation on top."
        )
        if quick:
            table.notes.append("pdfminer (about 40 s here) is skipped in quick runs.")
        result.tables.append(table)

    result.tables[:0] = [by_format, speed, per_file]
    per_file.notes.append(
        "Scores: accuracy / percent missing (Unstructured's calculate_accuracy and "
        "calculate_percent_missing_text, restated in benchmarks/extraction.py). markitdown's output is Markdown "
        "(its # and | marks count as differences); pdfminer and pypdfium2 read PDFs only."
    )
    if snapshot is None:
        per_file.notes.append(f"No unstructured snapshot at {mirror}: only the corpus was read, without references.")
    result.data = {"documents": rows}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.extraction", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    from benchmarks import report

    started = time.perf_counter()
    info = report.machine()
    section = run(quick=args.quick)
    section.seconds = time.perf_counter() - started
    text = "\n".join(report.machine_lines(info)) + "\n\n" + "\n".join(_render(section))
    stem = "extraction-quick" if args.quick else "extraction"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{stem}.md").write_text(f"# {TITLE}\n\n{text}\n")
    (RESULTS_DIR / f"{stem}.json").write_text(json.dumps(section.to_json(), indent=1, default=str))
    print(text)
    return 0


def _render(section: SectionResult) -> list[str]:
    from benchmarks import report

    lines: list[str] = []
    for table in section.tables:
        lines += report.render_table(table)
    lines += ["", "| bar | target | actual | status | why |", "|---|---|---|---|---|"]
    lines += [f"| {b.name} | {b.target} | {b.actual} | {b.status} | {b.why} |" for b in section.bars]
    lines.append(f"\n_Section time: {section.seconds:.0f} s._")
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
