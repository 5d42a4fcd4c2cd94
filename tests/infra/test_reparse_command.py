"""`python -m infra.reparse --local`: its stdout is the report a person reads, with no JSON log
lines or metrics blobs mixed in."""

import json
from typing import Any

import kb_ingest.observability  # imported before the shared stack's pollers import it in threads
from infra import reparse


def test_the_report_on_stdout_is_only_the_report(live: Any, tmp_path, monkeypatch, capfd):
    state = tmp_path / "stack.json"
    state.write_text(json.dumps(live.describe(), default=str))
    monkeypatch.setattr(reparse, "STACK_FILE", state)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # restored after the test
    logger = kb_ingest.observability.logger
    level, stream = logger.log_level, logger.registered_handler.stream  # type: ignore[attr-defined]
    # What the stack's own background functions print (their metrics) is not the command's: let
    # earlier tests' work (parses, indexing) finish before capturing.
    assert live.workers.wait_idle(timeout=400)  # a full 2-worker run can leave minutes of indexing
    capfd.readouterr()
    try:
        assert reparse.main(["--local"]) == 0
    finally:  # the command changes them for its own process; this one goes on
        logger.setLevel(level)
        logger.registered_handler.setStream(stream)  # type: ignore[attr-defined]
    out = capfd.readouterr().out
    lines = out.splitlines()
    assert lines and lines[0].startswith("Looked at ")
    assert not [line for line in lines if line.lstrip().startswith("{")], out
