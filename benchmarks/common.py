"""What every section shares: the result types, statistics, the environment, quiet handlers."""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

REPO_ROOT = Path(__file__).resolve().parent.parent
LAYER_DIR = REPO_ROOT / "layers" / "common"
RESULTS_DIR = Path(__file__).resolve().parent / "results"

MET, MISSED, ERROR, INFO = "MET", "MISSED", "ERROR", "—"

# Never reach a real AWS account, whatever this machine has configured; no network at import.
SAFE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def prepare_environment() -> None:
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(key, None)
    os.environ.update(SAFE_AWS_ENV)
    for path in (str(LAYER_DIR), str(REPO_ROOT)):
        if path not in sys.path:
            sys.path.insert(0, path)


# ---------------------------------------------------------------- results
@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: Any) -> None:
        row = [str(cell) for cell in cells]
        row += [""] * (len(self.columns) - len(row))
        self.rows.append(row)


@dataclass
class Bar:
    """A target: what was measured against it, and whether it was met."""

    name: str
    target: str
    actual: str
    status: str  # MET, MISSED or ERROR
    why: str = ""  # for a missed bar: why, and what would meet it


@dataclass
class SectionResult:
    key: str
    title: str
    tables: list[Table] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def bar(name: str, target: str, actual: str, ok: bool | None, why: str = "") -> Bar:
    status = ERROR if ok is None else MET if ok else MISSED
    return Bar(name, target, actual, status, "" if ok else why)


def one_line_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().replace("\n", " ")
    return text if len(text) <= 200 else text[:197] + "..."


def guarded(label: str, fn: Callable[[], Any], on_error: Callable[[str], Any]) -> Any:
    """Run one item of a section; an exception becomes `on_error(message)` and a traceback in the log."""
    try:
        return fn()
    except Exception as exc:
        log(f"{label} failed:\n{traceback.format_exc()}")
        return on_error(one_line_error(exc))


# ---------------------------------------------------------------- statistics and formatting
def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = (len(ordered) - 1) * q
    low = int(index)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (index - low)


def ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:.0f} ms" if value >= 100 else f"{value:.1f} ms" if value >= 1 else f"{value:.2f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def mib(n_bytes: float) -> str:
    return f"{n_bytes / 1024 / 1024:.1f} MiB" if n_bytes >= 1024 * 1024 else f"{n_bytes / 1024:.0f} KiB"


def ratio(value: float) -> str:
    return f"{value:.2f}x"


# ---------------------------------------------------------------- output
class Console:
    """The report goes to the real stdout; everything the functions print goes to the log file."""

    out: TextIO = sys.stdout
    log_file: TextIO | None = None


def say(message: str = "") -> None:
    print(message, file=Console.out, flush=True)


def log(message: str) -> None:
    if Console.log_file is not None:
        print(message, file=Console.log_file, flush=True)


@contextlib.contextmanager
def captured_output(log_path: Path) -> Iterator[None]:
    """Send stdout/stderr (Powertools logs and metrics, tracebacks) to `log_path` while sections run."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    Console.out = sys.stdout
    with open(log_path, "w", encoding="utf-8") as handle:
        Console.log_file = handle
        with contextlib.redirect_stdout(handle), contextlib.redirect_stderr(handle):
            try:
                yield
            finally:
                Console.log_file = None


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started
