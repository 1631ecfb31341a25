"""Loading settings: layer every source, build the typed `Settings`, select and check the provider."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocodex.config.keys import EXTRA_KEYS, PROVIDER, ROOT, SETTINGS_KEYS
from ocodex.config.layers import Layer, dotted, file_layer, flags_layer, merge_layers, override_layer, profile_layers
from ocodex.config.schema import Extra
from ocodex.config.settings import (
    BUILTIN_PROVIDER_IDS,
    EMBEDDED_PROVIDER_ID,
    PROVIDER_ALIASES,
    KeyPath,
    OssConfig,
    ProjectFilters,
    ProviderConfig,
    SandboxWorkspaceWrite,
    Settings,
    builtin_providers,
)
from ocodex.errors import ConfigError
from ocodex.sandbox.limits import Limits

if TYPE_CHECKING:
    from ocodex.mcp.config import McpServerConfig


def load_settings(*, home: Path, overrides: Sequence[str] = (), profile: str | None = None,
                  flags: Mapping[str, Any] | None = None, env: Mapping[str, str] = os.environ) -> Settings:
    """Layer and validate all setting sources (see `ocodex.config`) into `Settings`.

    `flags` is a flat dict with dotted keys built from command-line flags (`{"model": "qwen3:8b"}`);
    None values are skipped. The profile is `profile`, else the merged `profile` key (so `-c profile=x`
    works).
    """
    warnings: list[str] = []
    sources: list[Path] = []
    base = file_layer(home / "config.toml", ROOT, warnings, sources)
    early = [base] if base is not None else []
    late = [override_layer(text, warnings) for text in overrides]
    if flags:
        late.append(flags_layer(flags, warnings))

    preview, preview_origins = merge_layers([*early, *late])
    name = profile if profile is not None else preview.get("profile")
    profiles = preview.get("profiles", {})
    named_there = preview_origins.get(("profile",))
    on_command_line = profile is not None or (named_there is not None and named_there.command_line)
    middle = [] if name is None else profile_layers(name, home, profiles, warnings, sources,
                                                     command_line=on_command_line)

    merged, origins = merge_layers([*early, *middle, *late])
    return _build(merged, origins, env, profile=name, warnings=warnings, sources=sources)


_PLAIN_KEYS = tuple(f.name for f in fields(Settings)
                    if f.name in SETTINGS_KEYS and callable(SETTINGS_KEYS[f.name]))


def _build(merged: dict[str, Any], origins: dict[KeyPath, Layer], env: Mapping[str, str], *,
           profile: str | None, warnings: list[str], sources: list[Path]) -> Settings:
    plain = {key: merged[key] for key in _PLAIN_KEYS if key in merged}
    providers = _build_providers(merged.get("model_providers", {}), merged.get("openai_base_url"), env)
    plain["model_provider"] = _select_provider(_local_provider(plain, origins), providers,
                                               origins.get(("model_provider",)))
    return Settings(
        **plain,
        sandbox_workspace_write=SandboxWorkspaceWrite(**merged.get("sandbox_workspace_write", {})),
        project_filters=ProjectFilters(**merged.get("project_filters", {})),
        sandbox_limits=Limits(**merged.get("sandbox_limits", {})),
        oss=OssConfig(**merged.get("oss", {})),
        model_providers=providers,
        mcp_servers=_build_mcp_servers(merged.get("mcp_servers", {}), origins),
        extra={key: merged[key] for key in EXTRA_KEYS if key in merged},
        origins={path: layer.label for path, layer in origins.items()},
        profile=profile, warnings=warnings, sources=sources,
    )


def _build_providers(tables: Mapping[str, dict[str, Any]], openai_base_url: Any, env: Mapping[str, str]
                     ) -> dict[str, ProviderConfig]:
    url = openai_base_url if isinstance(openai_base_url, str) and openai_base_url.strip() else None
    providers = builtin_providers(env, url)
    for pid, table in tables.items():
        known = {k: v for k, v in table.items() if not isinstance(PROVIDER.fields[k], Extra)}
        extra = {k: v for k, v in table.items() if isinstance(PROVIDER.fields[k], Extra)}
        if pid in providers:  # built-ins cannot be removed, but their settings can be extended
            base = providers[pid]
            providers[pid] = replace(base, **known, extra={**base.extra, **extra})
        else:
            providers[pid] = ProviderConfig(**{"id": pid, "name": pid, **known, "extra": extra})
    if providers["openai"].requires_openai_auth is not True:  # never let a config file lift the guard
        providers["openai"] = replace(providers["openai"], requires_openai_auth=True)
    return providers


def _build_mcp_servers(tables: Mapping[str, dict[str, Any]], origins: dict[KeyPath, Layer]
                       ) -> dict[str, McpServerConfig]:
    """Each `[mcp_servers.NAME]` table as a typed server, checked across its keys (one transport)."""
    if not tables:
        return {}
    from ocodex.mcp.config import McpConfigProblem, server_from_table  # only when servers are configured

    servers = {}
    for name, table in tables.items():
        try:
            servers[name] = server_from_table(name, table)
        except McpConfigProblem as problem:
            path = ("mcp_servers", name, *problem.key)
            inside = [layer for p, layer in origins.items() if p[:2] == path[:2]]
            layer = origins.get(path) or (inside[-1] if inside else Layer("settings", ""))
            raise layer.error(path, problem.message) from None
    return servers


def _local_provider(plain: Mapping[str, Any], origins: dict[KeyPath, Layer]) -> str:
    """The provider id asked for: `model_provider`, except that `oss` chosen by `--oss` (or by default) means
    the local provider `oss_provider` names (Codex's convention), so `oss_provider = "embedded"` with `--oss`
    runs the embedded model. A config file's explicit `model_provider = "oss"` stays Ollama."""
    pid = plain.get("model_provider", "oss")
    origin = origins.get(("model_provider",))
    if pid in ("oss", "ollama") and (origin is None or origin.label == "command line") \
            and plain.get("oss_provider") == EMBEDDED_PROVIDER_ID:
        return EMBEDDED_PROVIDER_ID
    return str(pid)


def _select_provider(pid: str, providers: Mapping[str, ProviderConfig], origin: Layer | None) -> str:
    """The provider id to use (Codex's `ollama` alias read as `oss`), checked to exist and be usable."""
    if pid not in providers and pid in PROVIDER_ALIASES:
        pid = PROVIDER_ALIASES[pid]
    if pid not in providers:
        known = ", ".join(providers)
        message = (f"unknown model provider '{pid}'; known providers: {known} "
                   "(define others as [model_providers.ID])")
        raise (origin or Layer("settings", "")).error(("model_provider",), message)
    chosen = providers[pid]
    if chosen.id not in BUILTIN_PROVIDER_IDS and not chosen.base_url and not chosen.base_urls:
        raise ConfigError(f"model provider '{pid}' has no base_url; "
                          f"set model_providers.{dotted([pid])}.base_url in config.toml or with -c")
    return pid


def check_provider_allowed(settings: Settings, openai_flag: bool) -> None:
    """Refuse a provider that would send code to OpenAI unless `--openai` was given."""
    chosen = settings.provider()
    if (chosen.requires_openai_auth or chosen.id == "openai") and not openai_flag:
        raise ConfigError(f"model_provider '{chosen.id}' sends your code to OpenAI and needs --openai to be "
                          "allowed; add --openai, or use --oss for a local Ollama server")
