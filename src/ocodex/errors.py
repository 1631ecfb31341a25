"""User-facing errors: each says what happened in one line and, where it can, what to do about it.

Everything that can go wrong for a reason the user can fix is raised as an `OcodexError`; the CLI prints
`error: <message>` plus an optional hint and exits with `exit_code`. Nothing else should reach the
top level, so a traceback always means a bug in ocodex.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import TextIO


class OcodexError(Exception):
    """A failure with a message a person can act on."""

    exit_code = 1
    also: str | None = None  # a second hint line: another way to get going (e.g. the embedded provider)

    def __init__(self, message: str, hint: str | None = None, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class UsageError(OcodexError):
    """Bad flags or arguments (exit code 2, as argument parsers do)."""

    exit_code = 2


class ConfigError(OcodexError):
    """A config file, profile or `-c` override that cannot be used."""


class ServerUnavailable(OcodexError):
    """The model server could not be reached at all."""


class ProviderError(OcodexError):
    """The model server answered with an error, or a response we cannot use."""

    def __init__(self, message: str, hint: str | None = None, *, status: int | None = None,
                 retryable: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message, hint)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after  # seconds the server asked us to wait (Retry-After), if it did


class StreamError(ProviderError):
    """A streamed response that broke off or could not be parsed."""


class PullError(OcodexError):
    """Pulling a model onto the Ollama server failed."""


class SandboxUnavailable(OcodexError):
    """A sandboxed mode was asked for but cannot be enforced on this host."""


class Interrupted(OcodexError):
    """The user pressed Ctrl-C."""

    exit_code = 130


class TurnInterrupted(Interrupted):
    """Ctrl-C during a turn, after the turn's `turn.failed` event has already said so."""


class OutputError(OcodexError):
    """stdout cannot be written (a full disk, `> /dev/full`, a closed descriptor): the run stops."""


def output_failed(exc: OSError, *, run: bool = False) -> OutputError:
    """The error for a failed write to stdout (not a broken pipe: `run_reporting` has its own line);
    `run`: a task's output, whose session file keeps what it did."""
    hint = "send stdout somewhere it can be written (a full disk? `> /dev/full`?)"
    if run:
        hint += "; the session file keeps what the run did (unless --ephemeral)"
    return OutputError(f"cannot write to stdout: {exc.strerror or exc}", hint)


class Stopped(SystemExit):
    """SIGTERM or SIGHUP ended the run (`ocodex.thread.signals`): exit 128 + the signal's number.

    A `SystemExit`, so no `except Exception` and no Ctrl-C handler swallows it, and every `finally` runs.
    `shown`: the face has already said so (the turn's failure), so `run_reporting` stays quiet.
    """

    def __init__(self, signum: int, message: str, *, shown: bool = False) -> None:
        super().__init__(128 + signum)
        self.signum = signum
        self.message = message
        self.shown = shown

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def report(exc: OcodexError, err: TextIO) -> int:
    """Print `error: ...` (and `hint: ...`), secrets scrubbed and terminal-safe (messages quote servers,
    models and files); return the exit code."""
    from ocodex.redact import scrub
    from ocodex.render.safe import terminal_safe

    err.write(f"error: {terminal_safe(scrub(exc.message))}\n")
    if exc.hint:
        err.write(f"hint: {terminal_safe(scrub(exc.hint))}\n")
    if exc.also:
        err.write(f"hint: {terminal_safe(scrub(exc.also))}\n")
    return exc.exit_code


def run_reporting(body: Callable[[], int], err: TextIO | None = None) -> int:
    """Run a command body: an `OcodexError`, Ctrl-C or a stop signal becomes one error line and an exit code."""
    stream = err if err is not None else sys.stderr
    try:
        return body()
    except OutputError as exc:
        _silence_stdout()  # so the interpreter's final flush does not fail on it too
        return report(exc, stream)
    except OcodexError as exc:
        return report(exc, stream)
    except Stopped as exc:
        if not exc.shown:
            with contextlib.suppress(OSError, ValueError):  # SIGHUP: the terminal may be gone
                stream.write(f"error: {exc.message}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        stream.write("error: interrupted\n")
        return Interrupted.exit_code
    except BrokenPipeError:  # whoever read our stdout went away (`| head`, a killed consumer): stop
        _silence_stdout()
        stream.write("error: stdout was closed by its reader (broken pipe); the run stopped\n")
        return 1
    except Exception:  # a bug: show its traceback, but never a secret it happens to quote
        import traceback

        from ocodex.redact import scrub
        from ocodex.render.safe import terminal_safe

        stream.write(terminal_safe(scrub(traceback.format_exc())))
        return 1


def report_stdout_failure(exc: OSError, err: TextIO | None = None) -> int:
    """stdout failed outside a command's own reporting (`--version`, the last flush): one line, exit 1."""
    _silence_stdout()
    stream = err if err is not None else sys.stderr
    if isinstance(exc, BrokenPipeError):
        return 1  # its reader went away on purpose (`| head`): nothing to say
    return report(output_failed(exc), stream)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush does not fail on the closed pipe too."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # AttributeError: no stdout at all (`>&-`)
        pass
