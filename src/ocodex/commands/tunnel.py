"""`ocodex tunnel user@host`: the seed's recommended SSH tunnel, checked and explained.

Wraps `ssh -N -L 127.0.0.1:LOCAL:localhost:REMOTE user@host` (with ExitOnForwardFailure, so a busy
local port is an error rather than a silent no-op), waits until Ollama answers through it, prints the
`export CODEX_OSS_BASE_URL=...` line to use in other shells, then keeps the tunnel open until Ctrl-C
or until ssh exits. Extra ssh options go after `--` (e.g. `-- -p 2222 -i ~/.ssh/gpu`).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time

from ocodex.commands.common import run_guarded
from ocodex.errors import OcodexError, UsageError
from ocodex.render.safe import terminal_safe

READY_TIMEOUT = 30.0
"""Seconds to wait for Ollama to answer through the tunnel."""


def ssh_command(dest: str, local_port: int, remote_port: int, remote_host: str, extra: list[str]) -> list[str]:
    return ["ssh", "-N", "-L", f"127.0.0.1:{local_port}:{remote_host}:{remote_port}",
            "-o", "ExitOnForwardFailure=yes", "-o", "ServerAliveInterval=30", *extra, dest]


def _wait_ready(proc: subprocess.Popen[bytes], url: str, timeout: float) -> str | None:
    """Ollama's version once `url` answers; raises when ssh exits or time runs out."""
    import httpx

    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise OcodexError(f"ssh exited with code {code} before the tunnel was up",
                              hint="check the destination, your key, and that the local port is free "
                                   "(ssh's own message is above)")
        try:
            # Our own loopback end of the tunnel: an HTTP(S)_PROXY from the environment cannot reach it.
            response = httpx.get(f"{url}/api/version", timeout=2.0, trust_env=False)
            if response.is_success:
                return str(response.json().get("version") or "unknown")
            last = f"HTTP {response.status_code}"
        except (httpx.HTTPError, ValueError) as exc:
            last = str(exc) or type(exc).__name__
        time.sleep(0.2)
    raise OcodexError(f"the tunnel is open but nothing answered at {url} within {timeout:g}s ({last})",
                      hint="is Ollama running on the remote host, on the port given by --remote-port?")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.description = ("Run `ssh -N -L 127.0.0.1:LOCAL:localhost:REMOTE DEST`, wait until Ollama answers "
                          "through it, print the CODEX_OSS_BASE_URL to use, and keep it open until Ctrl-C. Give "
                          "options before USER@HOST; extra ssh options go after `--`, e.g. "
                          "`ocodex tunnel --local-port 11435 me@gpu-box -- -p 2222 -i ~/.ssh/gpu`.")
    parser.add_argument("destination", metavar="USER@HOST")
    parser.add_argument("--local-port", type=int, default=11434, help="port on this machine (default 11434)")
    parser.add_argument("--remote-port", type=int, default=11434, help="Ollama's port there (default 11434)")
    parser.add_argument("--remote-host", default="localhost", help="Ollama's host as seen from there")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for Ollama to answer")
    parser.add_argument("ssh_args", nargs="*", metavar="-- SSH_OPTION",
                        help="options passed to ssh, after `--` (e.g. -- -p 2222 -i KEY)")
    parser.set_defaults(run=run_tunnel)


def run_tunnel(args: argparse.Namespace) -> int:
    return run_guarded(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    for name in ("local_port", "remote_port"):
        port = getattr(args, name)
        if not 1 <= port <= 65535:
            raise UsageError(f"--{name.replace('_', '-')} must be between 1 and 65535 (got {port})")
    if shutil.which("ssh") is None:
        raise OcodexError("ssh is not installed", hint="install OpenSSH (apt-get install openssh-client)")
    extra = [a for a in args.ssh_args if a != "--"]
    command = ssh_command(args.destination, args.local_port, args.remote_port, args.remote_host, extra)
    url = f"http://localhost:{args.local_port}"
    err = sys.stderr
    err.write(f"tunnel: {' '.join(command)}\n")
    err.flush()
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    try:
        version = _wait_ready(proc, f"http://127.0.0.1:{args.local_port}", args.timeout)
        err.write(terminal_safe(f"tunnel up: Ollama {version} on {args.destination} is at {url}; "
                                "in another shell:") + "\n")
        err.flush()
        print(f"export CODEX_OSS_BASE_URL={url}/v1", flush=True)
        err.write("press Ctrl-C to close the tunnel\n")
        err.flush()
        code = proc.wait()
        if code != 0:
            raise OcodexError(f"ssh exited with code {code}; the tunnel is closed",
                              hint="run the command again to reopen it")
        return 0
    except KeyboardInterrupt:
        err.write("tunnel closed\n")
        return 0
    finally:
        _stop(proc)
