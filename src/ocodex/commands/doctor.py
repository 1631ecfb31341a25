"""`ocodex doctor`: one screen saying what works and what doesn't for `exec --oss`, each with its fix.

Owns the checks and their order: config, server URL and how it was chosen, plain HTTP to a remote
host, reachability, TLS and auth, latency, Ollama version and what it implies, the default model and
its presence, tools capability, context window, host RAM, the sandbox, and model storage. A check
that fails ("fail") blocks a run, and the exit code is then 1; "warn" only informs.

Over 450 lines on purpose: one method per check, in the order the screen shows them; each is short,
and together they are the one place that says what a run needs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ocodex.commands.common import (
    Target,
    add_json_option,
    add_server_options,
    console,
    open_target,
    print_json,
    run_guarded,
)
from ocodex.context_window import SMALL_WINDOW, SUGGESTED_WINDOW, effective_window, rule_text
from ocodex.errors import ConfigError, OcodexError, ProviderError, ServerUnavailable

if TYPE_CHECKING:
    from ocodex.config import Settings
    from ocodex.ollama.client import ModelDetails
    from ocodex.sandbox import Limits

Status = Literal["ok", "warn", "fail", "skip"]

MIN_CONTEXT = SMALL_WINDOW
RECOMMENDED_CONTEXT = SUGGESTED_WINDOW
OLD_DEFAULT_CONTEXT = 4096
SLOW_RTT_MS = 50.0
LINUX_MODEL_DIRS = ("/usr/share/ollama/.ollama/models", "/var/lib/ollama", "~/.ollama/models")
FEATURES = (  # (first version, what it brings ocodex)
    ("0.5.2", "token usage on streamed /v1 chat"),
    ("0.10.0", "/api/ps reports the allocated context"),
    ("0.30.0", "/api/tags lists context length and capabilities"),
)


@dataclass(slots=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None


class Doctor:
    """Runs the checks in order, each appending a `Check`."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.checks: list[Check] = []
        self.command = "ocodex exec --oss"  # what the verdict names

    def add(self, name: str, status: Status, detail: str, fix: str | None = None) -> None:
        self.checks.append(Check(name, status, detail, fix))

    @property
    def blocked(self) -> bool:
        return any(check.status == "fail" for check in self.checks)

    # -- the sequence ----------------------------------------------------------------------------

    def run(self) -> None:
        from ocodex.commands.common import load_command_settings
        from ocodex.ollama.memory import host_memory_bytes

        try:
            settings = load_command_settings(self.args)
        except ConfigError as exc:
            self.add("config", "fail", exc.message, exc.hint or "fix the file named above")
            self.check_sandbox("read-only")
            self.check_ripgrep()
            return
        self.check_config(settings)
        if settings.model_provider == "embedded":  # no server to reach: the bundled model's own checks
            from ocodex.commands.embedded import doctor_checks

            self.command = "ocodex exec --oss --local-provider embedded"
            doctor_checks(settings, self.add)
            self.check_sandbox(settings.sandbox_mode, settings.sandbox_limits)
            self.check_ripgrep()
            return
        try:
            target = open_target(self.args, settings)
        except ConfigError as exc:
            self.add("server", "fail", exc.message, exc.hint)
            self.check_sandbox(settings.sandbox_mode, settings.sandbox_limits)
            self.check_ripgrep()
            return
        try:
            self.check_server(target)
        finally:
            target.close()
        if not any(check.name == "memory" for check in self.checks):  # the server was not reached
            self.check_memory(host_memory_bytes(), None, remote=False)
        self.check_sandbox(settings.sandbox_mode, settings.sandbox_limits)
        self.check_ripgrep()
        self.check_storage(target)

    def check_config(self, settings: Settings) -> None:
        from ocodex.config import ocodex_home

        files = ", ".join(str(path) for path in settings.sources) or \
            f"none (no {ocodex_home() / 'config.toml'}; built-in defaults)"
        profile = f"; profile '{settings.profile}'" if settings.profile else ""
        detail = f"files: {files}{profile}; provider '{settings.model_provider}'"
        if settings.warnings:
            self.add("config", "warn", f"{detail}; {len(settings.warnings)} warning(s): "
                     + "; ".join(settings.warnings), "remove or correct the keys named above")
        else:
            self.add("config", "ok", detail)

    def check_server(self, target: Target) -> None:
        from ocodex.ollama.urls import endpoint_hint, is_loopback

        how = {"default": "the default; set CODEX_OSS_BASE_URL to change it"}.get(target.source,
                                                                                   f"from {target.source}")
        hint = endpoint_hint(target.base_url)
        if hint:
            self.add("server", "warn", f"{target.base_url} ({how})", hint)
        else:
            self.add("server", "ok", f"{target.base_url} ({how})")
        remote = not is_loopback(target.base_url)
        if target.base_url.startswith("http://") and remote:
            self.add("transport", "warn", "plain HTTP to a remote host: prompts, code and any auth header "
                     "cross the network unencrypted",
                     "use an SSH tunnel (`ocodex tunnel user@host`) or a TLS proxy (deploy/nginx/), "
                     "see docs/deploying.md")
        if not self.check_reachable(target):
            return
        if hint:
            self.check_base_path(target)
        self.check_latency(target)
        self.check_version(target)
        self.check_model(target, remote)

    def check_base_path(self, target: Target) -> None:
        """The base URL lacks `/v1` but the server answered at its root: does the path exec uses exist?"""
        server = next(check for check in self.checks if check.name == "server")
        try:
            status = target.client.base_url_status()
        except OcodexError:
            return
        if status == 404:  # a bare Ollama: every model request would 404
            server.status = "fail"
            server.detail += f"; GET {target.base_url.rstrip('/')}/models answered 404, so model requests would fail"

    def check_reachable(self, target: Target) -> bool:
        headers = {name.lower() for name in target.transport.headers}
        if "authorization" in headers:
            auth = "with an Authorization header"
        elif target.transport.endpoints and target.transport.endpoints[0].auth is not None:
            auth = "with Basic auth from the base URL's user:password"
        else:
            auth = "without auth headers"
        try:
            target.client.probe()
        except ServerUnavailable as exc:  # (an untrusted certificate is an OcodexError from probe: below)
            fix = exc.hint
            other = ollama_host_url(os.environ.get("OLLAMA_HOST", ""))
            if other and other.rstrip("/") != target.base_url.rstrip("/"):
                fix = (f"OLLAMA_HOST is set here: if `ollama serve` was started with it, point ocodex at "
                       f"it with `export CODEX_OSS_BASE_URL={other}` (ocodex, like Codex, does not read "
                       f"OLLAMA_HOST). {fix or ''}").strip()
            if exc.also:  # the embedded provider, which needs no Ollama
                fix = f"{(fix or '').rstrip('.')}; {exc.also}".lstrip("; ")
            self.add("reachable", "fail", exc.message, fix)
            return False
        except ProviderError as exc:
            if exc.status in (401, 403):
                self.add("auth", "fail", f"{exc.message} ({auth})", exc.hint)
            else:
                self.add("reachable", "fail", exc.message, exc.hint)
            return False
        except OcodexError as exc:
            name = "tls" if exc.message.startswith("TLS verification failed") else "reachable"
            self.add(name, "fail", exc.message, exc.hint)
            return False
        self.add("reachable", "ok", f"GET {target.client.root}/v1/models answered ({auth})")
        if target.base_url.startswith("https://"):
            verify = target.transport.verify
            if verify is False:
                self.add("tls", "warn", "HTTPS without certificate verification (verify_tls = false)",
                         "point model_providers.oss.ca_cert at the proxy's CA instead")
            else:
                ca = verify if isinstance(verify, str) else os.environ.get("SSL_CERT_FILE") or "system CAs"
                self.add("tls", "ok", f"certificate verified against {ca}")
        return True

    def check_latency(self, target: Target) -> None:
        samples = []
        for _ in range(3):
            start = time.perf_counter()
            try:
                target.client.version()
            except OcodexError:
                return
            samples.append((time.perf_counter() - start) * 1000)
        rtt = statistics.median(samples)
        if rtt > SLOW_RTT_MS:
            self.add("latency", "warn", f"round trip {rtt:.1f} ms (median of 3)",
                     "every model request pays this; run Ollama closer to the code, or measure with "
                     "`ocodex bench`")
        else:
            self.add("latency", "ok", f"round trip {rtt:.1f} ms (median of 3)")

    def check_version(self, target: Target) -> None:
        from ocodex.ollama.client import version_at_least

        try:
            version = target.client.version()
        except OcodexError as exc:
            self.add("version", "warn", f"cannot read the version: {exc.message}")
            return
        if version is None:
            self.add("version", "warn", "the server has no /api/version (not Ollama, or a very old one)",
                     "upgrade Ollama; ocodex is tested against 0.13 and later")
            return
        have = [what for first, what in FEATURES if version_at_least(version, first)]
        missing = [f"{what} (needs {first})" for first, what in FEATURES if not version_at_least(version, first)]
        detail = f"Ollama {version}" + (f"; has {', '.join(have)}" if have else "")
        if missing and not version_at_least(version, FEATURES[0][0]):
            self.add("version", "warn", f"{detail}; lacks {', '.join(missing)}", "upgrade Ollama")
        else:
            self.add("version", "ok", detail + (f"; lacks {', '.join(missing)}" if missing else ""))

    def check_model(self, target: Target, remote: bool) -> None:
        from ocodex.commands.models import default_choice
        from ocodex.ollama.memory import format_gib, host_memory_bytes

        try:
            entries = target.client.tags()
        except OcodexError as exc:
            self.add("model", "fail", f"cannot list models: {exc.message}", exc.hint)
            return
        choice = default_choice(target, [entry.name for entry in entries])
        settings = target.settings
        memory = host_memory_bytes()
        if choice.present is None:
            if settings.oss.auto_pull:
                self.add("model", "warn", f"{choice.model} ({choice.reason}) is not on the server; the first "
                         "run will download it", f"pre-pull it now: `ocodex pull {choice.model}`")
            else:
                self.add("model", "fail", f"{choice.model} ({choice.reason}) is not on the server and "
                         "oss.auto_pull is false", f"`ocodex pull {choice.model}`, or choose another with -m")
            self.add("memory", "ok" if memory else "warn",
                     f"host RAM {format_gib(memory)}" if memory else "host RAM unknown")
            return
        self.add("model", "ok", f"{choice.present} ({choice.reason})")
        try:
            details = target.client.show(choice.present)
        except OcodexError as exc:
            self.add("capabilities", "warn", f"cannot read the model's details: {exc.message}")
            return
        if details.capabilities and "tools" not in details.capabilities:
            # Not a blocker: exec then describes its tools in the prompt and reads calls from the text.
            self.add("capabilities", "warn", f"{choice.present} has no native tool calling "
                     f"({', '.join(details.capabilities)}): ocodex falls back to tool calls written as text, "
                     "which is less reliable",
                     "choose a model with tools, e.g. -m gpt-oss:20b or -m qwen3:8b")
        else:
            self.add("capabilities", "ok", ", ".join(details.capabilities) or "not reported")
        self.check_context(target, choice.present, details)
        size = next((entry.size for entry in entries if entry.name == choice.present), None)
        self.check_memory(memory, size, remote)

    def check_context(self, target: Target, model: str, details: ModelDetails) -> None:
        from ocodex.ollama.names import same_model

        loaded = None
        with contextlib.suppress(OcodexError):  # an old server without /api/ps: fall back to show
            loaded = next((m.context_length for m in target.client.ps() if same_model(m.name, model)), None)
        trained = details.context_length
        window, source = effective_window(configured=target.settings.model_context_window, loaded=loaded,
                                          num_ctx=details.num_ctx, trained=trained)
        how = {"configured": "model_context_window: exec creates and uses a variant with this num_ctx",
               "loaded": "allocated by the loaded runner (/api/ps)", "num_ctx": "Modelfile num_ctx",
               "unknown": "server default (OLLAMA_CONTEXT_LENGTH, else 4096-262144 by GPU memory)"}[source]
        fix = (f"give the model a larger window: `-c model_context_window={RECOMMENDED_CONTEXT}` (ocodex derives "
               f"a variant once), or `OLLAMA_CONTEXT_LENGTH={RECOMMENDED_CONTEXT} ollama serve` on the server")
        trained_text = f"trained {trained:,}" if trained else "trained context unknown"
        if window is None:
            self.add("context", "warn", f"{how}; {trained_text}; {rule_text()}", fix)
        elif window < MIN_CONTEXT:
            self.add("context", "warn", f"{window:,} tokens ({how}); {trained_text}; {rule_text()}; below it, "
                     "long conversations lose their start", fix)
        else:
            self.add("context", "ok", f"{window:,} tokens ({how}); {trained_text}")

    def check_memory(self, memory: int | None, size: int | None, remote: bool) -> None:
        from ocodex.ollama.memory import format_gib

        if memory is None:
            self.add("memory", "warn", "host RAM unknown")
            return
        detail = f"host RAM {format_gib(memory)}"
        if size and not remote and size > memory:
            self.add("memory", "warn", f"{detail}, but the model's weights take {format_gib(size)}",
                     "choose a smaller or more quantised model (e.g. -m gpt-oss:20b or a q4 tag)")
        else:
            extra = f"; model weights {format_gib(size)}" if size else ""
            where = " (the server is remote: its own RAM is what counts)" if remote else ""
            self.add("memory", "ok", detail + extra + where)

    def check_sandbox(self, mode: str, limits: Limits | None = None) -> None:
        from ocodex.sandbox import Limits, SandboxPolicy, confinement

        try:
            seen = confinement(SandboxPolicy(mode=mode, cwd=Path.cwd(), limits=limits or Limits()))  # type: ignore[arg-type]
        except OcodexError as exc:
            self.add("sandbox", "fail", exc.message, exc.hint)
            return
        if mode == "danger-full-access":
            self.add("sandbox", "warn", "sandbox_mode is danger-full-access: commands run unconfined",
                     "use -s workspace-write (or --full-auto) unless you need full access")
        else:
            self.add("sandbox", "ok", f"{mode} is enforced ({shutil.which('bwrap') or 'Seatbelt'})")
        if seen is not None:  # what the probe read from /proc/self/status inside the sandbox
            self.add("confined", "ok", seen.line())

    def check_ripgrep(self) -> None:
        from ocodex.tools.env import ripgrep_path

        rg = ripgrep_path(os.environ.get("PATH"))
        if rg is None:
            self.add("ripgrep", "fail", "rg (ripgrep), which the model is told to search with, is not installed",
                     "reinstall ocodex (it depends on the ripgrep wheel), or apt-get install ripgrep")
        else:
            self.add("ripgrep", "ok", str(rg))

    def check_storage(self, target: Target) -> None:
        from ocodex.ollama.memory import format_gib
        from ocodex.ollama.urls import is_loopback

        configured = os.environ.get("OLLAMA_MODELS", "").strip()
        if not is_loopback(target.base_url):
            self.add("storage", "ok", "the server is remote: models live on its disk "
                     "(set OLLAMA_MODELS there to use a larger or faster volume)")
            return
        if configured:
            path = Path(configured).expanduser()
            if not _is_dir(path):
                self.add("storage", "warn", f"OLLAMA_MODELS={configured} does not exist here",
                         "create it, or fix the variable (the server and the ollama CLI both read it)")
                return
            candidates = [path]
        else:
            # /usr/share/ollama is often the ollama user's private home: unreadable is "not found" here.
            candidates = [Path(p).expanduser() for p in LINUX_MODEL_DIRS if _is_dir(Path(p).expanduser())]
        if not candidates:
            self.add("storage", "ok", "OLLAMA_MODELS unset and no local model directory found "
                     "(the server may run in Docker: see deploy/)")
            return
        try:
            free = shutil.disk_usage(candidates[0]).free
        except OSError as exc:
            self.add("storage", "warn", f"cannot read the free space of {candidates[0]}: {exc.strerror or exc}",
                     "run doctor as a user who can read the models directory, or check it with `df -h`")
            return
        detail = f"models in {candidates[0]} ({format_gib(free)} free)"
        if free < 20 * 1024**3:
            self.add("storage", "warn", detail, "large models need 13-65 GiB each; set OLLAMA_MODELS to a "
                     "larger volume and restart `ollama serve`")
        else:
            self.add("storage", "ok", detail)


def ollama_host_url(value: str) -> str | None:
    """The `/v1` base URL a client would use for a server started with `OLLAMA_HOST=value`
    (`0.0.0.0:11500`, `http://host`, `:11434`, `[::]:11434`), or None when blank or unreadable."""
    from urllib.parse import urlsplit

    text = value.strip()
    if not text:
        return None
    parts = urlsplit(text if "://" in text else f"http://{text}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 11434)
    except ValueError:
        return None
    host = parts.hostname or "localhost"
    if host in ("0.0.0.0", "::"):  # listening everywhere: this machine reaches it on loopback
        host = "localhost"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme or 'http'}://{host}:{port}/v1"


def _is_dir(path: Path) -> bool:
    """`path.is_dir()`, but False (not a traceback) when it cannot be examined (EACCES, ENAMETOOLONG)."""
    try:
        return path.is_dir()
    except OSError:
        return False


_MARKS = {"ok": ("ok  ", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "bold red"),
          "skip": ("skip", "dim")}


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.description = ("Check config, server, TLS and auth, latency, version, default model, context window, "
                          "RAM, sandbox and model storage. Exit code 1 when something blocks a run.")
    add_server_options(parser, model=True, local=True)
    add_json_option(parser)
    parser.set_defaults(run=run_doctor)


def run_doctor(args: argparse.Namespace) -> int:
    return run_guarded(lambda: _run(args))


def print_checks(out: Any, checks: list[Check]) -> None:
    """One line per check (and one per fix) on a pipe; on a terminal, long lines wrap under their text
    instead of at column 0."""
    from rich.table import Table
    from rich.text import Text

    from ocodex.render.safe import markup_safe, terminal_safe

    width = max(len(check.name) for check in checks)
    if not out.is_terminal:
        for check in checks:
            mark, style = _MARKS[check.status]
            out.print(f"[{style}]{mark}[/] {check.name:<{width}}  {markup_safe(check.detail)}")
            if check.fix and check.status in ("warn", "fail"):
                out.print(f"     {'':<{width}}  fix: {markup_safe(check.fix)}")
        return
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True, min_width=width + 1)
    grid.add_column(overflow="fold")
    for check in checks:
        mark, style = _MARKS[check.status]
        text = Text(terminal_safe(check.detail))  # details quote the server (versions, models, errors)
        if check.fix and check.status in ("warn", "fail"):
            text.append(terminal_safe(f"\nfix: {check.fix}"))
        grid.add_row(Text(mark, style=style), check.name, text)
    out.print(grid)


def _run(args: argparse.Namespace) -> int:
    doctor = Doctor(args)
    doctor.run()
    if args.json:
        print_json({"ok": not doctor.blocked, "checks": [asdict(check) for check in doctor.checks]})
        return 1 if doctor.blocked else 0
    out = console()
    print_checks(out, doctor.checks)
    failures = [check.name for check in doctor.checks if check.status == "fail"]
    if failures:
        out.print(f"[bold red]{len(failures)} problem(s) block `{doctor.command}`: {', '.join(failures)}[/]")
        return 1
    out.print(f"[green]ready: `{doctor.command}` can run here[/]")
    return 0
