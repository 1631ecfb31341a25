"""Every config key ocodex knows, and what each may hold (built from `ocodex.config.schema`).

A new key is one line in `SETTINGS_KEYS` (or its table), plus a field on `Settings` when ocodex uses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ocodex.config.schema import (
    EXTRA,
    Bad,
    MapOf,
    Spec,
    Table,
    boolean,
    enum,
    integer,
    model_name,
    number,
    show,
    str_list,
    str_map,
    string,
    url,
)
from ocodex.config.settings import (
    APPROVAL_POLICIES,
    EDIT_FORMATS,
    OSS_PROVIDERS,
    REASONING_EFFORTS,
    REASONING_SUMMARIES,
    SANDBOX_MODES,
    WIRE_APIS,
)

RETRIES = integer(0, 100)
POSITIVE = integer(0, strict_low=True)

PROVIDER = Table({
    "name": string,
    "base_url": url,
    "base_urls": str_list,
    "env_key": string,
    "env_key_instructions": string,
    "wire_api": enum(*WIRE_APIS),
    "http_headers": str_map,
    "env_http_headers": str_map,
    "query_params": str_map,
    "request_max_retries": RETRIES,
    "stream_max_retries": RETRIES,
    "stream_idle_timeout_ms": POSITIVE,
    "requires_openai_auth": boolean,
    "ca_cert": string,
    "verify_tls": boolean,
    "warn_plain_http": boolean,
    **dict.fromkeys(("experimental_bearer_token", "websocket_connect_timeout_ms", "supports_websockets",
                     "auth", "aws"), EXTRA),
})

OSS = Table({
    "small_model": string,
    "large_model": string,
    "large_model_min_ram_gib": number(0, strict_low=True),
    "auto_pull": boolean,
    "warn_plain_http": boolean,
})

PROJECT_FILTERS = Table({"include": str_list, "exclude": str_list})

SANDBOX_WORKSPACE_WRITE = Table({
    "writable_roots": str_list,
    "network_access": boolean,
    "exclude_slash_tmp": boolean,
    "exclude_tmpdir_env_var": boolean,
    "allow_unix_sockets": str_list,
})

# ocodex's `[sandbox_limits]` (ocodex.sandbox.limits): per sandboxed command; 0 = no limit.
SANDBOX_LIMITS = Table({"memory_mb": integer(0), "processes": integer(0), "file_size_mb": integer(0),
                        "cpu_seconds": integer(0)})
MCP_APPROVAL_MODES = ("auto", "prompt", "approve")  # an MCP tool's approval_mode (ocodex.mcp.approval)


def _env_var_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise Bad(f"expected a list of variable names, got {show(value)}")
    for index, item in enumerate(value, 1):
        named = isinstance(item, dict) and isinstance(item.get("name"), str)
        if not (isinstance(item, str) or named):
            raise Bad(f"expected a list of variable names (or {{name = \"VAR\"}} tables), "
                      f"but item {index} is {show(item)}")
    return list(value)


# [mcp_servers.NAME]: each key's type is checked here, the table as a whole by ocodex.mcp.config.
MCP_SERVER = Table({
    "command": string, "args": str_list, "env": str_map, "env_vars": _env_var_list, "cwd": string,
    "url": url, "bearer_token_env_var": string, "http_headers": str_map, "env_http_headers": str_map,
    "startup_timeout_sec": number(0, strict_low=True), "startup_timeout_ms": integer(0, strict_low=True),
    "tool_timeout_sec": number(0, strict_low=True), "enabled": boolean, "required": boolean,
    "enabled_tools": str_list, "disabled_tools": str_list,
    "default_tools_approval_mode": enum(*MCP_APPROVAL_MODES),
    "tools": MapOf(Table({"approval_mode": enum(*MCP_APPROVAL_MODES)})),
    **dict.fromkeys(("name", "scopes", "oauth", "oauth_resource", "environment_id", "experimental_environment",
                     "supports_parallel_tool_calls"), EXTRA),
})

# Keys Codex accepts that ocodex keeps in `Settings.extra` without checking them.
EXTRA_KEYS = (
    "web_search", "features", "notify", "history", "tools", "shell_environment_policy",
    "projects", "openai_base_url", "model_verbosity", "instructions",
    "developer_instructions", "include_environment_context", "check_for_update_on_startup", "escalate",
    "model_instructions_file", "compact_prompt", "experimental_compact_prompt_file", "model_catalog_json",
    "default_permissions", "permissions", "include_permissions_instructions", "skills", "otel", "log_dir",
    "project_root_markers", "sqlite_home", "file_opener", "tui", "chatgpt_base_url", "forced_login_method",
    "model_supports_reasoning_summaries", "disable_response_storage",
)

SETTINGS_KEYS: dict[str, Spec] = {
    "model": model_name,
    "model_provider": string,
    "oss_provider": enum(*OSS_PROVIDERS),
    "approval_policy": enum(*APPROVAL_POLICIES),
    "sandbox_mode": enum(*SANDBOX_MODES),
    "model_reasoning_effort": enum(*REASONING_EFFORTS),
    "model_reasoning_summary": enum(*REASONING_SUMMARIES),
    "model_context_window": POSITIVE,
    "model_auto_compact_token_limit": POSITIVE,
    "tool_output_token_limit": POSITIVE,
    "tool_timeout_max_ms": POSITIVE,
    "edit_format": enum(*EDIT_FORMATS),
    "project_doc_max_bytes": integer(0),
    "project_doc_fallback_filenames": str_list,
    "hide_agent_reasoning": boolean,
    "show_raw_agent_reasoning": boolean,
    "temperature": number(0),
    "top_p": number(0, 1),
    "log_requests": string,
    "sandbox_workspace_write": SANDBOX_WORKSPACE_WRITE,
    "project_filters": PROJECT_FILTERS,
    "sandbox_limits": SANDBOX_LIMITS,
    "oss": OSS,
    "model_providers": MapOf(PROVIDER),
    "mcp_servers": MapOf(MCP_SERVER),
    **dict.fromkeys(EXTRA_KEYS, EXTRA),
}
# What a profile may set: everything except choosing or defining profiles.
PROFILE = Table(SETTINGS_KEYS)
ROOT = Table({**SETTINGS_KEYS, "profile": string, "profiles": MapOf(PROFILE)})


def spec_at(path: Sequence[str]) -> Spec | None:
    spec: Spec | None = ROOT
    for part in path:
        if isinstance(spec, Table):
            spec = spec.fields.get(part)
        elif isinstance(spec, MapOf):
            spec = spec.item
        else:
            return None
    return spec
