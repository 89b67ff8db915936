"""What every benchmark family shares: timing, Markdown tables, the machine's description.

A family returns `Section`s (a title, a table, notes); `run.py` prints them and writes
them to `bench/results/latest.md`.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

T = TypeVar("T")
_NUMERIC = re.compile(r"^[~≈]?[\d.,]+\s*(k|x|ms|s|%|MB|triples/s)?\b")

PACKAGES = (
    "citytools",
    "pyoxigraph",
    "oxigraph",
    "rdflib",
    "pyshacl",
    "rdflib-endpoint",
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "py-spy",
)


@dataclass
class Section:
    """One result table with what a reader needs to read it."""

    title: str
    header: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def _alignment(self, column: int) -> str:
        """Right-aligned when every cell of the column is a figure."""
        cells = [str(row[column]) for row in self.rows if column < len(row)]
        figures = all(_NUMERIC.match(c) for c in cells if c not in ("", "—", "skipped"))
        return "--:" if column > 0 and figures else "---"

    def markdown(self) -> str:
        lines = [f"### {self.title}", ""]
        if self.rows:
            lines.append("| " + " | ".join(self.header) + " |")
            lines.append("|" + "|".join(self._alignment(i) for i in range(len(self.header))) + "|")
            lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in self.rows]
            lines.append("")
        lines += [f"* {note}" for note in self.notes]
        if self.notes:
            lines.append("")
        return "\n".join(lines)


def timed(action: Callable[[], T], repeat: int = 1) -> tuple[float, T]:
    """Median wall time in seconds over `repeat` runs, and the last result."""
    times = []
    result: T
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def seconds(value: float) -> str:
    if value < 0.01:
        return f"{value * 1000:.2f} ms"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s"


def rate(count: float, elapsed: float) -> str:
    """Items per second, rounded to what the measurement can say."""
    if elapsed <= 0:
        return "—"
    per_second = count / elapsed
    if per_second >= 100_000:
        return f"{per_second / 1000:,.0f}k"
    if per_second >= 10_000:
        return f"{per_second / 1000:,.1f}k"
    return f"{per_second:,.0f}"


def count(n: int) -> str:
    return f"{n:,}"


def log(message: str) -> None:
    """Progress on standard error-like output, flushed at once (a run takes minutes)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _wrk_version() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        return "not installed"
    done = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    first = (done.stdout or done.stderr).splitlines()
    return first[0].split(" [")[0] if first else "unknown"


def _revision() -> str:
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" + uncommitted changes" if dirty else "")


def _git(*args: str) -> str:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(["git", "-C", root, *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def machine() -> list[tuple[str, str]]:
    """The facts a reader needs to compare these numbers with theirs."""
    packages = ", ".join(f"{p} {_version(p)}" for p in PACKAGES)
    return [
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("cores (nproc)", str(os.cpu_count())),
        ("CPU", _cpu_model()),
        ("RAM", _memory()),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("packages", packages),
        ("load generator", _wrk_version()),
        ("code", f"citytools at commit {_revision()}"),
    ]


def machine_markdown() -> str:
    return "\n".join(f"* **{name}**: {value}" for name, value in machine())
