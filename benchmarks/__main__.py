"""`python -m benchmarks [--quick] [--only SECTION,...]`: every figure beside a baseline measured
in the same run on the same machine, each bar MET or MISSED; the table is printed and written to
benchmarks/results/latest.md (and .json; --quick writes latest-quick.*). A section that fails prints
its error in place and the others still run; the exit code is 0 unless the harness itself breaks."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

from benchmarks.common import RESULTS_DIR, SectionResult, captured_output, log, one_line_error, prepare_environment, say

SECTIONS = {
    "cold_start": "1. Cold start",
    "request_cost": "2. Request cost",
    "latency": "3. Warm latency",
    "throughput": "4. Parse throughput",
    "scale": "5. Scale",
    "local_stack": "6. Local stack as a deployment",
    "extraction": "7. Extraction quality and speed",
    "chunks": "8. Chunk store",
    "retrieval": "9. Retrieval",
}


def run_section(key: str, quick: bool) -> SectionResult:
    started = time.perf_counter()
    try:
        module = importlib.import_module(f"benchmarks.{key}")
        result: SectionResult = module.run(quick=quick)
    except Exception as exc:
        log(f"section {key} failed:\n{traceback.format_exc()}")
        result = SectionResult(key, SECTIONS[key], error=one_line_error(exc))
    result.seconds = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run of a minute or two: fewer runs, smaller inputs"
    )
    parser.add_argument("--only", default="", help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument("--results-dir", default=str(RESULTS_DIR), help="where latest.md/.json/.log go")
    args = parser.parse_args(argv)
    chosen = [key.strip() for key in args.only.split(",") if key.strip()] or list(SECTIONS)
    unknown = [key for key in chosen if key not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s): {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")

    prepare_environment()
    from benchmarks import report

    results_dir = Path(args.results_dir)
    stem = "latest-quick" if args.quick else "latest"
    started_at = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    info = report.machine()
    say(f"kb-ingest benchmarks{' (quick)' if args.quick else ''}")
    for line in report.machine_lines(info):
        say(line)
    say(f"(function output and tracebacks: {results_dir / (stem + '.log')})")
    sections: list[SectionResult] = []
    with captured_output(results_dir / f"{stem}.log"):
        for key in chosen:
            say(f"{SECTIONS[key]} ...")
            result = run_section(key, args.quick)
            status = f"failed: {result.error}" if result.error else "done"
            say(f"{SECTIONS[key]}: {status} in {result.seconds:.0f} s")
            sections.append(result)
        seconds = time.perf_counter() - started
        text = report.render(sections, info, args.quick, seconds, started_at)
        md_path, json_path = report.write(results_dir, text, sections, info, args.quick, seconds)
        say("")
        say(text)
        say(f"Written to {md_path} and {json_path}.")
    return 0


if __name__ == "__main__":
    code = main()
    # Everything is written and flushed. Tearing the interpreter down after the local stacks (moto's
    # in-memory backends, handlers abandoned at a time budget) took up to a minute in full runs,
    # with no thread left running: skip it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
