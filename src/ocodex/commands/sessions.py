"""`ocodex sessions`: list saved sessions, most recently active first (a table, or JSON lines)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from ocodex import jsontext
from ocodex.config import ocodex_home
from ocodex.render.safe import terminal_safe
from ocodex.sessions import SessionSummary, list_sessions


def _first_line(text: str, width: int = 60) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def _date(stamp: str) -> str:
    return stamp[:16].replace("T", " ") if stamp else "?"


def render_table(sessions: list[SessionSummary], out: TextIO) -> None:
    if not sessions:
        return
    # Every cell comes from a session file, which anything may have written: made terminal-safe.
    rows = [tuple(map(terminal_safe, (s.id, _date(s.updated), s.cwd, s.model, _first_line(s.first_prompt))))
            for s in sessions]
    header = ("ID", "UPDATED (UTC)", "DIRECTORY", "MODEL", "FIRST PROMPT")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        out.write("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4] + "\n")


def run_sessions(args: argparse.Namespace) -> int:
    if args.limit < 0:
        sys.stderr.write("error: --limit must be 0 (all) or a positive number\n")
        return 2
    home = ocodex_home()
    here = Path(getattr(args, "cd", None) or ".").expanduser()  # `ocodex -C DIR sessions --here`
    cwd = here.resolve() if args.here else None
    sessions = list_sessions(home, cwd=cwd, limit=args.limit or None)
    if args.json:
        for summary in sessions:
            sys.stdout.write(jsontext.dumps(summary.to_dict()) + "\n")
        return 0
    if not sessions:
        where = f" for {cwd}" if cwd else ""
        sys.stderr.write(f"no saved sessions{where} in {home / 'sessions'}\n")
        return 0
    render_table(sessions, sys.stdout)
    return 0
