"""Section 3: warm latency of every HTTP API function, beside a bare boto3 GetItem on the same moto.

Each function's handler (Powertools wrappers, Mangum, FastAPI, the project's code and its calls
to moto) is called in this thread with the exact payload-2.0 event the gateway builds, as a warm
Lambda container calls it; only the handler call is timed (setup such as creating the dataset a
delete will remove is not). The baseline is one boto3 GetItem against the same moto server, in
the same process: the cheapest AWS round trip any request can make. "Own time" estimates what is
left once the function's AWS calls are priced at that baseline each.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from benchmarks.api import LocalApi, local_api
from benchmarks.aws_calls import CALLS
from benchmarks.common import INFO, SectionResult, Table, guarded, median, ms, percentile, ratio, say

TITLE = "3. Warm latency per API function (handler in-process, on moto) vs. a bare boto3 GetItem"

# A scenario prepares one request (untimed) and returns (method, path, options for LocalApi.build).
Scenario = Callable[[int], tuple[str, str, dict[str, Any]]]


def scenarios(api: LocalApi, fixtures: dict[str, Any]) -> dict[str, tuple[str, Scenario]]:
    base = "/api/v1/dataset"
    ds, spare = fixtures["dataset"], fixtures["uploads_dataset"]
    docs, parsed = fixtures["documents"], fixtures["parsed"]

    def unique(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    def delete_dataset(_: int) -> tuple[str, str, dict[str, Any]]:
        return "DELETE", f"{base}/{api.create_dataset()}", {}

    def delete_document(_: int) -> tuple[str, str, dict[str, Any]]:
        [doc] = api.upload(spare, {unique("gone") + ".txt": b"to be deleted\n" * 50})
        return "DELETE", f"{base}/{spare}/documents/{doc['id']}", {}

    def stop_one(_: int) -> tuple[str, str, dict[str, Any]]:
        api.must(api.request("POST", f"{base}/{ds}/documents/{docs[4]}/status"), "start parsing")
        return "DELETE", f"{base}/{ds}/documents/{docs[4]}/status", {}

    def stop_many(_: int) -> tuple[str, str, dict[str, Any]]:
        api.must(api.request("POST", f"{base}/{ds}/documents/{docs[5]}/status"), "start parsing")
        return "DELETE", f"{base}/{ds}/documents/status", {"json_body": {"doc_ids": [docs[5]]}}

    return {
        "CreateDatasetFunction": (
            "POST /dataset (new name)",
            lambda i: ("POST", base, {"json_body": {"name": unique("lat")}}),
        ),
        "ListDatasetsFunction": ("GET /dataset", lambda i: ("GET", base, {})),
        "GetDatasetFunction": ("GET /dataset/{id}", lambda i: ("GET", f"{base}/{ds}", {})),
        "UpdateDatasetFunction": (
            "PUT /dataset/{id} (rename)",
            lambda i: ("PUT", f"{base}/{ds}", {"json_body": {"name": unique("renamed")}}),
        ),
        "DeleteDatasetFunction": ("DELETE /dataset/{id} (empty dataset)", delete_dataset),
        "UploadDocumentsFunction": (
            "POST .../documents (one 2 KB file)",
            lambda i: ("POST", f"{base}/{spare}/documents", {"files": {unique("up") + ".txt": b"x" * 2048}}),
        ),
        "ListDocumentsFunction": (
            f"GET .../documents (30 of {len(docs)})",
            lambda i: ("GET", f"{base}/{ds}/documents", {"query": {"offset": 0, "count": 30}}),
        ),
        "UpdateDocumentFunction": (
            "PUT .../documents/{id} (rename)",
            lambda i: ("PUT", f"{base}/{ds}/documents/{docs[0]}", {"json_body": {"name": unique("doc") + ".txt"}}),
        ),
        "DeleteDocumentFunction": ("DELETE .../documents/{id}", delete_document),
        "DownloadDocumentFunction": (
            "GET .../documents/{id} (2 KB)",
            lambda i: ("GET", f"{base}/{ds}/documents/{docs[1]}", {}),
        ),
        "CreateUploadUrlFunction": (
            "POST .../documents/upload_url",
            lambda i: (
                "POST",
                f"{base}/{spare}/documents/upload_url",
                {"json_body": {"name": unique("big") + ".pdf", "size": 20_000_000}},
            ),
        ),
        "StartParsingFunction": (
            "POST .../documents/{id}/status",
            lambda i: ("POST", f"{base}/{ds}/documents/{docs[2]}/status", {}),
        ),
        "StartParsingManyFunction": (
            "POST .../documents/status (1 doc_id)",
            lambda i: ("POST", f"{base}/{ds}/documents/status", {"json_body": {"doc_ids": [docs[3]]}}),
        ),
        "StopParsingFunction": ("DELETE .../documents/{id}/status (running)", stop_one),
        "StopParsingManyFunction": ("DELETE .../documents/status (1 running doc_id)", stop_many),
        "GetParsingStatusFunction": (
            "GET .../documents/{id}/status",
            lambda i: ("GET", f"{base}/{ds}/documents/{docs[1]}/status", {}),
        ),
        "ListChunksFunction": (
            "GET .../documents/{id}/chunks (parsed)",
            lambda i: ("GET", f"{base}/{ds}/documents/{parsed}/chunks", {"query": {"count": 30}}),
        ),
        "GetParseHistoryFunction": (
            "GET .../documents/{id}/history (parsed)",
            lambda i: ("GET", f"{base}/{ds}/documents/{parsed}/history", {}),
        ),
        "RouteNotFoundFunction": ("GET /api/v1/unknown", lambda i: ("GET", "/api/v1/unknown-route", {})),
    }


def generic_scenario(fn: Any, fixtures: dict[str, Any]) -> tuple[str, Scenario] | None:
    """For a function this file does not know yet: its GET route with the fixtures' ids filled in."""
    for route in fn.http_routes:
        if route.method not in ("GET", "ANY") or "+}" in route.path:
            continue
        path = route.path.replace("{dataset_id}", fixtures["dataset"]).replace("{document_id}", fixtures["parsed"])
        if "{" not in path:
            return f"GET {route.path} (generic)", lambda i, path=path: ("GET", path, {})
    return None


def time_handler(api: LocalApi, scenario: Scenario, index: int) -> tuple[float, int, str | None]:
    """Seconds of one handler call, the AWS calls it made, and a problem with its answer if any."""
    method, path, options = scenario(index)
    target, headers, body = api.build(path, **options)
    function_id, handler, make_event = api.prepare_direct(method, target, headers, body)
    event, context = make_event(), api.runtime.context(function_id)
    with CALLS.capture() as cap:
        started = time.perf_counter()
        result = handler(event, context)
        seconds = time.perf_counter() - started
    problem = None
    status = result.get("statusCode") if isinstance(result, dict) else None
    if status not in (200, 302):
        problem = f"HTTP {status}"
    elif "json" in str((result.get("headers") or {}).get("content-type", "")):
        try:
            code = json.loads(result.get("body") or "{}").get("code")
        except ValueError:
            code = None
        if code not in (0, None) and function_id != "RouteNotFoundFunction":
            problem = f"code {code}"
    return seconds, cap.count(), problem


def get_item_baseline(api: LocalApi, dataset_id: str, runs: int) -> list[float]:
    stack = api.local.stack
    client = stack.client("dynamodb")
    table = stack.table_names["DatasetsTable"]
    key = {"tenant_id": {"S": api.local.tenant_id}, "id": {"S": dataset_id}}
    for _ in range(5):
        client.get_item(TableName=table, Key=key)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get_item(TableName=table, Key=key)
        samples.append(time.perf_counter() - started)
    return samples


def run(quick: bool = False) -> SectionResult:
    result = SectionResult("latency", TITLE)
    runs, warmup = (6, 1) if quick else (25, 3)
    table = Table(
        TITLE,
        ["function", "request", "median", "p95", "AWS calls", "x GetItem", "own time (est.)", "note"],
    )
    data: dict[str, Any] = {"runs": runs, "functions": {}}
    with local_api("latency") as api:
        say("    latency: fixtures")
        ds = api.create_dataset()
        spare = api.create_dataset()
        uploaded = api.upload(ds, {f"doc-{i}.txt": f"document {i}\n".encode() * 100 for i in range(20)})
        documents = [doc["id"] for doc in uploaded]
        parsed = documents[10]
        api.parse_in_background(ds, [parsed])
        fixtures = {
            "dataset": ds,
            "uploads_dataset": spare,
            "documents": documents,
            "parsed": parsed,
        }
        say("    latency: bare GetItem baseline")
        baseline = get_item_baseline(api, ds, 100 if quick else 300)
        base_median = median(baseline)
        data["get_item_seconds"] = baseline
        table.add(
            "(baseline)",
            "boto3 GetItem, same moto",
            ms(base_median),
            ms(percentile(baseline, 0.95)),
            1,
            "1.00x",
            INFO,
            f"{len(baseline)} calls",
        )
        plans = scenarios(api, fixtures)
        functions = [fn for fn in api.local.template.functions.values() if fn.http_routes]
        for fn in functions:
            function_id = fn.logical_id
            if function_id not in plans:
                generic = generic_scenario(fn, fixtures)
                if generic is None:
                    table.add(function_id, "no scenario in benchmarks/latency.py", "", "", "", "", "", "skipped")
                    continue
                plans[function_id] = generic
            label, scenario = plans[function_id]
            say(f"    latency: {function_id}")

            def measure(function_id: str = function_id, label: str = label, scenario: Scenario = scenario) -> None:
                for index in range(warmup):
                    time_handler(api, scenario, index)
                samples, calls, problems = [], [], set()
                for index in range(runs):
                    seconds, n_calls, problem = time_handler(api, scenario, warmup + index)
                    samples.append(seconds)
                    calls.append(n_calls)
                    if problem:
                        problems.add(problem)
                mid = median(samples)
                aws = median(calls)
                own = mid - aws * base_median
                table.add(
                    function_id,
                    label,
                    ms(mid),
                    ms(percentile(samples, 0.95)),
                    f"{aws:g}",
                    ratio(mid / base_median),
                    ms(own) if own > 0 else "≈0",
                    ("answers: " + ", ".join(sorted(problems))) if problems else "",
                )
                data["functions"][function_id] = {
                    "request": label,
                    "seconds": samples,
                    "aws_calls": calls,
                    "ratio_to_get_item": mid / base_median,
                    "own_seconds_estimate": own,
                    "problems": sorted(problems),
                }

            def failed(message: str, function_id: str = function_id, label: str = label) -> None:
                table.add(function_id, label, f"ERROR: {message}", "", "", "", "", "")
                data["functions"][function_id] = {"error": message}

            guarded(f"latency {function_id}", measure, failed)
    table.notes.append(
        f"{runs} timed calls per function after {warmup} warm-up calls; the handler is called in this thread "
        "with the gateway's exact event. x GetItem: median over the baseline's median. Own time (est.): median "
        "minus (AWS calls x baseline median), i.e. the time not spent waiting on moto's cheapest round trip "
        "(moto's queries and transactions cost more than its GetItem, so for them it is an upper bound). "
        "No bar: the ratio is the overhead of the whole request over one AWS call."
    )
    result.tables.append(table)
    result.data = data
    return result
