"""The injected-latency case of benchmarks/remote.py: ocodex and Codex CLI 0.169 over a slow link, cold and warm.

A loopback TCP proxy (`DelayProxy`) delays every chunk by `delay` seconds in each direction (50 ms: a 100 ms
round trip, an SSH tunnel or a VPN to another city), in order, in front of one fake server that speaks both
/v1/chat/completions (ocodex's default wire) and /v1/responses (Codex's for gpt-oss). Per run it records the
time from the process start to the first byte of the model request's answer reaching the client (time to
first token: the fake streams its first token with its headers), the total wall time, and which requests
the run made. Cold runs get a fresh home (OCODEX_HOME / CODEX_HOME) each; warm runs share one, primed once,
each started afresh (OCODEX_RESIDENT=0); ocodex's resident runs share one whose resident process
(ocodex.resident) the series starts first, and stops at its end.
The same cases with no added delay give each tool's own time (start-up and server), which the goal counts
as "server time": warm TTFT at 50 ms <= 1.5 x RTT + TTFT with no delay.

Codex comes from npm (`@openai/codex@0.169.0`, into .cache/npm, ignored by git); without npm its rows are
skipped with a note.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from _fakes import FakeResponses

ROOT = Path(__file__).resolve().parents[1]
NPM_PREFIX = ROOT / ".cache" / "npm"
CODEX = NPM_PREFIX / "node_modules" / ".bin" / "codex"
CODEX_PACKAGE = "@openai/codex@0.169.0"
MODEL_PATHS = (b" /v1/chat/completions ", b" /v1/responses ")
DELAY_S = 0.050


class DelayProxy:
    """127.0.0.1 proxy to `port` adding `delay` seconds to every chunk in each direction, order kept.
    `first_model_byte` holds, per model request seen, the time its answer's first byte was delivered."""

    def __init__(self, port: int, delay: float) -> None:
        self.port, self.delay = port, delay
        self.first_model_byte: list[float] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.listen_port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.listen_port}/v1"

    def __enter__(self) -> DelayProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.port))
            pending = threading.Event()  # a model request went up and its answer has not started yet
            for source, sink, up in ((client, upstream, True), (upstream, client, False)):
                lane: queue.Queue[tuple[float, bytes]] = queue.Queue()
                threading.Thread(target=self._read, args=(source, lane, pending, up), daemon=True).start()
                threading.Thread(target=self._write, args=(sink, lane, pending, up), daemon=True).start()

    def _read(self, source: socket.socket, lane: queue.Queue, pending: threading.Event, up: bool) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if up and any(path in data for path in MODEL_PATHS):
                pending.set()
            lane.put((time.monotonic() + self.delay, data))
            if not data:
                return

    def _write(self, sink: socket.socket, lane: queue.Queue, pending: threading.Event, up: bool) -> None:
        while True:
            due, data = lane.get()
            time.sleep(max(0.0, due - time.monotonic()))
            if not data:
                with contextlib.suppress(OSError):
                    sink.shutdown(socket.SHUT_WR)
                return
            try:
                sink.sendall(data)
            except OSError:
                return
            if not up and pending.is_set():
                pending.clear()
                self.first_model_byte.append(time.monotonic())


@dataclass
class Sample:
    ttft: float | None
    total: float
    requests: list[str] = field(default_factory=list)


def run_once(argv: list[str], *, cwd: Path, env: dict[str, str], proxy: DelayProxy | None,
             fake: FakeResponses) -> Sample:
    seen, marks = len(fake.requests), len(proxy.first_model_byte) if proxy else 0
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, timeout=120)
    total = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(argv)}\n{proc.stderr.decode()[-2000:]}")
    ttft = proxy.first_model_byte[marks] - start if proxy and len(proxy.first_model_byte) > marks else None
    return Sample(ttft, total, [f"{r.method} {r.path}" for r in fake.requests[seen:]])


def ensure_codex() -> Path | None:
    if CODEX.exists():
        return CODEX
    npm = shutil.which("npm")
    if npm is None:
        print("note: npm not found; Codex CLI rows skipped", file=sys.stderr)
        return None
    subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(NPM_PREFIX),
                    CODEX_PACKAGE], check=True)
    return CODEX


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def run_latency(runs: int = 5) -> None:
    codex = ensure_codex()
    tools = {"ocodex": [sys.executable, "-m", "ocodex", "exec", "--oss", "-m", "gpt-oss:20b", "--json",
                        "--skip-git-repo-check", "say hi"]}
    if codex is not None:
        tools["codex 0.169"] = [str(codex), "exec", "--oss", "--local-provider", "ollama", "-m", "gpt-oss:20b",
                                "--json", "--skip-git-repo-check", "say hi"]
    home_var = {"ocodex": "OCODEX_HOME", "codex 0.169": "CODEX_HOME"}
    rows: dict[tuple[str, str, float], tuple[float | None, float, list[str]]] = {}
    with tempfile.TemporaryDirectory() as tmp, FakeResponses(models=["gpt-oss:20b"]) as fake:
        repo = Path(tmp, "repo")
        repo.mkdir()
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("CODEX_", "OCODEX_", "OLLAMA_"))}
        base.pop("PYTHONDONTWRITEBYTECODE", None)  # ocodex as installed: its bytecode cached after the first run
        base["OCODEX_HOST_MEMORY_GIB"] = "16"
        for delay in (0.0, DELAY_S):
            with DelayProxy(fake.port_number, delay) as proxy:
                for tool, argv in tools.items():
                    for phase in phases(tool):
                        warm_home = Path(tempfile.mkdtemp(dir=tmp))
                        extra = {"OCODEX_RESIDENT": "1" if phase == "resident" else "0"} if tool == "ocodex" else {}
                        if phase == "resident":
                            prime_resident(argv, cwd=repo, env={**base, **extra, "OCODEX_HOME": str(warm_home),
                                                                "CODEX_OSS_BASE_URL": proxy.base_url}, fake=fake)
                        samples = []
                        for index in range(runs + (1 if phase == "warm" else 0)):
                            home = Path(tempfile.mkdtemp(dir=tmp)) if phase == "cold" else warm_home
                            env = {**base, **extra, home_var[tool]: str(home), "CODEX_OSS_BASE_URL": proxy.base_url}
                            sample = run_once(argv, cwd=repo, env=env, proxy=proxy, fake=fake)
                            if phase != "warm" or index > 0:  # a warm series' first run primes its home
                                samples.append(sample)
                        if phase == "resident":
                            stop_resident(warm_home)
                        rows[(tool, phase, delay)] = (_median([s.ttft for s in samples]),
                                                      statistics.median(s.total for s in samples),
                                                      samples[-1].requests)
    rtt = 2 * DELAY_S
    print(f"\nInjected latency: {DELAY_S * 1000:.0f} ms each way (RTT {rtt * 1000:.0f} ms), median of {runs} runs")
    print(f"{'tool':12} {'run':8} {'requests':>8} {'TTFT ms':>8} {'total ms':>9} {'TTFT@0 ms':>10} "
          f"{'total@0 ms':>11} {'TTFT goal ms':>13}")
    for tool in tools:
        for phase in phases(tool):
            ttft, total, requests = rows[(tool, phase, DELAY_S)]
            ttft0, total0, _ = rows[(tool, phase, 0.0)]
            goal = 1.5 * rtt + ttft0 if ttft0 is not None else None
            print(f"{tool:12} {phase:8} {len(requests):8d} {_ms(ttft):>8} {_ms(total):>9} {_ms(ttft0):>10} "
                  f"{_ms(total0):>11} {_ms(goal):>13}")
    for tool in tools:
        for phase in phases(tool):
            print(f"  {tool} {phase}: {', '.join(rows[(tool, phase, DELAY_S)][2])}")
    if "codex 0.169" in tools:
        for phase in ("cold", "warm", "resident"):
            theirs = rows[("codex 0.169", "cold" if phase == "cold" else "warm", 0.0)][1]
            ours = rows[("ocodex", phase, 0.0)][1]
            print(f"one-shot exec --json, no added latency, {phase}: ocodex {ours * 1000:.0f} ms, Codex "
                  f"{theirs * 1000:.0f} ms: {ours / theirs:.2f} x (goal <= 0.50)")


def phases(tool: str) -> tuple[str, ...]:
    """cold: a fresh home each run; warm: one home, each run started afresh (OCODEX_RESIDENT=0); resident:
    one home, runs handed to the resident process (ocodex.resident), which the series starts first."""
    return ("cold", "warm", "resident") if tool == "ocodex" else ("cold", "warm")


def prime_resident(argv: list[str], *, cwd: Path, env: dict[str, str], fake: FakeResponses) -> None:
    """Direct runs until the resident process for `env`'s home listens (the second run starts it)."""
    run_dir = Path(env["OCODEX_HOME"], "run")
    for _ in range(3):
        run_once(argv, cwd=cwd, env=env, proxy=None, fake=fake)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if run_dir.is_dir() and any(p.suffix == ".sock" for p in run_dir.iterdir()):
                return  # it binds only once it has done its imports
            time.sleep(0.05)
    raise SystemExit("the resident process did not start")


def stop_resident(home: Path) -> None:
    """SIGTERM the resident process serving `home` (it removes its socket and exits)."""
    import signal

    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                if b"ocodex.resident.server" in argv and str(home).encode() in argv:
                    os.kill(int(entry.name), signal.SIGTERM)
