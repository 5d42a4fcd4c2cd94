"""Section 2: AWS calls per API operation, counted at botocore, through the real handlers.

Every request goes through the local gateway in-process (`LocalGateway.handle`: the exact
payload-2.0 event, the function's own thread), against a fresh local stack. Only calls made by the
functions are counted (see benchmarks/aws_calls.py); DynamoDB calls on the API keys table are the
authentication lookup every request makes (API_KEY_CACHE_SECONDS=0) and are shown apart.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from benchmarks.api import Answer, LocalApi, local_api
from benchmarks.aws_calls import CALLS, Capture
from benchmarks.common import INFO, SectionResult, Table, bar, guarded, say

TITLE = "2. Request cost: AWS calls per API operation (through the real handlers, on moto)"
UPLOAD_SIZES = (1, 10, 100)
UPLOAD_SLACK = 1.25  # marginal calls per file between 10 and 100 files vs. between 1 and 10


def _fmt_ops(counter: Any) -> str:
    return ", ".join(f"{op} {n}" for op, n in sorted(counter.items())) or "-"


class Recorder:
    def __init__(self, api: LocalApi, table: Table, data: dict[str, Any]) -> None:
        self.api = api
        self.table = table
        self.data = data
        stack = api.local.stack
        self.auth_tables = (stack.table_names.get("ApiKeysTable", "__none__"),)

    def row(self, label: str, cap: Capture, answer: Answer | None, per: int = 0, note: str = "") -> dict[str, Any]:
        auth = cap.count("dynamodb") - cap.count("dynamodb", exclude_tables=self.auth_tables)
        data_calls = cap.count("dynamodb", exclude_tables=self.auth_tables)
        ops = cap.operations("dynamodb", exclude_tables=self.auth_tables)
        s3, sqs = cap.count("s3"), cap.count("sqs")
        other = cap.count() - cap.count("dynamodb") - s3 - sqs
        capacity = f"{cap.capacity:g}" if cap.capacity_reports else "not reported"
        total = cap.count()
        per_file = f"{total / per:.2f}" if per else INFO
        outcome = "ok" if answer is None or answer.ok else answer.describe()
        retries = cap.attempts - total if cap.attempts > total else 0
        if retries:
            note = (note + "; " if note else "") + f"{retries} retried attempt(s)"
        self.table.add(
            label,
            f"{auth} + {data_calls}",
            _fmt_ops(ops),
            capacity,
            s3,
            sqs,
            other or "-",
            total,
            per_file,
            outcome if not note else f"{outcome}; {note}",
        )
        entry = {
            "auth_dynamodb": auth,
            "dynamodb": data_calls,
            "dynamodb_operations": dict(ops),
            "capacity_units": cap.capacity if cap.capacity_reports else None,
            "s3": s3,
            "s3_operations": dict(cap.operations("s3")),
            "sqs": sqs,
            "other": other,
            "total": total,
            "outcome": outcome,
        }
        self.data[label] = entry
        return entry

    def call(self, label: str, method: str, path: str, per: int = 0, note: str = "", **kwargs: Any) -> Any:
        with CALLS.capture() as cap:
            answer = self.api.request(method, path, **kwargs)
        entry = self.row(label, cap, answer, per, note)
        return answer, entry

    def failed(self, label: str) -> Callable[[str], None]:
        def record(message: str) -> None:
            self.table.add(label, "", "", "", "", "", "", "", "", f"ERROR: {message}")
            self.data[label] = {"error": message}

        return record


def run(quick: bool = False) -> SectionResult:
    result = SectionResult("request_cost", TITLE)
    table = Table(
        TITLE,
        [
            "operation",
            "DynamoDB (auth + data)",
            "DynamoDB data calls",
            "capacity units",
            "S3",
            "SQS",
            "other",
            "total calls",
            "calls / file",
            "answer",
        ],
    )
    table.notes.append(
        "Calls counted at botocore (before-call) for every client the functions create (boto3 and PynamoDB); "
        "capacity units: DynamoDB's ConsumedCapacity (ReturnConsumedCapacity=TOTAL), as moto reports it."
    )
    data: dict[str, Any] = {}
    with local_api("cost") as api:
        rec = Recorder(api, table, data)
        base = "/api/v1/dataset"
        say("    request cost: datasets")
        ds = api.create_dataset()
        guarded(
            "create dataset",
            lambda: rec.call("create dataset", "POST", base, json_body={"name": f"bench-{uuid.uuid4().hex[:8]}"}),
            rec.failed("create dataset"),
        )
        guarded("list datasets", lambda: rec.call("list datasets", "GET", base), rec.failed("list datasets"))
        guarded("get dataset", lambda: rec.call("get dataset", "GET", f"{base}/{ds}"), rec.failed("get dataset"))
        guarded(
            "update dataset",
            lambda: rec.call(
                "update dataset (rename)", "PUT", f"{base}/{ds}", json_body={"name": f"renamed-{uuid.uuid4().hex[:8]}"}
            ),
            rec.failed("update dataset (rename)"),
        )
        guarded(
            "update dataset description",
            lambda: rec.call(
                "update dataset (description)", "PUT", f"{base}/{ds}", json_body={"description": "benchmarked"}
            ),
            rec.failed("update dataset (description)"),
        )

        say("    request cost: uploads")
        uploads: dict[int, int] = {}
        docs: list[dict[str, Any]] = []
        for k in UPLOAD_SIZES:
            files = {f"k{k}-file{i}.txt": f"document {i} of an upload of {k}\n".encode() * 20 for i in range(k)}

            def upload(k: int = k, files: dict[str, bytes] = files) -> None:
                answer, entry = rec.call(
                    f"upload {k} document(s)", "POST", f"{base}/{ds}/documents", per=k, files=files
                )
                if answer.ok:
                    docs.extend(answer.data)
                    uploads[k] = entry["total"]

            guarded(f"upload {k}", upload, rec.failed(f"upload {k} document(s)"))
        if all(k in uploads for k in UPLOAD_SIZES):
            first = (uploads[10] - uploads[1]) / 9
            then = (uploads[100] - uploads[10]) / 90
            ok = then <= max(first * UPLOAD_SLACK, first + 0.1)
            per_file = ", ".join(f"k={k}: {uploads[k] / k:.2f}" for k in UPLOAD_SIZES)
            result.bars.append(
                bar(
                    "upload cost is O(k)",
                    "calls per extra file (10→100) ≤ calls per extra file (1→10) + 25%",
                    f"{then:.2f} vs {first:.2f} per extra file; total per file {per_file}",
                    ok,
                    "the upload grows faster than linearly in the number of files",
                )
            )
        else:
            result.bars.append(bar("upload cost is O(k)", "measured", "an upload failed", None))

        say("    request cost: documents")
        doc_ids = [doc["id"] for doc in docs]

        def list_page() -> None:
            answer, entry = rec.call(
                f"list documents (page of 30 of {len(doc_ids)})",
                "GET",
                f"{base}/{ds}/documents",
                query={"offset": 0, "count": 30},
            )
            ops = entry["dynamodb_operations"]
            reads = entry["dynamodb"]
            ok = answer.ok and ops.get("Query", 0) == 1 and reads == 2
            result.bars.append(
                bar(
                    "list documents: one query",
                    "1 Query + 1 dataset read (besides auth)",
                    _fmt_ops(ops),
                    ok,
                    f"{reads} DynamoDB calls besides auth",
                )
            )

        guarded("list documents", list_page, rec.failed("list documents (page of 30)"))
        guarded(
            "list keywords",
            lambda: rec.call(
                f"list documents with keywords (reads all {len(doc_ids)} names)",
                "GET",
                f"{base}/{ds}/documents",
                query={"keywords": "file1", "count": 30},
            ),
            rec.failed("list documents with keywords"),
        )
        if len(doc_ids) < 6:
            table.notes.append("The uploads failed: the per-document operations were skipped.")
            result.tables.append(table)
            result.data = data
            return result
        one, two, three = doc_ids[0], doc_ids[1], doc_ids[2]
        guarded(
            "download",
            lambda: rec.call("get (download) one document", "GET", f"{base}/{ds}/documents/{one}"),
            rec.failed("get (download) one document"),
        )
        guarded(
            "update doc rename",
            lambda: rec.call(
                "update one document (rename)", "PUT", f"{base}/{ds}/documents/{two}", json_body={"name": "renamed.txt"}
            ),
            rec.failed("update one document (rename)"),
        )
        guarded(
            "update doc enable",
            lambda: rec.call(
                "update one document (enable)", "PUT", f"{base}/{ds}/documents/{three}", json_body={"enable": 0}
            ),
            rec.failed("update one document (enable)"),
        )
        guarded(
            "upload url",
            lambda: rec.call(
                "presigned upload URL",
                "POST",
                f"{base}/{ds}/documents/upload_url",
                json_body={"name": "big.pdf", "size": 20_000_000},
            ),
            rec.failed("presigned upload URL"),
        )

        say("    request cost: parsing")
        guarded(
            "start parse",
            lambda: rec.call("start parsing one document", "POST", f"{base}/{ds}/documents/{one}/status"),
            rec.failed("start parsing one document"),
        )
        guarded(
            "status",
            lambda: rec.call("parsing status of one document", "GET", f"{base}/{ds}/documents/{one}/status"),
            rec.failed("parsing status of one document"),
        )
        guarded(
            "stop parse",
            lambda: rec.call("stop parsing one document", "DELETE", f"{base}/{ds}/documents/{one}/status"),
            rec.failed("stop parsing one document"),
        )
        guarded(
            "start many",
            lambda: rec.call(
                "start parsing 3 documents (doc_ids)",
                "POST",
                f"{base}/{ds}/documents/status",
                json_body={"doc_ids": doc_ids[3:6]},
            ),
            rec.failed("start parsing 3 documents"),
        )
        guarded(
            "stop many",
            lambda: rec.call(
                f"stop parsing every running document (of {len(doc_ids)})",
                "DELETE",
                f"{base}/{ds}/documents/status",
                json_body={"doc_ids": None},
            ),
            rec.failed("stop parsing every running document"),
        )
        guarded(
            "start all",
            lambda: rec.call(
                f"start parsing every document (of {len(doc_ids)}; fanned out)",
                "POST",
                f"{base}/{ds}/documents/status",
                json_body={"doc_ids": None},
            ),
            rec.failed("start parsing every document"),
        )

        def parse_one() -> None:
            with CALLS.capture() as cap:
                api.parse_in_background(ds, [two])
            rec.row(
                "background: parse one small document (ParseDocumentFunction)", cap.only("ParseDocumentFunction"), None
            )

        guarded("parse one", parse_one, rec.failed("background: parse one small document"))
        guarded(
            "chunks",
            lambda: rec.call(
                "list chunks of a parsed document", "GET", f"{base}/{ds}/documents/{two}/chunks", query={"count": 30}
            ),
            rec.failed("list chunks of a parsed document"),
        )
        guarded(
            "history",
            lambda: rec.call("parse history of one document", "GET", f"{base}/{ds}/documents/{two}/history"),
            rec.failed("parse history of one document"),
        )
        guarded(
            "delete doc",
            lambda: rec.call("delete one document", "DELETE", f"{base}/{ds}/documents/{three}"),
            rec.failed("delete one document"),
        )
        guarded(
            "delete dataset",
            lambda: rec.call(f"delete dataset (with {len(doc_ids)} documents)", "DELETE", f"{base}/{ds}"),
            rec.failed("delete dataset"),
        )
        guarded(
            "unknown route",
            lambda: rec.call("unknown route", "GET", "/api/v1/nothing-here"),
            rec.failed("unknown route"),
        )
    result.tables.append(table)
    result.data = data
    return result
