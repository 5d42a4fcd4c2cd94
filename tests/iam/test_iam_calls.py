"""Every AWS call each function made during the test suite, against that function's policies.

`make test` runs the whole suite with KB_IAM_RECORD set (tests/iam/recorder.py files each call,
as the IAM permissions it needs, under the function that made it), then this module with
KB_IAM_RECORDINGS pointing at the recordings. For every function template.yaml declares:

- no call outside its policies: each recorded permission is allowed by one of its `Policies`
  (SAM policy templates expanded with SAM's own definitions), else AWS would deny it;
- no policy broader than the calls need: each entry allows some call no other entry allows (so
  removing it breaks the function), and where SAM has a narrower template with the same
  parameter (DynamoDBReadPolicy for DynamoDBCrudPolicy, ...) that one would not do. An entry a
  path the suite cannot reach needs (a purge that runs out of time) is named, with the reason,
  in the function's `Metadata.IamCheck`.

Run alone (`pytest tests/iam`) without recordings, these skip; `make test` never skips them.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from infra.iam import (
    NARROWER_TEMPLATES,
    Permission,
    PolicyEntry,
    allows,
    expand_policy_template,
    function_policies,
)
from infra.local.template import Physical, Resolver, Template

RECORDINGS_ENV = "KB_IAM_RECORDINGS"
TEMPLATE = Template()


def _load() -> tuple[dict[str, set[Permission]], dict[str, Any]]:
    folder = os.environ.get(RECORDINGS_ENV, "").strip()
    if not folder:
        pytest.skip(f"{RECORDINGS_ENV} not set: `make test` records the suite's calls, then runs this")
    files = sorted(Path(folder).glob("*.json"))
    if not files:
        pytest.fail(f"no recordings in {folder}: did the recorded test run fail before writing them?")
    calls: dict[str, set[Permission]] = defaultdict(set)
    stack: dict[str, Any] = {}
    for path in files:
        data = json.loads(path.read_text())
        stack = data["stack"] or stack
        for call in data["calls"]:
            calls[call["function"]].add(Permission(call["action"], call["resource"]))
    return calls, stack


@pytest.fixture(scope="module")
def recorded() -> tuple[dict[str, set[Permission]], Resolver]:
    calls, stack = _load()
    physical = {lid: Physical(p["ref"], p["attrs"]) for lid, p in stack["physical"].items()}
    resolver = Resolver(
        TEMPLATE, physical, stack_name=stack["stack_name"], account_id=stack["account_id"], region=stack["region"]
    )
    return calls, resolver


def _allowed_by(entry: PolicyEntry, permission: Permission) -> bool:
    return allows(entry.statements, permission)


@pytest.mark.parametrize("function_id", sorted(TEMPLATE.functions))
def test_every_call_is_allowed_by_the_functions_policies(function_id, recorded):
    calls, resolver = recorded
    entries = function_policies(TEMPLATE, function_id, resolver)
    denied = sorted(str(p) for p in calls.get(function_id, set()) if not any(_allowed_by(e, p) for e in entries))
    assert not denied, f"{function_id} makes calls its role would be denied:\n  " + "\n  ".join(denied)


@pytest.mark.parametrize("function_id", sorted(TEMPLATE.functions))
def test_no_policy_is_broader_than_the_calls_need(function_id, recorded):
    calls, resolver = recorded
    made = calls.get(function_id, set())
    entries = function_policies(TEMPLATE, function_id, resolver)
    # Policies for paths the suite does not reach, each with the reason, in the function's Metadata.
    kept = (TEMPLATE.resources[function_id].get("Metadata") or {}).get("IamCheck") or {}
    problems = [f"Metadata.IamCheck names {label!r}, not one of its policies" for label in kept if label not in
                {e.label for e in entries}]  # fmt: skip
    problems += [f"Metadata.IamCheck {label!r} gives no reason" for label, why in kept.items() if not str(why).strip()]
    for entry in entries:
        if entry.label in kept:
            continue
        others = [e for e in entries if e is not entry]
        needs = {p for p in made if _allowed_by(entry, p)}
        only_here = {p for p in needs if not any(_allowed_by(o, p) for o in others)}
        if not only_here:
            problems.append(f"{entry.label} allows no call the other policies do not (remove it)")
            continue
        for narrower in NARROWER_TEMPLATES.get(entry.template_name or "", ()):
            statements = resolver.resolve(expand_policy_template(narrower, entry.parameters))
            if all(allows(statements, p) for p in needs):
                problems.append(f"{entry.label}: {narrower} allows every call it is used for")
                break
    assert not problems, f"{function_id}:\n  " + "\n  ".join(problems)
