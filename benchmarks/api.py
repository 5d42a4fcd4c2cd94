"""The project's API on an in-process local stack, called as API Gateway calls it.

`LocalApi.request()` goes through `LocalGateway.handle` (routing, the payload-2.0 event, the
runtime's thread and timeout), exactly what an HTTP request to the local gateway does minus the
socket. `direct=True` builds the same event and calls the handler in this thread: what a warm
Lambda container does, without the local runtime's per-invocation thread.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from benchmarks.aws_calls import attribute


@dataclass
class Answer:
    status: int
    body: bytes
    function_id: str | None
    seconds: float

    @property
    def envelope(self) -> dict[str, Any] | None:
        try:
            value = json.loads(self.body)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    @property
    def code(self) -> int | None:
        envelope = self.envelope
        return envelope.get("code") if envelope else None

    @property
    def data(self) -> Any:
        envelope = self.envelope
        return envelope.get("data") if envelope else None

    @property
    def ok(self) -> bool:
        """HTTP 200 and envelope code 0, or a download/redirect."""
        return bool(self.status in (200, 302) and (self.envelope is None or self.code == 0))

    def describe(self) -> str:
        envelope = self.envelope
        if envelope is None:
            return f"HTTP {self.status}, {len(self.body)} bytes"
        return f"HTTP {self.status}, code {envelope.get('code')}: {str(envelope.get('message'))[:120]}"


def multipart(files: Mapping[str, bytes], field: str = "file") -> tuple[bytes, str]:
    boundary = "bench" + uuid.uuid4().hex
    parts = []
    for name, content in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class LocalApi:
    """One tenant's view of the API on a `run_local_stack()` handle."""

    def __init__(self, local: Any) -> None:
        self.local = local
        self.gateway = local.gateway
        self.runtime = attribute(local.runtime)
        self.auth = [("Authorization", f"Bearer {local.api_key}")]

    # ------------------------------------------------------------ requests
    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        files: Mapping[str, bytes] | None = None,
        query: Mapping[str, Any] | None = None,
        direct: bool = False,
    ) -> Answer:
        target, headers, body = self.build(path, json_body=json_body, files=files, query=query)
        started = time.perf_counter()
        if direct:
            status, response_body, function_id = self._direct(method, target, headers, body)
        else:
            response = self.gateway.handle(method, target, headers, body)
            status, response_body, function_id = response.status, response.body, response.function_id
        return Answer(status, response_body, function_id, time.perf_counter() - started)

    def build(
        self,
        path: str,
        *,
        json_body: Any = None,
        files: Mapping[str, bytes] | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        """(target, headers, body) of a request as a client sends it."""
        headers = list(self.auth)
        body = b""
        if files is not None:
            body, content_type = multipart(files)
            headers.append(("Content-Type", content_type))
        elif json_body is not None:
            body = json.dumps(json_body).encode()
            headers.append(("Content-Type", "application/json"))
        return path + ("?" + urlencode(query) if query else ""), headers, body

    def prepare_direct(self, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes) -> Any:
        """(function id, handler, event factory) for a request, for timing the handler alone."""
        from infra.local.gateway import build_event

        raw_path, _, raw_query = target.partition("?")
        match = self.gateway.router.match(method, raw_path)
        if match is None:
            raise LookupError(f"no route for {method} {raw_path}")
        route = match.route
        headers = list(headers)

        def event() -> dict[str, Any]:
            return build_event(
                method=method,
                raw_path=raw_path,
                raw_query_string=raw_query,
                headers=headers,
                body=body,
                route_key=route.route_key,
                path_parameters=match.path_parameters,
                api_id=self.gateway.api_id,
                account_id=self.gateway.account_id,
                stage=self.gateway.stage,
                server_port=self.gateway.port,
            )

        return route.function_id, self.runtime.handler(route.function_id), event

    def _direct(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, bytes, str]:
        from infra.local.gateway import response_from_result

        function_id, handler, event = self.prepare_direct(method, target, headers, body)
        result = handler(event(), self.runtime.context(function_id))
        response = response_from_result(json.loads(json.dumps(result)))
        return response.status, response.body, function_id

    # ------------------------------------------------------------ helpers
    def must(self, answer: Answer, what: str) -> Answer:
        if not answer.ok:
            raise RuntimeError(f"{what}: {answer.describe()}")
        return answer

    def create_dataset(self, name: str | None = None) -> str:
        name = name or f"bench-{uuid.uuid4().hex[:12]}"
        answer = self.must(self.request("POST", "/api/v1/dataset", json_body={"name": name}), "create dataset")
        data = answer.data
        return str(data.get("dataset_id") or data.get("id"))

    def upload(self, dataset_id: str, files: Mapping[str, bytes]) -> list[dict[str, Any]]:
        answer = self.must(
            self.request("POST", f"/api/v1/dataset/{dataset_id}/documents", files=files), "upload documents"
        )
        return list(answer.data)

    def status(self, dataset_id: str, document_id: str) -> str:
        answer = self.request("GET", f"/api/v1/dataset/{dataset_id}/documents/{document_id}/status")
        return str((answer.data or {}).get("status"))

    def parse_in_background(self, dataset_id: str, document_ids: list[str], timeout: float = 60.0) -> float:
        """Start parsing and let the stack's parse function finish them; the seconds it took."""
        from infra.local.poller import BackgroundWorkers

        stack = self.local.stack
        sqs = stack.client("sqs")
        sqs.purge_queue(QueueUrl=stack.queue_urls["ParseQueue"])  # upload events waiting since the uploads
        started = time.perf_counter()
        with BackgroundWorkers(stack, self.runtime, schedules=False):
            self.must(
                self.request(
                    "POST", f"/api/v1/dataset/{dataset_id}/documents/status", json_body={"doc_ids": document_ids}
                ),
                "start parsing",
            )
            deadline = time.monotonic() + timeout
            pending = set(document_ids)
            while pending and time.monotonic() < deadline:
                pending = {d for d in pending if self.status(dataset_id, d) not in ("DONE", "FAIL", "CANCEL")}
                if pending:
                    time.sleep(0.2)
        if pending:
            raise TimeoutError(f"{len(pending)} document(s) not parsed within {timeout:g} s")
        return time.perf_counter() - started


@contextlib.contextmanager
def local_api(section: str, **options: Any) -> Iterator[LocalApi]:
    """A fresh local stack (no background pollers unless asked) and the dev tenant's API on it."""
    from benchmarks.aws_calls import install
    from infra.local.serve import run_local_stack

    install()  # before any client exists, so every one of them is counted
    options.setdefault("background", False)
    with run_local_stack(port=0, stack_name=f"kbbench-{section}", **options) as local:
        yield LocalApi(local)
