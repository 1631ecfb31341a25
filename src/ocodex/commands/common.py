"""What the Ollama management commands (models, pull, show, ps, rm, doctor, bench) share.

Owns their shared options (`-c`, `-p`, `-m`, `--json`), finding the server they talk to (the same
base URL, headers and TLS settings `exec --oss` uses), the `error: ... / hint: ...` exit path, JSON
output, and the lazily built rich console for tables. Nothing here decides what a command shows.
Table cells and titles are server data (model names, capabilities, versions): `table()` shows each
string terminal-safe and never as rich markup.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from ocodex import jsontext
from ocodex.errors import run_reporting

if TYPE_CHECKING:
    from ocodex.config import ProviderConfig, Settings
    from ocodex.net.transport import Transport
    from ocodex.ollama.client import OllamaClient


@dataclass(slots=True)
class Target:
    """The Ollama server a management command talks to, and how it was chosen."""

    settings: Settings
    provider: ProviderConfig
    base_url: str
    source: str  # "CODEX_OSS_BASE_URL", "CODEX_OSS_PORT", "default" or a config key
    transport: Transport
    client: OllamaClient

    def close(self) -> None:
        self.client.close()
        self.transport.close()


def load_command_settings(args: argparse.Namespace) -> Settings:
    """Settings from config.toml, `-p` and `-c`, exactly as `exec` reads them (no flags)."""
    from ocodex.config import load_settings, ocodex_home

    flags: dict[str, Any] = {}
    if getattr(args, "model", None):
        flags["model"] = args.model
    if getattr(args, "local_provider", None):
        flags["model_provider"] = "oss"
        flags["oss_provider"] = args.local_provider
    return load_settings(home=ocodex_home(), overrides=getattr(args, "config", None) or [],
                         profile=getattr(args, "profile", None), flags=flags)


def server_url(settings: Settings) -> tuple[ProviderConfig, str, str]:
    """(provider, base URL as configured, how it was chosen) for the Ollama server ocodex would use.

    The selected provider when it is a custom one (a LAN box defined in config.toml), else the
    built-in `oss` provider, whose URL follows Codex's CODEX_OSS_BASE_URL / CODEX_OSS_PORT rule, as
    `exec --oss` does (`ocodex.config.endpoints.base_url_for`). The URL may still carry `user:pass@`;
    `open_target` removes it.
    """
    from ocodex.config.endpoints import base_url_for

    chosen = settings.provider()
    provider = chosen if chosen.id not in ("oss", "openai", "embedded") else settings.model_providers["oss"]
    base_url, source = base_url_for(provider, os.environ)
    return provider, base_url, source


def open_target(args: argparse.Namespace, settings: Settings | None = None) -> Target:
    """A client for the server, with the provider's headers, Basic auth, TLS settings and failover."""
    from ocodex.net.connection import connect
    from ocodex.ollama.client import OllamaClient
    from ocodex.ollama.urls import server_root

    settings = settings or load_command_settings(args)
    provider, configured, source = server_url(settings)
    connection = connect(provider, configured, os.environ, warn_plain_http=False)
    client = OllamaClient(server_root(connection.base_url), connection.transport, base_url=connection.base_url)
    return Target(settings, provider, connection.base_url, source, connection.transport, client)


def add_server_options(parser: argparse.ArgumentParser, *, model: bool = False, local: bool = False) -> None:
    """`-c`/`-p` (and `-m` when `model`, `--local-provider` when `local`): the settings a management command
    reads, as `exec` reads them."""
    parser.add_argument("-c", "--config", dest="config", action="append", default=None, metavar="key=value",
                        help="override a config value (dotted key; value parsed as TOML); repeatable")
    parser.add_argument("-p", "--profile", dest="profile", default=None, metavar="NAME",
                        help="use [profiles.NAME] from config.toml")
    if model:
        parser.add_argument("-m", "--model", dest="model", default=None, metavar="MODEL",
                            help="the model (default: what `exec --oss` would use here)")
    if local:
        parser.add_argument("--local-provider", dest="local_provider", choices=("ollama", "embedded"),
                            default=None, help="`embedded`: the bundled models run inside ocodex (default: "
                                               "oss_provider in config, else ollama)")


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def run_guarded(body: Callable[[], int], err: TextIO | None = None) -> int:
    """Run a command body; an OcodexError becomes `error:`/`hint:` lines and its exit code."""
    return run_reporting(body, err)


def print_json(data: Any, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    out.write(jsontext.dumps(data, indent=2, default=_json_default) + "\n")  # server strings: any code point


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def console(stream: TextIO | None = None) -> Any:
    """A rich Console on `stream` (stdout); colour follows NO_COLOR and whether it is a terminal."""
    from rich.console import Console

    stream = stream or sys.stdout
    tty = _isatty(stream)
    # On a pipe, lines are never wrapped: logs and scripts get one line per row or check.
    return Console(file=stream, no_color=bool(os.environ.get("NO_COLOR")), highlight=False,
                   soft_wrap=not tty, width=None if tty else 200)


def table(*columns: str, title: str | None = None) -> Any:
    """A rich table whose string cells (and title) are plain terminal-safe text, never markup."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from ocodex.render.safe import terminal_safe

    class SafeTable(Table):
        def add_row(self, *cells: Any, **options: Any) -> None:
            super().add_row(*(Text(terminal_safe(c)) if isinstance(c, str) else c for c in cells), **options)

    grid = SafeTable(title=Text(terminal_safe(title)) if title is not None else None, box=box.SIMPLE_HEAD,
                     show_edge=False, pad_edge=False, title_justify="left")
    for column in columns:
        grid.add_column(column, overflow="fold")
    return grid


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def size_text(count: int | None) -> str:
    from ocodex.render.progress import format_bytes

    return "-" if count is None else format_bytes(count)


def until_text(when: datetime | None, now: datetime | None = None) -> str:
    """`in 4m 12s` for a future expiry, `expired` for a past one, `-` when unknown."""
    if when is None:
        return "-"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    seconds = int((when - now).total_seconds())
    if seconds < 0:
        return "expired"
    if seconds > 10 * 365 * 86400:  # keep_alive -1 shows as a far-future date
        return "forever"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"in {hours}h {minutes}m"
    return f"in {minutes}m {secs}s" if minutes else f"in {secs}s"
