"""Pull progress: per-digest sums, sparse plain lines on a pipe, a rich bar on a terminal."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator

import pytest

from ocodex.ollama.records import PullUpdate
from ocodex.render.progress import (
    PlainPullDisplay,
    PullTracker,
    RichPullDisplay,
    format_bytes,
    make_pull_display,
)

MIB = 1024**2
GIB = 1024**3
BIG = "sha256:" + "a" * 64
SMALL = "sha256:" + "b" * 64


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def layer(digest: str, total: int, completed: int | None = None) -> PullUpdate:
    return PullUpdate(f"pulling {digest[7:19]}", digest, total, completed)


@pytest.mark.parametrize(("count", "text"), [
    (0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (512 * MIB, "512.0 MiB"),
    (int(12.8 * GIB), "12.8 GiB"), (3 * 1024 * GIB, "3.0 TiB"), (5000 * 1024 * GIB, "5000.0 TiB"),
])
def test_format_bytes(count: int, text: str) -> None:
    assert format_bytes(count) == text


def test_tracker_sums_layers_by_digest() -> None:
    tracker = PullTracker(Clock())
    tracker.add(layer(BIG, 1000))
    tracker.add(layer(BIG, 1000, 400))
    tracker.add(layer(BIG, 1000, 600))  # same digest again: replaces, does not add
    tracker.add(layer(SMALL, 10, 10))
    assert (tracker.total, tracker.completed) == (1010, 610)
    assert tracker.percent == pytest.approx(100 * 610 / 1010)
    tracker.add(PullUpdate("verifying sha256 digest"))
    assert tracker.status == "verifying sha256 digest" and tracker.total == 1010


def test_tracker_speed() -> None:
    clock = Clock()
    tracker = PullTracker(clock)
    tracker.add(layer(BIG, 100 * MIB, 0))
    assert tracker.speed is None
    clock.now += 2
    tracker.add(layer(BIG, 100 * MIB, 20 * MIB))
    assert tracker.speed == pytest.approx(10 * MIB)


def test_plain_lines_are_sparse_and_sum_per_digest() -> None:
    clock = Clock()
    out = io.StringIO()
    display = PlainPullDisplay(out, model="gpt-oss:20b", clock=clock)
    total = int(12.8 * GIB)
    display.update(PullUpdate("pulling manifest"))
    display.update(layer(BIG, total - 10 * MIB))
    display.update(layer(SMALL, 10 * MIB, 10 * MIB))  # a small layer already on disk
    for step in range(1, 11):  # 10 updates within one second and under 10%: no new line
        clock.now += 0.1
        display.update(layer(BIG, total - 10 * MIB, step * 10 * MIB))
    clock.now += 2.0  # interval passed: one line with the summed numbers and a speed
    display.update(layer(BIG, total - 10 * MIB, 502 * MIB))
    lines = out.getvalue().splitlines()
    assert lines[0] == "pulling manifest"
    assert lines[1] == "pulling gpt-oss:20b: 0 B / 12.8 GiB (0.0%)"  # first total known
    assert lines[2].startswith("pulling gpt-oss:20b: 512.0 MiB / 12.8 GiB (3.9%) ")
    assert lines[2].endswith(" MiB/s")
    assert len(lines) == 3


def test_plain_writes_a_line_every_ten_percent() -> None:
    clock = Clock()
    out = io.StringIO()
    display = PlainPullDisplay(out, model="m", clock=clock)
    for done in range(0, 1001, 5):  # no time passes at all
        display.update(layer(BIG, 1000, done))
    progress = [line for line in out.getvalue().splitlines() if line.startswith("pulling m:")]
    assert len(progress) == 11  # 0%, 10%, ..., 100%
    assert progress[-1] == "pulling m: 1000 B / 1000 B (100.0%)"


def test_plain_full_pull_never_uses_carriage_returns() -> None:
    clock = Clock()
    out = io.StringIO()
    assert isinstance(make_pull_display(out, model="gpt-oss:20b"), PlainPullDisplay)  # a pipe
    display = PlainPullDisplay(out, model="gpt-oss:20b", clock=clock)
    updates = [PullUpdate("pulling manifest"), layer(BIG, 2000), layer(BIG, 2000, 1000),
               layer(BIG, 2000, 1999), layer(SMALL, 48, 48), PullUpdate("verifying sha256 digest"),
               PullUpdate("writing manifest"), PullUpdate("success")]
    for update in updates:
        clock.now += 0.01
        display.update(update)
    display.finish()
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert lines[-4].startswith("pulling gpt-oss:20b: 2.0 KiB / 2.0 KiB (100.0%) ")
    assert lines[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    assert lines.count("success") == 1


def test_plain_finish_without_success_status_still_says_success() -> None:
    out = io.StringIO()
    display = PlainPullDisplay(out, model="m", clock=Clock())
    display.update(layer(BIG, 10, 10))
    display.finish()
    assert out.getvalue().splitlines()[-1] == "success"


def test_plain_abort_writes_no_success() -> None:
    out = io.StringIO()
    display = PlainPullDisplay(out, model="m", clock=Clock())
    display.update(PullUpdate("pulling manifest"))
    display.abort()
    assert out.getvalue() == "pulling manifest\n"


def test_tty_gets_a_rich_bar() -> None:
    out = io.StringIO()
    display = make_pull_display(out, tty=True, model="gpt-oss:20b")
    assert isinstance(display, RichPullDisplay)
    display.update(PullUpdate("pulling manifest"))
    display.update(layer(BIG, 4 * MIB, 1 * MIB))
    display.update(layer(SMALL, 1 * MIB, 1 * MIB))
    display.update(PullUpdate("verifying sha256 digest"))
    display.finish()
    text = out.getvalue()
    assert "success" in text
    assert "5.0 MiB" in text  # the summed total over both digests


def test_rich_speed_survives_a_new_layer_growing_the_total() -> None:
    out, clock = io.StringIO(), Clock()
    display = RichPullDisplay(out, model="m", force_terminal=True, clock=clock)
    for gib in range(5):  # 1 GiB/s on the big layer...
        display.update(layer(BIG, 4 * GIB, gib * GIB or None))
        clock.now += 1
    display.update(layer(SMALL, 8 * 1024, 8 * 1024))  # ...then a tiny layer starts and ends at once
    display.finish()
    final = out.getvalue().rsplit("\r", 1)[-1]
    assert "success" in final and "819.2 MiB/s" in final, final  # 4 GiB in 5 s, not the tiny layer's KiB/s


def test_rich_abort_before_any_update_is_harmless() -> None:
    out = io.StringIO()
    display = make_pull_display(out, tty=True)
    display.abort()
    display.finish()
    assert out.getvalue() == ""  # nothing was started, so nothing is drawn or left half-drawn
    display.update(layer(BIG, 4 * MIB, 1 * MIB))  # and it still works afterwards
    display.finish()
    assert "success" in out.getvalue()


def test_importing_progress_does_not_import_rich() -> None:
    code = "import sys, ocodex.render.progress; print(sorted(m for m in sys.modules if m.startswith('rich')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_a_runs_pull_is_drawn_from_its_events() -> None:
    from ocodex.events import PullEnded, PullProgress
    from ocodex.render.progress import PullDrawing

    out = io.StringIO()
    draw = PullDrawing(out, tty=False)
    draw(PullProgress("gpt-oss:20b", "pulling manifest"))
    draw(PullProgress("gpt-oss:20b", f"pulling {BIG[7:19]}", BIG, 100 * MIB, 100 * MIB))
    draw(PullEnded("gpt-oss:20b", ok=True))
    assert out.getvalue().splitlines() == ["pulling manifest", "pulling gpt-oss:20b: 100.0 MiB / 100.0 MiB (100.0%)",
                                           "success"]


def test_plain_stall_repeats_nothing() -> None:
    clock = Clock()
    out = io.StringIO()
    display = PlainPullDisplay(out, model="m", clock=clock)
    display.update(layer(BIG, 100 * MIB, 10 * MIB))
    for _ in range(5):  # the server keeps reporting the same numbers every few seconds
        clock.now += 3
        display.update(layer(BIG, 100 * MIB, 10 * MIB))
    display.update(PullUpdate("verifying sha256 digest"))
    assert out.getvalue().splitlines() == ["pulling m: 10.0 MiB / 100.0 MiB (10.0%)",
                                           "verifying sha256 digest"]


# ---- a large pull is asked about first --------------------------------------------------------------


class PullingClient:
    """`OllamaClient.pull` as `pull_with_events` drives it: the updates, and whether the stream was closed."""

    root = "http://127.0.0.1:11434"

    def __init__(self, *updates: PullUpdate) -> None:
        self.updates, self.closed, self.sent = updates, False, 0

    def pull(self, model: str) -> Iterator[PullUpdate]:
        try:
            for update in self.updates:
                self.sent += 1
                yield update
        finally:
            self.closed = True


def test_a_pull_past_the_limit_asks_once_with_its_size_and_a_no_stops_it() -> None:
    from ocodex.events import PullEnded, PullProgress
    from ocodex.ollama.pull import PullDeclined, pull_with_events

    client = PullingClient(PullUpdate("pulling manifest"), layer(SMALL, 3 * GIB), layer(BIG, 9 * GIB),
                           layer(BIG, 9 * GIB, GIB))
    asked: list[int] = []
    events: list[object] = []
    with pytest.raises(PullDeclined) as declined:
        pull_with_events(client, "gpt-oss:20b", events.append, lambda size: asked.append(size) or False)  # type: ignore[arg-type]
    assert asked == [12 * GIB]  # asked when the announced layers passed 4 GiB, not at the first one
    assert client.closed and client.sent == 3  # the stream closed there: Ollama stops the download
    assert "Did not pull gpt-oss:20b (12.0 GiB): declined" in declined.value.message
    assert "-m MODEL" in (declined.value.hint or "")
    assert [type(e) for e in events] == [PullProgress, PullProgress, PullEnded]
    assert events[-1] == PullEnded("gpt-oss:20b", ok=False)


def test_a_small_pull_or_a_yes_goes_on_without_asking_again() -> None:
    from ocodex.ollama.pull import pull_with_events

    asked: list[int] = []
    small = PullingClient(layer(BIG, 2 * GIB), layer(BIG, 2 * GIB, 2 * GIB), PullUpdate("success"))
    pull_with_events(small, "qwen3:4b", lambda _e: None, lambda size: asked.append(size) or False)  # type: ignore[arg-type]
    assert asked == [] and small.sent == 3
    big = PullingClient(layer(BIG, 13 * GIB), layer(BIG, 13 * GIB, GIB), layer(SMALL, GIB), PullUpdate("success"))
    pull_with_events(big, "gpt-oss:20b", lambda _e: None, lambda size: asked.append(size) or True)  # type: ignore[arg-type]
    assert asked == [13 * GIB] and big.sent == 4


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_exec_asks_at_a_terminal_and_pulls_in_a_script(monkeypatch: pytest.MonkeyPatch) -> None:
    from ocodex.approval import CommandRequest, PullRequest
    from ocodex.render.human import HumanRenderer
    from ocodex.render.jsonl import JsonlRenderer

    request = PullRequest("gpt-oss:20b", 13 * GIB, "http://gpu-box:11434")
    err = Tty()
    face = HumanRenderer(io.StringIO(), err, color=False, live=False)
    monkeypatch.setattr(sys, "stdin", Tty("n\n"))
    assert face.approve(request) == "no"
    assert "gpt-oss:20b is not on the server: download 13.0 GiB to it? [y/N]" in err.getvalue()
    monkeypatch.setattr(sys, "stdin", Tty("y\n"))
    assert face.approve(request) == "yes"
    assert face.approve(CommandRequest(("rm", "x"), "/w")) == "no"  # exec answers the model's questions no
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # a script: no terminal to ask at
    assert face.approve(request) == "yes"
    assert JsonlRenderer(io.StringIO(), io.StringIO()).approve(request) == "yes"


def test_the_gate_asks_about_a_pull_under_every_policy() -> None:
    from ocodex.approval import ApprovalGate, PullRequest

    request = PullRequest("gpt-oss:120b", 65 * GIB, "http://127.0.0.1:11434")
    asked: list[object] = []
    for policy in ("never", "on-request", "untrusted"):
        assert ApprovalGate(policy, lambda r: asked.append(r) or "no").decide(request) == "denied"  # type: ignore[arg-type, func-returns-value]
    assert asked == [request] * 3
    assert ApprovalGate("never", None).decide(request) == "allowed"  # nobody to ask: pulled, as in a script
