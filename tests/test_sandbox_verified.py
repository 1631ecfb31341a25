"""`ocodex.sandbox.verified`: what a remembered sandbox probe depends on, and how long it is trusted."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from ocodex.sandbox.limits import Limits
from ocodex.sandbox.policy import SandboxPolicy
from ocodex.sandbox.verified import MAX_AGE_S, VerifiedSandboxes, fingerprint

pytestmark = pytest.mark.fast


@pytest.fixture
def bwrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "bin" / "bwrap"
    path.parent.mkdir()
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    monkeypatch.setenv("PATH", str(path.parent))
    return path


def test_the_fingerprint_follows_the_binary_the_policy_and_nothing_else(bwrap: Path, tmp_path: Path) -> None:
    policy = SandboxPolicy(mode="read-only", cwd=tmp_path)
    first = fingerprint(policy)
    assert first is not None and fingerprint(policy) == first
    assert fingerprint(replace(policy, cwd=tmp_path / "other")) == first  # the probe runs at / either way
    assert fingerprint(replace(policy, mode="workspace-write")) != first
    assert fingerprint(replace(policy, network_access=True)) != first
    assert fingerprint(replace(policy, limits=Limits(processes=10))) != first
    assert fingerprint(replace(policy, mode="danger-full-access")) is None  # nothing to probe
    bwrap.chmod(0o4755)  # a setuid bubblewrap behaves differently
    assert fingerprint(policy) != first
    bwrap.chmod(0o755)
    os.utime(bwrap, ns=(0, 0))  # a reinstalled one
    assert fingerprint(policy) != first
    bwrap.unlink()
    assert fingerprint(policy) is None  # the probe itself says bubblewrap is missing


def test_a_remembered_probe_is_trusted_for_a_day_and_odd_files_are_nothing(bwrap: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    verified = VerifiedSandboxes(home)
    assert not verified.known("abc")
    verified.remember("abc")
    assert verified.known("abc") and not verified.known("abd")
    data = json.loads(verified.path.read_text())
    data["entries"]["abc"]["saved"] = time.time() - MAX_AGE_S - 1
    verified.path.write_text(json.dumps(data))
    assert not verified.known("abc")
    for odd in ("", "[]", '{"format": 1, "entries": {"abc": {"saved": "yesterday"}}}', "\0\1"):
        verified.path.write_text(odd)
        assert not verified.known("abc")
    verified.path.unlink()
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps({"format": 1, "entries": {"abc": {"saved": time.time()}}}))
    verified.path.symlink_to(target)
    assert not verified.known("abc")  # never read through a symlink
