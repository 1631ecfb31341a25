"""The resident process (ocodex.resident): the real launcher, a real resident process, the fake Ollama.

Which process did a run: the request log (`OCODEX_LOG_REQUESTS`) records the pid of the process that made
each request; a direct run is the launcher itself, a handed-over run a fork of the resident process.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import base_env, resident_servers
from fakes.fake_ollama import FakeOllama, Turn

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the resident process is Linux-only")
IDLE = "30"


@pytest.fixture
def resident_env(home: Path, fake: FakeOllama, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = base_env(home, fake.base_url) | {"OCODEX_RESIDENT": "1", "OCODEX_RESIDENT_IDLE_SEC": IDLE,
                                           "OCODEX_LOG_REQUESTS": str(tmp_path / "requests.jsonl")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    yield env
    for pid in resident_servers(home):  # none may outlive its test
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def run(env: dict[str, str], repo: Path, *args: str, stdin: str | None = None,
        **options) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ocodex", *args], cwd=repo, env=env, capture_output=True, text=True,
                          input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL, timeout=120,
                          **options)


def logged(env: dict[str, str]) -> list[dict]:
    path = Path(env["OCODEX_LOG_REQUESTS"])
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def request_pids(env: dict[str, str]) -> list[int]:
    """The pids that made the requests logged since the last call (the log is then emptied)."""
    pids = [record["pid"] for record in logged(env) if record["type"] == "request"]
    Path(env["OCODEX_LOG_REQUESTS"]).unlink(missing_ok=True)
    return pids


def model_request_sent(env: dict[str, str]) -> bool:
    return any(record["type"] == "request" and "chat/completions" in record.get("url", "") for record in logged(env))


def ended(pid: int) -> bool:
    """Gone, or a zombie nobody has reaped yet (an orphan's reaper may be slow, or none)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].startswith("Z")
    except OSError:
        return True


def wait_for(condition, within: float = 30.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def start_resident(env: dict[str, str], repo: Path, fake: FakeOllama, home: Path) -> int:
    """Direct runs until one has started the resident process (the second does); its pid once it listens."""
    for _ in range(2):
        if (home / "run").is_dir() and resident_servers(home):
            break
        fake.script(Turn.text("direct"))
        assert run(env, repo, "exec", "--oss", "--json", "hi").returncode == 0
    assert wait_for(lambda: any(p.suffix == ".sock" for p in (home / "run").iterdir())), "no resident process"
    assert wait_for(lambda: len(resident_servers(home)) == 1)
    request_pids(env)
    return resident_servers(home)[0]


def slow_run(env: dict[str, str], repo: Path, fake: FakeOllama, **streams) -> tuple[subprocess.Popen, int]:
    """A handed-over run whose model answers in a minute, once it has asked: the launcher, and the run's pid."""
    fake.script(Turn.text("slow", delay=60))
    proc = subprocess.Popen([sys.executable, "-m", "ocodex", "exec", "--oss", "--json", "hi"], cwd=repo, env=env,
                            stdin=subprocess.DEVNULL, **streams)
    assert wait_for(lambda: model_request_sent(env))
    (pid,) = set(request_pids(env))
    assert pid != proc.pid
    return proc, pid


def test_a_single_run_leaves_nothing_behind_and_the_second_starts_one(resident_env, repo, fake, home) -> None:
    fake.script(Turn.text("one"))
    first = run(resident_env, repo, "exec", "--oss", "--json", "hi")
    assert first.returncode == 0, first.stderr
    time.sleep(0.5)
    assert resident_servers(home) == []
    start_resident(resident_env, repo, fake, home)


def test_the_third_run_is_a_fork_of_the_resident_process_and_looks_the_same(resident_env, repo, fake, home) -> None:
    fake.script(Turn.text("direct answer"))
    direct = run(resident_env, repo, "exec", "--oss", "--json", "hi")
    start_resident(resident_env, repo, fake, home)
    fake.script(Turn.text("direct answer"))
    handed = run(resident_env, repo, "exec", "--oss", "--json", "hi")
    (pid,) = set(request_pids(resident_env))
    assert ended(pid)  # the fork ended with the run
    assert handed.returncode == 0, handed.stderr

    def shape(output: str) -> list[str]:
        return [json.loads(line)["type"] for line in output.splitlines()]

    assert shape(handed.stdout) == shape(direct.stdout)
    assert handed.stdout.splitlines()[-2] == direct.stdout.splitlines()[-2]  # the agent message itself
    assert handed.stderr == direct.stderr


def test_a_run_takes_the_caller_s_stdin_cwd_environment_umask_and_exit_code(resident_env, repo, fake, home,
                                                                          tmp_path) -> None:
    server = start_resident(resident_env, repo, fake, home)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    subprocess.run(["git", "init", "-q", str(elsewhere)], check=True)
    (elsewhere / "marker.txt").write_text("here\n")
    fake.script(Turn.tool_call("shell", {"command": ["bash", "-c", "pwd; ls; echo $RESIDENT_PROBE; umask"]}),
                Turn.text("done"))
    env = resident_env | {"RESIDENT_PROBE": "from-the-caller"}
    handed = run(env, elsewhere, "exec", "--oss", "--json", "-", stdin="the prompt from stdin",
                 preexec_fn=lambda: os.umask(0o027))
    assert handed.returncode == 0, handed.stderr
    pids = set(request_pids(resident_env))
    assert server not in pids and len(pids) == 1
    first = json.dumps(fake.chat_requests[-2]["messages"])
    assert "the prompt from stdin" in first
    tool_output = [m["content"] for m in fake.chat_requests[-1]["messages"] if m["role"] == "tool"][-1]
    assert str(elsewhere) in tool_output and "marker.txt" in tool_output
    assert "from-the-caller" in tool_output and "0027" in tool_output

    fake.script(Turn.error(400, "no such thing"))
    failed = run(resident_env, repo, "exec", "--oss", "--json", "hi")
    assert failed.returncode == 1 and server not in set(request_pids(resident_env))


def test_ctrl_c_and_sigterm_reach_the_run(resident_env, repo, fake, home) -> None:
    start_resident(resident_env, repo, fake, home)
    for signum, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        fake.script(Turn.text("slow", delay=30))
        proc = subprocess.Popen([sys.executable, "-m", "ocodex", "exec", "--oss", "--json", "hi"], cwd=repo,
                                env=resident_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            assert wait_for(lambda: model_request_sent(resident_env))
            proc.send_signal(signum)
            _out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == code, err
        (pid,) = set(request_pids(resident_env))
        assert pid != proc.pid and wait_for(lambda: ended(pid))  # noqa: B023 - used at once


def test_a_killed_launcher_s_run_is_stopped(resident_env, repo, fake, home) -> None:
    start_resident(resident_env, repo, fake, home)
    proc, pid = slow_run(resident_env, repo, fake, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc.kill()
    proc.wait()
    assert wait_for(lambda: ended(pid)), "the run outlived its launcher"


def test_runs_that_cannot_be_handed_over_run_directly(resident_env, repo, fake, home) -> None:
    server = start_resident(resident_env, repo, fake, home)
    cases = [(resident_env | {"OCODEX_RESIDENT": "0"}, []),
             (resident_env, ["-X", "importtime"]),
             (resident_env | {"LANG": "C.UTF-8" if resident_env.get("LANG") != "C.UTF-8" else "C"}, [])]
    for env, flags in cases:
        fake.script(Turn.text("direct"))
        proc = subprocess.Popen([sys.executable, *flags, "-m", "ocodex", "exec", "--oss", "--json", "hi"], cwd=repo,
                                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.communicate(timeout=120)
        assert proc.returncode == 0
        assert set(request_pids(resident_env)) == {proc.pid}, (env.get("LANG"), flags)
    assert resident_servers(home) == [server]


def test_it_exits_when_idle_and_removes_its_socket(resident_env, repo, fake, home) -> None:
    env = resident_env | {"OCODEX_RESIDENT_IDLE_SEC": "2"}
    server = start_resident(env, repo, fake, home)
    assert wait_for(lambda: ended(server)), "still there"
    assert not any(p.suffix == ".sock" for p in (home / "run").iterdir())
    fake.script(Turn.text("direct again"))
    again = run(env, repo, "exec", "--oss", "--json", "hi")
    assert again.returncode == 0 and "direct again" in again.stdout


def test_the_place_is_private(resident_env, repo, fake, home) -> None:
    start_resident(resident_env, repo, fake, home)
    mode = (home / "run").stat().st_mode & 0o777
    assert mode == 0o700
    shutil.rmtree(home / "run")
    (home / "run").mkdir(mode=0o755)
    os.chmod(home / "run", 0o755)  # someone else could enter it: never used
    fake.script(Turn.text("direct"))
    proc = subprocess.Popen([sys.executable, "-m", "ocodex", "exec", "--oss", "--json", "hi"], cwd=repo,
                            env=resident_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.communicate(timeout=120)
    assert proc.returncode == 0 and set(request_pids(resident_env)) == {proc.pid}
    assert list((home / "run").iterdir()) == []


def in_own_namespaces(script: str, *, writable: bool = False) -> list[str]:
    """`python -c script` in a user and PID namespace of its own, as every sandboxed command is."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        pytest.skip("bubblewrap is not installed (scripts/test installs it)")
    return [bwrap, "--unshare-user", "--unshare-pid", "--die-with-parent", "--bind" if writable else "--ro-bind",
            "/", "/", "--dev", "/dev", "--proc", "/proc", sys.executable, "-c", script]


def test_a_sandboxed_process_is_refused_unread(resident_env, repo, fake, home) -> None:
    """A command in its own user namespace (as every sandboxed command is) gets no answer, and no run."""
    start_resident(resident_env, repo, fake, home)
    (sock,) = [p for p in (home / "run").iterdir() if p.suffix == ".sock"]
    probe = ("import socket\n"
             "s = socket.socket(socket.AF_UNIX)\n"
             f"s.connect({str(sock)!r})\n"
             "try:\n"
             "    s.sendall(b'OCXR1' + b'\\0' * 64)\n"
             "    s.settimeout(10)\n"
             "    print('answer:', s.recv(64))\n"
             "except OSError as e:\n"
             "    print('closed:', type(e).__name__)\n")
    done = subprocess.run(in_own_namespaces(probe), capture_output=True, text=True, timeout=60)
    said = done.stdout.strip()  # closed before a word was read: EOF, or a reset/broken pipe if it was quicker
    assert said in ("answer: b''", "closed: ConnectionResetError", "closed: BrokenPipeError"), said + done.stderr
    assert resident_servers(home) and request_pids(resident_env) == []  # no run was started


def test_a_listener_that_is_not_ours_is_never_sent_a_run(resident_env, repo, fake, home) -> None:
    """A socket at the resident process's address, bound by a process in another user namespace (a sandboxed
    command with network access, say): the launcher checks the listener first, sends it nothing, runs directly."""
    server = start_resident(resident_env, repo, fake, home)
    (sock,) = [p for p in (home / "run").iterdir() if p.suffix == ".sock"]
    os.kill(server, signal.SIGKILL)
    assert wait_for(lambda: ended(server))
    sock.unlink()
    listener = ("import socket\n"
                "s = socket.socket(socket.AF_UNIX)\n"
                f"s.bind({str(sock)!r})\n"
                "s.listen(1)\n"
                "print('listening', flush=True)\n"
                "c, _ = s.accept()\n"
                "c.settimeout(5)\n"
                "try:\n"
                "    print('got', len(c.recv(65536)), flush=True)\n"
                "except OSError as e:\n"
                "    print('got nothing', flush=True)\n")
    impostor = subprocess.Popen(in_own_namespaces(listener, writable=True), stdout=subprocess.PIPE, text=True)
    try:
        assert impostor.stdout is not None and impostor.stdout.readline().strip() == "listening"
        fake.script(Turn.text("direct"))
        proc = subprocess.Popen([sys.executable, "-m", "ocodex", "exec", "--oss", "--json", "hi"], cwd=repo,
                                env=resident_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        proc.communicate(timeout=120)
        assert proc.returncode == 0 and set(request_pids(resident_env)) == {proc.pid}
        said = impostor.stdout.readline().strip()
        assert said in ("got 0", "got nothing"), said
    finally:
        impostor.kill()
        impostor.wait()


def test_the_key_is_the_same_for_the_same_start_and_differs_when_the_start_would(tmp_path) -> None:
    code = "from ocodex.resident.place import key; print(key())"

    def key_with(**env: str) -> str:
        full = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | env
        return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True,
                              check=True).stdout.strip()

    same = key_with()
    assert key_with() == same and len(same) == 16
    assert key_with(LANG="C") != same or os.environ.get("LANG") == "C"
    assert key_with(PYTHONPATH=str(tmp_path)) != same
    assert subprocess.run(["bash", "-c", f"ulimit -n 512; {sys.executable} -c '{code}'"], capture_output=True,
                          text=True, check=True).stdout.strip() != same


def test_the_sockets_path_is_resolved_through_the_checked_directory(tmp_path) -> None:
    from ocodex.resident.place import open_dir, via

    fd = open_dir(str(tmp_path), create=True)
    assert fd is not None
    try:
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(via(fd, "x.sock"))
        listener.listen(1)
        (tmp_path / "run").rename(tmp_path / "moved")
        (tmp_path / "run").symlink_to("/")  # swapped for a link after the check: the descriptor still holds
        client = socket.socket(socket.AF_UNIX)
        client.connect(via(fd, "x.sock"))
        client.close()
        listener.close()
        assert (tmp_path / "moved" / "x.sock").exists()
    finally:
        os.close(fd)
    assert open_dir(str(tmp_path), create=False) is None  # a link is never followed


def test_a_launcher_confined_otherwise_is_never_served(resident_env, repo, fake, home) -> None:
    """no_new_privs (as under an outer sandbox or a seccomp filter): the run keeps it, so it runs directly."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed")
    start_resident(resident_env, repo, fake, home)
    fake.script(Turn.text("direct"))
    proc = subprocess.Popen([setpriv, "--no-new-privs", sys.executable, "-m", "ocodex", "exec", "--oss", "--json",
                             "hi"], cwd=repo, env=resident_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert set(request_pids(resident_env)) == {proc.pid}  # setpriv execs: the launcher is this pid


def test_a_run_killed_by_a_signal_ends_its_launcher_by_it(resident_env, repo, fake, home) -> None:
    start_resident(resident_env, repo, fake, home)
    proc, pid = slow_run(resident_env, repo, fake, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.kill(pid, signal.SIGKILL)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err


def test_a_resident_process_that_dies_mid_run_takes_the_run_with_it_and_says_so(resident_env, repo, fake,
                                                                               home) -> None:
    server = start_resident(resident_env, repo, fake, home)
    proc, pid = slow_run(resident_env, repo, fake, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    os.kill(server, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert err.splitlines()[-1].startswith("error: the resident ocodex process ended before the run did"), err
    assert ended(pid), "the run went on unattended"
    assert "turn.completed" not in out


def test_its_pid_file_names_it_and_sigterm_ends_it_cleanly(resident_env, repo, fake, home) -> None:
    server = start_resident(resident_env, repo, fake, home)
    (pidfile,) = [p for p in (home / "run").iterdir() if p.suffix == ".pid"]
    assert int(pidfile.read_text()) == server
    os.kill(int(pidfile.read_text()), signal.SIGTERM)
    assert wait_for(lambda: ended(server))
    assert sorted(p.suffix for p in (home / "run").iterdir()) == [".last", ".lock"]


def test_a_fifo_where_the_marker_goes_does_not_hang_a_run(resident_env, repo, fake, home) -> None:
    from ocodex.resident.place import key

    fake.script(Turn.text("first"))
    assert run(resident_env, repo, "exec", "--oss", "--json", "hi").returncode == 0
    (marker,) = [p for p in (home / "run").iterdir() if p.suffix == ".last"]
    marker.unlink()
    os.mkfifo(marker)
    fake.script(Turn.text("second"))
    second = run(resident_env, repo, "exec", "--oss", "--json", "hi")
    assert second.returncode == 0 and "second" in second.stdout
    assert resident_servers(home) == [] and len(key()) == 16


def test_a_launcher_that_may_not_make_a_unix_socket_runs_directly(monkeypatch, tmp_path) -> None:
    """Inside a sandbox (seccomp: AF_UNIX is EPERM) with a resident place visible: no traceback, a direct run."""
    from ocodex.resident import client, place

    monkeypatch.setenv("OCODEX_RESIDENT", "1")
    monkeypatch.setenv("OCODEX_HOME", str(tmp_path))
    fd = place.open_dir(str(tmp_path), create=True)
    assert fd is not None
    os.close(fd)
    monkeypatch.setattr(client, "eligible", lambda: True)

    def refused(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(client.socket, "socket", refused)
    assert client.hand_over() is None
