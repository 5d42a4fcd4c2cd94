"""Create, list and revoke API keys, against the local stack or a real AWS account.

    python -m infra.keys --local create --dev-tenant --label alice   # a key to the dev key's data
    python -m infra.keys --local create --new-tenant --label bob     # a new tenant, no datasets yet
    API_KEYS_TABLE=<table> python -m infra.keys list                 # AWS: credentials as usual
    python -m infra.keys --table <table> revoke 1a2b3c4d5e6f         # the id `list` shows, or the key

A key acts for one tenant and sees only that tenant's datasets, so `create` asks which: an
existing tenant (--tenant ID, as `list` shows it; --dev-tenant for the local dev key's) or a new,
empty one (--new-tenant). A key is stored only as its SHA-256 hash; its id is the first 12
characters of that hash, which `list` shows and `revoke` accepts (as well as the key itself).

The same code runs in both places: only the endpoint (AWS_ENDPOINT_URL) and the table name differ.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from kb_ingest.clock import rfc1123

STACK_FILE = Path(__file__).resolve().parent.parent / ".local" / "stack.json"


def _use_local_stack() -> dict:
    if not STACK_FILE.exists():
        sys.exit(f"{STACK_FILE} not found: start the local stack with `make serve` first.")
    details: dict = json.loads(STACK_FILE.read_text())
    os.environ["AWS_ENDPOINT_URL"] = details["aws_endpoint_url"]
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = details["region"]
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ["API_KEYS_TABLE"] = details["tables"]["ApiKeysTable"]
    return details


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.keys", description=__doc__.split("\n\n")[0])
    parser.add_argument("--local", action="store_true", help="use the stack started by `make serve`")
    parser.add_argument("--table", help="the ApiKeysTable name (default: $API_KEYS_TABLE)")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a key (printed once) for a tenant")
    tenant = create.add_mutually_exclusive_group(required=True)
    tenant.add_argument("--tenant", help="an existing tenant's id (32 hex, as `list` shows)")
    tenant.add_argument("--new-tenant", action="store_true", help="a new tenant, with no datasets yet")
    tenant.add_argument("--dev-tenant", action="store_true", help="--local only: the dev key's tenant")
    create.add_argument("--label", default="", help="who or what the key is for")
    commands.add_parser("list", help="list keys: id, hint, tenant, state, label (keys are stored as hashes)")
    revoke = commands.add_parser("revoke", help="revoke a key, given its id (from `list`) or the key")
    revoke.add_argument("key", help="the key's id as `list` shows it, its full hash, or the key itself")
    args = parser.parse_args(argv)

    local: dict | None = None
    if args.local:
        local = _use_local_stack()
    if args.table:
        os.environ["API_KEYS_TABLE"] = args.table
    if not os.environ.get("API_KEYS_TABLE"):
        parser.error("say which table: --local, --table NAME or API_KEYS_TABLE=NAME")

    from kb_ingest.clock import is_valid_id
    from kb_ingest.dal.api_keys import AmbiguousKeyId, create_api_key, key_id, list_api_keys, revoke_api_key

    if args.command == "create":
        tenant_id = args.tenant
        if args.dev_tenant:
            if local is None:
                parser.error("--dev-tenant is the local stack's dev tenant: add --local")
            tenant_id = local["tenant_id"]
        if tenant_id and not is_valid_id(tenant_id):
            parser.error("--tenant must be 32 lowercase hex characters")
        key, info = create_api_key(tenant_id=tenant_id, label=args.label)
        print(
            json.dumps({"api_key": key, "id": key_id(info), "tenant_id": info.tenant_id, "label": info.label}, indent=2)
        )
        tenant_note = "a new tenant, with no datasets yet" if args.new_tenant else f"tenant {info.tenant_id}"
        print(f"The key is shown only now; it acts for {tenant_note}.", file=sys.stderr)
    elif args.command == "list":
        rows = [
            (
                key_id(info),
                f"{info.key_hint}…",
                info.tenant_id,
                f"revoked {rfc1123(info.revoked_at)}" if info.revoked_at else "live",
                info.label,
            )
            for info in list_api_keys()
        ]
        if not rows:
            print("No keys.", file=sys.stderr)
        headers = ("id", "key", "tenant", "state", "label")
        widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
        for row in [headers, *rows] if rows else []:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    else:
        try:
            revoked = revoke_api_key(args.key)
        except AmbiguousKeyId as error:
            print(f"{error}.", file=sys.stderr)
            return 1
        if revoked is None:
            print(f"No key with the id {args.key!r} (see `list`), and it is not a key either.", file=sys.stderr)
            return 1
        print(f"Revoked {key_id(revoked)} ({revoked.key_hint}…) of tenant {revoked.tenant_id}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
