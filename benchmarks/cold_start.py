"""Section 1: cold start of every function in template.yaml, beside the floor of its dependencies.

For each function, a fresh interpreter (`python -I`, so nothing from this process leaks in)
imports the handler module by path, as Lambda does (code folder first on sys.path, then the
layer), which runs its top level: imports, settings, the FastAPI app and the Mangum adapter.
The time is measured inside the child around the import alone (interpreter start-up is the
same for both columns and left out).

The floor is another fresh interpreter importing exactly the third-party modules the handler's
import pulled in (every module from site-packages that was not there at start-up, in the order
they were first imported) and, when Powertools is among them, building Logger, Tracer and
Metrics. The difference between the two is the project's own code: its modules, the standard
library modules only it needs, and what it builds at import.

The environment is the function's own (template Globals + Properties, names resolved as the
local stack resolves them) plus test credentials; no AWS_LAMBDA_FUNCTION_NAME, so Powertools'
Tracer stays disabled as it does on the local stack (in Lambda it would patch every installed
client library, and this venv holds dev-only ones the layer does not ship).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks.common import (
    INFO,
    LAYER_DIR,
    SAFE_AWS_ENV,
    SectionResult,
    Table,
    bar,
    guarded,
    median,
    ms,
    ratio,
    say,
)

TITLE = "1. Cold start: handler import vs. the floor of its third-party imports"
API_OVERHEAD_LIMIT = 1.15
NAMED_DEPENDENCIES = ("boto3", "pynamodb", "fastapi", "mangum", "aws_lambda_powertools")
HEAVY_FOR_PARSE = (
    "pypdf",
    "docx",
    "pptx",
    "openpyxl",
    "xlrd",
    "bs4",
    "lxml",
    "charset_normalizer",
    "yaml",
    "bpe_openai",
    "pypdfium2",
    "rapidocr",
    "onnxruntime",
    "cv2",
)
CHILD_TIMEOUT = 120

# Runs in the child interpreter; prints one JSON line.
#   handler MODULE CODE_DIR LAYER_DIR ATTR        import the handler (what Lambda does at a cold start)
#   floor MODULE CODE_DIR LAYER_DIR ATTR < names  import the third-party modules (the floor), then the handler
_CHILD = r"""
import importlib, importlib.util, json, os, sys, sysconfig, time
mode = sys.argv[1]
before = set(sys.modules)
site_dirs = {os.path.realpath(p) for p in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])}

def third_party(name):
    module = sys.modules.get(name.split(".")[0])
    path = getattr(module, "__file__", None) or ""
    if not path:
        paths = list(getattr(module, "__path__", []) or [])
        path = paths[0] if paths else ""
    path = os.path.realpath(path) if path else ""
    return any(path.startswith(d + os.sep) for d in site_dirs)

def import_handler():
    module_path, code_dir, layer_dir, attribute = sys.argv[2:6]
    sys.path[:0] = [code_dir, layer_dir]
    started, cpu_started = time.perf_counter(), time.process_time()
    spec = importlib.util.spec_from_file_location("app", module_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["app"] = module
    spec.loader.exec_module(module)
    getattr(module, attribute)
    return time.perf_counter() - started, time.process_time() - cpu_started

out = {}
if mode == "floor":
    names = json.loads(sys.stdin.read())
    started, cpu_started = time.perf_counter(), time.process_time()
    failed = []
    for name in names:
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except Exception:
            failed.append(name)
    if "aws_lambda_powertools" in sys.modules:
        from aws_lambda_powertools import Logger, Metrics, Tracer
        Logger(); Tracer(); Metrics()
    out.update(floor_seconds=time.perf_counter() - started, floor_cpu=time.process_time() - cpu_started)
    out.update(failed=failed, floor_modules=len(set(sys.modules) - before))
seconds, cpu = import_handler()
out.update(seconds=seconds, cpu=cpu)
if mode == "handler":
    new = [name for name in sys.modules if name not in before]
    tops = sorted({name.split(".")[0] for name in new})
    out.update(
        modules=len(new),
        third_party=[name for name in new if third_party(name)],
        third_party_tops=sorted({t for t in tops if third_party(t)}),
        present=sorted({name.split(".")[0] for name in sys.modules}),
    )
print(json.dumps(out))
"""


def function_environment(template: Any, function_id: str) -> dict[str, str]:
    """The function's variables resolved as the local stack resolves them (no AWS needed)."""
    try:
        from infra.local.stack import LocalStack

        stack = LocalStack(template, set_environ=False)
        stack._plan()
        stack._resolve_environment()
        return dict(stack.function_environments[function_id])
    except Exception:  # the local stack's internals changed: fall back to plain values
        fn = template.functions[function_id]
        env: dict[str, str] = {}
        for key, value in fn.environment.items():
            if isinstance(value, str | int | float | bool):
                env[key] = str(value)
            elif isinstance(value, dict) and "Ref" in value and value["Ref"] in template.parameters:
                env[key] = str(template.parameters[value["Ref"]])
            else:
                env[key] = f"bench-{key.lower().replace('_', '-')}"
        return env


def child_env(function_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")}
    env.update(function_env)
    env.update(SAFE_AWS_ENV)
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    return env


def run_child(args: list[str], env: dict[str, str], stdin: str | None = None) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-I", "-c", _CHILD, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=CHILD_TIMEOUT,
    )
    if completed.returncode != 0:
        lines = [line for line in completed.stderr.strip().splitlines() if line.strip()]
        raise RuntimeError(lines[-1] if lines else f"exit code {completed.returncode}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def importtime_offenders(fn: Any, env: dict[str, str], top: int = 4) -> str:
    """The project's own modules that cost most at import (one `-X importtime` run)."""
    completed = subprocess.run(
        [
            sys.executable,
            "-I",
            "-X",
            "importtime",
            "-c",
            _CHILD,
            "handler",
            str(fn.module_path),
            str(fn.code_uri),
            str(LAYER_DIR),
            fn.handler_attribute,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=CHILD_TIMEOUT,
    )
    own: list[tuple[int, str]] = []
    for line in completed.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = [part.strip() for part in line[len("import time:") :].split("|")]
        if len(parts) != 3 or not parts[0].isdigit():
            continue
        name = parts[2].strip()
        if name.startswith("kb_ingest"):
            own.append((int(parts[0]), name))
    own.sort(reverse=True)
    total = sum(us for us, _ in own)
    listed = ", ".join(f"{name} {us / 1000:.0f} ms" for us, name in own[:top])
    return f"own modules' self time {total / 1000:.0f} ms (top: {listed})"


def run(quick: bool = False, only: Iterable[str] | None = None) -> SectionResult:
    from infra.local.template import Template

    result = SectionResult("cold_start", TITLE)
    runs = 3 if quick else 5
    template = Template()
    functions = [fn for lid, fn in template.functions.items() if not only or lid in only]
    table = Table(
        TITLE,
        [
            "function",
            "kind",
            "handler import",
            "floor",
            "fresh ratio",
            "own code on top of floor",
            "own code adds",
            "wall: handler / floor",
            "third-party packages",
            "bar",
        ],
    )
    table.notes.append(
        f"CPU time (process_time), median of {runs} fresh interpreters each; wall-time medians beside. Handler "
        "import: a fresh interpreter importing the handler module. Floor: a fresh interpreter importing exactly "
        "the third-party modules that import pulled in, plus Powertools Logger/Tracer/Metrics built. Fresh "
        "ratio: handler median over floor median (two sets of processes). The same floor process then imports "
        "the handler on top: that increment is the project's own code (its modules, the stdlib modules only it "
        "needs, the app it builds; Logger/Tracer/Metrics are built a second time, so it errs high), and 'own "
        "code adds' is the median of (floor + increment) / floor within each process, which other load on this "
        "shared machine (±15% per process) moves much less than the fresh ratio. Bar for HTTP API functions: "
        f"own code adds at most {API_OVERHEAD_LIMIT - 1:.0%} over the floor."
        + (" Quick run: two functions measured at a time, so the fresh figures are noisier." if quick else "")
    )
    measured: dict[str, dict[str, Any]] = {}
    data: dict[str, Any] = {}
    heavy_table = Table(
        "ParseDocumentFunction: format libraries loaded by the handler import",
        ["library", "in sys.modules after import"],
    )

    def measure(fn: Any) -> None:
        lid = fn.logical_id
        env = child_env(function_environment(template, lid))
        args = [str(fn.module_path), str(fn.code_uri), str(LAYER_DIR), fn.handler_attribute]
        outs, floors, names, payload = [], [], (), ""
        for index in range(runs):
            out = run_child(["handler", *args], env)
            if index == 0:  # what the import pulls in decides the floor
                names = tuple(out["third_party"])
                payload = json.dumps(list(names))
            outs.append(out)
            floors.append(run_child(["floor", *args], env, payload))
        measured[lid] = {"fn": fn, "env": env, "first": outs[0], "outs": outs, "floors": floors, "names": names}

    def measure_guarded(item: tuple[int, Any]) -> None:
        index, fn = item
        say(f"    cold start {index}/{len(functions)}: {fn.logical_id}")
        guarded(
            f"cold start {fn.logical_id}",
            lambda: measure(fn),
            lambda message: measured.__setitem__(fn.logical_id, {"error": message}),
        )

    # Quick runs measure two functions at a time (one per core); full runs one at a time.
    with ThreadPoolExecutor(max_workers=2 if quick else 1) as pool:
        list(pool.map(measure_guarded, enumerate(functions, 1)))

    for fn in functions:
        lid = fn.logical_id
        entry = measured.get(lid, {"error": "not measured"})
        is_api = bool(fn.http_routes)
        kind = "HTTP API" if is_api else "background"
        if "error" in entry:
            message = entry["error"]
            table.add(lid, kind, f"ERROR: {message}", "", "", "", "", "", "", "ERROR")
            data[lid] = {"error": message}
            if is_api:
                result.bars.append(bar(f"cold start {lid}", f"own code ≤ +{API_OVERHEAD_LIMIT - 1:.0%}", message, None))
            if lid == "ParseDocumentFunction":
                heavy_table.add("(all)", f"ERROR: {message}")
                result.bars.append(
                    bar("ParseDocumentFunction imports no format library at cold start", "none", message, None)
                )
            continue
        first, outs, floors, env = entry["first"], entry["outs"], entry["floors"], entry["env"]
        samples = [out["cpu"] for out in outs]
        walls = [out["seconds"] for out in outs]
        floor_cpu = [out["floor_cpu"] for out in floors]
        floor_wall = [out["floor_seconds"] for out in floors]
        own_cpu = [out["cpu"] for out in floors]  # the handler imported on top of the floor
        handler_s, floor_s, own_s = median(samples), median(floor_cpu), median(own_cpu)
        over = median([(f + o) / f for f, o in zip(floor_cpu, own_cpu, strict=True) if f > 0])
        fresh = handler_s / floor_s if floor_s > 0 else float("inf")
        tops = first["third_party_tops"]
        named = [t for t in tops if t in NAMED_DEPENDENCIES]
        others = [t for t in tops if t not in NAMED_DEPENDENCIES]
        packages = ", ".join(named) + (f" (+{len(others)} more)" if others else "")
        status = INFO
        if is_api:
            ok = over <= API_OVERHEAD_LIMIT
            status = "MET" if ok else "MISSED"
            why = ""
            if not ok:
                offenders = guarded(
                    f"importtime {lid}",
                    lambda fn=fn, env=env: importtime_offenders(fn, env),
                    lambda e: f"importtime: {e}",
                )
                why = f"{ms(own_s)} of own import work on top of a {ms(floor_s)} floor; {offenders}"
            result.bars.append(
                bar(
                    f"cold start {lid}",
                    f"own code ≤ +{API_OVERHEAD_LIMIT - 1:.0%} over floor",
                    f"{over - 1:+.0%} ({ms(own_s)} on a {ms(floor_s)} floor, CPU)",
                    ok,
                    why,
                )
            )
        table.add(
            lid,
            kind,
            ms(handler_s),
            ms(floor_s),
            ratio(fresh),
            ms(own_s),
            f"{over - 1:+.0%}",
            f"{ms(median(walls))} / {ms(median(floor_wall))}",
            packages,
            status,
        )
        data[lid] = {
            "handler_cpu_seconds": samples,
            "handler_wall_seconds": walls,
            "floor_cpu_seconds": floor_cpu,
            "floor_wall_seconds": floor_wall,
            "own_on_floor_cpu_seconds": own_cpu,
            "floor_import_failures": floors[-1]["failed"],
            "ratio": over,
            "fresh_ratio": fresh,
            "third_party_packages": tops,
            "third_party_modules": len(entry["names"]),
            "own_and_stdlib_modules": first["modules"] - len(entry["names"]),
        }
        if lid == "ParseDocumentFunction":
            present = [name for name in HEAVY_FOR_PARSE if name in first["present"]]
            for name in HEAVY_FOR_PARSE:
                heavy_table.add(name, "yes" if name in first["present"] else "no")
            result.bars.append(
                bar(
                    "ParseDocumentFunction imports no format library at cold start",
                    "none of " + ", ".join(HEAVY_FOR_PARSE),
                    ", ".join(present) if present else "none",
                    not present,
                    "imported at module level: " + ", ".join(present),
                )
            )
            data[lid]["heavy_present"] = present

    failures = {name for entry in data.values() for name in entry.get("floor_import_failures", [])}
    if failures:
        table.notes.append(f"{len(failures)} module(s) could not be imported alone in the floor and were skipped.")
    table.notes.append(
        "Third-party packages: the five named dependencies found in sys.modules after the import; "
        "'+N more' are their own dependencies (pydantic, starlette, botocore, ...), all in the floor too."
    )
    result.tables.append(table)
    if heavy_table.rows:
        result.tables.append(heavy_table)
    result.data = {"runs": runs, "functions": data}
    return result
