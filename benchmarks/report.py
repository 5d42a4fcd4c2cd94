"""The machine, the tables as Markdown, the bars, and the result files."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import ERROR, MET, MISSED, REPO_ROOT, SectionResult, Table


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        cpu = platform.processor() or "unknown"
    memory = None
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    memory = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_bytes": memory,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average_at_start": load,
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_lines(info: dict[str, Any]) -> list[str]:
    memory = f"{info['memory_bytes'] / 1024**3:.1f} GiB" if info.get("memory_bytes") else "unknown"
    load = info.get("load_average_at_start")
    load_text = f", load average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}" if load else ""
    commit = info.get("git_commit") or "unknown"
    return [
        f"- CPU: {info['cpu']}, {info['cores']} cores{load_text}",
        f"- Memory: {memory}",
        f"- Python: {info['python']} ({info['implementation']}), {info['platform']}",
        f"- Code: commit {commit}{' with uncommitted changes' if info.get('git_dirty') else ''}",
    ]


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|").replace("\n", " ")


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    cells = [[_escape(str(c)) for c in columns]] + [[_escape(str(c)) for c in row] for row in rows]
    widths = [max(len(row[i]) if i < len(row) else 0 for row in cells) for i in range(len(columns))]
    widths = [min(w, 80) for w in widths]

    def line(row: Sequence[str]) -> str:
        padded = [(row[i] if i < len(row) else "").ljust(widths[i]) for i in range(len(columns))]
        return "| " + " | ".join(padded) + " |"

    return [line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(r) for r in cells[1:])]


def render_table(table: Table, section_title: str = "") -> list[str]:
    heading = [] if table.title == section_title else [f"#### {table.title}", ""]
    lines = [*heading, *markdown_table(table.columns, table.rows)]
    if table.notes:
        lines.append("")
        lines += [f"_{note}_" for note in table.notes]
    lines.append("")
    return lines


def render(
    sections: list[SectionResult], info: dict[str, Any], quick: bool, seconds: float, started: dt.datetime
) -> str:
    lines = [
        f"# kb-ingest benchmarks{' (quick)' if quick else ''}",
        "",
        f"Run {started.strftime('%Y-%m-%d %H:%M UTC')}, {seconds:.0f} s, `python -m benchmarks{' --quick' if quick else ''}`. "
        "Every ratio is against a baseline measured in this same run on this machine.",
        "",
        *machine_lines(info),
        "",
    ]
    for section in sections:
        lines += [f"## {section.title}", ""]
        if section.error:
            lines += [f"**ERROR: the section failed: {section.error}**", ""]
        for table in section.tables:
            lines += render_table(table, section.title)
        lines += [f"_Section time: {section.seconds:.0f} s._", ""]
    bars = [(section, b) for section in sections for b in section.bars]
    counts = {status: sum(1 for _, b in bars if b.status == status) for status in (MET, MISSED, ERROR)}
    lines += [
        "## Bars",
        "",
        f"{counts[MET]} met, {counts[MISSED]} missed, {counts[ERROR]} could not be measured.",
        "",
        *markdown_table(
            ["section", "bar", "target", "measured", "status"],
            [[s.key, b.name, b.target, b.actual, b.status] for s, b in bars],
        ),
        "",
    ]
    missed = [(s, b) for s, b in bars if b.status != MET]
    if missed:
        lines += ["### Missed bars: why", ""]
        for _, b in missed:
            lines.append(f"- **{b.name}** ({b.status}): {b.why or b.actual}")
        lines.append("")
    return "\n".join(lines)


def write(
    results_dir: Path, text: str, sections: list[SectionResult], info: dict[str, Any], quick: bool, seconds: float
) -> tuple[Path, Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    stem = "latest-quick" if quick else "latest"
    md_path, json_path = results_dir / f"{stem}.md", results_dir / f"{stem}.json"
    md_path.write_text(text + "\n", encoding="utf-8")
    payload = {
        "quick": quick,
        "seconds": seconds,
        "machine": info,
        "sections": [section.to_json() for section in sections],
    }
    json_path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    return md_path, json_path
