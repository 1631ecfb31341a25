"""The seed's SSH tunnel, for real: sshd on a loopback port with keys made here, `ssh -N -L` (and
`ocodex tunnel`, which wraps it) to the fake Ollama, and `ocodex exec` through the tunnel."""

from __future__ import annotations

import getpass
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import base_env
from fakes.fake_ollama import FakeOllama

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
pytestmark = pytest.mark.skipif(SSHD is None or shutil.which("ssh") is None,
                                reason="needs openssh-server and openssh-client (scripts/test installs them)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {port} (exit code {proc.poll()})") from None
            time.sleep(0.05)


@dataclass
class SshServer:
    port: int
    user: str
    key: Path

    def options(self) -> list[str]:
        return ["-p", str(self.port), "-i", str(self.key), "-F", "/dev/null", "-o", "BatchMode=yes",
                "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR"]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    directory = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(directory / name)], check=True)
    (directory / "authorized_keys").write_text((directory / "client_key.pub").read_text())
    port = _free_port()
    config = directory / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {directory / 'host_key'}",
        f"AuthorizedKeysFile {directory / 'authorized_keys'}", f"PidFile {directory / 'sshd.pid'}",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
        "StrictModes no",  # the keys live in a pytest temp dir
        "PermitRootLogin prohibit-password", "AllowTcpForwarding local", "X11Forwarding no",
        "PermitTTY no", "",
    ]))
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    server = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        _wait_port(port, server)
        yield SshServer(port, getpass.getuser(), directory / "client_key")
    finally:
        server.terminate()
        server.wait(10)


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_exec_through_ssh_n_l_as_the_seed_recommends(ocodex, sshd: SshServer) -> None:
    with FakeOllama(models=["gpt-oss:20b"], default_reply="through the tunnel") as remote:
        local = _free_port()
        tunnel = subprocess.Popen(["ssh", "-N", "-L", f"{local}:localhost:{remote.port_number}",
                                   "-o", "ExitOnForwardFailure=yes", *sshd.options(), f"{sshd.user}@127.0.0.1"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_port(local, tunnel)
            run = ocodex("exec", "--oss", "say hi", env={"CODEX_OSS_BASE_URL": f"http://localhost:{local}/v1"})
        finally:
            _stop(tunnel)
        assert run.returncode == 0, run.stderr
        assert run.stdout == "through the tunnel\n"
        assert len(remote.chat_requests) == 1
        assert "plain HTTP" not in run.stderr  # a tunnel is loopback: nothing to warn about


def _read_line(proc: subprocess.Popen, timeout: float) -> str:
    """The first stdout line of `proc`, or '' when it exits or time runs out."""
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    try:
        if selector.select(timeout):
            return proc.stdout.readline()
        return ""
    finally:
        selector.close()


def test_ocodex_tunnel_checks_the_tunnel_and_prints_the_base_url(ocodex, home: Path, sshd: SshServer) -> None:
    with FakeOllama(models=["gpt-oss:20b"], default_reply="via ocodex tunnel") as remote:
        local = _free_port()
        tunnel = subprocess.Popen(
            [sys.executable, "-m", "ocodex", "tunnel", "--local-port", str(local), "--remote-port",
             str(remote.port_number), f"{sshd.user}@127.0.0.1", "--", *sshd.options()],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=base_env(home, None))
        try:
            line = _read_line(tunnel, 30)
            assert line == f"export CODEX_OSS_BASE_URL=http://localhost:{local}/v1\n", tunnel.stderr.read() \
                if tunnel.poll() is not None else line
            run = ocodex("exec", "--oss", "say hi", env={"CODEX_OSS_BASE_URL": line.split("=", 1)[1].strip()})
            assert run.returncode == 0, run.stderr
            assert run.stdout == "via ocodex tunnel\n"
        finally:
            _stop(tunnel, signal.SIGINT)
        assert tunnel.returncode == 0
        stderr = tunnel.stderr.read()
        assert "tunnel up: Ollama 0.13.4" in stderr and "tunnel closed" in stderr


def test_ocodex_tunnel_fails_clearly_when_the_local_port_is_taken(ocodex, sshd: SshServer) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = ocodex("tunnel", "--local-port", str(port), f"{sshd.user}@127.0.0.1", "--", *sshd.options())
    assert run.returncode == 1
    assert "error: ssh exited with code 255 before the tunnel was up" in run.stderr
    assert "hint: check the destination, your key, and that the local port is free" in run.stderr


def test_ocodex_tunnel_rejects_bad_ports(ocodex) -> None:
    run = ocodex("tunnel", "--local-port", "70000", "user@host")
    assert run.returncode == 2 and "error: --local-port must be between 1 and 65535" in run.stderr
