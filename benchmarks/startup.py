"""Start-up benchmark: `ocodex --version`, `ocodex exec --oss --json "say hi"` and the interactive `ocodex`
against the fake server.

Run: `.venv/bin/python benchmarks/startup.py [--runs N]`. Prints median wall time and peak RSS of
each command, and its ratio against a baseline measured in the same run (`python -c pass`, the
interpreter's own floor), so numbers from a noisy machine still compare. Targets from issue 2:
--version <= 60 ms, exec <= 200 ms and <= 60 MB peak RSS. The interactive session runs on a
pseudo-terminal and is timed to its prompt (`›` on screen; target from issue 12: < 0.4 s) and to the
footer that says the model is ready (the thread opens in the background while the prompt is shown).
Bytecode is written and used, as an installed ocodex does (a first run warms it).
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import signal
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


def measure_tty(argv: list[str], *, cwd: str, env: dict[str, str], runs: int, marks: dict[str, bytes]
                ) -> dict[str, float]:
    """Median seconds from start until each of `marks` appears on the pseudo-terminal `argv` runs on."""
    seen: dict[str, list[float]] = {name: [] for name in marks}
    for _ in range(runs):
        start = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # the child: the session on the pseudo-terminal
            os.chdir(cwd)
            os.execve(argv[0], argv, env)
        output, left = b"", dict(marks)
        try:
            while left:
                ready, _, _ = select.select([fd], [], [], 20)
                if not ready:
                    raise SystemExit(f"no {', '.join(left)} within 20 s from {' '.join(argv)}:\n{output[-2000:]!r}")
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    raise SystemExit(f"{' '.join(argv)} ended before {', '.join(left)}:\n{output[-2000:]!r}") from None
                output += data
                for _ in range(data.count(b"\x1b[6n")):  # answer cursor-position requests, as a terminal does
                    os.write(fd, b"\x1b[1;1R")
                for name, mark in list(left.items()):
                    if mark in output:
                        seen[name].append(time.perf_counter() - start)
                        del left[name]
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(fd)
    return {name: statistics.median(times) for name, times in seen.items()}


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
               "OCODEX_HOST_MEMORY_GIB": "16", "OCODEX_RESIDENT": "0"}
        cases = {
            "baseline: python -c pass": [python, "-c", "pass"],
            "ocodex --version": [python, "-m", "ocodex", "--version"],
            "ocodex exec --oss --json 'say hi'": [python, "-m", "ocodex", "exec", "--oss", "--json", "say hi"],
        }
        results = {name: measure(argv, cwd=str(repo), env=env, runs=runs) for name, argv in cases.items()}
        tty_env = {**env, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
        tty_env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode is cached after the first run
        interactive = [python, "-m", "ocodex"]
        measure_tty(interactive, cwd=str(repo), env=tty_env, runs=1, marks={"warm-up": "›".encode()})
        session = measure_tty(interactive, cwd=str(repo), env=tty_env, runs=runs,
                              marks={"prompt": "›".encode(), "ready": b"approval on-request"})
    base_wall = results["baseline: python -c pass"][0]
    print(f"{'command':40} {'median ms':>10} {'x baseline':>11} {'peak RSS MiB':>13}")
    for name, (wall, peak) in results.items():
        print(f"{name:40} {wall * 1000:10.1f} {wall / base_wall:11.2f} {peak:13.1f}")
    print(f"{'ocodex (interactive): to the prompt':40} {session['prompt'] * 1000:10.1f} "
          f"{session['prompt'] / base_wall:11.2f} {'-':>13}")
    print(f"{'ocodex (interactive): model ready':40} {session['ready'] * 1000:10.1f} "
          f"{session['ready'] / base_wall:11.2f} {'-':>13}")


if __name__ == "__main__":
    main()
