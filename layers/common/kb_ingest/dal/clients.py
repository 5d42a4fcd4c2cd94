"""boto3 clients, created once per container and reused by every invocation."""

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)
# Presigned URLs and POSTs signed with SigV4 whatever the region: buckets created since mid-2020
# refuse SigV2, which boto3 may still pick in us-east-1.
_SERVICE_CONFIG = {"s3": _CONFIG.merge(Config(signature_version="s3v4"))}


@cache
def client(service: str) -> Any:
    """A boto3 client; the endpoint comes from AWS_ENDPOINT_URL locally, AWS's otherwise."""
    config = _SERVICE_CONFIG.get(service, _CONFIG)
    return boto3.session.Session().client(service, config=config)  # type: ignore[call-overload]


@cache
def transactions_connection() -> Any:
    """The PynamoDB connection transactions go through: one botocore client per container
    (creating one costs tens of milliseconds, too much to pay per document)."""
    from pynamodb.connection import Connection

    return Connection()
