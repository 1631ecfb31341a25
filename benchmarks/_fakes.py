"""Where the benchmarks find the fake servers: `tests/fakes`, which does not ship in the package."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakes.fake_ollama import FakeOllama, Turn
from fakes.fake_responses import FakeResponses
from fakes.proxy import AuthProxy

__all__ = ["AuthProxy", "FakeOllama", "FakeResponses", "Turn"]
