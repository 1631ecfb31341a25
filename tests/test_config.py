"""Tests for ocodex.config: home lookup, `-c` parsing, layering, validation, providers."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ocodex.config import (
    OssConfig,
    ProviderConfig,
    Settings,
    check_provider_allowed,
    load_settings,
    ocodex_home,
    parse_override,
)
from ocodex.errors import ConfigError


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty ocodex home (defined here too so these tests need nothing else from conftest)."""
    path = tmp_path / "ocodex-home"
    path.mkdir()
    return path


def write(home: Path, text: str, name: str = "config.toml") -> Path:
    path = home / name
    path.write_text(text, encoding="utf-8")
    return path


def load(home: Path, *overrides: str, **kwargs: Any) -> Settings:
    kwargs.setdefault("env", {})
    return load_settings(home=home, overrides=overrides, **kwargs)


def error_of(home: Path, *overrides: str, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load(home, *overrides, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


# ------------------------------------------------------------------------------------------- home


def test_home_from_env_or_default(tmp_path: Path) -> None:
    assert ocodex_home({"OCODEX_HOME": str(tmp_path)}) == tmp_path
    assert ocodex_home({"OCODEX_HOME": "  ", "HOME": "/h"}) == Path("/h/.ocodex")
    assert ocodex_home({"HOME": "/h"}) == Path("/h/.ocodex")


# ----------------------------------------------------------------------------------------- defaults


def test_defaults_without_config_file(home: Path) -> None:
    s = load(home)
    assert s.model is None
    assert s.model_provider == "oss"
    assert (s.approval_policy, s.sandbox_mode, s.model_reasoning_summary) == ("never", "read-only", "auto")
    assert s.tool_output_token_limit == 2500 and s.project_doc_max_bytes == 32768
    assert s.temperature is None and s.top_p is None and s.profile is None
    assert s.oss == OssConfig()
    assert s.oss.small_model == "gpt-oss:20b" and s.oss.large_model == "gpt-oss:120b"
    assert s.sources == [] and s.warnings == [] and s.extra == {}
    oss = s.provider()
    assert (oss.id, oss.name, oss.base_url, oss.wire_api) == ("oss", "Ollama", None, "chat")
    assert oss.env_key is None
    openai = s.model_providers["openai"]
    assert openai.base_url == "https://api.openai.com/v1"
    assert (openai.env_key, openai.wire_api) == ("OPENAI_API_KEY", "responses")
    assert openai.requires_openai_auth is True
    assert s.describe_source("model") == "built-in default"


def test_plain_settings_object_has_builtin_providers() -> None:
    assert Settings().provider().id == "oss"


def test_openai_base_url_from_env_and_config_key(home: Path) -> None:
    assert load(home, env={"OPENAI_BASE_URL": "http://proxy/v1"}).model_providers["openai"].base_url == \
        "http://proxy/v1"
    s = load(home, 'openai_base_url="http://cfg/v1"', env={"OPENAI_BASE_URL": "http://proxy/v1"})
    assert s.model_providers["openai"].base_url == "http://cfg/v1"
    assert s.extra["openai_base_url"] == "http://cfg/v1"


# --------------------------------------------------------------------------------------- precedence


def test_file_profile_override_flag_precedence(home: Path) -> None:
    config = write(home, """
model = "file"
sandbox_mode = "workspace-write"
approval_policy = "on-request"
hide_agent_reasoning = true
[profiles.p]
model = "profile"
approval_policy = "untrusted"
""")
    s = load(home, profile="p")
    assert (s.model, s.approval_policy, s.sandbox_mode) == ("profile", "untrusted", "workspace-write")
    assert s.profile == "p" and s.sources == [config]
    s = load(home, "model=override", profile="p")
    assert s.model == "override"
    s = load(home, "model=override", "approval_policy=never", profile="p",
             flags={"model": "flag", "sandbox_mode": None})
    assert (s.model, s.approval_policy, s.sandbox_mode) == ("flag", "never", "workspace-write")
    assert s.hide_agent_reasoning is True
    assert s.describe_source("model") == "command line"
    assert s.describe_source("approval_policy") == "-c approval_policy=never"
    assert s.describe_source("sandbox_mode") == str(config)


def test_later_overrides_win(home: Path) -> None:
    assert load(home, "model=a", "model=b").model == "b"


def test_profile_selected_by_key_and_by_override(home: Path) -> None:
    write(home, 'profile = "a"\n[profiles.a]\nmodel = "A"\n[profiles.b]\nmodel = "B"\n')
    assert load(home).model == "A"
    assert load(home).profile == "a"
    assert load(home, "profile=b").model == "B"
    assert load(home, "profile=b", profile="a").model == "A"


def test_profile_may_set_tables(home: Path) -> None:
    write(home, '[oss]\nsmall_model = "s"\n[profiles.big.oss]\nlarge_model = "L"\nauto_pull = false\n')
    s = load(home, profile="big")
    assert s.oss == OssConfig(small_model="s", large_model="L", auto_pull=False)


def test_profile_file_layers_after_profile_table(home: Path) -> None:
    write(home, 'model = "file"\ntop_p = 0.5\n[profiles.x]\nmodel = "table"\ntemperature = 0.1\n')
    extra = write(home, 'temperature = 0.7\n', "x.config.toml")
    s = load(home, profile="x")
    assert (s.model, s.temperature, s.top_p) == ("table", 0.7, 0.5)
    assert s.sources == [home / "config.toml", extra]
    assert s.describe_source("temperature") == str(extra)


def test_profile_file_alone_defines_a_profile(home: Path) -> None:
    write(home, 'model = "only-file"\n', "solo.config.toml")
    s = load(home, profile="solo")
    assert s.model == "only-file" and s.sources == [home / "solo.config.toml"]


def test_unknown_profile_lists_known(home: Path) -> None:
    assert error_of(home, profile="x") == (
        f"unknown profile 'x'; no profiles are defined (add [profiles.x] to {home / 'config.toml'}, "
        f"or create {home / 'x.config.toml'})")
    write(home, '[profiles.b]\n[profiles.a]\n')
    assert error_of(home, profile="x") == \
        f"unknown profile 'x'; known profiles: a, b (defined in {home / 'config.toml'})"
    write(home, "", "c.config.toml")
    assert "known profiles: a, b, c" in error_of(home, "profile=x")


def test_profile_name_cannot_escape_home(home: Path) -> None:
    write(home.parent, 'model = "outside"\n', "evil.config.toml")
    assert "unknown profile '../evil'" in error_of(home, profile="../evil")


# ---------------------------------------------------------------------------------------- overrides


@pytest.mark.parametrize(("text", "expected"), [
    ("model=o3", (["model"], "o3")),
    ("x=[1,2]", (["x"], [1, 2])),
    ("a={b=1}", (["a"], {"b": 1})),
    ('model="gpt-oss:20b"', (["model"], "gpt-oss:20b")),
    ("model=gpt-oss:20b", (["model"], "gpt-oss:20b")),
    ("model='x'", (["model"], "x")),
    ("url=http://h/?a=b", (["url"], "http://h/?a=b")),
    ('k="a=b"', (["k"], "a=b")),
    (" a . b = true ", (["a", "b"], True)),
    ("n=1.5", (["n"], 1.5)),
    ("empty=", (["empty"], "")),
    ("s=  spaced out  ", (["s"], "spaced out")),
    ("q='unbalanced", (["q"], "'unbalanced")),
    ('model_providers."my.host".base_url="http://h"', (["model_providers", "my.host", "base_url"], "http://h")),
    ("two=1\nb=2", (["two"], "1\nb=2")),
])
def test_parse_override_forms(text: str, expected: tuple[list[str], Any]) -> None:
    assert parse_override(text) == expected


@pytest.mark.parametrize(("text", "needle"), [
    ("model", "-c 'model': expected key=value but there is no '='"),
    ("=x", "-c '=x': expected key=value with a non-empty key, e.g. -c model=\"gpt-oss:20b\""),
    ("a..b=1", "non-empty key"),
    (" . =1", "non-empty key"),
    ('a."b=1', "not a valid TOML dotted key"),
])
def test_parse_override_errors(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_override(text)
    assert needle in str(info.value)


def test_dotted_override_creates_tables(home: Path) -> None:
    s = load(home, "model_providers.lab.base_url=http://lab:11434/v1", "model_provider=lab",
             "model_providers.lab.http_headers.X-Team=core",
             "mcp_servers.echo={command='python3',args=['-m']}")
    lab = s.provider()
    assert (lab.id, lab.name, lab.base_url, lab.wire_api) == ("lab", "lab", "http://lab:11434/v1", "chat")
    assert lab.http_headers == {"X-Team": "core"}
    echo = s.mcp_servers["echo"]
    assert (echo.command, echo.args, echo.transport) == ("python3", ("-m",), "stdio")


def test_override_merges_into_file_tables(home: Path) -> None:
    write(home, '[sandbox_workspace_write]\nwritable_roots = ["/a"]\nnetwork_access = true\n')
    s = load(home, 'sandbox_workspace_write.writable_roots=["/b"]')
    assert s.sandbox_workspace_write.writable_roots == ["/b"]  # lists replace
    assert s.sandbox_workspace_write.network_access is True  # tables merge


def test_override_scalar_text_used_for_string_keys(home: Path) -> None:
    assert load(home, "model=3").model == "3"
    assert load(home, "model=2024-01-01").model == "2024-01-01"
    assert load(home, "oss.small_model=true").oss.small_model == "true"
    assert load(home, "temperature=1").temperature == 1.0


# ------------------------------------------------------------------------------------------ files


def test_malformed_toml_names_file_line_and_column(home: Path) -> None:
    path = write(home, 'model = "a"\n\nfoo bar = 1\n')
    assert error_of(home) == f"{path}:3:5: invalid TOML: Expected '=' after a key in a key/value pair"


def test_malformed_profile_file(home: Path) -> None:
    path = write(home, "model = \n", "p.config.toml")
    assert error_of(home, profile="p").startswith(f"{path}:1:")


def test_unreadable_config_is_an_error(home: Path) -> None:
    (home / "config.toml").mkdir()
    assert error_of(home).startswith(f"{home / 'config.toml'}: cannot read config file")


def test_non_utf8_config_is_an_error(home: Path) -> None:
    (home / "config.toml").write_bytes(b'model = "\xff"\n')
    assert "not UTF-8" in error_of(home)


def test_utf8_bom_is_accepted(home: Path) -> None:
    (home / "config.toml").write_bytes('\ufeffmodel = "m"\n'.encode())
    assert load(home).model == "m"


# ------------------------------------------------------------------------------------- validation


def test_unknown_keys_warn_with_suggestions(home: Path) -> None:
    path = write(home, 'modle = "x"\nzzz_qqq = 1\n[oss]\nsmal_model = "y"\n'
                       '[profiles.p]\nsandbox = "read-only"\n')
    s = load(home, "approval=never")
    assert s.warnings == [
        f"unknown config key 'modle' in {path}:1 (ignored); did you mean 'model'?",
        f"unknown config key 'zzz_qqq' in {path}:2 (ignored)",
        f"unknown config key 'oss.smal_model' in {path}:4 (ignored); did you mean 'oss.small_model'?",
        f"unknown config key 'profiles.p.sandbox' in {path}:6 (ignored); "
        "did you mean 'profiles.p.sandbox_mode'?",
        "unknown config key 'approval' in -c approval=never (ignored); did you mean 'approval_policy'?",
    ]
    assert s.model is None and s.oss.small_model == "gpt-oss:20b"


def test_codex_only_keys_are_kept_silently(home: Path) -> None:
    write(home, """
web_search = "disabled"
notify = ["notify-send"]
oss_provider = "ollama"
[features]
foo = true
[shell_environment_policy]
inherit = "core"
[model_providers.x]
base_url = "http://x/v1"
experimental_bearer_token = "t"
""")
    s = load(home)
    assert s.warnings == []
    assert s.oss_provider == "ollama"  # read: it chooses the local provider (--oss --local-provider)
    assert s.extra == {"web_search": "disabled", "notify": ["notify-send"],
                       "features": {"foo": True}, "shell_environment_policy": {"inherit": "core"}}
    assert s.model_providers["x"].extra == {"experimental_bearer_token": "t"}


@pytest.mark.parametrize(("override", "message"), [
    ('sandbox_mode="bogus"',
     '-c sandbox_mode="bogus": expected one of read-only, workspace-write, danger-full-access, got "bogus"'),
    ("sandbox_mode=workspace_write", "did you mean 'workspace-write'?"),
    ("approval_policy=always", "expected one of never, on-request, on-failure, untrusted"),
    ("model_reasoning_effort=max", "expected one of none, minimal, low, medium, high, xhigh"),
    ("model_reasoning_summary=short", "expected one of auto, concise, detailed, none"),
    ("model=[1]", "-c model=[1]: expected a string, got a list"),
    ("model_context_window=big", 'expected an integer greater than 0, got "big"'),
    ("model_context_window=0", "expected an integer greater than 0, got 0"),
    ("project_doc_max_bytes=-1", "expected an integer of at least 0, got -1"),
    ("tool_output_token_limit=1.5", "expected an integer greater than 0, got 1.5"),
    ("hide_agent_reasoning=yes", 'expected true or false, got "yes"'),
    ("show_raw_agent_reasoning=1", "expected true or false, got 1"),
    ("temperature=hot", 'expected a number of at least 0, got "hot"'),
    ("temperature=nan", "expected a number of at least 0, got nan"),
    ("top_p=2", "expected a number from 0 to 1, got 2"),
    ("project_doc_fallback_filenames=[1]", "expected a list of strings, but item 1 is 1"),
    ("oss=3", "-c oss=3: expected a table, got 3"),
    ("oss={auto_pull='no'}", "-c oss={auto_pull='no'}: oss.auto_pull: expected true or false"),
    ("model_providers.x.request_max_retries=101", "expected an integer from 0 to 100, got 101"),
    ("model_providers.x.stream_idle_timeout_ms=0", "expected an integer greater than 0"),
    ("model_providers.x.wire_api=grpc", "expected one of chat, responses"),
    ("model_providers.x.base_url=localhost:11434", "expected an http:// or https:// URL"),
    ("model_providers.x.http_headers={a=1}", "expected a table of strings, but 'a' is 1"),
    ("model_provider=nope",
     "-c model_provider=nope: unknown model provider 'nope'; known providers: oss, embedded, openai"),
])
def test_bad_values_are_config_errors(home: Path, override: str, message: str) -> None:
    assert message in error_of(home, override)


def test_file_errors_name_file_line_and_key(home: Path) -> None:
    path = write(home, '[model_providers.x]\nrequest_max_retries = "three"\n')
    assert error_of(home) == \
        f'{path}:2: model_providers.x.request_max_retries: expected an integer from 0 to 100, got "three"'
    path = write(home, 'model = "m"\n[profiles.p]\n# a comment\nsandbox_mode = "nope"\n')
    assert error_of(home).startswith(f"{path}:4: profiles.p.sandbox_mode: expected one of")
    path = write(home, 'model_provider = "gone"\n')
    assert error_of(home).startswith(f"{path}:1: model_provider: unknown model provider 'gone'")
    # a key inside an inline table or a dotted key: the line that holds it
    path = write(home, 'oss = { auto_pull = "no" }\n[model_providers]\nx.request_max_retries = -1\n')
    assert error_of(home).startswith(f"{path}:1: oss.auto_pull: expected true or false")
    path = write(home, '[model_providers]\n\nx.request_max_retries = -1\n')
    assert error_of(home).startswith(f"{path}:3: model_providers.x.request_max_retries: expected an integer")


def test_flag_errors_name_the_command_line(home: Path) -> None:
    message = error_of(home, flags={"sandbox_mode": "x"})
    assert message.startswith("command line: sandbox_mode: expected one of")


def test_custom_provider_needs_a_base_url_when_selected(home: Path) -> None:
    write(home, '[model_providers.lab]\nname = "Lab"\n')
    assert load(home).model_providers["lab"].name == "Lab"  # not selected: fine
    assert "model provider 'lab' has no base_url" in error_of(home, "model_provider=lab")


def test_codex_ollama_provider_id_means_oss(home: Path) -> None:
    assert load(home, "model_provider=ollama").model_provider == "oss"


# -------------------------------------------------------------------------------------- providers


def test_provider_table_merges_onto_builtin_oss(home: Path) -> None:
    write(home, """
[model_providers.oss]
base_url = "https://ollama.example/v1"
http_headers = { X-Api = "k" }
ca_cert = "/etc/ca.pem"
stream_max_retries = 0
""")
    s = load(home, "model_providers.oss.http_headers.X-Other=o")
    oss = s.provider()
    assert (oss.name, oss.wire_api, oss.base_url) == ("Ollama", "chat", "https://ollama.example/v1")
    assert oss.http_headers == {"X-Api": "k", "X-Other": "o"}
    assert (oss.ca_cert, oss.stream_max_retries, oss.request_max_retries) == ("/etc/ca.pem", 0, 4)
    assert set(s.model_providers) == {"oss", "openai", "embedded"}


def test_resolved_headers() -> None:
    provider = ProviderConfig(
        id="p", name="P", base_url="http://h", env_key="P_KEY",
        http_headers={"X-Static": "s", "authorization": "old"},
        env_http_headers={"X-Env": "P_HEADER", "X-Missing": "P_UNSET", "X-Empty": "P_EMPTY"},
    )
    env = {"P_KEY": "sekret", "P_HEADER": "h", "P_EMPTY": ""}
    assert provider.resolved_headers(env) == {"X-Static": "s", "X-Env": "h", "Authorization": "Bearer sekret"}
    assert provider.resolved_headers({}) == {"X-Static": "s", "authorization": "old"}


def test_openai_needs_the_flag(home: Path) -> None:
    s = load(home, "model_provider=openai", "model_providers.openai.requires_openai_auth=false")
    with pytest.raises(ConfigError) as info:
        check_provider_allowed(s, openai_flag=False)
    assert str(info.value) == ("model_provider 'openai' sends your code to OpenAI and needs --openai to be "
                               "allowed; add --openai, or use --oss for a local Ollama server")
    check_provider_allowed(s, openai_flag=True)
    check_provider_allowed(load(home), openai_flag=False)


def test_custom_provider_requiring_openai_auth_needs_the_flag(home: Path) -> None:
    s = load(home, "model_provider=az", "model_providers.az={base_url='https://az/v1',requires_openai_auth=true}")
    with pytest.raises(ConfigError, match="model_provider 'az' sends your code to OpenAI"):
        check_provider_allowed(s, openai_flag=False)


# ------------------------------------------------------------------------------ property: parse_override


def toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_repr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "inf" if value == math.inf else "-inf" if value == -math.inf else repr(value)
    if isinstance(value, str):
        return toml_string(value)
    return "[" + ", ".join(toml_repr(item) for item in value) + "]"


scalars = (st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
           | st.floats(allow_nan=False) | st.text())
toml_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=10)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(toml_values)
def test_parse_override_round_trips_toml_values(value: Any) -> None:
    assert parse_override(f"a.b={toml_repr(value)}") == (["a", "b"], value)


@FAST
@given(st.text().filter(lambda t: "\n" not in t))
@example("a=" + "[" * 5000)
@example("a=" + "1" * 5000)
@example('"=1')
@example("''.x=1")
def test_parse_override_only_raises_config_error(text: str) -> None:
    try:
        path, _ = parse_override(text)
    except ConfigError:
        return
    assert path and all(path)


def is_toml_value(text: str) -> bool:
    try:
        tomllib.loads("_x_ = " + text)
    except (ValueError, RecursionError):
        return False
    return True


@FAST
@given(st.text(st.characters(blacklist_characters="\n")).filter(lambda t: not is_toml_value(t)))
def test_parse_override_keeps_non_toml_as_text(value: str) -> None:
    expected = value.strip()
    if len(expected) >= 2 and expected[0] == expected[-1] and expected[0] in "\"'":
        expected = expected[1:-1]
    assert parse_override("key=" + value) == (["key"], expected)
