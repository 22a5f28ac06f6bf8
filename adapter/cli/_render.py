"""Formatting shared by the commands: consoles, JSON, durations, statuses, moments."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from ..world import RunRecord

STATUS_STYLES = {
    "pending": ("○", "yellow"),
    "running": ("●", "cyan"),
    "completed": ("✔", "green"),
    "failed": ("✖", "red"),
    "cancelled": ("⊘", "magenta"),
}


def console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr) that keeps piped output greppable."""
    stream = sys.stderr if stderr else sys.stdout
    # Piped or captured output gets a generous width, so tables are not squeezed into 80
    # columns and lines stay greppable.
    width = None if stream.isatty() or os.environ.get("COLUMNS") else 160
    return Console(file=stream, width=width, soft_wrap=stderr, highlight=False)


def print_json(value: Any) -> None:
    """``value`` as indented JSON on stdout."""
    typer.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def print_json_line(value: Any) -> None:
    """``value`` as one line of JSON on stdout (JSON Lines, for streams)."""
    typer.echo(json.dumps(value, default=str, ensure_ascii=False))


def compact_json(value: Any, limit: int = 0) -> str:
    """``value`` as JSON on one line, cut to ``limit`` characters with an ellipsis."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if not limit or len(text) <= limit else text[: limit - 1] + "…"


def status_text(status: str) -> Text:
    symbol, style = STATUS_STYLES.get(status, ("?", "white"))
    return Text(f"{symbol} {status}", style=style)


def format_duration(seconds: float) -> str:
    """``12ms``, ``1.25s``, ``2m03s``, ``1h02m``, ``3d04h``: at most five characters
    below 100 days, so duration columns stay narrow."""
    if seconds < 0:
        seconds = 0.0
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def local(moment: datetime | None) -> str:
    """A moment in the local time zone, to the second (``-`` for none)."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def short_name(name: str) -> str:
    """``samples.orders.charge`` -> ``charge``."""
    return name.rsplit(".", 1)[-1]


def run_duration(record: RunRecord, now: datetime) -> float:
    """Seconds from creation to the end, or to ``now`` for a run still going."""
    end = record.completed_at or now
    return float((end - record.created_at).total_seconds())


def indented(text: str, indent: int, style: str = "dim") -> Text:
    """A multi-line text (a traceback) indented by ``indent`` spaces."""
    pad = " " * indent
    lines = text.rstrip("\n").splitlines()
    return Text("\n".join(pad + line for line in lines), style=style)
