"""Shared fixtures: one local stack (moto server + every resource of template.yaml) per test
process, used by the integration tests directly and by the end-to-end tests over HTTP."""

import os
from collections.abc import Iterator

import pytest

# Unit tests must never reach a real AWS account, whatever the machine has configured.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def local_stack() -> Iterator[object]:
    from infra.local.stack import LocalStack

    with LocalStack() as stack:
        yield stack


@pytest.fixture
def tenant_id() -> str:
    """A fresh tenant per test: tests share one stack but never see each other's data."""
    from kb_ingest.clock import new_id

    return new_id()
