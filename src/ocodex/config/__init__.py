"""Settings for ocodex: where they come from, what they may be, and the typed `Settings` built from them.

This package owns the ocodex home directory (`ocodex_home`), Codex-style `-c key=value` overrides
(`parse_override`), loading and layering the setting sources, validating every key, and the built-in
model providers. It does no network or model I/O.

Sources, lowest precedence first: built-in defaults < `$OCODEX_HOME/config.toml` < `[profiles.NAME]`
in that file < `$OCODEX_HOME/NAME.config.toml` < `-c` overrides (in order) < command-line flags.
Tables merge key by key across sources; any other value (lists included) is replaced whole.

Validation errors are `ConfigError`s with one-line messages naming the key and its source. Unknown keys
are never errors: they become entries in `Settings.warnings`. Keys that Codex accepts but ocodex does not
use are accepted silently and kept, unvalidated, in `Settings.extra`.

Its rooms: `settings` (the types, the built-in providers, the home directory), `overrides` (`-c`
parsing), `schema` (the spec/check library), `keys` (every key and what it may hold), `layers`
(sources as checked layers, file/line errors, merging) and `load` (`load_settings`). Everything a
caller needs is importable from `ocodex.config` itself.
"""

from __future__ import annotations

from ocodex.config.load import check_provider_allowed, load_settings
from ocodex.config.overrides import OVERRIDE_EXAMPLE, parse_override
from ocodex.config.settings import (
    APPROVAL_POLICIES,
    BUILTIN_PROVIDER_IDS,
    OPENAI_DEFAULT_BASE_URL,
    PROVIDER_ALIASES,
    REASONING_EFFORTS,
    REASONING_SUMMARIES,
    SANDBOX_MODES,
    SDK_KEY_VAR,
    WIRE_APIS,
    KeyPath,
    OssConfig,
    ProjectFilters,
    ProviderConfig,
    SandboxWorkspaceWrite,
    Settings,
    builtin_providers,
    ocodex_home,
)

__all__ = [
    "APPROVAL_POLICIES", "BUILTIN_PROVIDER_IDS", "OPENAI_DEFAULT_BASE_URL", "OVERRIDE_EXAMPLE", "PROVIDER_ALIASES",
    "REASONING_EFFORTS", "REASONING_SUMMARIES", "SANDBOX_MODES", "SDK_KEY_VAR", "WIRE_APIS", "KeyPath", "OssConfig",
    "ProjectFilters", "ProviderConfig", "SandboxWorkspaceWrite", "Settings", "builtin_providers",
    "check_provider_allowed", "load_settings", "ocodex_home", "parse_override",
]
