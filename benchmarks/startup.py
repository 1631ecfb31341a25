"""Start-up benchmark: `ocodex --version` and `ocodex exec --oss --json "say hi"` against the fake server.

Run: `.venv/bin/python benchmarks/startup.py [--runs N]`. Prints median wall time and peak RSS of
each command, and its ratio against a baseline measured in the same run (`python -c pass`, the
interpreter's own floor), so numbers from a noisy machine still compare. Targets from issue 2:
--version <= 60 ms, exec <= 200 ms and <= 60 MB peak RSS.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _fakes import FakeOllama


def measure(argv: list[str], *, cwd: str, env: dict[str, str], runs: int) -> tuple[float, float]:
    """Median wall seconds and max peak RSS (MiB) over `runs` runs of `argv`."""
    walls, peaks = [], []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - start)
        peaks.append(usage.ru_maxrss / 1024)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"command failed: {' '.join(argv)}")
    return statistics.median(walls), max(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp, FakeOllama(models=["gpt-oss:20b"]) as server:
        repo = Path(tmp, "repo")
        repo.mkdir()
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        env = {**os.environ, "OCODEX_HOME": str(Path(tmp, "home")), "CODEX_OSS_BASE_URL": server.base_url,
               "OCODEX_HOST_MEMORY_GIB": "16"}
        cases = {
            "baseline: python -c pass": [python, "-c", "pass"],
            "ocodex --version": [python, "-m", "ocodex", "--version"],
            "ocodex exec --oss --json 'say hi'": [python, "-m", "ocodex", "exec", "--oss", "--json", "say hi"],
        }
        results = {name: measure(argv, cwd=str(repo), env=env, runs=runs) for name, argv in cases.items()}
    base_wall = results["baseline: python -c pass"][0]
    print(f"{'command':40} {'median ms':>10} {'x baseline':>11} {'peak RSS MiB':>13}")
    for name, (wall, peak) in results.items():
        print(f"{name:40} {wall * 1000:10.1f} {wall / base_wall:11.2f} {peak:13.1f}")


if __name__ == "__main__":
    main()
