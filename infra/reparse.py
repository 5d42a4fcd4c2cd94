"""Run the scheduled reparse once, now, and print what it re-queued.

    python -m infra.reparse --local     # against the stack `make serve` runs

It invokes the same handler the schedule invokes (ReparseDocumentsFunction in template.yaml),
in this process, against the local stack's AWS endpoint; the running stack's pollers then parse
what it queued. stdout is the human report only: the function's JSON log lines go to stderr, and
only warnings and errors unless --verbose (its CloudWatch metrics are not printed). Against AWS, invoke the deployed function instead:
    aws lambda invoke --function-name <ReparseDocumentsFunction> out.json && cat out.json
"""

import argparse
import json
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
STACK_FILE = REPO_ROOT / ".local" / "stack.json"
FUNCTION_ID = "ReparseDocumentsFunction"


def _use_local_stack() -> None:
    if not STACK_FILE.exists():
        sys.exit(f"{STACK_FILE} not found: start the local stack with `make serve` first.")
    details = json.loads(STACK_FILE.read_text())
    os.environ.update(details["stack"]["environment"])
    os.environ["AWS_ENDPOINT_URL"] = details["aws_endpoint_url"]
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = details["region"]
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")


def _function_logs_to_stderr(verbose: bool) -> None:
    """The function logs JSON lines to stdout, as Lambda wants; here they would interleave with
    the report, so they go to stderr (warnings and errors only unless verbose)."""
    import logging

    from kb_ingest.observability import logger

    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(sys.stderr)
    if not verbose:
        logger.setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.reparse", description=__doc__.split("\n\n")[0])
    parser.add_argument("--local", action="store_true", help="use the stack started by `make serve`")
    parser.add_argument("--json", action="store_true", help="print the handler's answer as JSON")
    parser.add_argument("--verbose", action="store_true", help="the function's info logs too (on stderr)")
    args = parser.parse_args(argv)
    if not args.local:
        parser.error("only --local runs here; in AWS, invoke the deployed function (see --help)")
    _use_local_stack()
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # an EMF blob on stdout is no report
    _function_logs_to_stderr(args.verbose)

    from infra.local.runtime import FunctionRuntime
    from infra.local.template import Template

    runtime = FunctionRuntime(Template())
    invocation = runtime.invoke(FUNCTION_ID, {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
    if not invocation.ok:
        print(f"The reparse run failed: {invocation.error}", file=sys.stderr)
        return 1
    result = invocation.result
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"Looked at {result['examined']} documents; re-queued {len(result['requeued'])}.")
    for item in result["requeued"]:
        print(f"  {item['dataset_id']}  {item['name']:<40}  {item['reason']}")
    if result["stopped_because"]:
        print(f"Stopped early ({result['stopped_because']}); the next run continues from there.")
    elif result["finished_lap"]:
        print("Reached the last dataset; the next run starts over from the first.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
