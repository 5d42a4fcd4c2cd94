"""`python -m infra.keys` as an operator meets it: the id `list` shows is the id `revoke` takes,
and `create` says which tenant a key acts for instead of quietly making an empty one."""

from typing import Any

import pytest

from infra import keys
from kb_ingest.clock import new_id
from kb_ingest.dal.api_keys import create_api_key, key_id, tenant_for_key


def _cli(live: Any, capsys: Any, *argv: str) -> tuple[int, str, str]:
    table = live.stack.table_names["ApiKeysTable"]
    code = keys.main(["--table", table, *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_shows_the_id_that_revoke_accepts(live, capsys):
    key, info = create_api_key(tenant_id=new_id(), label="list-then-revoke")
    code, out, _ = _cli(live, capsys, "list")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["id", "key", "tenant", "state", "label"]
    (row,) = [r for r in rows if r.endswith("list-then-revoke")]
    shown_id = row.split()[0]
    assert shown_id == key_id(info) and len(shown_id) == 12

    code, out, _ = _cli(live, capsys, "revoke", shown_id)
    assert code == 0 and out.startswith(f"Revoked {shown_id} ")
    assert tenant_for_key(key) is None
    code, out, _ = _cli(live, capsys, "list")
    assert "revoked" in next(r for r in out.splitlines() if r.endswith("list-then-revoke"))


def test_revoke_by_the_key_itself_and_unknown_ids(live, capsys):
    key, _ = create_api_key(tenant_id=new_id(), label="by-key")
    assert _cli(live, capsys, "revoke", key)[0] == 0 and tenant_for_key(key) is None
    code, _, err = _cli(live, capsys, "revoke", "ffffffffffff")
    assert code == 1 and "No key with the id 'ffffffffffff'" in err
    code, _, err = _cli(live, capsys, "revoke", "abc")  # too short to be an id: never a broad match
    assert code == 1


def test_create_asks_which_tenant(live, capsys):
    with pytest.raises(SystemExit) as refused:
        _cli(live, capsys, "create", "--label", "nobody said")
    assert refused.value.code == 2
    assert "one of the arguments --tenant --new-tenant --dev-tenant is required" in capsys.readouterr().err

    tenant = new_id()
    code, out, err = _cli(live, capsys, "create", "--tenant", tenant, "--label", "existing")
    assert code == 0 and f'"tenant_id": "{tenant}"' in out and f"acts for tenant {tenant}" in err

    code, out, err = _cli(live, capsys, "create", "--new-tenant", "--label", "fresh")
    assert code == 0 and "a new tenant, with no datasets yet" in err

    with pytest.raises(SystemExit):
        _cli(live, capsys, "create", "--dev-tenant")  # the dev tenant exists only with --local
    assert "add --local" in capsys.readouterr().err
