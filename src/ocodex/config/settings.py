"""The settings types: `Settings` and the tables in it, the built-in providers, and the ocodex home.

Data only: loading and validating them is `ocodex.config.load`'s job.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocodex.config.overrides import parse_key
from ocodex.errors import ConfigError
from ocodex.sandbox.limits import Limits

if TYPE_CHECKING:
    from ocodex.mcp.config import McpServerConfig

APPROVAL_POLICIES = ("never", "on-request", "on-failure", "untrusted")
SANDBOX_MODES = ("read-only", "workspace-write", "danger-full-access")
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
REASONING_SUMMARIES = ("auto", "concise", "detailed", "none")
WIRE_APIS = ("chat", "responses")
EDIT_FORMATS = ("apply_patch", "replace", "whole")  # how the model edits files (ocodex.profile)
BUILTIN_PROVIDER_IDS = ("oss", "openai", "embedded")
# `--oss --local-provider X` / `oss_provider = "X"` (Codex's convention): which local provider --oss means.
# `ollama` is the built-in `oss` provider; `embedded` is llama.cpp in this process with a bundled model.
OSS_PROVIDERS = ("ollama", "embedded")
EMBEDDED_PROVIDER_ID = "embedded"
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Codex's id for its built-in Ollama provider; read as `oss` unless the user defines a provider by that name.
PROVIDER_ALIASES = {"ollama": "oss"}

KeyPath = tuple[str, ...]


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class OssConfig:
    """ocodex's own `[oss]` table: which Ollama models to default to, and how to treat the server."""

    small_model: str = "gpt-oss:20b"
    large_model: str = "gpt-oss:120b"
    large_model_min_ram_gib: float = 64.0
    auto_pull: bool = True
    warn_plain_http: bool = True


@dataclass(frozen=True)
class ProjectFilters:
    """ocodex's `[project_filters]`: globs that narrow what `rg` searches and lists (see ocodex.filters)."""

    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SandboxWorkspaceWrite:
    """Codex's `[sandbox_workspace_write]` table."""

    writable_roots: list[str] = field(default_factory=list)
    network_access: bool = False
    exclude_slash_tmp: bool = False
    exclude_tmpdir_env_var: bool = False
    allow_unix_sockets: list[str] = field(default_factory=list)  # ocodex's: sockets commands may connect to


SDK_KEY_VAR = "CODEX_API_KEY"  # the Codex TypeScript SDK's apiKey, for the openai provider only


def builtin_providers(env: Mapping[str, str] = os.environ, openai_base_url: str | None = None
                      ) -> dict[str, ProviderConfig]:
    """The providers that always exist. `oss` has no base_url: the caller derives it from
    `CODEX_OSS_BASE_URL` / `CODEX_OSS_PORT`; `embedded` gets its loopback URL when its server starts.
    `openai` reads its key from `OPENAI_API_KEY`, or from
    `CODEX_API_KEY` (what the Codex TypeScript SDK passes) when only that one is set."""
    openai_url = openai_base_url or env.get("OPENAI_BASE_URL", "").strip() or OPENAI_DEFAULT_BASE_URL
    openai_key = "OPENAI_API_KEY"
    if not env.get(openai_key, "").strip() and env.get(SDK_KEY_VAR, "").strip():
        openai_key = SDK_KEY_VAR
    return {
        "oss": ProviderConfig(id="oss", name="Ollama", wire_api="chat"),
        EMBEDDED_PROVIDER_ID: ProviderConfig(id=EMBEDDED_PROVIDER_ID, name="embedded llama.cpp", wire_api="chat",
                                             warn_plain_http=False),
        "openai": ProviderConfig(id="openai", name="OpenAI", base_url=openai_url, env_key=openai_key,
                                 wire_api="responses", requires_openai_auth=True),
    }


@dataclass(frozen=True)
class Settings:
    """Everything configurable, after layering and validation. Frozen: a change (a model switch, an
    escalation, a resumed session's model, --add-dir, a face's default) is a new value made by
    `changed`, which records where the new value came from."""

    model: str | None = None
    model_provider: str = "oss"
    oss_provider: str | None = None  # which local provider `--oss` means: "ollama" (None) or "embedded"
    profile: str | None = None
    approval_policy: str = "never"
    sandbox_mode: str = "read-only"
    model_reasoning_effort: str | None = None
    model_reasoning_summary: str = "auto"
    model_context_window: int | None = None
    model_auto_compact_token_limit: int | None = None
    tool_output_token_limit: int = 2500  # tokens ≈ bytes/4; lean, for small context windows
    edit_format: str | None = None  # None: the model's profile decides (ocodex.profile)
    tool_timeout_max_ms: int = 3_600_000  # ocodex's own: the longest `timeout_ms` a model's command gets
    project_doc_max_bytes: int = 32768
    project_doc_fallback_filenames: list[str] = field(default_factory=list)
    hide_agent_reasoning: bool = False
    show_raw_agent_reasoning: bool = False
    temperature: float | None = None  # None: the provider decides
    top_p: float | None = None
    log_requests: str | None = None  # append every model-server request/response here (ocodex.net.request_log)
    sandbox_workspace_write: SandboxWorkspaceWrite = field(default_factory=SandboxWorkspaceWrite)
    project_filters: ProjectFilters = field(default_factory=ProjectFilters)
    sandbox_limits: Limits = field(default_factory=Limits)
    oss: OssConfig = field(default_factory=OssConfig)
    model_providers: dict[str, ProviderConfig] = field(default_factory=lambda: builtin_providers({}))
    mcp_servers: dict[str, McpServerConfig] = field(default_factory=dict)  # [mcp_servers.NAME] (ocodex.mcp)
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
            path = tuple(parse_key(key))
        except ConfigError:
            return "built-in default"
        if path in self.origins:
            return self.origins[path]
        inside = [label for p, label in self.origins.items() if p[: len(path)] == path]
        return inside[-1] if inside else "built-in default"

    def changed(self, source: str, values: Mapping[str, Any]) -> Settings:
        """A copy with `values` set, each recorded as coming from `source` (what `describe_source` then
        says). Keys are dotted like config keys: `{"model": "qwen3:8b"}`,
        `{"sandbox_workspace_write.writable_roots": [...]}` (a table's own key, one level deep)."""
        top: dict[str, Any] = {}
        origins = dict(self.origins)
        for key, value in values.items():
            path = tuple(key.split("."))
            if len(path) == 1:
                top[key] = value
            else:
                table = top.get(path[0], getattr(self, path[0]))
                top[path[0]] = replace(table, **{path[1]: value})
            for stale in [p for p in origins if p[: len(path)] == path]:
                del origins[stale]
            origins[path] = source
        return replace(self, **top, origins=origins)



def ocodex_home(env: Mapping[str, str] = os.environ) -> Path:
    """`$OCODEX_HOME` if set and non-blank, else `~/.ocodex`."""
    value = env.get("OCODEX_HOME", "").strip()
    if value:
        return Path(value).expanduser()
    home = env.get("HOME", "").strip()
    return (Path(home) if home else Path.home()) / ".ocodex"

