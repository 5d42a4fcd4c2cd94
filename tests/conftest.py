"""Shared fixtures: one local stack per test process (moto server, every resource of
template.yaml, the gateway and the queue pollers), used by the integration tests directly and
by the end-to-end tests over HTTP. Tests isolate themselves with fresh tenants and datasets."""

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

# Tests must never reach a real AWS account, whatever the machine has configured.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def live() -> Iterator[Any]:
    from infra.local.serve import run_local_stack

    # Failed messages come back after 2 s instead of the template's 90 minutes.
    with run_local_stack(port=0, visibility_timeout=2) as handle:
        if _recorder is not None:
            _recorder.remember_stack(handle.stack)
        yield handle


@pytest.fixture(scope="session")
def local_stack(live: Any) -> Any:
    return live.stack


@pytest.fixture
def tenant_id() -> str:
    """A fresh tenant per test: tests share one stack but never see each other's data."""
    from kb_ingest.clock import new_id

    return new_id()


class Api:
    """HTTP calls to the local gateway as one tenant, answering the parsed envelope."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base = base_url.rstrip("/") + "/api/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.session.request(method, self.base + path, timeout=60, **kwargs)
        assert response.status_code == 200, (response.status_code, response.text[:500])
        return response.json()

    def raw(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base + path, timeout=60, **kwargs)

    def create_dataset(self, name: str = "kb") -> str:
        answer = self.call("POST", "/dataset", json={"name": name})
        assert answer["code"] == 0, answer
        return answer["data"]["dataset_id"]

    def upload(self, dataset_id: str, files: dict[str, bytes]) -> list[dict[str, Any]]:
        parts = [("file", (name, content)) for name, content in files.items()]
        answer = self.call("POST", f"/dataset/{dataset_id}/documents", files=parts)
        assert answer["code"] == 0, answer
        return answer["data"]


@pytest.fixture
def new_api(live: Any) -> Callable[[], Api]:
    """An Api for a brand-new tenant with its own key."""
    from kb_ingest.dal.api_keys import create_api_key

    def make() -> Api:
        key, _ = create_api_key(label="e2e")
        return Api(live.url, key)

    return make


@pytest.fixture
def api(new_api: Callable[[], Api]) -> Api:
    return new_api()


# ---------------------------------------------------------------- IAM call recording (tests/iam)
_recorder: Any = None


def pytest_configure(config: pytest.Config) -> None:
    global _recorder
    from tests.iam.recorder import from_environment

    _recorder = from_environment()
    if _recorder is not None:
        _recorder.install()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _recorder is None:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    _recorder.write(worker)
    _recorder.uninstall()
