"""A hostile-input sweep over every route docs/openapi.json describes, through the local stack:
odd and malicious ids, names, bodies, multipart parts and query values, each answered in the
envelope (HTTP 200, JSON, `code` one of the contract's, never 500) or, for a download, with
the file. Routes come from the OpenAPI description, so a new route is swept without edits.

Bounded: about 600 requests, 4 at a time: 10 to 30 seconds on a loaded 2-core machine.
"""

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from kb_ingest.http.current.routes import is_current_path

OPENAPI = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())
CONTRACT_CODES = {0, 100, 101, 102, 103, 109}
DOWNLOAD = ("GET", "/api/v1/dataset/{dataset_id}/documents/{document_id}")
# Dify's external knowledge API answers in Dify's shape: `{"records"}`, or `{"error_code", "error_msg"}`
# with HTTP 400 (arguments), 403 (the key) or 404 (the knowledge), as Dify's spec gives them.
DIFY = ("POST", "/api/v1/dify/retrieval")
DIFY_ERRORS = {(400, 101), (400, 102), (403, 1001), (403, 1002), (404, 2001)}

HOSTILE_IDS = ["0" * 32, "x" * 2000, "é", "..", "%00", "' OR '1'='1", "{dataset_id}", "A" * 32]
HOSTILE_NAMES = [
    "", " ", " " * 1024, "\t", "\n", "\u00a0", "\u3000", "é" * 513, "😀" * 300, "x" * 1024, "x" * 1025,
    "\x00", "a/b\\c", "../../etc/passwd", "http://evil", "CON", "name.", ".hidden", "(1)", "kb(99999999999999999999)",
]  # fmt: skip
WRONG_TYPES: list[Any] = [None, True, -1, 1.5, 10**30, ["x"], {"a": 1}]
HOSTILE_QUERY_VALUES = [
    "-1", "-999999999999", "99999999999999999999999999", "abc", "", "1e3", "0x10", "\x00", "true", "é", "x" * 3000,
]  # fmt: skip
BAD_DOC_IDS: list[Any] = [[[1]], [{}], [""], [None], [1], "abc", 5, {"a": 1}, [True]]


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in OPENAPI["paths"].items()
        for method, operation in item.items()
    ]


def json_properties(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return content["application/json"]["schema"].get("properties", {})


def is_multipart(operation: dict[str, Any]) -> bool:
    return "multipart/form-data" in operation.get("requestBody", {}).get("content", {})


def raw_json(value: Any) -> bytes:
    return json.dumps(value).encode()


def cases(dataset_id: str, document_id: str) -> list[dict[str, Any]]:
    """(method, path, request keyword arguments) for every hostile input of every route."""
    real = {"dataset_id": dataset_id, "document_id": document_id}
    found: list[dict[str, Any]] = []
    for method, template, operation in operations():
        destructive = method == "DELETE" and "{document_id}" not in template and "status" not in template

        def add(
            path_ids: dict[str, str], label: str, method: str = method, template: str = template, **kwargs: Any
        ) -> None:
            path = template
            for name, value in path_ids.items():
                path = path.replace("{" + name + "}", quote(value, safe=""))
            found.append({"method": method, "path": path, "template": template, "label": label, **kwargs})

        # Ids: unknown, malformed, oversized, encoded.
        for hostile in HOSTILE_IDS:
            ids = {name: hostile for name in real if "{" + name + "}" in template}
            if ids:
                add(ids, f"id {hostile[:20]!r}", data=b"{}" if json_properties(operation) is not None else None)
        ids = {} if destructive else {name: value for name, value in real.items() if "{" + name + "}" in template}
        if destructive:
            continue  # the seeded dataset stays for the other routes
        # Query values.
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query":
                continue
            for value in HOSTILE_QUERY_VALUES:
                add(ids, f"?{parameter['name']}={value[:20]!r}", params={parameter["name"]: value})
        properties = json_properties(operation)
        if properties is not None:
            # Bodies that are not one JSON object, or not JSON, or too deep to walk.
            for body in [b"[]", b'"s"', b"1", b"null", b"true", b"{not json", b"\xff\xfe", b'{"a": 1e400}',
                         b'{"a": ' + b"1" * 5000 + b"}", b'{"a": NaN}', b"[" * 5000 + b"]" * 5000,
                         b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}", b'{"\\ud800": 1}']:  # fmt: skip
                add(ids, f"body {body[:20]!r}", data=body)
            for name, schema in properties.items():
                add(ids, f"{name} lone surrogate", data=b'{"%s": "x\\udfff"}' % name.encode())
                for wrong in WRONG_TYPES:
                    add(ids, f"{name}={wrong!r:.20}", data=raw_json({name: wrong}))
                if schema.get("type") == "string":
                    # Every hostile name for names; a sample for the other text fields.
                    for hostile in HOSTILE_NAMES if name == "name" else HOSTILE_NAMES[1::4]:
                        add(ids, f"{name}={hostile[:20]!r}", data=raw_json({name: hostile}))
                if name == "doc_ids":
                    for bad in BAD_DOC_IDS:
                        add(ids, f"doc_ids={bad!r}", data=raw_json({name: bad}))
        if is_multipart(operation):
            for content_type, body in [
                ("multipart/form-data; boundary=xyz", b"garbage"),
                ("multipart/form-data", b"--xyz\r\nContent-Disposition: form-data; name=file\r\n\r\nx\r\n--xyz--\r\n"),
                ("multipart/form-data; boundary=xyz", b'--xyz\r\nContent-Disposition: form-data; name="file"'),
                ("multipart/form-data; boundary=" + "b" * 5000, b"--x"),
                ("application/json", b'{"file": "x"}'),
                ("text/plain", b"just text"),
            ]:
                add(ids, f"multipart {content_type[:30]!r}", data=body, headers={"Content-Type": content_type})
            for filename in ["n" * 10_000 + ".txt", "", "a\x00b.txt", "../../x.txt", "é" * 200 + ".txt", "x.exe"]:
                add(ids, f"filename {filename[:20]!r}", files=[("file", (filename, b"x"))])
            add(ids, "part without filename", files=[("file", (None, b"x"))])
    return found


def problem_with(case: dict[str, Any], response: Any) -> str | None:
    """Why this answer is outside the contract, or None."""
    if (case["method"], case["template"]) == DOWNLOAD and (
        response.status_code == 302 or response.headers.get("content-type", "").startswith("application/octet-stream")
    ):
        return None  # the file itself, or the redirect to it
    if (case["method"], case["template"]) == DIFY:
        try:
            body = response.json()
        except ValueError:
            return f"not JSON: {response.text[:80]!r}"
        if response.status_code == 200 and isinstance(body.get("records"), list):
            return None
        error = (response.status_code, body.get("error_code"))
        return (
            None if error in DIFY_ERRORS and isinstance(body.get("error_msg"), str) else f"not Dify's answer: {error}"
        )
    # A path that ends in a slash (`..` is one: HTTP clients resolve `/a/..` to `/a/`) may reach the
    # catch-all route, whose documented answer is a 308 to the path without it, in the envelope.
    redirected = response.status_code == 308 and response.headers.get("location")
    if response.status_code == 404 and is_current_path(urlsplit(response.url).path):
        # `..` resolved into today's API (`/api/v1/dataset/..` + `/documents` is `/api/v1/documents`),
        # whose unknown routes answer HTTP 404 with RAGFlow's body: that generation's envelope.
        body = response.json()
        return (
            None if body.get("code") == 404 and isinstance(body.get("message"), str) else f"not RAGFlow's 404: {body}"
        )
    if response.status_code != 200 and not redirected:
        return f"HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        return f"not JSON: {response.text[:80]!r}"
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return f"not the envelope: {response.text[:80]!r}"
    if body.get("code") not in CONTRACT_CODES:
        return f"code {body.get('code')}: {body.get('message', '')[:120]}"
    if body["message"].startswith("Internal error; the request id is"):
        return f"a crash answered in the envelope: {body['message']}"  # our code raised: a bug, whatever the code
    return None


@pytest.mark.e2e
def test_no_hostile_input_gets_a_500_or_an_answer_outside_the_envelope(api):
    dataset_id = api.create_dataset(f"sweep-{uuid.uuid4().hex[:6]}")
    [document] = api.upload(dataset_id, {"seed.txt": b"seed text.\n"})
    all_cases = cases(dataset_id, document["id"])
    assert len(all_cases) > 300  # every route contributes

    def send(case: dict[str, Any]) -> str | None:
        kwargs = {key: case[key] for key in ("data", "params", "files", "headers") if case.get(key) is not None}
        response = api.session.request(
            case["method"], api.base.removesuffix("/api/v1") + case["path"], timeout=60, allow_redirects=False, **kwargs
        )
        problem = problem_with(case, response)
        return None if problem is None else f"{case['method']} {case['template']} [{case['label']}]: {problem}"

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        problems = [problem for problem in pool.map(send, all_cases) if problem]
    print(f"hostile-input sweep: {len(all_cases)} requests in {time.monotonic() - started:.1f} s")
    assert problems == [], "\n".join(problems[:50])
