"""The keyboard while a turn runs: Esc interrupts it, an approval question takes one key, the rest waits.

Between prompts the line editor owns the terminal; during a turn `TurnKeys` does. It puts the terminal
in cbreak mode (keys arrive one by one and are not echoed; Ctrl-C still sends SIGINT, which stops the
turn as it always does) and reads on a daemon thread:

- a lone Esc calls `on_escape` (the session interrupts the thread); an escape sequence (an arrow key,
  Alt-x, a paste's brackets) is not an Esc and is dropped, the keys around it are kept;
- while `ask()` waits (an approval question), the next key is its answer; a key typed before the
  question was shown never answers it;
- printable keys typed meanwhile are kept (`typeahead`), for the next prompt to start with.

Without a terminal on stdin, nothing is read: `ask()` reads a line instead.
"""

from __future__ import annotations

import contextlib
import os
import queue
import select
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType

from ocodex import offmain

ESC = "\x1b"
SEQUENCE_WAIT_S = 0.03  # after an Esc byte: how long the rest of an escape sequence may take to arrive
ENTER_GRACE_S = 0.75  # an Enter this soon after an answered key belongs to it ("y" then Enter)


class TurnKeys:
    """Owns stdin for the duration of a turn (a context manager)."""

    def __init__(self, on_escape: Callable[[], None], fd: int | None = None) -> None:
        self.on_escape = on_escape
        self.fd = _stdin_fd() if fd is None else fd
        self.tty = self.fd >= 0 and _isatty(self.fd)
        self.typeahead = ""
        self._answers: queue.Queue[str] = queue.Queue()
        self._asking = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._saved: list | None = None  # type: ignore[type-arg]
        self._answered_at = 0.0

    def __enter__(self) -> TurnKeys:
        if self.tty:
            import termios
            import tty

            self._saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd, termios.TCSANOW)  # ISIG stays on: Ctrl-C is still SIGINT
            self._thread = threading.Thread(target=self._run, name="ocodex-keys", daemon=True)
            offmain.start(self._thread)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
            self._thread = None
        if self._saved is not None:
            import termios

            with contextlib.suppress(termios.error):
                termios.tcsetattr(self.fd, termios.TCSANOW, self._saved)
            self._saved = None

    # ---- answering a question ----------------------------------------------------------------

    def ask(self, allowed: str) -> str:
        """The next key among `allowed` (lower case), typed after this call; on a pipe, a line's first
        character. An empty string: stdin ended (on a pipe)."""
        if not self.tty or self._thread is None:
            return self._ask_line(allowed)
        while not self._answers.empty():  # nothing typed before the question answers it
            self._answers.get_nowait()
        self._asking.set()
        try:
            while True:
                try:
                    key = self._answers.get(timeout=0.1)  # short waits: Ctrl-C (SIGINT) gets through
                except queue.Empty:
                    continue
                if key.lower() in allowed:
                    self._answered_at = time.monotonic()
                    return key.lower()
        finally:
            self._asking.clear()

    def _ask_line(self, allowed: str) -> str:
        while True:
            line = sys.stdin.readline()
            if not line:
                return ""
            answer = line.strip().lower()[:1]
            if answer and answer in allowed:
                return answer

    # ---- the reader thread -------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._readable(0.05):
                continue
            try:
                data = os.read(self.fd, 1024)
            except OSError:
                return
            if not data:
                return
            text = data.decode("utf-8", "replace")
            if text.endswith(ESC) and self._readable(SEQUENCE_WAIT_S):  # a sequence cut by the read
                with contextlib.suppress(OSError):
                    text += os.read(self.fd, 1024).decode("utf-8", "replace")
            self._feed(text)

    def _feed(self, text: str) -> None:
        """Keys in `text`: a lone Esc interrupts; an escape sequence (an arrow key, Alt-x, a paste's
        brackets) is dropped whole; every other key goes to `_key`."""
        index = 0
        while index < len(text):
            char = text[index]
            if char != ESC:
                self._key(char)
                index += 1
                continue
            end = _sequence_end(text, index)
            if end is None:  # nothing follows the Esc
                self.on_escape()
                index += 1
            else:
                index = end

    def _key(self, key: str) -> None:
        if key in "\r\n" and time.monotonic() - self._answered_at < ENTER_GRACE_S:
            return  # "y" then Enter: the Enter was part of the answer
        if self._asking.is_set():
            self._answers.put(key)
        elif key.isprintable():
            self.typeahead += key

    def _readable(self, timeout: float) -> bool:
        try:
            ready, _, _ = select.select([self.fd], [], [], timeout)
        except (OSError, ValueError):
            return False
        return bool(ready)


def _sequence_end(text: str, start: int) -> int | None:
    """Where the escape sequence starting at `text[start]` (an Esc) ends, or None for a lone Esc.
    CSI (`Esc [ ... final`), SS3 (`Esc O x`) and Alt-key (`Esc x`) sequences are recognised."""
    if start + 1 >= len(text):
        return None
    kind = text[start + 1]
    if kind == "[":
        index = start + 2
        while index < len(text) and not "\x40" <= text[index] <= "\x7e":
            index += 1
        return min(index + 1, len(text))
    if kind == "O":
        return min(start + 3, len(text))
    if kind == ESC:  # Esc Esc: the first is a key of its own
        return None
    return start + 2


def _stdin_fd() -> int:
    try:
        return sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by something that is no file
        return -1


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False
