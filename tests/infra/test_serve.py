"""run_local_stack (the in-process fixture API) and `python -m infra.local.serve`."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from infra.local.serve import DEFAULT_DEV_TENANT_ID, persistent_dev_api_key, run_local_stack
from infra.local.template import REPO_ROOT

from .conftest import write_project

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 5
    Environment:
      Variables:
        API_KEYS_TABLE: !Ref ApiKeysTable
Resources:
  ApiKeysTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{ AttributeName: key_hash, AttributeType: S }]
      KeySchema: [{ AttributeName: key_hash, KeyType: HASH }]
  Whoami:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/whoami
      Handler: app.handler
      Events:
        Route:
          Type: HttpApi
          Properties:
            Path: /whoami
            Method: GET
"""

WHOAMI = """
    import hashlib
    import json
    import os

    import boto3

    def handler(event, context):
        key = event["headers"].get("authorization", "").removeprefix("Bearer ")
        item = boto3.client("dynamodb").get_item(
            TableName=os.environ["API_KEYS_TABLE"], Key={"key_hash": {"S": hashlib.sha256(key.encode()).hexdigest()}}
        ).get("Item")
        return {"statusCode": 200, "body": json.dumps({"tenant": item and item["tenant_id"]["S"]})}
"""


def test_run_local_stack_seeds_the_key_and_serves(tmp_path, unique_stack_name):
    path = write_project(tmp_path, TEMPLATE, {"whoami": WHOAMI})
    environ_before = dict(os.environ)
    with run_local_stack(port=0, template=path, stack_name=unique_stack_name) as local:
        assert local.url.startswith("http://127.0.0.1:")
        assert local.api_key.startswith("ragflow-") and local.tenant_id == os.environ.get(
            "KB_DEV_TENANT_ID", DEFAULT_DEV_TENANT_ID
        )
        table = local.stack.table_names["ApiKeysTable"]
        item = local.stack.client("dynamodb").get_item(
            TableName=table, Key={"key_hash": {"S": hashlib.sha256(local.api_key.encode()).hexdigest()}}
        )["Item"]
        assert item["tenant_id"]["S"] == local.tenant_id
        response = requests.get(f"{local.url}/whoami", headers={"Authorization": f"Bearer {local.api_key}"}, timeout=10)
        assert response.json() == {"tenant": local.tenant_id}
        details = json.loads(json.dumps(local.describe()))
        assert details["gateway_url"] == local.url and details["api_key"] == local.api_key
        assert details["tables"]["ApiKeysTable"] == table
    assert dict(os.environ) == environ_before


def test_dev_key_is_generated_once_and_env_wins(tmp_path, monkeypatch):
    monkeypatch.delenv("KB_DEV_API_KEY", raising=False)
    first = persistent_dev_api_key(tmp_path)
    assert first.startswith("ragflow-") and (tmp_path / "dev_api_key").read_text().strip() == first
    assert persistent_dev_api_key(tmp_path) == first
    monkeypatch.setenv("KB_DEV_API_KEY", "ragflow-from-env")
    assert persistent_dev_api_key(tmp_path) == "ragflow-from-env"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_serve_command_starts_writes_details_and_stops_cleanly(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("KB_DEV_API_KEY", "AWS_ENDPOINT_URL")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "layers" / "common"), str(REPO_ROOT)])
    state = tmp_path / "state"
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local.serve", "--port", "0", "--state-dir", str(state), "--quiet"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stack_file = state / "stack.json"
        deadline = time.monotonic() + 30
        while not stack_file.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert stack_file.exists(), process.stderr.read() if process.poll() is not None else "timed out"
        details = json.loads(stack_file.read_text())
        assert details["api_key"] == (state / "dev_api_key").read_text().strip()
        assert details["tenant_id"] and details["buckets"] and details["tables"] and details["queues"]
        assert details["aws_endpoint_url"].startswith("http://127.0.0.1:")
        # The template's catch-all routes answer even "/" in the envelope, through a handler.
        response = requests.get(details["gateway_url"] + "/", timeout=10)
        assert response.status_code == 200 and response.json()["code"] == 100
    finally:
        process.send_signal(signal.SIGINT)
        try:
            out, err = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, err
    assert "local stack is up" in out and details["gateway_url"] in out and "curl" in out
    assert not stack_file.exists()
    assert Path(state / "dev_api_key").exists()
