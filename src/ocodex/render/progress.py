"""Showing `ollama pull` progress: a rich progress bar on a terminal, sparse plain lines on a pipe.

Owns the displays for the `PullDisplay` protocol a pull drives (`ocodex.ollama.pull`), the per-digest
aggregation of Ollama's progress lines (each layer reports its own `total`/`completed`; the display
sums them), and the two renderings. Plain output never uses `\\r`, so logs and CI stay readable.
rich is imported lazily, only when a bar is actually drawn.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from ocodex.events import AssemblyEnded, AssemblyProgress, PullEnded, PullProgress
    from ocodex.ollama.pull import PullDisplay
    from ocodex.ollama.records import PullUpdate

PLAIN_INTERVAL = 2.0
"""Seconds between plain progress lines (a line is also written every 10%)."""
PLAIN_STEP = 10.0
"""Percent between plain progress lines, whatever the interval."""
SPEED_WINDOW = 5.0
"""Seconds of history used for the transfer speed."""


def format_bytes(count: float) -> str:
    """Binary units with one decimal: `512.0 MiB`, `12.8 GiB`; plain bytes below 1 KiB."""
    if count < 1024:
        return f"{int(count)} B"
    value = float(count)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


ASSEMBLING = "assembling"
"""The status of a bundled model's assembly (`AssemblyProgress`), drawn like one layer of a pull."""


def is_layer_status(status: str) -> bool:
    """Per-layer statuses look like `pulling e7b273f96360`; the others are steps worth a line."""
    return (status.startswith("pulling ") and status != "pulling manifest") or status == ASSEMBLING


class PullTracker:
    """Sums layer progress by digest and estimates the transfer speed."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._totals: dict[str, int] = {}
        self._completed: dict[str, int] = {}
        self._samples: deque[tuple[float, int]] = deque()
        self.status = ""

    def add(self, update: PullUpdate) -> None:
        if update.status:
            self.status = update.status
        if update.digest is None:
            return
        if update.total is not None:
            self._totals[update.digest] = update.total
        if update.completed is not None:
            self._completed[update.digest] = update.completed
        self._sample()

    def _sample(self) -> None:
        now = self._clock()
        self._samples.append((now, self.completed))
        while len(self._samples) > 2 and now - self._samples[1][0] >= SPEED_WINDOW:
            self._samples.popleft()

    @property
    def total(self) -> int:
        return sum(self._totals.values())

    @property
    def completed(self) -> int:
        return sum(min(done, self._totals.get(digest, done)) for digest, done in self._completed.items())

    @property
    def percent(self) -> float | None:
        total = self.total
        return None if total <= 0 else min(100.0, 100.0 * self.completed / total)

    @property
    def speed(self) -> float | None:
        """Bytes per second over the last few seconds, or None before there is enough history."""
        if len(self._samples) < 2:
            return None
        (start, first), (end, last) = self._samples[0], self._samples[-1]
        if end - start <= 0:
            return None
        return max(0.0, (last - first) / (end - start))


class PlainPullDisplay:
    """Sparse, append-only lines for pipes and logs (at most one every 2 s or 10%, plus steps)."""

    def __init__(self, stream: TextIO, *, model: str | None = None, verb: str = "pulling",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._label = f"{verb} {model}" if model else verb
        self._clock = clock
        self._tracker = PullTracker(clock)
        self._last_status = ""
        self._last_time: float | None = None
        self._last_bucket = -1
        self._last_numbers = ""

    def update(self, update: PullUpdate) -> None:
        self._tracker.add(update)
        status = update.status
        if is_layer_status(status):
            self._maybe_progress()
            return
        if status and status != self._last_status:
            self._flush_progress()
            self._write(status)
        self._last_status = status

    def finish(self) -> None:
        self._flush_progress()
        if self._last_status != "success":
            self._write("success")
            self._last_status = "success"

    def abort(self) -> None:
        self._flush_progress()

    def _numbers(self) -> str:
        tracker = self._tracker
        text = f"{self._label}: {format_bytes(tracker.completed)} / {format_bytes(tracker.total)}"
        if tracker.percent is not None:
            text += f" ({tracker.percent:.1f}%)"
        return text

    def progress_line(self) -> str:
        speed = self._tracker.speed
        return self._numbers() + (f" {format_bytes(speed)}/s" if speed else "")

    def _maybe_progress(self) -> None:
        if self._tracker.total <= 0:
            return
        now = self._clock()
        bucket = int((self._tracker.percent or 0.0) // PLAIN_STEP)
        due = self._last_time is None or now - self._last_time >= PLAIN_INTERVAL
        if due or bucket > self._last_bucket:
            self._emit_progress(now, bucket)

    def _flush_progress(self) -> None:
        """Write the latest numbers if they changed since the last progress line."""
        if self._tracker.total > 0:
            self._emit_progress(self._clock(), int((self._tracker.percent or 0.0) // PLAIN_STEP))

    def _emit_progress(self, now: float, bucket: int) -> None:
        """Write a progress line unless it would repeat the previous numbers (a stall says nothing new)."""
        numbers = self._numbers()
        if numbers != self._last_numbers:
            self._write(self.progress_line())
            self._last_numbers = numbers
        self._last_time = now
        self._last_bucket = bucket

    def _write(self, line: str) -> None:
        from ocodex.render.safe import terminal_safe

        self._stream.write(terminal_safe(line) + "\n")  # statuses are the server's words
        self._stream.flush()


class RichPullDisplay:
    """A live rich bar: status, bar, downloaded/total bytes, speed and ETA, summed over layers."""

    def __init__(self, stream: TextIO, *, model: str | None = None, force_terminal: bool | None = None,
                 verb: str = "pulling", clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._model = model
        self._verb = verb
        self._force_terminal = force_terminal
        self._tracker = PullTracker(clock)
        self._progress: Any = None
        self._task: Any = None

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, ProgressColumn, Task, TextColumn
        from rich.text import Text

        tracker = self._tracker

        # Speed and ETA come from the tracker, not from rich's task: rich forgets its speed samples
        # whenever the total changes, and the total grows each time Ollama starts another layer, so
        # a 13 GB pull would end showing the speed of its last, few-KB layer.
        class SpeedColumn(ProgressColumn):
            """Transfer speed in binary units, matching the byte counts."""

            def render(self, task: Task) -> Text:
                speed = tracker.speed
                shown = f"{format_bytes(speed)}/s" if speed else "?"
                return Text(shown, style="progress.data.speed")

        class EtaColumn(ProgressColumn):
            """Time left at the current speed."""

            def render(self, task: Task) -> Text:
                speed, left = tracker.speed, max(tracker.total - tracker.completed, 0)
                if task.finished or not left:
                    shown = "0:00:00"
                elif not speed:
                    shown = "-:--:--"
                else:
                    seconds = int(left / speed)
                    shown = f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
                return Text(shown, style="progress.remaining")

        console = Console(file=self._stream, force_terminal=self._force_terminal)
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(binary_units=True),
            SpeedColumn(), EtaColumn(), console=console, transient=False)
        self._task = self._progress.add_task(self._describe(""), total=None)
        self._progress.start()

    def _describe(self, status: str) -> str:
        """The bar's label; rich reads it as markup, and a status is the server's words: escaped."""
        from ocodex.render.safe import markup_safe

        if not status or is_layer_status(status):
            return markup_safe(f"{self._verb} {self._model}" if self._model else self._verb)
        return markup_safe(status)

    def update(self, update: PullUpdate) -> None:
        if self._progress is None:
            self._start()
        self._tracker.add(update)
        total = self._tracker.total or None
        self._progress.update(self._task, description=self._describe(self._tracker.status),
                              total=total, completed=self._tracker.completed)

    def finish(self) -> None:
        if self._progress is None:
            return
        total = self._tracker.total or None
        self._progress.update(self._task, description="success", total=total,
                              completed=total if total is not None else 0)
        self._stop()

    def abort(self) -> None:
        self._stop()

    def _stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def make_pull_display(stream: TextIO, *, tty: bool | None = None, model: str | None = None,
                      verb: str = "pulling") -> PullDisplay:
    """A rich bar when `stream` is a terminal (or `tty=True`), else sparse plain lines."""
    if tty is None:
        tty = _isatty(stream)
    if tty:
        return RichPullDisplay(stream, model=model, force_terminal=True, verb=verb)
    return PlainPullDisplay(stream, model=model, verb=verb)


class PullDrawing:
    """Draws the pulls a run's events describe: one display per pull, opened by its first
    `PullProgress` and closed by its `PullEnded`; a bundled model's assembly (`AssemblyProgress`,
    `AssemblyEnded`) the same way, as one layer. `tty=False` forces plain lines (the --json face)."""

    def __init__(self, stream: TextIO, *, tty: bool | None = None) -> None:
        self._stream = stream
        self._tty = tty
        self._display: PullDisplay | None = None

    def __call__(self, event: PullProgress | PullEnded | AssemblyProgress | AssemblyEnded) -> None:
        from ocodex.events import AssemblyEnded, AssemblyProgress, PullEnded

        if isinstance(event, PullEnded | AssemblyEnded):
            display, self._display = self._display, None
            if display is not None:
                display.finish() if event.ok else display.abort()
            return
        if isinstance(event, AssemblyProgress):
            if self._display is None:
                self._display = make_pull_display(self._stream, tty=self._tty, model=event.model, verb=ASSEMBLING)
            from ocodex.ollama.records import PullUpdate

            self._display.update(PullUpdate(ASSEMBLING, "gguf", event.total, event.done))
            return
        if self._display is None:
            self._display = make_pull_display(self._stream, tty=self._tty, model=event.model)
        self._display.update(event)  # type: ignore[arg-type]  # a PullProgress has a PullUpdate's fields
