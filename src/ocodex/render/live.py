"""What moves on a terminal while a turn runs: a few lines redrawn below everything printed for good.

- `LiveRegion` owns those lines on one terminal stream: `print` writes permanent text above them (erasing,
  writing, redrawing), `show` replaces them, `clear` removes them. Every line is cut to the terminal's
  width, so the region never wraps and is always erased exactly. One lock serialises every writer (the
  renderer, the ticker, an approval question).
- `TurnProgress` is what the region shows, fed by the thread's events: a working indicator with the
  seconds since the turn began and, once the reply streams, tokens per second (one streamed piece is one
  token, as Ollama and llama.cpp send them); optionally the reply and reasoning as they arrive and the
  running command's last output lines.
- `Ticker` redraws a few times a second, so the seconds move while nothing arrives.

Text from the model or a command is made terminal-safe and has registered secrets masked before it is
drawn. No rich and no prompt_toolkit here: exec's human mode uses this on stderr and must start fast.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from typing import TextIO

from ocodex import offmain
from ocodex.events import (
    CommandExecution,
    CommandOutput,
    Event,
    ItemCompleted,
    ItemStarted,
    Reconnecting,
    Streamed,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
)
from ocodex.redact import scrub
from ocodex.render.safe import terminal_safe

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
TICK_S = 0.1  # how often the ticker redraws


def cells(char: str) -> int:
    """How many terminal columns `char` takes (wide East Asian characters two, combining marks none)."""
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def fit(text: str, width: int) -> str:
    """`text` cut to at most `width` columns, with `…` where something was cut."""
    used, out = 0, []
    for char in text:
        size = cells(char)
        if used + size > width:
            if out and used + 1 > width:
                out.pop()
            return "".join(out) + "…"
        out.append(char)
        used += size
    return text


def wrap(line: str, width: int) -> list[str]:
    """`line` in pieces of at most `width` columns, broken after a space where there is one."""
    pieces: list[str] = []
    while line:
        used, cut, space = 0, len(line), -1
        for index, char in enumerate(line):
            used += cells(char)
            if used > width:
                cut = index
                break
            if char == " ":
                space = index
        if cut == len(line):
            pieces.append(line)
            break
        if line[cut] != " " and space > 0:  # break after the last space that fits
            cut = space + 1
        pieces.append(line[:max(cut, 1)].rstrip(" "))
        line = line[max(cut, 1):].lstrip(" ")
    return pieces or [""]


def columns(stream: TextIO, default: int = 80) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return default


def rows(stream: TextIO, default: int = 24) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).lines
    except (OSError, ValueError, AttributeError):
        return default


class LiveRegion:
    """Lines kept at the bottom of `stream`, redrawn in place; everything else is printed above them.
    `stream` may be a callable returning the stream to use now (a prompt may have replaced stdout)."""

    def __init__(self, stream: TextIO | Callable[[], TextIO]) -> None:
        self._stream = stream
        self.lock = threading.RLock()
        self._lines: list[str] = []
        self._drawn = 0

    @property
    def stream(self) -> TextIO:
        return self._stream() if callable(self._stream) else self._stream

    def _erase(self) -> str:
        if not self._drawn:
            return ""
        up = f"\x1b[{self._drawn - 1}A" if self._drawn > 1 else ""
        self._drawn = 0
        return f"\r{up}\x1b[J"

    def _draw(self) -> str:
        if not self._lines:
            return ""
        self._drawn = len(self._lines)
        return "\x1b[?25l" + "\n".join(self._lines)  # no newline after the last: the cursor stays on it

    def print(self, text: str) -> None:
        """Permanent text (a newline is added when missing), above the region."""
        if not text.endswith("\n"):
            text += "\n"
        with self.lock:
            stream = self.stream
            stream.write(self._erase() + text + self._draw())
            stream.flush()

    def show(self, lines: list[str]) -> None:
        """Replace the region with `lines` (already styled; each must fit the terminal's width)."""
        with self.lock:
            if lines == self._lines and self._drawn:
                return
            self._lines = list(lines)
            stream = self.stream
            stream.write(self._erase() + self._draw() + ("" if lines else "\x1b[?25h"))
            stream.flush()

    def clear(self) -> None:
        self.show([])

    @contextlib.contextmanager
    def hidden(self) -> Iterator[None]:
        """Nothing drawn for the duration (an approval question is asked), then the same lines again."""
        with self.lock:
            kept = self._lines
            self.clear()
            try:
                yield
            finally:
                self.show(kept)


Style = Callable[..., str]


class TurnProgress:
    """What the live region shows while a turn runs, built from the thread's events."""

    def __init__(self, *, stream_text: bool = False, interrupt_hint: str = "ctrl-c to interrupt",
                 output_lines: int = 3, text_lines: int = 6, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream_text = stream_text  # show the reply and reasoning as they arrive
        self.interrupt_hint = interrupt_hint
        self.output_lines = output_lines
        self.text_lines = text_lines
        self.clock = clock
        self.started: float | None = None
        self.frame = 0
        self._reset_request()
        self.command: str | None = None
        self.output = ""

    def _reset_request(self) -> None:
        self.pieces = 0
        self.first_piece: float | None = None
        self.last_piece: float | None = None
        self.text = ""
        self.reasoning = ""

    @property
    def running(self) -> bool:
        return self.started is not None

    def observe(self, event: Event) -> None:
        match event:
            case TurnStarted():
                self.started = self.clock()
                self._reset_request()
                self.command, self.output = None, ""
            case TurnCompleted() | TurnFailed():
                self.started = None
            case Streamed(kind=kind, text=text):
                now = self.clock()
                if self.first_piece is None:
                    self.first_piece = now
                self.last_piece = now
                self.pieces += 1
                if kind == "text":
                    self.text = (self.text + text)[-8192:]
                else:
                    self.reasoning = (self.reasoning + text)[-8192:]
            case Reconnecting():
                self._reset_request()  # the stream starts over
            case ItemStarted(item=CommandExecution(command=command)):
                self.command, self.output = command, ""
            case CommandOutput(text=text):
                self.output = (self.output + text)[-8192:]
            case ItemCompleted(item=CommandExecution()):
                self.command, self.output = None, ""
            case ItemCompleted():
                self._reset_request()  # the reply became an item: it is printed for good now

    def tokens_per_second(self) -> float | None:
        if self.first_piece is None or self.last_piece is None or self.pieces < 2:
            return None
        span = self.last_piece - self.first_piece
        return (self.pieces - 1) / span if span > 0 else None

    def status(self) -> str:
        """The indicator line, unstyled: what it is doing, for how long, how fast."""
        elapsed = int(self.clock() - self.started) if self.started is not None else 0
        spin = SPINNER[self.frame % len(SPINNER)]
        if self.command is not None:
            what = "Running " + terminal_safe(scrub(self.command.replace("\n", " ")))
        elif self.pieces:
            what = "Thinking" if self.reasoning and not self.text else "Writing"
        else:
            what = "Working"
        parts = [f"{spin} {what}", f"{elapsed}s"]
        rate = self.tokens_per_second()
        if rate is not None and self.command is None:
            parts.append(f"{rate:.1f} tok/s")
        parts.append(self.interrupt_hint)
        return " · ".join(parts)

    def lines(self, width: int, style: Style) -> list[str]:
        """The region: the streamed reasoning and reply (if shown), the command's last output lines, the
        indicator; each cut to `width - 1` columns."""
        out: list[str] = []
        room = max(width - 1, 10)
        if self.stream_text and self.command is None:
            if self.reasoning and not self.text:
                out += [style(line, "dim", "italic") for line in _tail(self.reasoning, 3, room)]
            if self.text:
                out += _tail(self.text, self.text_lines, room)
        if self.command is not None and self.output:
            out += [style(fit("  " + line, room), "dim") for line in _tail(self.output, self.output_lines)]
        out.append(style(fit(self.status(), room), "cyan"))
        return out


def _tail(text: str, count: int, width: int | None = None) -> list[str]:
    """The last `count` non-blank lines of `text` as a terminal would show them (a CR returns to the
    line's start), secrets masked and made terminal-safe; with `width`, long lines are wrapped to it."""
    lines = [line.rstrip("\r").rsplit("\r", 1)[-1] for line in scrub(text).split("\n")]
    shown = [terminal_safe(line.expandtabs(4)) for line in lines if line.strip()][-count:]
    if width is None:
        return shown
    return [piece for line in shown for piece in wrap(line, width)][-count:]


class Ticker:
    """Calls `redraw` every `TICK_S` seconds on a daemon thread until stopped."""

    def __init__(self, redraw: Callable[[], None]) -> None:
        self.redraw = redraw
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ocodex-ticker", daemon=True)
        offmain.start(self._thread)

    def _run(self) -> None:
        while not self._stop.wait(TICK_S):
            with contextlib.suppress(Exception):  # a closed stream at exit: nothing left to draw on
                self.redraw()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            if thread is not threading.current_thread():
                thread.join(timeout=1)
