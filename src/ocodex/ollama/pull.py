"""Pulling a model onto the server: the `POST /api/pull` NDJSON stream, read as `PullUpdate`s, and a
pull driven to its end, its progress sent as `PullProgress` events (a run's pull, drawn by the face) or
shown on a `PullDisplay` (the `ocodex pull` command's own).

Closing the update iterator (or an exception inside it) closes the HTTP response, which makes Ollama
stop the download; partial blobs are resumed by the next pull.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, NoReturn, Protocol

import httpx

from ocodex.approval import PULL_ASK_BYTES
from ocodex.errors import Interrupted, PullError
from ocodex.events import Event, PullEnded, PullProgress
from ocodex.net.errors import reason
from ocodex.ollama.records import PullUpdate, pull_update

if TYPE_CHECKING:
    from ocodex.ollama.client import OllamaClient

PATH = "/api/pull"


class PullDeclined(PullError):
    """The person asked before a large pull said no."""


class PullDisplay(Protocol):
    """Something that shows a pull's progress. `finish()` after success, `abort()` on failure."""

    def update(self, update: PullUpdate) -> None: ...

    def finish(self) -> None: ...

    def abort(self) -> None: ...


def pull_updates(client: OllamaClient, model: str) -> Iterator[PullUpdate]:
    """Stream `POST /api/pull` progress. Ends after `success`; raises PullError otherwise."""
    response = client.open_stream(PATH, {"model": model, "stream": True})
    try:
        if not response.is_success:
            client.read_quietly(response)
            from ocodex.ollama.client import error_message

            raise PullError(f"Pull failed: {error_message(response)}")
        yield from _updates(client, response)
    finally:
        response.close()


def _updates(client: OllamaClient, response: httpx.Response) -> Iterator[PullUpdate]:
    try:
        for line in response.iter_lines():
            update = parse_pull_line(line)
            if update is None:
                continue
            yield update
            if update.status == "success":
                return
    except httpx.TimeoutException:
        _failed(f"Ollama sent no progress for {client.read_timeout:g}s")
    except (httpx.HTTPError, httpx.StreamError) as exc:
        _failed(f"connection to Ollama at {client.root} broke ({reason(exc)})")
    raise PullError("Pull stream ended unexpectedly without success")


def _failed(why: str) -> NoReturn:
    raise PullError(f"Pull failed: {why}")


def parse_pull_line(line: str) -> PullUpdate | None:
    """One NDJSON progress line as a `PullUpdate` (None for a blank line); an error line is a PullError."""
    text = line.strip()
    if not text:
        return None
    try:
        raw = json.loads(text)
    except ValueError:
        raise PullError(f"Pull failed: unexpected progress line from the server: {text[:120]}") from None
    if not isinstance(raw, dict):
        raise PullError(f"Pull failed: unexpected progress line from the server: {text[:120]}")
    if "error" in raw:
        error = raw["error"]
        message = error.get("message") if isinstance(error, dict) else error
        hint = None
        if "no space left on device" in str(message).lower():
            hint = ("the server's disk is full: free space there, or move its models to a larger volume "
                    "with OLLAMA_MODELS=/path/to/models and restart `ollama serve`")
        raise PullError(f"Pull failed: {message}", hint=hint)
    return pull_update(raw)


def pull_with_progress(client: OllamaClient, model: str, progress: PullDisplay) -> None:
    """Pull `model`, feeding every update to `progress`. Ctrl-C stops the download cleanly."""
    _drive(client, model, progress.update, lambda ok: progress.finish() if ok else progress.abort())


def pull_with_events(client: OllamaClient, model: str, emit: Callable[[Event], None],
                     confirm: Callable[[int], bool] | None = None) -> None:
    """Pull `model`, sending each update as a `PullProgress` and the end as a `PullEnded`. `confirm` is asked
    once, with the download's size, when the layers the server has announced pass `PULL_ASK_BYTES`; a False
    stops the pull (`PullDeclined`) and closes the stream, which stops the server's download."""
    totals: dict[str, int] = {}
    asked = confirm is None

    def update(u: PullUpdate) -> None:
        nonlocal asked
        if not asked and u.digest and u.total:
            totals[u.digest] = u.total
            size = sum(totals.values())
            if size > PULL_ASK_BYTES:
                asked = True
                assert confirm is not None
                if not confirm(size):
                    raise PullDeclined(f"Did not pull {model} ({size / 1024**3:.1f} GiB): declined",
                                       hint="choose a model the server has with -m MODEL (`ocodex models` lists "
                                            f"them), or pull it later with `ocodex pull {model}`")
        emit(PullProgress(model, u.status, u.digest, u.total, u.completed))

    _drive(client, model, update, lambda ok: emit(PullEnded(model, ok)))


def _drive(client: OllamaClient, model: str, on_update: Callable[[PullUpdate], None],
           on_end: Callable[[bool], None]) -> None:
    updates = client.pull(model)
    try:
        for update in updates:
            on_update(update)
    except KeyboardInterrupt:
        updates.close()  # closes the HTTP response, which stops the server-side download
        on_end(False)
        raise Interrupted(f"Pull of {model} interrupted; run the command again to resume "
                          "(Ollama keeps partial downloads)") from None
    except BaseException:
        updates.close()
        on_end(False)
        raise
    on_end(True)
