"""Escapes from the sandbox that a command holding capabilities could make (issue 10, item 1), and the
unix sockets, foreign-architecture syscalls and kernel interfaces the seccomp filter closes (item 5).

Every test really runs bubblewrap, and they are written to hold as root, as CI runs them: as root,
bubblewrap without a user namespace and `--cap-drop ALL` leaves a command every capability. Each
attack is tried for real and its effect checked on the host, not inferred from an exit code.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocodex.sandbox import SandboxPolicy, clear_availability_cache, confinement, run_command
from ocodex.sandbox.seccomp import compiled
from ocodex.tools.env import tool_env
from test_sandbox import needs_bwrap

pytestmark = needs_bwrap

REPO_SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    clear_availability_cache()
    yield
    clear_availability_cache()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / ".git" / "hooks").mkdir(parents=True)
    (ws / "code.py").write_text("print('hi')\n")
    return ws


def run(script: str, policy: SandboxPolicy, timeout_s: float = 20) -> tuple[int, str]:
    result = run_command(["/bin/sh", "-c", script], cwd=policy.cwd, policy=policy, timeout_s=timeout_s,
                         env=tool_env(policy=policy))
    return result.exit_code, result.output


def modes(workspace: Path) -> list[SandboxPolicy]:
    return [SandboxPolicy("read-only", workspace), SandboxPolicy("workspace-write", workspace),
            SandboxPolicy("workspace-write", workspace, network_access=True)]


def status_fields(text: str) -> dict[str, str]:
    return {k: v.strip() for k, _, v in (line.partition(":") for line in text.splitlines()) if v}


# ---- capabilities ------------------------------------------------------------------------------


def test_a_sandboxed_command_has_no_capabilities_in_any_mode(workspace: Path) -> None:
    for policy in modes(workspace):
        code, output = run("cat /proc/self/status", policy)
        fields = status_fields(output)
        assert code == 0, output
        for name in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            assert int(fields[name], 16) == 0, (policy.mode, name, fields[name])
        assert fields["NoNewPrivs"] == "1" and fields["Seccomp"] == "2", fields


def test_the_probe_proves_it_and_says_so(workspace: Path) -> None:
    seen = confinement(SandboxPolicy("read-only", workspace))
    assert seen is not None and seen.problem is None
    assert seen.line() == ("no capabilities inside (CapInh/Prm/Eff/Bnd/Amb all 0), no_new_privs, "
                           "seccomp filter loaded")
    assert int(seen.fields["CapBnd"], 16) == 0


def test_a_probe_that_sees_capabilities_refuses_the_mode(workspace: Path) -> None:
    from ocodex.errors import SandboxUnavailable
    from ocodex.sandbox.bwrap import verdict

    status = "CapInh:\t0000000000000000\nCapPrm:\t000001fffeffffff\nCapEff:\t000001fffeffffff\n" \
             "CapBnd:\t000001fffeffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n"
    with pytest.raises(SandboxUnavailable) as caught:
        verdict("read-only", "/usr/bin/bwrap", 0, status)
    assert "keeps capabilities (CapPrm 000001fffeffffff, CapEff 000001fffeffffff, CapBnd" in caught.value.message
    assert "danger-full-access" in (caught.value.hint or "")


def test_remounting_root_read_write_fails(workspace: Path) -> None:
    marker = f"ocodex-escape-{uuid.uuid4().hex}"
    script = (f"mount -o remount,rw / 2>&1; mount -o remount,bind,rw / 2>&1; touch /{marker} 2>&1; "
              f"mount -o remount,rw /etc 2>&1; touch /etc/{marker} 2>&1; echo done")
    for policy in modes(workspace):
        _code, output = run(script, policy)
        assert output.rstrip().endswith("done"), output
        assert not Path("/", marker).exists() and not Path("/etc", marker).exists(), (policy.mode, output)


def test_git_hooks_stay_unwritable_even_when_the_command_tries_to_unmount(workspace: Path) -> None:
    policy = SandboxPolicy("workspace-write", workspace)
    hook = workspace / ".git" / "hooks" / "pre-commit"
    script = ("umount .git 2>&1; umount -l .git 2>&1; mount -o remount,rw .git 2>&1; "
              "mount -o remount,bind,rw .git 2>&1; printf '#!/bin/sh\\necho owned\\n' > .git/hooks/pre-commit 2>&1; "
              "echo written > code.py; echo done")
    _code, output = run(script, policy)
    assert output.rstrip().endswith("done"), output
    assert not hook.exists(), output
    assert (workspace / "code.py").read_text() == "written\n"  # the workspace itself stays writable


def test_the_parent_environment_cannot_be_read_by_unmounting_proc(tmp_path: Path) -> None:
    secret = f"sk-parent-{uuid.uuid4().hex}"
    driver = textwrap.dedent(f"""
        import json, os, sys
        from pathlib import Path
        from ocodex.sandbox import SandboxPolicy, run_command
        from ocodex.tools.env import tool_env
        policy = SandboxPolicy("read-only", Path({str(tmp_path)!r}))
        env = tool_env(policy=policy)
        script = ("umount /proc 2>&1; umount -l /proc 2>&1; cat /proc/%d/environ 2>&1; "
                  "cat /proc/1/environ 2>&1; ls /proc | head -50" % os.getpid())
        result = run_command(["/bin/sh", "-c", script], cwd=policy.cwd, policy=policy, timeout_s=20, env=env)
        print(json.dumps({{"pid": os.getpid(), "output": result.output}}))
    """)
    env = {**os.environ, "OPENAI_API_KEY": secret, "PYTHONPATH": str(REPO_SRC)}
    done = subprocess.run([sys.executable, "-c", driver], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert secret not in report["output"]
    # The host's processes are not even visible: the sandbox has its own PID namespace.
    assert str(report["pid"]) not in report["output"].split()


def test_nsenter_into_the_host_network_namespace_fails(workspace: Path) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    reached: list[bytes] = []

    def accept() -> None:
        server.settimeout(30)
        try:
            conn, _ = server.accept()
            reached.append(conn.recv(100))
            conn.close()
        except OSError:
            pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    connect = (f"python3 -c \"import socket; s=socket.create_connection(('127.0.0.1', {port}), timeout=3); "
               f"s.sendall(b'escaped'); print('REACHED')\"")
    script = (f"umount /proc 2>&1; nsenter --net=/proc/{os.getpid()}/ns/net -- {connect} 2>&1; "
              f"nsenter -t {os.getpid()} -n -- {connect} 2>&1; {connect} 2>&1; echo done")
    try:
        for policy in modes(workspace)[:2]:
            _code, output = run(script, policy)
            assert "REACHED" not in output and output.rstrip().endswith("done"), output
    finally:
        server.close()
        thread.join(timeout=5)
    assert reached == []


# ---- unix sockets ------------------------------------------------------------------------------


class UnixServer:
    """A unix socket server on the host that records who reached it."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path) if isinstance(path, Path) else path)
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.reached: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    self.reached.append(conn.recv(100))
                    conn.sendall(b"pong")
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()
        if isinstance(self.path, Path):
            self.path.unlink(missing_ok=True)


def connect_script(address: str) -> str:
    return (f"python3 -c \"import socket; s=socket.socket(socket.AF_UNIX); s.settimeout(3); "
            f"s.connect({address!r}); s.sendall(b'ping'); print('REACHED', s.recv(4))\" 2>&1; echo done")


@pytest.fixture
def sockets(workspace: Path) -> Iterator[list[UnixServer]]:
    servers = [UnixServer(workspace / "agent.sock"), UnixServer(Path(f"/tmp/ocodex-test-{uuid.uuid4().hex[:8]}.sock")),
               UnixServer(f"\0ocodex-test-{uuid.uuid4().hex[:8]}")]
    yield servers
    for server in servers:
        server.close()


def test_no_unix_socket_outside_the_sandbox_answers_without_network(workspace: Path,
                                                                    sockets: list[UnixServer]) -> None:
    for policy in modes(workspace)[:2]:
        for server in sockets:
            _code, output = run(connect_script(str(server.path)), policy)
            assert "REACHED" not in output, (policy.mode, server.path, output)
            assert output.rstrip().endswith("done"), (policy.mode, server.path, output)
    assert all(server.reached == [] for server in sockets)
    # What a command sees: the socket call itself is refused.
    _code, output = run(connect_script(str(sockets[0].path)), modes(workspace)[0])
    assert "PermissionError: [Errno 1] Operation not permitted" in output


def test_with_network_access_unix_sockets_work_as_before(workspace: Path, sockets: list[UnixServer]) -> None:
    policy = SandboxPolicy("workspace-write", workspace, network_access=True)
    for server in sockets[:2]:
        _code, output = run(connect_script(str(server.path)), policy)
        assert "REACHED b'pong'" in output, output
    assert [server.reached for server in sockets[:2]] == [[b"ping"], [b"ping"]]


def test_an_allowed_socket_is_reachable_and_the_rest_of_run_is_hidden(workspace: Path) -> None:
    run_dir = Path("/run") if os.access("/run", os.W_OK) else None
    if run_dir is None:
        pytest.skip("needs a writable /run")
    allowed = UnixServer(run_dir / f"ocodex-allowed-{uuid.uuid4().hex[:8]}.sock")
    other = UnixServer(run_dir / f"ocodex-other-{uuid.uuid4().hex[:8]}.sock")
    try:
        policy = SandboxPolicy("workspace-write", workspace, allow_unix_sockets=[allowed.path])  # type: ignore[list-item]
        _code, output = run(connect_script(str(allowed.path)), policy)
        assert "REACHED b'pong'" in output, output
        _code, output = run(connect_script(str(other.path)), policy)
        assert "REACHED" not in output and "FileNotFoundError" in output, output
        # read-only mode has no such choice: the filter refuses unix sockets there.
        _code, output = run(connect_script(str(allowed.path)),
                           SandboxPolicy("read-only", workspace, allow_unix_sockets=[allowed.path]))  # type: ignore[list-item]
        assert "REACHED" not in output
        assert allowed.reached == [b"ping"] and other.reached == []
    finally:
        allowed.close()
        other.close()


def test_what_a_model_runs_still_works_without_unix_sockets(workspace: Path) -> None:
    (workspace / "test_it.py").write_text(textwrap.dedent("""
        import asyncio, multiprocessing, socket, subprocess, sys
        def square(x):
            return x * x
        def test_tools():
            a, b = socket.socketpair()
            a.sendall(b"x"); assert b.recv(1) == b"x"
            assert asyncio.run(asyncio.sleep(0, result=7)) == 7
            with multiprocessing.get_context("fork").Pool(2) as pool:
                assert pool.map(square, [1, 2, 3]) == [1, 4, 9]
            out = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True)
            assert out.stdout == "42\\n"
            server = socket.create_server(("127.0.0.1", 0))  # loopback inside the sandbox's own namespace
            client = socket.create_connection(server.getsockname())
            conn, _ = server.accept(); client.sendall(b"hi"); assert conn.recv(2) == b"hi"
    """))
    subprocess.run(["git", "init", "-q"], cwd=workspace, check=True)
    script = (f"{sys.executable} -m pytest -q -p no:cacheprovider test_it.py 2>&1 | tail -1; "
              "git status --short; git log --oneline 2>&1 | head -1; rg --files | sort")
    for policy in modes(workspace)[:2]:
        _code, output = run(script, policy, timeout_s=120)
        assert "1 passed" in output, (policy.mode, output)
        assert "?? code.py" in output and "code.py\ntest_it.py" in output, output


# ---- seccomp: other ways around the socket rule ------------------------------------------------

RAW_SYSCALL = textwrap.dedent("""
    import ctypes, mmap, struct, sys
    def run(code):
        buf = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        buf.write(code)
        return ctypes.CFUNCTYPE(ctypes.c_long)(ctypes.addressof(ctypes.c_char.from_buffer(buf)))()
    def native(nr, a0=0, a1=0, a2=0):  # mov rdi/rsi/rdx/rax, imm64; syscall; ret
        return run(b"\\x48\\xbf" + struct.pack("<q", a0) + b"\\x48\\xbe" + struct.pack("<q", a1)
                   + b"\\x48\\xba" + struct.pack("<q", a2) + b"\\x48\\xb8" + struct.pack("<q", nr) + b"\\x0f\\x05\\xc3")
    def i386(nr):  # push rbx; mov eax, nr; xor ebx, ebx; int 0x80; pop rbx; ret
        return run(b"\\x53\\xb8" + struct.pack("<i", nr) + b"\\x31\\xdb\\xcd\\x80\\x5b\\xc3")
    what = sys.argv[1]
    if what == "i386-getpid": print("survived", i386(20))
    if what == "x32-socket": print("survived", native(0x40000000 | 41, 1, 1, 0))
    if what == "native-socket-unix": print("result", native(41, 1, 1, 0))
    if what == "io_uring_setup": print("result", native(425, 8, 0, 0))
    if what == "keyctl": print("result", native(250, 0, -3, 0))  # KEYCTL_GET_KEYRING_ID, session keyring
""")


@pytest.mark.skipif(platform.machine() != "x86_64", reason="hand-assembled x86_64 machine code")
def test_foreign_architecture_syscalls_are_killed_and_bypasses_refused(workspace: Path) -> None:
    (workspace / "raw.py").write_text(RAW_SYSCALL)
    policy = SandboxPolicy("read-only", workspace)
    for what in ("i386-getpid", "x32-socket"):  # i386 socketcall/int 0x80 and x32 would dodge the rules
        _code, output = run(f"{sys.executable} raw.py {what}; echo exit=$?", policy)
        assert "survived" not in output and "exit=159" in output, (what, output)  # 128 + SIGSYS
    expected = {"native-socket-unix": "result -1", "io_uring_setup": "result -38", "keyctl": "result -1"}
    for what, line in expected.items():
        _code, output = run(f"{sys.executable} raw.py {what}", policy)
        assert output.strip() == line, (what, output)


def test_other_socket_families_are_refused_without_network(workspace: Path) -> None:
    (workspace / "families.py").write_text(textwrap.dedent("""
        import socket
        for family in (40, 31, 17):  # AF_VSOCK (a VM's host), AF_BLUETOOTH, AF_PACKET
            try:
                socket.socket(family, socket.SOCK_STREAM if family != 17 else socket.SOCK_RAW)
                print(family, "created")
            except OSError as exc:
                print(family, exc.errno)
    """))
    _code, output = run(f"{sys.executable} families.py", SandboxPolicy("read-only", workspace))
    assert output.split() == ["40", "97", "31", "97", "17", "97"], output  # EAFNOSUPPORT


def test_the_filter_is_compiled_once_and_differs_by_network(workspace: Path) -> None:
    closed, opened = compiled(network=False, unix_sockets=False), compiled(network=True, unix_sockets=False)
    assert len(closed) % 8 == 0 and len(opened) % 8 == 0 and len(closed) > len(opened)
    assert compiled(network=False, unix_sockets=False) is closed


def test_an_older_bubblewrap_without_disable_userns_still_drops_every_capability(
        tmp_path: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    real = shutil.which("bwrap")
    old = tmp_path / "bin" / "bwrap"
    old.parent.mkdir()
    old.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        if [ "$1" = --help ]; then {real} --help | grep -v -e --disable-userns -e -- '--size'; exit 0; fi
        for arg in "$@"; do
          case "$arg" in --disable-userns|--size) echo "bwrap: Unknown option $arg" >&2; exit 1;; esac
        done
        exec {real} "$@"
    """))
    old.chmod(0o755)
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which",
                        lambda name, *a, **k: str(old) if name == "bwrap" else real_which(name, *a, **k))
    seen = confinement(SandboxPolicy("read-only", workspace))
    assert seen is not None and seen.problem is None
    code, output = run("grep -E '^Cap(Eff|Bnd)' /proc/self/status", SandboxPolicy("workspace-write", workspace))
    assert code == 0 and output.split() == ["CapEff:", "0" * 16, "CapBnd:", "0" * 16], output
