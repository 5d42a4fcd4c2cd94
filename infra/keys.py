"""Create, list and revoke API keys, against the local stack or a real AWS account.

    python -m infra.keys --local create --label alice        # the stack `make serve` runs
    API_KEYS_TABLE=<table> python -m infra.keys list          # AWS: credentials and region as usual
    python -m infra.keys --table <table> revoke ragflow-...

The same code runs in both places: only the endpoint (AWS_ENDPOINT_URL) and the table name differ.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from kb_ingest.clock import rfc1123

STACK_FILE = Path(__file__).resolve().parent.parent / ".local" / "stack.json"


def _use_local_stack() -> None:
    if not STACK_FILE.exists():
        sys.exit(f"{STACK_FILE} not found: start the local stack with `make serve` first.")
    details = json.loads(STACK_FILE.read_text())
    os.environ["AWS_ENDPOINT_URL"] = details["aws_endpoint_url"]
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = details["region"]
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ["API_KEYS_TABLE"] = details["tables"]["ApiKeysTable"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.keys", description=__doc__.split("\n\n")[0])
    parser.add_argument("--local", action="store_true", help="use the stack started by `make serve`")
    parser.add_argument("--table", help="the ApiKeysTable name (default: $API_KEYS_TABLE)")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a key (printed once) for a tenant")
    create.add_argument("--tenant", help="tenant id (32 hex); a new tenant when omitted")
    create.add_argument("--label", default="", help="who or what the key is for")
    commands.add_parser("list", help="list keys (hints only; keys are stored as hashes)")
    revoke = commands.add_parser("revoke", help="revoke a key, given the key or its hash")
    revoke.add_argument("key")
    args = parser.parse_args(argv)

    if args.local:
        _use_local_stack()
    if args.table:
        os.environ["API_KEYS_TABLE"] = args.table
    if not os.environ.get("API_KEYS_TABLE"):
        parser.error("say which table: --local, --table NAME or API_KEYS_TABLE=NAME")

    from kb_ingest.clock import is_valid_id
    from kb_ingest.dal.api_keys import create_api_key, list_api_keys, revoke_api_key

    if args.command == "create":
        if args.tenant and not is_valid_id(args.tenant):
            parser.error("--tenant must be 32 lowercase hex characters")
        key, info = create_api_key(tenant_id=args.tenant, label=args.label)
        print(json.dumps({"api_key": key, "tenant_id": info.tenant_id, "label": info.label}, indent=2))
    elif args.command == "list":
        for info in list_api_keys():
            state = f"revoked {rfc1123(info.revoked_at)}" if info.revoked_at else "live"
            print(f"{info.key_hint}…  tenant {info.tenant_id}  {state:<40} {info.label}  ({info.key_hash[:12]})")
    else:
        revoked = revoke_api_key(args.key)
        if revoked is None:
            print("No such key.", file=sys.stderr)
            return 1
        print(f"Revoked {revoked.key_hint}… of tenant {revoked.tenant_id}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
