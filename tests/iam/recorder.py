"""Records, per function, every AWS call the functions make while the test suite runs.

Installed by tests/conftest.py when KB_IAM_RECORD names a folder (`make test` does): every
botocore client gets a `before-parameter-build` hook (emitted for real calls and for presigned
URLs and POSTs alike), which turns the call into the IAM permissions it needs and files them
under the function whose invocation is running (infra.local.runtime.current_function). Threads a
handler starts through a ThreadPoolExecutor inherit that attribution. Calls made by test code
itself (seeding keys, reading S3 to assert) belong to no function and are not recorded.
At the end of the session each pytest process writes one JSON file into the folder, with the
local stack's physical names, so tests/iam/test_iam_calls.py can resolve the template's policies
to the same ARNs.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import json
import os
import threading
from pathlib import Path
from typing import Any

from infra.iam import permissions
from infra.local.runtime import current_function
from infra.local.template import LOCAL_ACCOUNT_ID

RECORD_ENV = "KB_IAM_RECORD"


class CallRecorder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.calls: dict[tuple[str, str, str, str], int] = {}  # (function, operation, action, resource) -> count
        self.stack: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._undo: list[Any] = []

    # ------------------------------------------------------------ hooks
    def on_call(self, region: str, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        running = current_function.get()
        if running is None or self.stack is None or running[0] != self.stack["stack_name"]:
            return  # test code, or a function of another test's own stack
        function_id = running[1]
        service = model.service_model.service_name
        if (kwargs.get("context") or {}).get("is_presign_request") and model.name == "CreateBucket":
            return  # botocore resolves a presigned POST's endpoint this way; the POST itself is filed below
        self.file(function_id, service, model.name, params, region)

    def file(self, function_id: str, service: str, operation: str, params: dict[str, Any], region: str) -> None:
        for permission in permissions(service, operation, params, region, LOCAL_ACCOUNT_ID):
            key = (function_id, f"{service}.{operation}", permission.action, permission.resource)
            with self._lock:
                self.calls[key] = self.calls.get(key, 0) + 1

    def install(self) -> None:
        import botocore.client

        original_create = botocore.client.ClientCreator.create_client
        recorder = self

        def create_client(creator: Any, *args: Any, **kwargs: Any) -> Any:
            client = original_create(creator, *args, **kwargs)
            region = client.meta.region_name

            def on_call(params: dict[str, Any], model: Any, **kwargs: Any) -> None:
                recorder.on_call(region, params, model, **kwargs)

            client.meta.events.register("before-parameter-build", on_call)
            return client

        botocore.client.ClientCreator.create_client = create_client  # type: ignore[method-assign]
        self._undo.append(lambda: setattr(botocore.client.ClientCreator, "create_client", original_create))

        original_submit = concurrent.futures.ThreadPoolExecutor.submit

        def submit(executor: Any, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            return original_submit(executor, contextvars.copy_context().run, fn, *args, **kwargs)

        concurrent.futures.ThreadPoolExecutor.submit = submit  # type: ignore[method-assign]
        self._undo.append(lambda: setattr(concurrent.futures.ThreadPoolExecutor, "submit", original_submit))

        # A presigned POST lets its holder do a PutObject with the function's credentials.
        import botocore.signers

        original_post = botocore.signers.generate_presigned_post

        def generate_presigned_post(client: Any, Bucket: str, Key: str, *args: Any, **kwargs: Any) -> Any:
            running = current_function.get()
            if running is not None and recorder.stack is not None and running[0] == recorder.stack["stack_name"]:
                recorder.file(running[1], "s3", "PutObject", {"Bucket": Bucket, "Key": Key}, client.meta.region_name)
            return original_post(client, Bucket, Key, *args, **kwargs)

        botocore.signers.generate_presigned_post = generate_presigned_post
        self._undo.append(lambda: setattr(botocore.signers, "generate_presigned_post", original_post))

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    # ------------------------------------------------------------ output
    def remember_stack(self, stack: Any) -> None:
        """The local stack's physical names and ARNs, to resolve the template's policies the same way."""
        self.stack = {
            "stack_name": stack.stack_name,
            "region": stack.region,
            "account_id": stack.account_id,
            "physical": {lid: {"ref": p.ref, "attrs": p.attrs} for lid, p in stack.physical.items()},
        }

    def write(self, name: str) -> Path | None:
        if not self.calls:
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{name}.json"
        calls = [
            {"function": f, "operation": o, "action": a, "resource": r, "count": n}
            for (f, o, a, r), n in sorted(self.calls.items())
        ]
        path.write_text(json.dumps({"stack": self.stack, "calls": calls}, indent=1))
        return path


def from_environment() -> CallRecorder | None:
    folder = os.environ.get(RECORD_ENV, "").strip()
    return CallRecorder(Path(folder)) if folder else None
