"""Settings for ocodex: where they come from, what they may be, and the typed `Settings` built from them.

This module owns the ocodex home directory (`ocodex_home`), Codex-style `-c key=value` overrides
(`parse_override`), loading and layering the setting sources, validating every key, and the built-in
model providers. It does no network or model I/O.

Sources, lowest precedence first: built-in defaults < `$OCODEX_HOME/config.toml` < `[profiles.NAME]`
in that file < `$OCODEX_HOME/NAME.config.toml` < `-c` overrides (in order) < command-line flags.
Tables merge key by key across sources; any other value (lists included) is replaced whole.

Validation errors are `ConfigError`s with one-line messages naming the key and its source. Unknown keys
are never errors: they become entries in `Settings.warnings`. Keys that Codex accepts but ocodex does not
use are accepted silently and kept, unvalidated, in `Settings.extra`.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ocodex.errors import ConfigError

OVERRIDE_EXAMPLE = '-c model="gpt-oss:20b"'
APPROVAL_POLICIES = ("never", "on-request", "on-failure", "untrusted")
SANDBOX_MODES = ("read-only", "workspace-write", "danger-full-access")
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
REASONING_SUMMARIES = ("auto", "concise", "detailed", "none")
WIRE_APIS = ("chat", "responses")
BUILTIN_PROVIDER_IDS = ("oss", "openai")
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Codex's id for its built-in Ollama provider; read as `oss` unless the user defines a provider by that name.
PROVIDER_ALIASES = {"ollama": "oss"}

KeyPath = tuple[str, ...]


# --------------------------------------------------------------------------------------------- data


@dataclass
class ProviderConfig:
    """One model server: where it is, how to authenticate, and how hard to retry."""

    id: str
    name: str
    base_url: str | None = None
    base_urls: list[str] = field(default_factory=list)
    env_key: str | None = None
    env_key_instructions: str | None = None
    wire_api: str = "chat"
    http_headers: dict[str, str] = field(default_factory=dict)
    env_http_headers: dict[str, str] = field(default_factory=dict)
    query_params: dict[str, str] = field(default_factory=dict)
    request_max_retries: int = 4
    stream_max_retries: int = 5
    stream_idle_timeout_ms: int = 300_000
    requires_openai_auth: bool = False
    ca_cert: str | None = None
    verify_tls: bool = True
    warn_plain_http: bool = True  # warn when prompts go over plain HTTP to a host that isn't this machine
    extra: dict[str, Any] = field(default_factory=dict)  # Codex provider keys ocodex does not use

    def resolved_headers(self, env: Mapping[str, str] = os.environ) -> dict[str, str]:
        """Headers to send: static ones, then env-sourced ones whose variable is set and non-empty,
        then `Authorization: Bearer $env_key` when that variable is set and non-empty.

        A later header replaces an earlier one with the same name, compared case-insensitively."""
        headers: dict[str, str] = {}
        for name, value in self.http_headers.items():
            _put_header(headers, name, value)
        for name, var in self.env_http_headers.items():
            value = env.get(var, "")
            if value.strip():
                _put_header(headers, name, value)
        if self.env_key:
            key = env.get(self.env_key, "")
            if key.strip():
                _put_header(headers, "Authorization", f"Bearer {key.strip()}")
        return headers


def _put_header(headers: dict[str, str], name: str, value: str) -> None:
    for existing in [h for h in headers if h.lower() == name.lower()]:
        del headers[existing]
    headers[name] = value


@dataclass
class OssConfig:
    """ocodex's own `[oss]` table: which Ollama models to default to, and how to treat the server."""

    small_model: str = "gpt-oss:20b"
    large_model: str = "gpt-oss:120b"
    large_model_min_ram_gib: float = 64.0
    auto_pull: bool = True
    warn_plain_http: bool = True


@dataclass
class ProjectFilters:
    """ocodex's `[project_filters]`: globs that narrow what `rg` searches and lists (see ocodex.filters)."""

    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)


@dataclass
class SandboxWorkspaceWrite:
    """Codex's `[sandbox_workspace_write]` table."""

    writable_roots: list[str] = field(default_factory=list)
    network_access: bool = False
    exclude_slash_tmp: bool = False
    exclude_tmpdir_env_var: bool = False


SDK_KEY_VAR = "CODEX_API_KEY"  # the Codex TypeScript SDK's apiKey, for the openai provider only


def builtin_providers(env: Mapping[str, str] = os.environ, openai_base_url: str | None = None
                      ) -> dict[str, ProviderConfig]:
    """The providers that always exist. `oss` has no base_url: the caller derives it from
    `CODEX_OSS_BASE_URL` / `CODEX_OSS_PORT`. `openai` reads its key from `OPENAI_API_KEY`, or from
    `CODEX_API_KEY` (what the Codex TypeScript SDK passes) when only that one is set."""
    openai_url = openai_base_url or env.get("OPENAI_BASE_URL", "").strip() or OPENAI_DEFAULT_BASE_URL
    openai_key = "OPENAI_API_KEY"
    if not env.get(openai_key, "").strip() and env.get(SDK_KEY_VAR, "").strip():
        openai_key = SDK_KEY_VAR
    return {
        "oss": ProviderConfig(id="oss", name="Ollama", wire_api="chat"),
        "openai": ProviderConfig(id="openai", name="OpenAI", base_url=openai_url, env_key=openai_key,
                                 wire_api="responses", requires_openai_auth=True),
    }


@dataclass
class Settings:
    """Everything configurable, after layering and validation."""

    model: str | None = None
    model_provider: str = "oss"
    profile: str | None = None
    approval_policy: str = "never"
    sandbox_mode: str = "read-only"
    model_reasoning_effort: str | None = None
    model_reasoning_summary: str = "auto"
    model_context_window: int | None = None
    model_auto_compact_token_limit: int | None = None
    tool_output_token_limit: int = 2500  # tokens ≈ bytes/4; lean, for small context windows
    project_doc_max_bytes: int = 32768
    project_doc_fallback_filenames: list[str] = field(default_factory=list)
    hide_agent_reasoning: bool = False
    show_raw_agent_reasoning: bool = False
    temperature: float | None = None  # None: the provider decides
    top_p: float | None = None
    log_requests: str | None = None  # append every model-server request/response here (ocodex.request_log)
    sandbox_workspace_write: SandboxWorkspaceWrite = field(default_factory=SandboxWorkspaceWrite)
    project_filters: ProjectFilters = field(default_factory=ProjectFilters)
    oss: OssConfig = field(default_factory=OssConfig)
    model_providers: dict[str, ProviderConfig] = field(default_factory=lambda: builtin_providers({}))
    extra: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    sources: list[Path] = field(default_factory=list)
    origins: dict[KeyPath, str] = field(default_factory=dict, repr=False)

    def provider(self) -> ProviderConfig:
        """The selected model provider."""
        try:
            return self.model_providers[self.model_provider]
        except KeyError:
            known = ", ".join(self.model_providers)
            message = f"unknown model_provider '{self.model_provider}'; known providers: {known}"
            raise ConfigError(message) from None

    def describe_source(self, key: str) -> str:
        """Where a dotted key's value came from: a file path, `profile 'x' (...)`, `-c ...`,
        `command line`, or `built-in default`. For a table, the source of its most recent entry."""
        try:
            path = tuple(_parse_key(key))
        except ConfigError:
            return "built-in default"
        if path in self.origins:
            return self.origins[path]
        inside = [label for p, label in self.origins.items() if p[: len(path)] == path]
        return inside[-1] if inside else "built-in default"


# --------------------------------------------------------------------------------------------- home


def ocodex_home(env: Mapping[str, str] = os.environ) -> Path:
    """`$OCODEX_HOME` if set and non-blank, else `~/.ocodex`."""
    value = env.get("OCODEX_HOME", "").strip()
    if value:
        return Path(value).expanduser()
    home = env.get("HOME", "").strip()
    return (Path(home) if home else Path.home()) / ".ocodex"


# ---------------------------------------------------------------------------------------- overrides


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse one `-c key=value` the way Codex does.

    The text is split on its first `=`. The key is a dotted path (TOML-quoted segments such as
    `model_providers."my.host".base_url` are understood). The value is parsed as a TOML value; if it is
    not one, it is kept as a string, trimmed, with one pair of surrounding quotes removed.
    """
    path, value, _raw = _split_override(text)
    return path, value


def _split_override(text: str) -> tuple[list[str], Any, str]:
    key_text, sep, value_text = text.partition("=")
    if not sep:
        raise ConfigError(f"-c '{text}': expected key=value but there is no '=', e.g. {OVERRIDE_EXAMPLE}")
    path = _parse_key(key_text, text)
    raw = _unquote(value_text)
    return path, _parse_value(value_text, raw), raw


def _parse_key(key_text: str, override: str | None = None) -> list[str]:
    key = key_text.strip()
    shown = key_text if override is None else override
    if '"' in key or "'" in key:
        path = _parse_quoted_key(key)
        if path is None:
            raise ConfigError(f"-c '{shown}': the key is not a valid TOML dotted key, "
                              'e.g. model_providers."my.host".base_url')
    else:
        path = [part.strip() for part in key.split(".")]
    if not all(path):
        raise ConfigError(f"-c '{shown}': expected key=value with a non-empty key, e.g. {OVERRIDE_EXAMPLE}")
    return path


def _parse_quoted_key(key: str) -> list[str] | None:
    if "\n" in key or "\r" in key:
        return None
    try:
        node: Any = tomllib.loads(key + " = 0")
    except (ValueError, RecursionError):
        return None
    path: list[str] = []
    while isinstance(node, dict) and len(node) == 1:
        (name, node), = node.items()
        path.append(name)
    return path if node == 0 and not isinstance(node, dict) else None


def _parse_value(value_text: str, raw: str) -> Any:
    try:
        doc = tomllib.loads("_x_ = " + value_text)
    except (ValueError, RecursionError):  # TOMLDecodeError is a ValueError; so is int() overflow
        return raw
    if set(doc) != {"_x_"}:  # a newline smuggled in more keys: not a single value
        return raw
    return doc["_x_"]


def _unquote(value_text: str) -> str:
    value = value_text.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return value


# ------------------------------------------------------------------------------------------- schema


class _Bad(Exception):
    """A value that does not fit its key; the caller adds the key and the source."""


Check = Callable[[Any], Any]


class _Table:
    """A table with known keys."""

    __slots__ = ("fields",)

    def __init__(self, fields: dict[str, Spec]) -> None:
        self.fields = fields


class _MapOf:
    """A table whose keys are names the user picks (provider ids, profile names)."""

    __slots__ = ("item",)

    def __init__(self, item: Spec) -> None:
        self.item = item


class _Extra:
    """A key Codex accepts that ocodex keeps but does not check or use."""


_EXTRA = _Extra()
Spec = Check | _Table | _MapOf | _Extra


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"' if len(value) <= 60 else f'"{value[:57]}..."'
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a date/time ({value})"


def _suggest(word: str, choices: Sequence[str]) -> str | None:
    import difflib  # only on the error path

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise _Bad(f"expected a string, got {_show(value)}")
    return value


def _url(value: Any) -> str:
    url = _str(value)
    if not url.startswith(("http://", "https://")):
        raise _Bad(f"expected an http:// or https:// URL, got {_show(url)}")
    return url


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"expected true or false, got {_show(value)}")
    return value


def _range_text(low: float | None, high: float | None, strict_low: bool) -> str:
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if low is not None:
        return f" greater than {low}" if strict_low else f" of at least {low}"
    return ""


def _in_range(value: float, low: float | None, high: float | None, strict_low: bool) -> bool:
    if low is not None and (value <= low if strict_low else value < low):
        return False
    return high is None or value <= high


def _int(low: int | None = None, high: int | None = None, *, strict_low: bool = False) -> Check:
    wanted = "an integer" + _range_text(low, high, strict_low)

    def check(value: Any) -> int:
        is_int = isinstance(value, int) and not isinstance(value, bool)
        if not is_int or not _in_range(value, low, high, strict_low):
            raise _Bad(f"expected {wanted}, got {_show(value)}")
        return value

    return check


def _float(low: float | None = None, high: float | None = None, *, strict_low: bool = False) -> Check:
    wanted = "a number" + _range_text(low, high, strict_low)

    def check(value: Any) -> float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or not _in_range(value, low, high, strict_low):
            raise _Bad(f"expected {wanted}, got {_show(value)}")
        return float(value)

    return check


def _enum(*choices: str) -> Check:
    def check(value: Any) -> str:
        if value in choices:
            return value
        message = f"expected one of {', '.join(choices)}, got {_show(value)}"
        guess = _suggest(value, choices) if isinstance(value, str) else None
        raise _Bad(f"{message}; did you mean '{guess}'?" if guess else message)

    return check


def _str_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise _Bad(f"expected a list of strings, got {_show(value)}")
    for index, item in enumerate(value, 1):
        if not isinstance(item, str):
            raise _Bad(f"expected a list of strings, but item {index} is {_show(item)}")
    return list(value)


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _Bad(f"expected a table of strings, got {_show(value)}")
    for key, item in value.items():
        if not isinstance(item, str):
            raise _Bad(f"expected a table of strings, but '{key}' is {_show(item)}")
    return dict(value)


_RETRIES = _int(0, 100)
_POSITIVE = _int(0, strict_low=True)

_PROVIDER = _Table({
    "name": _str,
    "base_url": _url,
    "base_urls": _str_list,
    "env_key": _str,
    "env_key_instructions": _str,
    "wire_api": _enum(*WIRE_APIS),
    "http_headers": _str_map,
    "env_http_headers": _str_map,
    "query_params": _str_map,
    "request_max_retries": _RETRIES,
    "stream_max_retries": _RETRIES,
    "stream_idle_timeout_ms": _POSITIVE,
    "requires_openai_auth": _bool,
    "ca_cert": _str,
    "verify_tls": _bool,
    "warn_plain_http": _bool,
    **dict.fromkeys(("experimental_bearer_token", "websocket_connect_timeout_ms", "supports_websockets",
                     "auth", "aws"), _EXTRA),
})

_OSS = _Table({
    "small_model": _str,
    "large_model": _str,
    "large_model_min_ram_gib": _float(0, strict_low=True),
    "auto_pull": _bool,
    "warn_plain_http": _bool,
})

_PROJECT_FILTERS = _Table({"include": _str_list, "exclude": _str_list})

_SANDBOX_WORKSPACE_WRITE = _Table({
    "writable_roots": _str_list,
    "network_access": _bool,
    "exclude_slash_tmp": _bool,
    "exclude_tmpdir_env_var": _bool,
})

# Keys Codex accepts that ocodex keeps in `Settings.extra` without checking them.
EXTRA_KEYS = (
    "web_search", "mcp_servers", "features", "notify", "history", "tools", "shell_environment_policy",
    "projects", "openai_base_url", "oss_provider", "model_verbosity", "instructions",
    "developer_instructions", "include_environment_context", "check_for_update_on_startup", "escalate",
    "model_instructions_file", "compact_prompt", "experimental_compact_prompt_file", "model_catalog_json",
    "default_permissions", "permissions", "include_permissions_instructions", "skills", "otel", "log_dir",
    "project_root_markers", "sqlite_home", "file_opener", "tui", "chatgpt_base_url", "forced_login_method",
    "model_supports_reasoning_summaries", "disable_response_storage",
)

_SETTINGS_KEYS: dict[str, Spec] = {
    "model": _str,
    "model_provider": _str,
    "approval_policy": _enum(*APPROVAL_POLICIES),
    "sandbox_mode": _enum(*SANDBOX_MODES),
    "model_reasoning_effort": _enum(*REASONING_EFFORTS),
    "model_reasoning_summary": _enum(*REASONING_SUMMARIES),
    "model_context_window": _POSITIVE,
    "model_auto_compact_token_limit": _POSITIVE,
    "tool_output_token_limit": _POSITIVE,
    "project_doc_max_bytes": _int(0),
    "project_doc_fallback_filenames": _str_list,
    "hide_agent_reasoning": _bool,
    "show_raw_agent_reasoning": _bool,
    "temperature": _float(0),
    "top_p": _float(0, 1),
    "log_requests": _str,
    "sandbox_workspace_write": _SANDBOX_WORKSPACE_WRITE,
    "project_filters": _PROJECT_FILTERS,
    "oss": _OSS,
    "model_providers": _MapOf(_PROVIDER),
    **dict.fromkeys(EXTRA_KEYS, _EXTRA),
}
# What a profile may set: everything except choosing or defining profiles.
_PROFILE = _Table(_SETTINGS_KEYS)
_ROOT = _Table({**_SETTINGS_KEYS, "profile": _str, "profiles": _MapOf(_PROFILE)})


def _spec_at(path: Sequence[str]) -> Spec | None:
    spec: Spec | None = _ROOT
    for part in path:
        if isinstance(spec, _Table):
            spec = spec.fields.get(part)
        elif isinstance(spec, _MapOf):
            spec = spec.item
        else:
            return None
    return spec


# ------------------------------------------------------------------------------------------- layers


def _dotted(path: Sequence[str]) -> str:
    def bare(part: str) -> bool:
        return bool(part) and all(c.isascii() and (c.isalnum() or c in "-_") for c in part)

    return ".".join(part if bare(part) else '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
                    for part in path)


class _Layer:
    """One source of settings, and how to name it in messages."""

    __slots__ = ("key", "label", "where")

    def __init__(self, label: str, where: str, key: KeyPath | None = None) -> None:
        self.label = label  # "/home/u/.ocodex/config.toml", "-c model=x", "command line", "profile 'x' (...)"
        self.where = where  # for warnings: "in /home/u/.ocodex/config.toml"
        self.key = key  # for a -c layer, its own key: no need to repeat it in messages

    def error(self, path: Sequence[str], message: str) -> ConfigError:
        if self.key is not None and tuple(path) in ((), self.key):
            return ConfigError(f"{self.label}: {message}")
        return ConfigError(f"{self.label}: {_dotted(path)}: {message}")

    def unknown(self, path: Sequence[str], known: Sequence[str]) -> str:
        message = f"unknown config key '{_dotted(path)}' {self.where} (ignored)"
        guess = _suggest(path[-1], known)
        return f"{message}; did you mean '{_dotted([*path[:-1], guess])}'?" if guess else message


def _check(value: Any, spec: Spec, path: KeyPath, layer: _Layer, warnings: list[str]) -> Any:
    """Validate `value` against `spec`; return it cleaned of unknown keys (each one a warning)."""
    if isinstance(spec, _Extra):
        return value
    if isinstance(spec, _Table | _MapOf):
        if not isinstance(value, dict):
            raise layer.error(path, f"expected a table, got {_show(value)}")
        return _check_table(value, spec, path, layer, warnings)
    try:
        return spec(value)
    except _Bad as bad:
        raise layer.error(path, str(bad)) from None


def _check_table(value: dict[str, Any], spec: _Table | _MapOf, path: KeyPath, layer: _Layer,
                 warnings: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(spec, _MapOf):
            if not key.strip():
                raise layer.error(path, "names here cannot be empty")
            out[key] = _check(item, spec.item, (*path, key), layer, warnings)
        elif key in spec.fields:
            out[key] = _check(item, spec.fields[key], (*path, key), layer, warnings)
        else:
            warnings.append(layer.unknown((*path, key), list(spec.fields)))
    return out


def _nest(path: Sequence[str], value: Any, into: dict[str, Any] | None = None) -> dict[str, Any]:
    root = {} if into is None else into
    node = root
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[path[-1]] = value
    return root


def _override_layer(text: str, warnings: list[str]) -> tuple[_Layer, dict[str, Any]]:
    path, value, raw = _split_override(text)
    layer = _Layer(f"-c {text}", f"in -c {text}", tuple(path))
    return layer, _check(_nest(path, _coerce_for_key(path, value, raw)), _ROOT, (), layer, warnings)


def _coerce_for_key(path: Sequence[str], value: Any, raw: str) -> Any:
    """`-c model=3` means the string "3": a bare scalar that does not fit its key but whose text does
    becomes that text."""
    spec = _spec_at(path)
    if isinstance(value, str | list | dict) or not callable(spec) or isinstance(spec, _Extra):
        return value
    try:
        return spec(value)
    except _Bad:
        pass
    try:
        return spec(raw)
    except _Bad:
        return value


def _flags_layer(flags: Mapping[str, Any], warnings: list[str]) -> tuple[_Layer, dict[str, Any]]:
    layer = _Layer("command line", "on the command line")
    nested: dict[str, Any] = {}
    for key, value in flags.items():
        if value is not None:
            _nest(key.split("."), value, nested)
    return layer, _check(nested, _ROOT, (), layer, warnings)


def _read_toml(path: Path) -> dict[str, Any] | None:
    """The parsed file, or None if it does not exist."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: not UTF-8 text (bad byte at offset {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_error(path, exc)) from None


def _toml_error(path: Path, exc: tomllib.TOMLDecodeError) -> str:
    message = str(exc)
    head, marker, tail = message.rpartition(" (at line ")
    if marker and tail.endswith(")"):
        line, _, column = tail[:-1].partition(", column ")
        if line.isdigit() and column.isdigit():
            return f"{path}:{line}:{column}: invalid TOML: {head}"
    return f"{path}: invalid TOML: {message}"


def _file_layer(path: Path, spec: _Table, warnings: list[str], sources: list[Path]
                ) -> tuple[_Layer, dict[str, Any]] | None:
    data = _read_toml(path)
    if data is None:
        return None
    sources.append(path)
    layer = _Layer(str(path), f"in {path}")
    return layer, _check(data, spec, (), layer, warnings)


# ----------------------------------------------------------------------------------------- profiles


def _profile_file(home: Path, name: str) -> Path | None:
    separators = [sep for sep in (os.sep, os.altsep, "/") if sep]
    plain = name.strip() and name not in (".", "..") and not any(sep in name for sep in separators)
    return home / f"{name}.config.toml" if plain else None


def _profile_layers(name: str, home: Path, profiles: Mapping[str, Any], warnings: list[str],
                    sources: list[Path]) -> list[tuple[_Layer, dict[str, Any]]]:
    config_path = home / "config.toml"
    layers: list[tuple[_Layer, dict[str, Any]]] = []
    if name in profiles:
        layers.append((_Layer(f"profile '{name}' ({config_path})", f"in profile '{name}'"), profiles[name]))
    path = _profile_file(home, name)
    layer = _file_layer(path, _PROFILE, warnings, sources) if path is not None else None
    if layer is not None:
        layers.append(layer)
    if not layers:
        raise ConfigError(_unknown_profile(name, home, profiles))
    return layers


def _unknown_profile(name: str, home: Path, profiles: Mapping[str, Any]) -> str:
    config_path = home / "config.toml"
    in_table = sorted(profiles)
    try:
        in_files = sorted(p.name.removesuffix(".config.toml") for p in home.glob("*.config.toml"))
    except OSError:
        in_files = []
    if not in_table and not in_files:
        return (f"unknown profile '{name}'; no profiles are defined "
                f"(add [profiles.{name}] to {config_path}, or create {home / (name + '.config.toml')})")
    known = ", ".join(sorted({*in_table, *in_files}))
    if in_files and in_table:
        where = f"[profiles.*] in {config_path} and {home}/*.config.toml"
    elif in_files:
        where = f"{home}/*.config.toml"
    else:
        where = str(config_path)
    return f"unknown profile '{name}'; known profiles: {known} (defined in {where})"


# ------------------------------------------------------------------------------------------ loading


def load_settings(*, home: Path, overrides: Sequence[str] = (), profile: str | None = None,
                  flags: Mapping[str, Any] | None = None, env: Mapping[str, str] = os.environ) -> Settings:
    """Layer and validate all setting sources (see the module docstring) into `Settings`.

    `flags` is a flat dict with dotted keys built from command-line flags (`{"model": "qwen3:8b"}`);
    None values are skipped. The profile is `profile`, else the merged `profile` key (so `-c profile=x`
    works).
    """
    warnings: list[str] = []
    sources: list[Path] = []
    base = _file_layer(home / "config.toml", _ROOT, warnings, sources)
    early = [base] if base is not None else []
    late = [_override_layer(text, warnings) for text in overrides]
    if flags:
        late.append(_flags_layer(flags, warnings))

    preview, _ = _merge_layers([*early, *late])
    name = profile if profile is not None else preview.get("profile")
    profiles = preview.get("profiles", {})
    middle = [] if name is None else _profile_layers(name, home, profiles, warnings, sources)

    merged, origins = _merge_layers([*early, *middle, *late])
    settings = _build(merged, origins, env)
    settings.profile = name
    settings.warnings = warnings
    settings.sources = sources
    return settings


def _merge_layers(layers: Sequence[tuple[_Layer, dict[str, Any]]]
                  ) -> tuple[dict[str, Any], dict[KeyPath, _Layer]]:
    merged: dict[str, Any] = {}
    origins: dict[KeyPath, _Layer] = {}
    for layer, data in layers:
        _merge(merged, data, layer, origins, ())
    return merged, origins


def _merge(into: dict[str, Any], new: Mapping[str, Any], layer: _Layer, origins: dict[KeyPath, _Layer],
           prefix: KeyPath) -> None:
    """Deep-merge `new` into `into`: tables merge, anything else replaces. Records each leaf's layer."""
    for key, value in new.items():
        path = (*prefix, key)
        if isinstance(value, dict):
            if not isinstance(into.get(key), dict):
                _forget(origins, path)
                into[key] = {}
            _merge(into[key], value, layer, origins, path)
        else:
            _forget(origins, path)
            into[key] = list(value) if isinstance(value, list) else value
            origins[path] = layer


def _forget(origins: dict[KeyPath, _Layer], path: KeyPath) -> None:
    for stale in [p for p in origins if p[: len(path)] == path]:
        del origins[stale]


_PLAIN_KEYS = tuple(f.name for f in fields(Settings)
                    if f.name in _SETTINGS_KEYS and callable(_SETTINGS_KEYS[f.name]))


def _build(merged: dict[str, Any], origins: dict[KeyPath, _Layer], env: Mapping[str, str]) -> Settings:
    settings = Settings(
        **{key: merged[key] for key in _PLAIN_KEYS if key in merged},
        sandbox_workspace_write=SandboxWorkspaceWrite(**merged.get("sandbox_workspace_write", {})),
        project_filters=ProjectFilters(**merged.get("project_filters", {})),
        oss=OssConfig(**merged.get("oss", {})),
        model_providers=_build_providers(merged.get("model_providers", {}), merged.get("openai_base_url"),
                                         env),
        extra={key: merged[key] for key in EXTRA_KEYS if key in merged},
        origins={path: layer.label for path, layer in origins.items()},
    )
    _select_provider(settings, origins.get(("model_provider",)))
    return settings


def _build_providers(tables: Mapping[str, dict[str, Any]], openai_base_url: Any, env: Mapping[str, str]
                     ) -> dict[str, ProviderConfig]:
    url = openai_base_url if isinstance(openai_base_url, str) and openai_base_url.strip() else None
    providers = builtin_providers(env, url)
    for pid, table in tables.items():
        known = {k: v for k, v in table.items() if not isinstance(_PROVIDER.fields[k], _Extra)}
        extra = {k: v for k, v in table.items() if isinstance(_PROVIDER.fields[k], _Extra)}
        if pid in providers:  # built-ins cannot be removed, but their settings can be extended
            base = providers[pid]
            providers[pid] = replace(base, **known, extra={**base.extra, **extra})
        else:
            providers[pid] = ProviderConfig(**{"id": pid, "name": pid, **known, "extra": extra})
    if providers["openai"].requires_openai_auth is not True:  # never let a config file lift the guard
        providers["openai"].requires_openai_auth = True
    return providers


def _select_provider(settings: Settings, origin: _Layer | None) -> None:
    pid = settings.model_provider
    if pid not in settings.model_providers and pid in PROVIDER_ALIASES:
        pid = settings.model_provider = PROVIDER_ALIASES[pid]
    if pid not in settings.model_providers:
        known = ", ".join(settings.model_providers)
        message = (f"unknown model provider '{pid}'; known providers: {known} "
                   "(define others as [model_providers.ID])")
        raise (origin or _Layer("settings", "")).error(("model_provider",), message)
    chosen = settings.model_providers[pid]
    if chosen.id not in BUILTIN_PROVIDER_IDS and not chosen.base_url and not chosen.base_urls:
        raise ConfigError(f"model provider '{pid}' has no base_url; "
                          f"set model_providers.{_dotted([pid])}.base_url in config.toml or with -c")


def check_provider_allowed(settings: Settings, openai_flag: bool) -> None:
    """Refuse a provider that would send code to OpenAI unless `--openai` was given."""
    chosen = settings.provider()
    if (chosen.requires_openai_auth or chosen.id == "openai") and not openai_flag:
        raise ConfigError(f"model_provider '{chosen.id}' sends your code to OpenAI and needs --openai to be "
                          "allowed; add --openai, or use --oss for a local Ollama server")
