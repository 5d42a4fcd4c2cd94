"""`python -m infra.local.serve`: the whole stack on this machine, from template.yaml.

Starts the moto-backed LocalStack, makes sure the dev API key exists for the dev tenant, serves the
HTTP API on 127.0.0.1:$KB_LOCAL_PORT (9380), runs the SQS pollers and schedules, writes the connection
details to .local/stack.json and prints them. Ctrl-C (SIGINT) or SIGTERM stops everything; exit 0.

Environment:
    KB_LOCAL_PORT                 gateway port (default 9380; 0 = any free port)
    KB_LOCAL_AWS_PORT             moto port (default: any free port)
    KB_DEV_API_KEY                the dev API key (default: random, kept in .local/dev_api_key)
    KB_DEV_TENANT_ID              the dev tenant (default 00000000000000000000000000000de1)
    KB_LOCAL_VISIBILITY_TIMEOUT   seconds; replaces every queue's VisibilityTimeout
    KB_LOCAL_SCHEDULE_SECONDS     seconds; replaces every Schedule event's rate
    KB_LOCAL_DATA_DIR             where the data is kept between runs (default .local/data)
    KB_LOCAL_FRESH=1              delete the kept data first (make serve FRESH=1)
    KB_LOCAL_MAX_CONCURRENCY      concurrent batches per SQS source (default: the template's, else 4)
    KB_LOCAL_FUNCTION_TIMEOUTS    e.g. ParseDocumentFunction=20: local Timeout overrides (seconds)
    KB_LOCAL_FSYNC=1              fsync every journal write (survive power loss, not just kill -9)
    KB_LOCAL_TRAILING_SLASH       "strict": the gateway does not match /a/b/ to the /a/b route
                                  (default "observed", as reported of API Gateway; see gateway.Router)

For tests, the same stack in-process:

    with run_local_stack(port=0) as local:
        requests.get(f"{local.url}/api/v1/dataset", headers={"Authorization": f"Bearer {local.api_key}"})
        local.stack.queue_urls["CleanupQueue"]  # template.yaml's logical ids: ParseQueue, ...
        local.workers.wait_idle(timeout=30)     # polled queues empty, no batch running
        local.invoke_scheduled("CleanupFunction")  # one scheduled run now (or ReparseDocumentsFunction)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.local.gateway import DEFAULT_PORT, LocalGateway
from infra.local.persistence import wipe
from infra.local.poller import BackgroundWorkers
from infra.local.runtime import FunctionRuntime, Invocation
from infra.local.stack import LocalStack
from infra.local.template import DEFAULT_TEMPLATE, LOCAL_STACK_NAME, REPO_ROOT, Template

log = logging.getLogger("infra.local.serve")

DEFAULT_DEV_TENANT_ID = "00000000000000000000000000000de1"
DATA_DIR_ENV = "KB_LOCAL_DATA_DIR"
FRESH_ENV = "KB_LOCAL_FRESH"
TIMEOUTS_ENV = "KB_LOCAL_FUNCTION_TIMEOUTS"
DEV_KEY_LABEL = "local dev key"
STATE_DIR = REPO_ROOT / ".local"
DEFAULT_DATA_DIR = STATE_DIR / "data"


def new_dev_api_key() -> str:
    return "ragflow-" + secrets.token_hex(16)


def persistent_dev_api_key(state_dir: Path = STATE_DIR) -> str:
    """KB_DEV_API_KEY, else the key kept in .local/dev_api_key (created once, random)."""
    from_env = os.environ.get("KB_DEV_API_KEY", "").strip()
    if from_env:
        return from_env
    path = state_dir / "dev_api_key"
    if path.exists():
        key = path.read_text().strip()
        if key:
            return key
    state_dir.mkdir(parents=True, exist_ok=True)
    key = new_dev_api_key()
    path.write_text(key + "\n")
    with contextlib.suppress(OSError):
        path.chmod(0o600)
    return key


def ensure_dev_api_key(key: str, tenant_id: str, label: str = DEV_KEY_LABEL) -> None:
    """Store the key for the tenant through the project's own code (PynamoDB, ApiKeysTable)."""
    from kb_ingest.dal.api_keys import ensure_api_key

    ensure_api_key(key, tenant_id, label)


@dataclass
class LocalHandle:
    """A running local stack: what tests and the serve command need."""

    url: str
    api_key: str
    tenant_id: str
    stack: LocalStack
    runtime: FunctionRuntime
    gateway: LocalGateway
    workers: BackgroundWorkers | None

    @property
    def template(self) -> Template:
        return self.stack.template

    def invoke_scheduled(self, function_id: str, event_name: str | None = None) -> Invocation:
        if self.workers is None:
            raise RuntimeError("started without background workers")
        return self.workers.invoke_scheduled(function_id, event_name)

    def describe(self) -> dict[str, Any]:
        stack = self.stack.describe()
        return {
            "gateway_url": self.url,
            "api_key": self.api_key,
            "tenant_id": self.tenant_id,
            "aws_endpoint_url": stack["aws_endpoint_url"],
            "region": stack["region"],
            "bucket": next(iter(self.stack.bucket_names.values()), None),  # the documents bucket
            "buckets": stack["buckets"],
            "tables": stack["tables"],
            "queues": {lid: q["url"] for lid, q in stack["queues"].items()},
            "routes": [route.route_key for route in self.gateway.router.routes],
            "stack": stack,
            "pid": os.getpid(),
        }


@contextlib.contextmanager
def run_local_stack(
    port: int = 0,
    *,
    template: Template | str | Path | None = None,
    stack_name: str = LOCAL_STACK_NAME,
    aws_port: int = 0,
    api_key: str | None = None,
    tenant_id: str | None = None,
    seed_api_key: bool = True,
    background: bool = True,
    parameter_overrides: Mapping[str, Any] | None = None,
    env_overrides: Mapping[str, str] | None = None,
    visibility_timeout: int | None = None,
    schedule_seconds: float | None = None,
    data_dir: Path | None = None,
    function_timeouts: Mapping[str, float] | None = None,
    concurrency: int | None = None,
) -> Iterator[LocalHandle]:
    """The full local stack in this process; stops everything on exit.

    `api_key` defaults to a fresh random key (tests never touch .local/); `tenant_id` to
    KB_DEV_TENANT_ID or the fixed dev tenant. `background=False` skips the pollers and schedules.
    `data_dir` keeps the data there between runs (default: nothing is kept); `function_timeouts`
    overrides functions' Timeout locally; `concurrency` the concurrent batches of every SQS source.
    """
    if not isinstance(template, Template):
        template = Template(template or DEFAULT_TEMPLATE, parameter_overrides, stack_name=stack_name)
        parameter_overrides = None
    api_key = api_key or new_dev_api_key()
    tenant_id = tenant_id or os.environ.get("KB_DEV_TENANT_ID", "").strip() or DEFAULT_DEV_TENANT_ID
    with contextlib.ExitStack() as stack_cm:
        stack = stack_cm.enter_context(
            LocalStack(
                template,
                stack_name=stack_name,
                port=aws_port,
                parameter_overrides=parameter_overrides,
                visibility_timeout=visibility_timeout,
                env_overrides=env_overrides,
                data_dir=data_dir,
                function_timeouts=function_timeouts,
            )
        )
        if seed_api_key:
            ensure_dev_api_key(api_key, tenant_id)
        runtime = FunctionRuntime(
            template,
            function_names=stack.function_names,
            region=stack.region,
            account_id=stack.account_id,
            stack_name=stack_name,
            function_timeouts=stack.function_timeouts,
        )
        gateway = stack_cm.enter_context(
            LocalGateway(template, runtime, port=port, account_id=stack.account_id, region=stack.region)
        )
        workers = None
        if background:
            workers = stack_cm.enter_context(
                BackgroundWorkers(stack, runtime, schedule_seconds=schedule_seconds, concurrency=concurrency)
            )
        yield LocalHandle(gateway.url, api_key, tenant_id, stack, runtime, gateway, workers)


# ---------------------------------------------------------------- the command
def _write_state(path: Path, details: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(details, indent=2) + "\n")
    with contextlib.suppress(OSError):
        tmp.chmod(0o600)  # it holds the dev API key
    tmp.replace(path)


def _curl_example(local: LocalHandle) -> str:
    routes = [r for r in local.gateway.router.routes if "{" not in r.path and r.path != "$default"]
    route = next((r for r in routes if r.method == "GET"), routes[0] if routes else None)
    if route is None:
        return f"curl -s {local.url}/"
    method = "" if route.method in ("GET", "ANY") else f" -X {route.method}"
    return f"curl -s{method} {local.url}{route.path} -H 'Authorization: Bearer {local.api_key}'"


def summary(local: LocalHandle, state_file: Path | None) -> str:
    details = local.describe()

    def row(label: str, value: str) -> str:
        return f"  {label:<34} {value}"

    lines = [
        "",
        f"kb-ingest local stack is up (template: {local.template.path})",
        row("API (HTTP API, payload 2.0)", local.url),
        row("API key", local.api_key),
        row("tenant", local.tenant_id),
        row("AWS endpoint (moto)", f"{details['aws_endpoint_url']}   region {details['region']}"),
    ]
    lines += [row(f"bucket {lid}", name) for lid, name in details["buckets"].items()]
    lines += [row(f"table {lid}", name) for lid, name in details["tables"].items()]
    lines += [row(f"queue {lid}", url) for lid, url in details["queues"].items()]
    lines.append(row("routes", f"{len(details['routes'])}: " + ", ".join(details["routes"])))
    if local.workers is not None:
        for poller in local.workers.pollers:
            queue = poller.source.queue_id or poller.queue_arn
            lines.append(
                row(
                    f"poller {poller.source.function_id}",
                    f"<- {queue} (batch {poller.batch_size}, {poller.concurrency} at a time)",
                )
            )
        for runner in local.workers.schedulers:
            every = f"every {runner.interval:g}s" if runner.interval is not None else runner.source.expression
            lines.append(row(f"schedule {runner.source.function_id}", f"{runner.source.event_name}: {every}"))
    if state_file is not None:
        lines.append(row("details written to", str(state_file)))
    lines += [
        "",
        "Try:",
        f"  {_curl_example(local)}",
        f"  AWS_ENDPOINT_URL={details['aws_endpoint_url']} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        f"aws s3 ls s3://{next(iter(details['buckets'].values()), '')}",
        "",
        "Ctrl-C stops it. " + _data_line(local),
    ]
    return "\n".join(lines)


def _data_line(local: LocalHandle) -> str:
    stack = local.stack
    if stack.data_dir is None:
        return "Nothing is kept: the data goes when the stack stops."
    report = stack.restore_report
    restored = f" ({report.describe()})" if report is not None else ""
    return f"Data is kept in {stack.data_dir}{restored}; `make serve FRESH=1` starts empty."


def parse_timeouts(text: str) -> dict[str, float]:
    """`ParseDocumentFunction=20,CleanupFunction=30` -> {id: seconds}."""
    out: dict[str, float] = {}
    for part in text.split(","):
        if part.strip():
            name, _, value = part.partition("=")
            out[name.strip()] = float(value)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("KB_LOCAL_PORT", DEFAULT_PORT)))
    parser.add_argument("--aws-port", type=int, default=int(os.environ.get("KB_LOCAL_AWS_PORT", 0)))
    parser.add_argument("--template", default=str(DEFAULT_TEMPLATE))
    parser.add_argument("--state-dir", default=str(STATE_DIR))
    parser.add_argument(
        "--data-dir",
        default=os.environ.get(DATA_DIR_ENV, "").strip() or None,
        help=f"where the data is kept between runs (default {DEFAULT_DATA_DIR}, or ${DATA_DIR_ENV})",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        default=os.environ.get(FRESH_ENV, "").strip().lower() in ("1", "true", "yes"),
        help="delete the kept data first and start empty (make serve FRESH=1)",
    )
    parser.add_argument("--no-persist", action="store_true", help="keep nothing: the data goes when the stack stops")
    parser.add_argument("--quiet", action="store_true", help="log warnings only")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("botocore", "boto3", "pynamodb", "mangum", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    state_dir = Path(args.state_dir)
    state_file = state_dir / "stack.json"
    api_key = persistent_dev_api_key(state_dir)
    data_dir: Path | None = None
    if not args.no_persist:
        data_dir = Path(args.data_dir) if args.data_dir else state_dir / "data"
        if args.fresh:
            wipe(data_dir)
            print(f"starting empty: removed the data kept in {data_dir}", flush=True)
    timeouts = parse_timeouts(os.environ.get(TIMEOUTS_ENV, ""))
    try:
        with run_local_stack(
            args.port,
            template=args.template,
            aws_port=args.aws_port,
            api_key=api_key,
            data_dir=data_dir,
            function_timeouts=timeouts,
        ) as local:
            _write_state(state_file, local.describe())
            print(summary(local, state_file), flush=True)
            try:
                while not stop.wait(0.5):
                    pass
            finally:
                with contextlib.suppress(OSError):
                    state_file.unlink()
    except OSError as exc:
        if exc.errno in (98, 48):  # EADDRINUSE (Linux, macOS)
            print(f"port in use: {exc}. Set KB_LOCAL_PORT (or --port) to another port.", file=sys.stderr)
            return 1
        raise
    print("local stack stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
