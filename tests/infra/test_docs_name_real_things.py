"""What the README, the local stack's docs and the CLIs' docstrings name (functions, queues,
tables, buckets, outputs) exists in template.yaml: a newcomer copying a name gets a real one."""

import re
from pathlib import Path

import pytest

from infra.local.template import DEFAULT_TEMPLATE, Template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Template(DEFAULT_TEMPLATE)
DOCS = ["README.md", "infra/local/README.md", "infra/local/serve.py", "infra/redrive.py", "infra/reparse.py",
        "infra/keys.py", "infra/sync.py"]  # fmt: skip
NAME = re.compile(r"\b([A-Z][A-Za-z0-9]+(?:Function|Queue|DeadLetterQueue|Table|Bucket|Topic|EventBus))\b")


def _known() -> set[str]:
    return set(TEMPLATE.all_resources)


@pytest.mark.parametrize("doc", DOCS)
def test_every_resource_named_exists(doc):
    text = (ROOT / doc).read_text()
    known = _known()
    unknown = sorted({name for name in NAME.findall(text) if name not in known and not name.endswith("Name")})
    assert not unknown, f"{doc} names what template.yaml does not have: {unknown}"
