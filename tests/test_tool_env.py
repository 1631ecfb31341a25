"""The tools' environment (ocodex.tools.env): one function, no credentials, no ocodex or socket
variables, rg on PATH, and a scratch HOME in the sandbox so a read-only home does not make tools talk."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocodex.config import ProjectFilters, ProviderConfig
from ocodex.redact import scrub
from ocodex.sandbox import SandboxPolicy, run_command, scratch_home, scratch_tmp
from ocodex.tools.env import ripgrep_wheel_binary, tool_env, without_url_credentials
from test_sandbox import needs_bwrap

BASE = {"PATH": "/usr/bin:/bin", "HOME": "/home/u", "LANG": "C.UTF-8", "TERM": "xterm"}


def full_access(tmp_path: Path) -> SandboxPolicy:
    return SandboxPolicy("danger-full-access", tmp_path)


def test_credentials_are_removed(tmp_path: Path) -> None:
    environ = {**BASE, "OPENAI_API_KEY": "sk-1", "GITHUB_TOKEN": "ghp", "AWS_SECRET_ACCESS_KEY": "x",
               "DB_PASSWORD": "p", "MY_CREDENTIALS": "c", "OLLAMA_PROXY_AUTH": "Basic abc", "NPM_PASS": "n",
               "SESSION_COOKIE": "c", "CODEX_API_KEY": "sk-2", "MYSQL_PWD": "m", "PWD": "/w", "OLDPWD": "/v",
               "PROVIDER_VAR": "v", "HEADER_VAR": "h",
               "GIT_AUTHOR_NAME": "Ann", "XAUTHORITY": "/home/u/.Xauthority"}
    provider = ProviderConfig(id="lan", name="lan", env_key="PROVIDER_VAR",
                              env_http_headers={"X-Thing": "HEADER_VAR"})
    env = tool_env(policy=full_access(tmp_path), providers=[provider], environ=environ)
    assert env == {**BASE, "GIT_AUTHOR_NAME": "Ann", "XAUTHORITY": "/home/u/.Xauthority", "PWD": "/w",
                   "OLDPWD": "/v"}


def test_passwords_in_urls_are_cut_out_and_masked_in_output(tmp_path: Path) -> None:
    environ = {**BASE, "HTTPS_PROXY": "http://alice:pr0xy-pw@proxy.example:3128",
               "HTTP_PROXY": "http://bob:hunter22@proxy.example:3128/", "ALL_PROXY": "socks5://tok3n-user-0123456789ab@p:1080",
               "NO_PROXY": "localhost,127.0.0.1", "DATABASE_URL": "postgres://app:db-pw-9@db:5432/app",
               "PIP_INDEX_URL": "https://__token__:pypi-AgEIcHlwaS5vcmc@pypi.example/simple",
               "OPENAI_BASE_URL": "https://user:base-pw@api.example/v1", "PLAIN_URL": "https://example.com/a@b"}
    env = tool_env(policy=full_access(tmp_path), environ=environ)
    assert env["HTTPS_PROXY"] == "http://proxy.example:3128"
    assert env["HTTP_PROXY"] == "http://proxy.example:3128/"
    assert env["ALL_PROXY"] == "socks5://p:1080"
    assert env["NO_PROXY"] == "localhost,127.0.0.1"
    assert env["DATABASE_URL"] == "postgres://db:5432/app"
    assert env["PIP_INDEX_URL"] == "https://pypi.example/simple"
    assert env["OPENAI_BASE_URL"] == "https://api.example/v1"
    assert env["PLAIN_URL"] == "https://example.com/a@b"
    # The passwords are now registered secrets: a command that prints one shows *** to the model.
    leaked = "pr0xy-pw hunter22 db-pw-9 pypi-AgEIcHlwaS5vcmc base-pw tok3n-user-0123456789ab"
    assert scrub(leaked) == " ".join(["***"] * 6)


@given(st.text(alphabet="abcxyz:/@.-_%", max_size=40))
def test_url_stripping_never_keeps_userinfo(value: str) -> None:
    out = without_url_credentials(f"https://{value}/path")
    authority = out.split("://", 1)[1].split("/", 1)[0]
    assert "@" not in authority
    assert out.endswith("/path") or "/" in value


def test_ocodex_and_socket_variables_are_dropped(tmp_path: Path) -> None:
    environ = {**BASE, "OCODEX_HOME": "/home/u/.ocodex", "OCODEX_LOG_REQUESTS": "/tmp/requests.jsonl",
               "OCODEX_HOST_MEMORY_GIB": "16", "CODEX_HOME": "/home/u/.codex",
               "CODEX_OSS_BASE_URL": "https://u:p@ollama.example/v1", "CODEX_OSS_PORT": "11434",
               "SSH_AUTH_SOCK": "/tmp/ssh-XXXX/agent.1", "SSH_AGENT_PID": "12",
               "DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus", "DBUS_SYSTEM_BUS_ADDRESS": "x",
               "DOCKER_HOST": "unix:///var/run/docker.sock", "TMUX": "/tmp/tmux-0/default,1,0",
               "GPG_AGENT_INFO": "/run/user/1000/gnupg/S.gpg-agent", "KRB5CCNAME": "FILE:/tmp/krb5cc_0"}
    assert tool_env(policy=full_access(tmp_path), environ=environ) == BASE


def test_an_allowed_socket_keeps_the_variable_that_names_it(tmp_path: Path) -> None:
    environ = {**BASE, "DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus", "SSH_AUTH_SOCK": "/tmp/a"}
    policy = SandboxPolicy("workspace-write", tmp_path, allow_unix_sockets=[Path("/run/user/1000/bus")])
    env = tool_env(policy=policy, environ=environ)
    assert env["DBUS_SESSION_BUS_ADDRESS"] == "unix:path=/run/user/1000/bus" and "SSH_AUTH_SOCK" not in env


def test_project_filters_reach_ripgrep_through_the_same_function(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = tool_env(policy=full_access(tmp_path), filters=ProjectFilters(include=["src/**"], exclude=["*.min.js"]),
                   home=home, environ=BASE)
    config = Path(env["RIPGREP_CONFIG_PATH"])
    assert config.parent == home / "cache" and config.read_text() == "--glob=src/**\n--glob=!*.min.js\n"
    assert "RIPGREP_CONFIG_PATH" not in tool_env(policy=full_access(tmp_path), filters=ProjectFilters(),
                                                 home=home, environ=BASE)


def test_a_sandbox_gets_a_scratch_home_that_keeps_the_real_config(tmp_path: Path) -> None:
    real = tmp_path / "realhome"
    (real / ".config").mkdir(parents=True)
    (real / ".gitconfig").write_text("[user]\n\tname = Ann\n\temail = ann@example.com\n")
    (real / ".cargo").mkdir()
    environ = {**BASE, "HOME": str(real), "XDG_CACHE_HOME": "/elsewhere/cache"}
    ro = tool_env(policy=SandboxPolicy("read-only", tmp_path), environ=environ)
    assert ro["HOME"] == str(scratch_home()) and ro["XDG_CACHE_HOME"] == str(scratch_home() / ".cache")
    assert ro["TMPDIR"] == str(scratch_tmp())
    assert ro["XDG_CONFIG_HOME"] == str(real / ".config") and ro["GIT_CONFIG_GLOBAL"] == str(real / ".gitconfig")
    assert ro["CARGO_HOME"] == str(real / ".cargo") and "RUSTUP_HOME" not in ro  # only what exists
    ws = tool_env(policy=SandboxPolicy("workspace-write", tmp_path), environ=environ)
    assert ws["HOME"] == str(scratch_home()) and "TMPDIR" not in ws  # /tmp is writable there
    full = tool_env(policy=full_access(tmp_path), environ=environ)
    assert full["HOME"] == str(real) and "GIT_CONFIG_GLOBAL" not in full


# ---- rg ----------------------------------------------------------------------------------------


def test_the_ripgrep_wheel_is_found_through_its_package() -> None:
    binary = ripgrep_wheel_binary()
    assert binary is not None and binary.name == "rg" and os.access(binary, os.X_OK)
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("ripgrep 14.1.0")


@pytest.fixture
def path_without_rg(tmp_path: Path) -> str:
    """A PATH with what a shell command needs but no ripgrep."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "sh", "env", "cat", "ls", "id", "head", "tr", "dirname", "basename"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def test_rg_is_on_the_tools_path_when_the_system_has_none(tmp_path: Path, path_without_rg: str) -> None:
    (tmp_path / "notes.txt").write_text("needle here\n")
    env = tool_env(policy=full_access(tmp_path), environ={**BASE, "PATH": path_without_rg})
    assert env["PATH"].startswith(path_without_rg + os.pathsep)
    added = Path(env["PATH"].split(os.pathsep)[-1])
    assert sorted(p.name for p in added.iterdir()) == ["rg"]  # not the virtualenv's python or pip
    done = subprocess.run(["bash", "-c", "rg -n needle"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          check=False)
    assert done.stdout == "notes.txt:1:needle here\n", done.stderr


@needs_bwrap
def test_rg_survives_a_login_shell_in_the_sandbox(tmp_path: Path, path_without_rg: str) -> None:
    (tmp_path / "notes.txt").write_text("needle here\n")
    policy = SandboxPolicy("read-only", tmp_path)
    env = tool_env(policy=policy, environ={**os.environ, "PATH": path_without_rg})
    for argv in (["bash", "-c", "rg --version | head -1; rg -l needle"],
                 ["bash", "-lc", "rg --version | head -1; rg -l needle"]):  # /etc/profile resets PATH
        result = run_command(argv, cwd=tmp_path, policy=policy, timeout_s=20, env=env)
        assert result.output.splitlines()[-1] == "notes.txt", result.output
        assert result.output.startswith("ripgrep "), result.output


# ---- the scratch HOME in use -------------------------------------------------------------------


@needs_bwrap
def test_a_read_only_home_no_longer_makes_login_shells_complain(tmp_path: Path) -> None:
    # What pyenv's `eval "$(pyenv init -)"` in ~/.profile does on every `bash -lc`: try to write under
    # the home and complain when it cannot (`pyenv: cannot rehash: ~/.pyenv/shims isn't writable`).
    real = tmp_path / "realhome"
    real.mkdir()
    (real / ".profile").write_text(
        'mkdir -p "$HOME/.pyenv/shims" 2>/dev/null && touch "$HOME/.pyenv/shims/.x" 2>/dev/null '
        '|| echo "pyenv: cannot rehash: $HOME/.pyenv/shims isn\'t writable" >&2\n')
    (real / ".gitconfig").write_text("[user]\n\temail = ann@example.com\n")
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    environ = {**os.environ, "HOME": str(real)}
    for mode in ("read-only", "workspace-write"):
        policy = SandboxPolicy(mode, tmp_path / "repo")  # type: ignore[arg-type]
        result = run_command(["bash", "-lc", "echo hi; git config user.email; git status --short; mkdir -p ~/.cache/x"],
                             cwd=policy.cwd, policy=policy, timeout_s=20, env=tool_env(policy=policy, environ=environ))
        assert result.output == "hi\nann@example.com\n", (mode, result.output)
    assert not (real / ".pyenv").exists() and not (real / ".cache").exists()


@needs_bwrap
def test_the_scratch_area_is_private_to_each_command(tmp_path: Path) -> None:
    policy = SandboxPolicy("read-only", tmp_path)
    env = tool_env(policy=policy)
    first = run_command(["bash", "-c", "echo kept > ~/f; mktemp >/dev/null && echo tmp-ok; cat ~/f"],
                        cwd=tmp_path, policy=policy, timeout_s=20, env=env)
    assert first.output == "tmp-ok\nkept\n", first.output
    second = run_command(["bash", "-c", "cat ~/f 2>&1 || echo gone"], cwd=tmp_path, policy=policy, timeout_s=20,
                         env=env)
    assert second.output.endswith("gone\n")
    assert list(scratch_home().parent.iterdir()) == []  # nothing of it on the host


@needs_bwrap
def test_pip_installs_from_a_local_directory_in_the_sandbox(tmp_path: Path) -> None:
    import sys
    import zipfile

    wheels = tmp_path / "ws" / "wheels"
    wheels.mkdir(parents=True)
    with zipfile.ZipFile(wheels / "tinypkg-1.0-py3-none-any.whl", "w") as whl:
        whl.writestr("tinypkg.py", "VALUE = 42\n")
        whl.writestr("tinypkg-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n")
        whl.writestr("tinypkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        whl.writestr("tinypkg-1.0.dist-info/RECORD", "")
    policy = SandboxPolicy("workspace-write", tmp_path / "ws")
    script = (f"{sys.executable} -m pip install -q --no-index --find-links ./wheels --target ./site tinypkg "
              "2>&1 | grep -v -i 'running pip as'; PYTHONPATH=site "
              f"{sys.executable} -c 'import tinypkg; print(tinypkg.VALUE)'")
    result = run_command(["bash", "-c", script], cwd=policy.cwd, policy=policy, timeout_s=180,
                         env=tool_env(policy=policy))
    assert result.output.strip().splitlines()[-1] == "42", result.output


# ---- through the CLI: what the model reads -----------------------------------------------------


def tool_messages(fake) -> list[str]:
    last = fake.chat_requests[-1]["messages"]
    return [m["content"] for m in last if m["role"] == "tool"]


@needs_bwrap
def test_the_model_never_sees_url_passwords_or_registered_secrets(ocodex, fake, home: Path, repo: Path) -> None:
    from fakes.fake_ollama import Turn

    (home / "config.toml").write_text(
        '[model_providers.oss]\nhttp_headers = { "X-Api-Key" = "static-key-0123456789" }\n')
    (repo / "notes.txt").write_text("the key is static-key-0123456789\n")
    url = fake.base_url.replace("http://", "http://ollama-user:url-pass-4711@")
    fake.script(Turn.tool_call("shell", {"command": "env | sort; cat notes.txt"}), Turn.text("ok"))
    run = ocodex("exec", "--oss", "--json", "look", env={
        "CODEX_OSS_BASE_URL": url, "HTTPS_PROXY": "http://pu:proxy-pass-0815@127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost", "SSH_AUTH_SOCK": "/tmp/ssh-x/agent.1",
        "DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/0/bus", "OCODEX_LOG_REQUESTS": str(home / "log.jsonl")})
    assert run.returncode == 0, run.stderr
    [seen] = tool_messages(fake)
    for leaked in ("url-pass-4711", "proxy-pass-0815", "static-key-0123456789", "SSH_AUTH_SOCK", "DBUS_",
                   "OCODEX_", "CODEX_OSS_BASE_URL", "ollama-user"):
        assert leaked not in seen, leaked
    assert "HTTPS_PROXY=http://127.0.0.1:9" in seen and "the key is ***" in seen
    assert f"HOME={scratch_home_for_child(seen)}" in seen


def scratch_home_for_child(seen: str) -> str:
    """The scratch HOME another ocodex process chose (under its own ocodex-sandbox-* directory)."""
    home = next(line.partition("=")[2] for line in seen.splitlines() if line.startswith("HOME="))
    assert Path(home).name == "home" and Path(home).parent.name.startswith("ocodex-sandbox-")
    return home


@needs_bwrap
def test_a_login_shell_command_prints_only_what_it_says(ocodex, fake, tmp_path: Path) -> None:
    from fakes.fake_ollama import Turn

    real = tmp_path / "realhome"
    real.mkdir()
    (real / ".profile").write_text('touch "$HOME/.rehash" 2>/dev/null || '
                                   'echo "pyenv: cannot rehash: $HOME/.pyenv/shims isn\'t writable" >&2\n')
    fake.script(Turn.tool_call("shell", {"command": "echo hi"}), Turn.text("ok"))  # run as bash -lc
    run = ocodex("exec", "--oss", "--json", "greet", env={"HOME": str(real)})
    assert run.returncode == 0, run.stderr
    assert run.items("command_execution")[0]["aggregated_output"] == "hi\n"
    assert tool_messages(fake)[0].endswith("Output:\nhi\n")


def test_doctor_names_the_rg_the_tools_will_run(ocodex, path_without_rg: str) -> None:
    import json

    run = ocodex("doctor", "--json", env={"PATH": path_without_rg})
    checks = {check["name"]: check for check in json.loads(run.stdout)["checks"]}
    assert checks["ripgrep"] == {**checks["ripgrep"], "status": "ok", "detail": str(ripgrep_wheel_binary())}
    with_system = ocodex("doctor", "--json")
    checks = {check["name"]: check for check in json.loads(with_system.stdout)["checks"]}
    assert checks["ripgrep"]["detail"] == (shutil.which("rg") or str(ripgrep_wheel_binary()))


@needs_bwrap
def test_a_command_cannot_swap_the_rg_the_next_one_runs(tmp_path: Path, path_without_rg: str) -> None:
    policy = SandboxPolicy("workspace-write", tmp_path)  # /tmp, where ocodex's rg directory is, is writable
    env = tool_env(policy=policy, environ={**os.environ, "PATH": path_without_rg})
    rg_dir = env["PATH"].split(os.pathsep)[-1]
    script = f"ln -sf /bin/false {rg_dir}/rg 2>&1; echo x > {rg_dir}/evil 2>&1; rg --version | head -1"
    result = run_command(["bash", "-c", script], cwd=tmp_path, policy=policy, timeout_s=20, env=env)
    assert "Read-only file system" in result.output and result.output.splitlines()[-1].startswith("ripgrep ")
    assert sorted(p.name for p in Path(rg_dir).iterdir()) == ["rg"]


def test_what_a_killed_ocodex_left_in_the_temp_directory_is_removed(tmp_path: Path) -> None:
    import signal
    import sys
    import tempfile

    code = ("import os, sys; from ocodex.sandbox import scratch_home, tool_bin_dir; "
            "from ocodex.tools.env import tool_env; tool_env(); print(scratch_home().parent, tool_bin_dir()); "
            "sys.stdout.flush(); os.kill(os.getpid(), 9)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          env={**os.environ, "PATH": str(tmp_path)})  # no rg: the wheel's gets linked
    assert done.returncode == -signal.SIGKILL
    scratch, tools = (Path(p) for p in done.stdout.split())
    assert scratch.is_dir() and (tools / "rg").is_symlink() and scratch.parent == Path(tempfile.gettempdir())
    from ocodex.sandbox import bwrap

    bwrap._remove_stale("ocodex-sandbox-")
    bwrap._remove_stale("ocodex-tools-")
    assert not scratch.exists() and not tools.exists()
