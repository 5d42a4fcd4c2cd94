"""`make serve` killed with SIGKILL in the middle of an ingest: after a restart on the same data,
every document the API acknowledged is there with its file, every parse that was started ends DONE
with its chunks, and nothing is left RUNNING."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from infra.local.template import REPO_ROOT

TEXT = "Paragraph {n} of document {d}. " * 40


def _start(state: Path) -> tuple[subprocess.Popen, dict]:
    (state / "stack.json").unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("KB_DEV_API_KEY", "AWS_ENDPOINT_URL")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "layers" / "common"), str(REPO_ROOT)])
    # A short parse Timeout, because a parse in flight at the kill comes back only when its dead
    # worker's lease (the invocation's Timeout) ends: the restarted stack waits that long. 75 s leaves
    # a batch of five small files 45 s beyond the 30 s the parse keeps in reserve (with 50 s, one
    # batch ran out of time on a machine at a load average of 13). The visibility timeout is six
    # times it, as the template has them.
    env["KB_LOCAL_FUNCTION_TIMEOUTS"] = "ParseDocumentFunction=75"
    env["KB_LOCAL_VISIBILITY_TIMEOUT"] = "450"
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local.serve", "--port", "0", "--state-dir", str(state), "--quiet"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (state / "stack.json").exists():
        assert process.poll() is None, process.stderr.read() if process.stderr else "exited"
        assert time.monotonic() < deadline, "the stack did not start"
        time.sleep(0.1)
    time.sleep(0.2)  # written atomically, but give the gateway a moment
    return process, json.loads((state / "stack.json").read_text())


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Client:
    def __init__(self, details: dict) -> None:
        self.base = details["gateway_url"] + "/api/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {details['api_key']}"

    def call(self, method: str, path: str, **kwargs) -> dict:
        response = self.session.request(method, self.base + path, timeout=30, **kwargs)
        assert response.status_code == 200, (response.status_code, response.text[:300])
        return response.json()


def test_everything_acknowledged_before_a_sigkill_is_there_after_the_restart(tmp_path):
    state = tmp_path / "state"
    process, details = _start(state)
    uploaded: dict[str, bytes] = {}  # document id -> content, for every upload the API acknowledged
    try:
        api = Client(details)
        dataset_id = api.call("POST", "/dataset", json={"name": "crash"})["data"]["dataset_id"]
        for batch in range(3):
            files = {f"b{batch}-{n}.txt": TEXT.format(n=n, d=f"{batch}-{n}").encode() for n in range(10)}
            answer = api.call("POST", f"/dataset/{dataset_id}/documents", files=[("file", f) for f in files.items()])
            assert answer["code"] == 0, answer
            for doc in answer["data"]:
                uploaded[doc["id"]] = files[doc["name"]]
        started = api.call("POST", f"/dataset/{dataset_id}/documents/status", json={"doc_ids": None})
        assert started["code"] == 0, started
        parsing = set(uploaded)

        # More uploads keep coming while the documents parse; the kill lands in the middle. Two files
        # a request: every one acknowledged is downloaded again after the restart.
        def upload_more() -> None:
            batch = 100
            while True:
                files = {f"late{batch}-{n}.txt": TEXT.format(n=n, d=batch).encode() for n in range(2)}
                try:
                    answer = api.call(
                        "POST", f"/dataset/{dataset_id}/documents", files=[("file", f) for f in files.items()]
                    )
                except Exception:
                    return  # the stack is gone
                for doc in answer.get("data") or []:
                    uploaded[doc["id"]] = files[doc["name"]]
                batch += 1

        uploader = threading.Thread(target=upload_more, daemon=True)
        uploader.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # kill once some, not all, documents are done
            docs = api.call("GET", f"/dataset/{dataset_id}/documents", params={"count": 1000})["data"]["docs"]
            done = sum(1 for d in docs if d["run"] == "3")
            if done >= 3:
                break
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        uploader.join(30)
        assert 3 <= done < len(parsing), f"the kill should land mid-ingest ({done} of {len(parsing)} done)"
    finally:
        _stop(process)

    process, details = _start(state)
    try:
        api = Client(details)
        assert details["api_key"] == (state / "dev_api_key").read_text().strip()  # same key
        deadline = time.monotonic() + 300  # the machine may be shared: allow for a slow parse
        while True:
            docs = {
                d["id"]: d
                for d in api.call("GET", f"/dataset/{dataset_id}/documents", params={"count": 1000})["data"]["docs"]
            }
            unfinished = [i for i in parsing if docs.get(i, {}).get("run") in ("0", "1")]
            if not unfinished or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        missing = set(uploaded) - set(docs)
        assert not missing, f"{len(missing)} acknowledged documents are gone"
        assert not unfinished, f"{len(unfinished)} documents never finished: {[docs[i]['run'] for i in unfinished]}"
        assert not [d for d in docs.values() if d["run"] == "1"], "documents stuck RUNNING"
        for document_id in parsing:
            assert docs[document_id]["run"] == "3", docs[document_id]["progress_msg"]
            chunks = api.call("GET", f"/dataset/{dataset_id}/documents/{document_id}/chunks")["data"]
            assert chunks["total"] == docs[document_id]["chunk_num"] > 0
        for document_id, content in uploaded.items():
            response = api.session.get(f"{api.base}/dataset/{dataset_id}/documents/{document_id}", timeout=30)
            assert response.content == content
    finally:
        _stop(process)
