"""Ctrl-C in the middle of a big multi-file apply_patch leaves the tree all old or all new, never a mix.

A real SIGINT is sent to a real process applying a 800-file patch, many times, at random moments
once the apply has started (seen by polling the workspace for its first temp file or changed file).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from fakes.fake_ollama import Turn

FILES = 800


def make_tree(root: Path) -> str:
    """A workspace of FILES files, and a patch that updates all of them, deletes one and adds two."""
    root.mkdir(exist_ok=True)
    for i in range(FILES):
        (root / f"f{i:04d}.txt").write_text(f"old {i}\n")
    (root / "gone.txt").write_text("delete me\n")
    hunks = [f"*** Update File: f{i:04d}.txt\n@@\n-old {i}\n+new {i}" for i in range(FILES)]
    hunks += ["*** Delete File: gone.txt", "*** Add File: newdir/sub/added.txt\n+added", "*** Add File: top.txt\n+top"]
    return "*** Begin Patch\n" + "\n".join(hunks) + "\n*** End Patch\n"


def state(root: Path) -> str:
    """"old" or "new" when the tree is wholly one of them (and holds no temp file); else what is wrong."""
    names = {p.name for p in root.rglob("*") if ".git" not in p.parts}
    stray = sorted(n for n in names if n.startswith(".ocodex-"))
    if stray:
        return f"leftovers: {stray[:3]} ({len(stray)})"
    contents = {(root / f"f{i:04d}.txt").read_text() for i in range(FILES)}
    old = contents == {f"old {i}\n" for i in range(FILES)}
    new = contents == {f"new {i}\n" for i in range(FILES)}
    if old and (root / "gone.txt").exists() and not (root / "newdir").exists() and not (root / "top.txt").exists():
        return "old"
    if new and not (root / "gone.txt").exists() and (root / "newdir/sub/added.txt").read_text() == "added\n" \
            and (root / "top.txt").exists():
        return "new"
    changed = sum(1 for i in range(FILES) if (root / f"f{i:04d}.txt").read_text() == f"new {i}\n")
    return f"mixed: {changed} of {FILES} files changed"


def started(root: Path) -> bool:
    """The apply has begun: a temp file exists, or a file already has its new content."""
    with os.scandir(root) as entries:
        for entry in entries:
            if entry.name.startswith(".ocodex-") or entry.name == "top.txt":
                return True
    return (root / "f0000.txt").read_text() != "old 0\n"


def wait_started(proc: subprocess.Popen, root: Path, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if started(root):
            return True
        time.sleep(0.002)  # a poll interval: the apply needs the CPU more than this loop does
    raise AssertionError("the apply never started")


APPLY = """
import sys
from pathlib import Path
from ocodex.patch.apply import apply_patch_text
try:
    apply_patch_text(sys.stdin.read(), Path(sys.argv[1]))
except KeyboardInterrupt:
    sys.exit(130)
print("applied")
"""


def test_sigint_at_random_moments_leaves_all_old_or_all_new(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    patch = make_tree(root)
    # One uninterrupted run measures how long the apply takes once started; then a run back to old.
    timed = subprocess.Popen([sys.executable, "-c", APPLY, str(root)], stdin=subprocess.PIPE, text=True)
    assert timed.stdin is not None
    timed.stdin.write(patch)
    timed.stdin.close()
    wait_started(timed, root, time.monotonic() + 60)
    begun = time.monotonic()
    assert timed.wait(timeout=120) == 0
    span = time.monotonic() - begun
    assert state(root) == "new"

    rng = random.Random(1234)
    outcomes = []
    for _ in range(12):
        make_tree(root)
        (root / "gone.txt").write_text("delete me\n")
        for extra in (root / "newdir/sub/added.txt", root / "top.txt"):
            extra.unlink(missing_ok=True)
        for directory in (root / "newdir/sub", root / "newdir"):
            if directory.exists():
                directory.rmdir()
        assert state(root) == "old"
        proc = subprocess.Popen([sys.executable, "-c", APPLY, str(root)], stdin=subprocess.PIPE, text=True,
                                stdout=subprocess.PIPE)
        assert proc.stdin is not None
        proc.stdin.write(patch)
        proc.stdin.close()
        if wait_started(proc, root, time.monotonic() + 60):
            time.sleep(rng.uniform(0, span))  # a random moment of the apply: the point of this test
            proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=120)
        outcome = state(root)
        assert outcome in ("old", "new"), (outcome, code)
        assert code == 130 or outcome == "new", (outcome, code)  # rolled back means interrupted
        outcomes.append(outcome)
    assert "old" in outcomes  # some interrupts did land mid-apply and were rolled back


def test_ctrl_c_during_a_big_patch_through_the_cli(fake, home: Path, repo: Path) -> None:
    from conftest import base_env

    patch = make_tree(repo)
    fake.script(Turn.tool_call("apply_patch", {"input": patch}), Turn.text("done"))
    env = base_env(home, fake.base_url)
    proc = subprocess.Popen([sys.executable, "-m", "ocodex", "exec", "--oss", "--full-auto", "--json", "go"],
                            cwd=repo, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    if wait_started(proc, repo, time.monotonic() + 120):
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert "Traceback" not in err, err
    assert state(repo) in ("old", "new")
    if proc.returncode == 130:
        assert '"turn.failed"' in out.splitlines()[-1]


def _small_tree(root: Path) -> str:
    root.mkdir()
    for name in "abcd":
        (root / f"{name}.txt").write_text(f"old {name}\n")
    hunks = [f"*** Update File: {n}.txt\n@@\n-old {n}\n+new {n}" for n in "abcd"]
    return "*** Begin Patch\n" + "\n".join([*hunks, "*** Delete File: d.txt", "*** Add File: n/e.txt\n+e"]) \
        + "\n*** End Patch\n"


def _all_old(root: Path) -> bool:
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
    return names == ["a.txt", "b.txt", "c.txt", "d.txt"] and all(
        (root / f"{n}.txt").read_text() == f"old {n}\n" for n in "abcd")


def test_a_keyboard_interrupt_raised_mid_commit_still_rolls_back(tmp_path: Path, monkeypatch) -> None:
    """Even a KeyboardInterrupt that gets past the deferral (raised by code, not by the signal)."""
    import pytest

    from ocodex.patch.apply import apply_patch_text

    root = tmp_path / "ws"
    patch = _small_tree(root)
    real_replace, calls = os.replace, []

    def interrupted_replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", interrupted_replace)
    with pytest.raises(KeyboardInterrupt):
        apply_patch_text(patch, root)
    monkeypatch.undo()
    assert _all_old(root)


def test_a_sigint_mid_commit_is_deferred_then_delivered_after_the_rollback(tmp_path: Path, monkeypatch) -> None:
    import pytest

    from ocodex.patch.apply import apply_patch_text

    root = tmp_path / "ws"
    patch = _small_tree(root)
    real_replace, calls = os.replace, []

    def replace_then_ctrl_c(src, dst):
        calls.append(dst)
        real_replace(src, dst)
        if len(calls) == 2:
            signal.raise_signal(signal.SIGINT)  # a real SIGINT, in the middle of the renames

    monkeypatch.setattr(os, "replace", replace_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        apply_patch_text(patch, root)
    monkeypatch.undo()
    assert _all_old(root)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is back


def test_a_sigterm_mid_commit_is_deferred_like_ctrl_c(tmp_path: Path, monkeypatch) -> None:
    import pytest

    from ocodex.errors import Stopped
    from ocodex.patch.apply import apply_patch_text
    from ocodex.thread.signals import StopSignals

    root = tmp_path / "ws"
    patch = _small_tree(root)
    real_replace, calls, handled = os.replace, [], []

    def replace_then_sigterm(src, dst):
        calls.append(dst)
        real_replace(src, dst)
        if len(calls) == 2:
            signal.raise_signal(signal.SIGTERM)  # a real SIGTERM, in the middle of the renames
            handled.append(stops.signum)  # not acted on yet: the patch is not whole

    monkeypatch.setattr(os, "replace", replace_then_sigterm)
    with StopSignals() as stops, pytest.raises(Stopped):  # delivered (to its handler) after the rollback
        apply_patch_text(patch, root)
    monkeypatch.undo()
    assert handled == [None] and _all_old(root)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
