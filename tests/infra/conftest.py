"""Helpers for the local-stack tests: throwaway templates with tiny handler modules, so the
gateway and poller tests never depend on the project's own functions."""

import textwrap
import uuid
from pathlib import Path

import pytest


def write_project(root: Path, template: str, handlers: dict[str, str]) -> Path:
    """Write `template.yaml` and `functions/<folder>/app.py` files under root; return the template path."""
    for folder, code in handlers.items():
        path = root / "functions" / folder / "app.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(code))
    template_path = root / "template.yaml"
    template_path.write_text(textwrap.dedent(template))
    return template_path


@pytest.fixture
def unique_stack_name() -> str:
    """Stacks in one process share moto's in-memory backend: give each its own names."""
    return f"kbt-{uuid.uuid4().hex[:8]}"
