"""Section 6: the local stack as a single-machine deployment (issue 14).

A. End-to-end throughput of "parse every document" at 200, 1,000 and 5,000 small documents in one
   dataset (section 5's measurement, with the queue consumer's concurrent batches): the rate at
   5,000 against the rate at 200 (the baseline, same run), and the rate at 1,000.
B. Restart time and resident memory of a stack holding 10,000 documents (records and files, kept in
   a data dir), each in a fresh interpreter, beside the same with an empty data dir.
List latency at 10,000 vs 100 documents is section 5's part A (the adapters make it flat).
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

from benchmarks.api import local_api
from benchmarks.common import LAYER_DIR, REPO_ROOT, SectionResult, Table, bar, guarded, mib, ratio, say, secs

TITLE = "6. Local stack as a deployment: throughput at 200 / 1,000 / 5,000 documents; restart and memory"
SCALE_RATIO = 0.7
MIN_RATE_AT_1000 = 20.0
# Long enough that no batch outlives it (a message redelivered while its first delivery is still
# being worked on is work done twice: a "parse everything" page restarts its runs), short enough
# that a failed message comes back within the time budget. (AWS refuses a queue whose visibility
# timeout is shorter than the function's Timeout; the template has 5,400 s for 900 s. Section 5's
# 10 s was outlived by batches on a loaded machine, which then ran twice.)
E2E_VISIBILITY_TIMEOUT = 60

_CHILD = """
import json, resource, sys, time
started = time.perf_counter()
from infra.local.stack import LocalStack
from pathlib import Path
stack = LocalStack(stack_name="kbbench-restart", set_environ=False, data_dir=Path(sys.argv[1])).start()
elapsed = time.perf_counter() - started
report = stack.restore_report
rss = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) * 1024
print(json.dumps({"seconds": elapsed, "restore_seconds": report.seconds, "items": report.items,
                  "objects": report.objects, "rss": rss}), flush=True)
stack.state.journal.compact()  # what `make serve` does in the background after a start
import os; os._exit(0)
"""


def _restart(data_dir: Path) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(LAYER_DIR), str(REPO_ROOT)])
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "restart failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def throughput(result: SectionResult, sizes: list[int]) -> None:
    from benchmarks.scale import parse_everything

    rates: dict[int, float] = {}
    for n in sizes:
        sub = SectionResult("tmp", "")
        # With a data dir, as `make serve` runs: every write is journaled before it is answered.
        with (
            tempfile.TemporaryDirectory(prefix="kbbench-e2e-") as folder,
            local_api(f"e2e-{n}", visibility_timeout=E2E_VISIBILITY_TIMEOUT, data_dir=Path(folder)) as api,
        ):
            parse_everything(api, sub, n, timeout=max(120.0, n / 5), visibility_timeout=E2E_VISIBILITY_TIMEOUT)
        data = sub.data["parse_everything"]
        rates[n] = data["done"] / data["elapsed_seconds"] if data["elapsed_seconds"] else 0.0
        result.tables.extend(sub.tables)
        result.data[f"parse_everything_{n}"] = data
    table = Table(
        "A. End-to-end throughput by dataset size (one dataset, small text files)", ["documents", "rate", "vs 200"]
    )
    base = rates.get(sizes[0]) or 0.0
    for n in sizes:
        table.add(f"{n:,}", f"{rates[n]:.1f} documents/s", ratio(rates[n] / base) if base else "")
    result.tables.append(table)
    if 1000 in rates:
        result.bars.append(
            bar(
                "end-to-end rate at 1,000 documents",
                f">= {MIN_RATE_AT_1000:g}/s",
                f"{rates[1000]:.1f}/s",
                rates[1000] >= MIN_RATE_AT_1000,
            )
        )
    if 5000 in rates and base:
        scale = rates[5000] / base
        result.bars.append(bar("rate at 5,000 vs at 200", f">= {SCALE_RATIO}x", f"{scale:.2f}x", scale >= SCALE_RATIO))


def restart(result: SectionResult, n_docs: int) -> None:
    from benchmarks import corpus
    from benchmarks.scale import seed_documents
    from kb_ingest.dal.blobs import upload_key

    with tempfile.TemporaryDirectory(prefix="kbbench-data-") as folder:
        empty, full = Path(folder) / "empty", Path(folder) / "full"
        say(f"    local: seed {n_docs:,} documents into a kept data dir")
        with local_api("restart", data_dir=full) as api:
            dataset_id = api.create_dataset()
            texts = corpus.small_texts(n_docs)
            documents = seed_documents(
                api, dataset_id, [f"d-{i:05d}.txt" for i in range(n_docs)], [len(t) for t in texts]
            )
            s3 = api.local.stack.client("s3")
            bucket = api.local.stack.bucket_names["DocumentsBucket"]
            for document, text in zip(documents, texts, strict=True):
                s3.put_object(Bucket=bucket, Key=upload_key(document.tenant_id, document.kb_id, document.id), Body=text)
        with local_api("restart", data_dir=empty):
            pass
        say("    local: restart each in a fresh interpreter")
        baseline = _restart(empty)
        first = _restart(full)  # folds the journal into the snapshot in the background
        time.sleep(1)
        second = _restart(full)
    table = Table(f"B. Restart with {n_docs:,} documents kept", ["figure", "value", "note"])
    table.add("start, empty data dir (baseline)", secs(baseline["seconds"]), f"resident {mib(baseline['rss'])}")
    table.add(
        "start, first after seeding (journal)", secs(first["seconds"]), f"restore {secs(first['restore_seconds'])}"
    )
    table.add(
        f"start with {n_docs:,} documents",
        secs(second["seconds"]),
        f"restore {secs(second['restore_seconds'])}: {second['items']:,} items, {second['objects']:,} objects",
    )
    table.add("resident memory", mib(second["rss"]), f"{ratio(second['rss'] / baseline['rss'])} the empty stack's")
    result.tables.append(table)
    result.data["restart"] = {"baseline": baseline, "first": first, "kept": second, "documents": n_docs}
    result.bars.append(
        bar(
            f"restart with {n_docs:,} documents",
            "measured",
            f"{secs(second['seconds'])} (empty {secs(baseline['seconds'])})",
            True,
        )
    )


def run(quick: bool = False) -> SectionResult:
    result = SectionResult("local_stack", TITLE)
    # KB_BENCH_LOCAL_STACK_SIZES=200,1000 (a shorter run; the first size is the baseline).
    sizes = (
        [200] if quick else [int(n) for n in os.environ.get("KB_BENCH_LOCAL_STACK_SIZES", "200,1000,5000").split(",")]
    )
    guarded(
        "local throughput",
        lambda: throughput(result, sizes),
        lambda m: result.bars.append(bar("end-to-end throughput", "measured", m, None)),
    )
    # KB_BENCH_LOCAL_RESTART_DOCUMENTS=0 skips part B.
    kept = 2000 if quick else int(os.environ.get("KB_BENCH_LOCAL_RESTART_DOCUMENTS", "10000"))
    if kept:
        guarded(
            "local restart",
            lambda: restart(result, kept),
            lambda m: result.bars.append(bar("restart", "measured", m, None)),
        )
    return result
