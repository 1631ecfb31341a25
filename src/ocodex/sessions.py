"""Session files: append-only JSONL rollouts under `$OCODEX_HOME/sessions`, reading them back, listing.

One file per thread: `sessions/YYYY/MM/DD/rollout-YYYY-MM-DDTHH-MM-SS-<thread_id>.jsonl`, one JSON object
per line, `{"timestamp", "type", "payload"}`, in the spirit of Codex's rollouts:

- `session_meta` (first line): id, cwd, model, model_provider, created, cli_version, source, originator;
- `turn_context`: written at the start of every run (cwd, model, sandbox, approval policy);
- `response_item`: one chat message of the model's history (the opening messages, then every message
  the agent appends), in the chat-completions shape the provider sends;
- `event_msg`: every emitted event (`thread.started`, `item.completed`, `turn.completed`, ...), plus
  `user_message` records holding each prompt as the user typed it. A prompt longer than
  `PROMPT_INLINE_CHARS` is stored once: its `user_message` holds its start (for listings) with
  `"in_history": true` and `"chars"`, and the whole text is the next user `response_item`;
- `compacted`: the whole history after the agent summarised older turns (`replacement_history`); a
  reader replaces the messages read so far with it, so a resume sends what the agent last sent.

Every record is flushed as it is written, so a crash loses nothing already done. Every record passes
`ocodex.redact.scrub_value` before it is written: the secrets registered when the provider's connection
was made (API keys, authentication header values, URL passwords), any URL credentials and bearer tokens
never reach the file. Reading stops with a `SessionError` naming the file and line on a corrupt record;
an incomplete last line (a crash mid-write) is reported and skipped, so the session resumes from its
last whole record. A file that cannot be written is a `SessionError` too, never a traceback.

Over 450 lines on purpose: one file format, its writer, reader and finder side by side, so a change to
a record is made to all three at once.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ocodex import __version__, jsontext
from ocodex.errors import OcodexError
from ocodex.events import Usage, is_codex_event
from ocodex.redact import scrub_value

_ROLLOUT_RE = re.compile(r"^rollout-(?P<stamp>\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2})-(?P<id>.+)\.jsonl$")
_USAGE_FIELDS = ("input_tokens", "cached_input_tokens", "cache_write_input_tokens", "output_tokens",
                 "reasoning_output_tokens")


PROMPT_INLINE_CHARS = 4096  # a longer prompt is not repeated in its user_message record (see above)


class SessionError(OcodexError):
    """A session file that cannot be found or read."""


# ---- writing -----------------------------------------------------------------------------------

def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def _timestamp(moment: _dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def sessions_dir(home: Path) -> Path:
    return home / "sessions"


def new_session_path(home: Path, thread_id: str, moment: _dt.datetime | None = None) -> Path:
    moment = moment or _now()
    stamp = moment.strftime("%Y-%m-%dT%H-%M-%S")
    return sessions_dir(home) / moment.strftime("%Y/%m/%d") / f"rollout-{stamp}-{thread_id}.jsonl"


@dataclass(slots=True)
class SessionMeta:
    """A session file's first record: the thread id, where and on what it started."""

    id: str
    cwd: str
    model: str
    model_provider: str
    created: str
    cli_version: str = __version__
    source: str = "exec"
    originator: str = "ocodex"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "cwd": self.cwd, "model": self.model, "model_provider": self.model_provider,
                "created": self.created, "cli_version": self.cli_version, "source": self.source,
                "originator": self.originator}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionMeta:
        return cls(id=str(data["id"]), cwd=str(data.get("cwd", "")), model=str(data.get("model", "")),
                   model_provider=str(data.get("model_provider", "")), created=str(data.get("created", "")),
                   cli_version=str(data.get("cli_version", "")), source=str(data.get("source", "")),
                   originator=str(data.get("originator", "")))


class SessionWriter:
    """Appends records to one session file, flushing each; every record is scrubbed of secrets first.

    The file is private to the user (0600: it holds code and conversation) and locked while a run writes
    it, so two runs resuming one session cannot interleave their records.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise _unwritable(path, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SessionError(f"session file {path} is in use by another ocodex run",
                               "wait for that run to finish, then resume again") from None
        _drop_partial_tail(path)
        self._file: TextIO | None = os.fdopen(fd, "a", encoding="utf-8")

    @classmethod
    def create(cls, home: Path, meta: SessionMeta) -> SessionWriter:
        writer = cls(new_session_path(home, meta.id))
        writer.write("session_meta", meta.to_dict())
        return writer

    def write(self, kind: str, payload: dict[str, Any]) -> None:
        if self._file is None:
            return
        record = {"timestamp": _timestamp(_now()), "type": kind, "payload": scrub_value(payload)}
        try:
            self._file.write(jsontext.dumps(record) + "\n")  # a lone surrogate is written as its escape
            self._file.flush()
        except OSError as exc:  # e.g. a full disk: stop recording, and say so once
            self._abandon()
            raise _unwritable(self.path, exc) from None

    def user_message(self, prompt: str, images: int) -> None:
        """Record a prompt as typed, before the user message holding it joins the history."""
        payload: dict[str, Any] = {"type": "user_message", "message": prompt, "images": images}
        if len(prompt) > PROMPT_INLINE_CHARS:  # a 50 MB prompt is not stored twice
            payload.update(message=prompt[:PROMPT_INLINE_CHARS], in_history=True, chars=len(prompt))
        self.write("event_msg", payload)

    def message(self, message: dict[str, Any]) -> None:
        self.write("response_item", message)

    def compacted(self, messages: list[dict[str, Any]]) -> None:
        """Record that compaction replaced the whole history with `messages`."""
        self.write("compacted", {"replacement_history": messages})

    def event(self, event: Any) -> None:
        """Record a Codex event (ocodex's own events are for people and are not kept)."""
        if not is_codex_event(event):
            return
        self.write("event_msg", event.to_dict())

    def close(self) -> None:
        if self._file is None:
            return
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            self._abandon()
            raise _unwritable(self.path, exc) from None
        self._file.close()
        self._file = None

    def _abandon(self) -> None:
        """Drop the file after a failed write; what could not be flushed is lost, not retried."""
        handle, self._file = self._file, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()


def _unwritable(path: Path, exc: OSError) -> SessionError:
    return SessionError(f"cannot write session file {path}: {exc.strerror or exc}",
                        f"check that {path.parent} can be a writable directory with free space, "
                        "or pass --ephemeral to run without saving the session")


def _drop_partial_tail(path: Path) -> None:
    """Cut an incomplete last line (a crash mid-write) so new records start on a line of their own."""
    try:
        with open(path, "rb+") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size == 0:
                return
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                return
            handle.seek(0)
            data = handle.read()
            handle.truncate(data.rfind(b"\n") + 1)
    except FileNotFoundError:
        return


# ---- reading -----------------------------------------------------------------------------------

@dataclass(slots=True)
class LoadedSession:
    """A session file read back: what a resume needs (history, usage, prompts, model)."""

    path: Path
    meta: SessionMeta
    messages: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    first_prompt: str | None = None
    prompts: list[str] = field(default_factory=list)  # every prompt of the thread, as the user typed it
    truncated_line: int | None = None  # the incomplete last line that was skipped, if any
    model: str | None = None  # the model of the latest run (turn_context), e.g. after an escalation


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line number, record) for each line; record None for an incomplete last line."""
    try:
        handle = open(path, encoding="utf-8", errors="strict")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise SessionError(f"cannot read session file {path}: {exc.strerror or exc}") from exc
    with handle:
        try:
            lines = list(handle)
        except UnicodeDecodeError as exc:
            raise SessionError(f"{path}: not UTF-8 text ({exc.reason})",
                               "the session file is damaged; start a new session") from exc
    for number, line in enumerate(lines, start=1):
        last = number == len(lines)
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            if last and not line.endswith("\n"):
                yield number, None
                return
            raise SessionError(f"{path}: line {number}: corrupt session record (not valid JSON)",
                               "the session file is damaged; fix or delete that line to resume") from None
        if not (isinstance(record, dict) and isinstance(record.get("type"), str)
                and isinstance(record.get("payload"), dict)):
            raise SessionError(f"{path}: line {number}: corrupt session record (expected an object with "
                               "\"type\" and \"payload\")",
                               "the session file is damaged; fix or delete that line to resume")
        yield number, record


def read_meta(path: Path) -> SessionMeta | None:
    """The `session_meta` of a file from its first line only; None when it has none."""
    try:
        with open(path, encoding="utf-8") as handle:
            first = handle.readline()
        record = json.loads(first)
        if record.get("type") == "session_meta":
            return SessionMeta.from_dict(record["payload"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return None


def _corrupt(path: Path, number: int, what: str) -> SessionError:
    return SessionError(f"{path}: line {number}: corrupt session record ({what})",
                        "the session file is damaged; fix or delete that line to resume")


def _message_problem(value: Any) -> str | None:
    """What keeps `value` from being a chat message as the writer records it, or None."""
    if not (isinstance(value, dict) and isinstance(value.get("role"), str)):
        return "a message without a role"
    if not isinstance(value.get("tool_calls") or [], list):
        return "a message whose tool_calls are not a list"
    return None


def _user_text(message: dict[str, Any]) -> str | None:
    """The prompt in a user message: its text, or the text part after its images."""
    content = message.get("content")
    if isinstance(content, list) and content and isinstance(content[-1], dict):
        content = content[-1].get("text")
    return content if isinstance(content, str) else None


def load_session(path: Path) -> LoadedSession:
    """Everything needed to resume: meta, the message history, the thread's usage totals."""
    loaded: LoadedSession | None = None
    in_history: int | None = None  # the prompt whose whole text is the next user message
    for number, record in _records(path):
        if record is None:
            if loaded is not None:
                loaded.truncated_line = number
            break
        kind, payload = record["type"], record["payload"]
        if loaded is None:
            if kind != "session_meta" or not isinstance(payload.get("id"), str):
                raise SessionError(f"{path}: line {number}: not an ocodex session file (its first record "
                                   "is not session_meta)")
            loaded = LoadedSession(path, SessionMeta.from_dict(payload))
        elif kind == "response_item":
            problem = _message_problem(payload)
            if problem is not None:
                raise _corrupt(path, number, problem)
            loaded.messages.append(payload)
            if in_history is not None and payload.get("role") == "user":
                text = _user_text(payload)
                if text is not None:
                    loaded.prompts[in_history] = text
                in_history = None
        elif kind == "turn_context":
            if isinstance(payload.get("model"), str) and payload["model"]:
                loaded.model = payload["model"]
        elif kind == "compacted":
            history = payload.get("replacement_history")
            if not (isinstance(history, list) and not any(map(_message_problem, history))):
                raise _corrupt(path, number, "a compaction without a valid replacement_history")
            loaded.messages = list(history)
        elif kind == "event_msg":
            if payload.get("type") == "turn.completed" and isinstance(payload.get("usage"), dict):
                usage = payload["usage"]
                try:
                    loaded.usage = Usage(**{k: int(usage.get(k) or 0) for k in _USAGE_FIELDS})
                except (TypeError, ValueError):
                    raise _corrupt(path, number, "token usage that is not a number") from None
            elif payload.get("type") == "user_message":
                prompt = str(payload.get("message", ""))
                in_history = len(loaded.prompts) if payload.get("in_history") is True else None
                loaded.prompts.append(prompt)
                if loaded.first_prompt is None:
                    loaded.first_prompt = prompt
    if loaded is None:
        raise SessionError(f"{path}: line 1: empty session file", "start a new session instead")
    return loaded


def repair_history(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The history made valid for a new request after a crash: every tool call gets a result.

    A run killed mid-tool leaves an assistant message whose calls were never answered; chat servers
    reject such a history, so each gets a tool message saying the call was interrupted.
    """
    out: list[dict[str, Any]] = []
    pending: list[str] = []

    def close_pending() -> None:
        for call_id in pending:
            out.append({"role": "tool", "tool_call_id": call_id,
                        "content": "aborted: the previous run ended before this tool call finished"})
        pending.clear()

    for message in messages:
        role = message.get("role")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id in pending:
                pending.remove(call_id)
            out.append(message)
            continue
        close_pending()
        out.append(message)
        if role == "assistant":
            pending = [str(c.get("id")) for c in message.get("tool_calls") or () if isinstance(c, dict)]
    close_pending()
    return out


# ---- finding -----------------------------------------------------------------------------------

def _session_files(home: Path) -> list[Path]:
    root = sessions_dir(home)
    if not root.is_dir():
        return []
    files = [p for p in root.glob("*/*/*/rollout-*.jsonl") if p.is_file()]

    def newest_first(path: Path) -> tuple[float, str]:
        try:
            return (path.stat().st_mtime, path.name)
        except OSError:
            return (0.0, path.name)

    return sorted(files, key=newest_first, reverse=True)


def _file_id(path: Path) -> str | None:
    match = _ROLLOUT_RE.match(path.name)
    return match["id"] if match else None


def find_session(home: Path, wanted: str) -> Path:
    """The session file for a thread id (or a unique prefix of one of at least 8 characters)."""
    candidate = Path(wanted).expanduser()
    if wanted.endswith(".jsonl") and candidate.is_file():
        return candidate
    files = _session_files(home)
    exact = [p for p in files if _file_id(p) == wanted]
    if exact:
        return exact[0]
    matches = [p for p in files if len(wanted) >= 8 and (_file_id(p) or "").startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        ids = ", ".join(sorted(_file_id(p) or "" for p in matches)[:5])
        raise SessionError(f"session id prefix '{wanted}' is ambiguous: {ids}", "give more of the id")
    raise SessionError(f"no session with id '{wanted}' in {sessions_dir(home)}",
                       "`ocodex sessions` lists the saved sessions; or pass --last for the newest one here")


def find_latest(home: Path, cwd: Path | None) -> Path | None:
    """The most recently active session, restricted to those started in `cwd` unless it is None."""
    for path in _session_files(home):
        meta = read_meta(path)
        if meta is None:
            continue
        if cwd is None or meta.cwd == str(cwd):
            return path
    return None


@dataclass(slots=True)
class SessionSummary:
    """One line of `ocodex sessions`."""

    id: str
    created: str
    updated: str
    cwd: str
    model: str
    first_prompt: str
    path: Path

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "created": self.created, "updated": self.updated, "cwd": self.cwd,
                "model": self.model, "first_prompt": self.first_prompt, "path": str(self.path)}


def _first_prompt(path: Path) -> str:
    """The first `user_message` of a file, reading only as far as it."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if '"user_message"' not in line:
                    continue
                try:
                    payload = json.loads(line).get("payload") or {}
                except ValueError:
                    continue
                if payload.get("type") == "user_message":
                    return str(payload.get("message", ""))
    except OSError:
        return ""
    return ""


def list_sessions(home: Path, *, cwd: Path | None = None, limit: int | None = 20) -> list[SessionSummary]:
    """Sessions, most recently active first; only those started in `cwd` unless it is None."""
    out: list[SessionSummary] = []
    for path in _session_files(home):
        meta = read_meta(path)
        if meta is None or (cwd is not None and meta.cwd != str(cwd)):
            continue
        try:
            mtime = path.stat().st_mtime
        except OSError:
            continue
        updated = _timestamp(_dt.datetime.fromtimestamp(mtime, _dt.UTC))
        out.append(SessionSummary(meta.id, meta.created, updated, meta.cwd, meta.model,
                                  _first_prompt(path), path))
        if limit is not None and len(out) >= limit:
            break
    return out


def now_timestamp() -> str:
    return _timestamp(_now())
