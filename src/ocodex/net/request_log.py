"""The request log: every HTTP exchange with a model server, one JSON line each, secrets masked.

Turned on with `OCODEX_LOG_REQUESTS=PATH` or `log_requests = "PATH"` in config.toml (the variable wins).
Each request adds a `{"type": "request", ...}` line when it is sent (method, URL, headers, body) and a
`{"type": "response", ...}` line when its body has been read or closed (status, headers, body, ms),
linked by `id` (numbered per process; `pid` tells runs that share a file apart). Credential-carrying
header values are replaced by `***`; URLs, headers and bodies also pass through `ocodex.redact`, so
registered secrets (API keys, URL passwords, header tokens) never reach the file. Lines are appended
to a file created with mode 0600 (it holds prompts and code); nothing is ever written to stdout.

The file is opened once per process, when the first client is built (before the model runs anything),
with O_APPEND|O_CREAT|O_NOFOLLOW, and that descriptor is kept for the run (every client shares it; it
is not inherited by the model's commands): the path is never looked up again. So a model command that
replaces the file with a link to `~/.bashrc` mid-run changes nothing: the lines keep going to the file
that was opened. A symlink, a file that is not a regular file (a FIFO, a device, `/dev/stderr`) or one
owned by another user is refused at the start, since ocodex's own lines would then go somewhere
someone else chose.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import os
import stat
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from ocodex import jsontext
from ocodex.errors import ConfigError
from ocodex.redact import MASK, is_sensitive_header, scrub, scrub_value

ENV_VAR = "OCODEX_LOG_REQUESTS"
MAX_BODY_BYTES = 4 * 1024 * 1024  # a body longer than this is cut in the log (and says so)
_ids = itertools.count(1)  # process-wide: every client of one run numbers its requests apart


def log_path(configured: str | None, env: Mapping[str, str]) -> str | None:
    """The request-log path: `OCODEX_LOG_REQUESTS`, else the `log_requests` setting, else None."""
    value = (env.get(ENV_VAR) or "").strip() or (configured or "").strip()
    return os.path.expanduser(value) if value else None


def _headers(headers: httpx.Headers) -> dict[str, str]:
    return {name: MASK if is_sensitive_header(name) else scrub(value) for name, value in headers.items()}


def _body(data: bytes, encoding: str | None = None) -> Any:
    """`data` fit for the log: decompressed, scrubbed, as JSON when it is JSON, else as text."""
    if encoding and encoding.strip().lower() in ("gzip", "deflate"):
        try:
            data = zlib.decompressobj(zlib.MAX_WBITS | 32).decompress(data)
        except zlib.error:
            return f"({len(data)} bytes, {encoding}-encoded)"
    text = data.decode("utf-8", "replace")
    try:  # parsed first, so a secret is found even where JSON escaping changed how it looks
        return scrub_value(json.loads(text))
    except ValueError:
        return scrub(text)


def _is_stdout(path: str) -> bool:
    """True when `path` names the same file as file descriptor 1 (`/dev/stdout` included)."""
    try:
        return _same_file(os.stat(path), 1)
    except OSError:
        return False


def _same_file(info: os.stat_result, fd: int) -> bool:
    try:
        other = os.fstat(fd)
    except OSError:
        return False
    return (info.st_dev, info.st_ino) == (other.st_dev, other.st_ino)


class _TeeStream(httpx.SyncByteStream):
    """A response body that keeps a copy of what passes through and reports it once, when closed."""

    def __init__(self, inner: httpx.SyncByteStream, done: Any) -> None:
        self._inner = inner
        self._done = done
        self._kept = bytearray()
        self._cut = False
        self._reported = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            room = MAX_BODY_BYTES - len(self._kept)
            if room > 0:
                self._kept += chunk[:room]
            if len(chunk) > room:
                self._cut = True
            yield chunk

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            if not self._reported:
                self._reported = True
                self._done(bytes(self._kept), self._cut)


def _refusal(path: str, problem: str) -> ConfigError:
    return ConfigError(f"cannot write the request log {path}: {problem}",
                       hint=f"point {ENV_VAR} (or log_requests in config.toml) at a regular file of yours, "
                            "e.g. in $OCODEX_HOME")


def _open_log(path: str) -> int:
    """A descriptor appending to `path`: created 0600 if missing; never through a symlink, never a file
    that is not a regular file of this user's."""
    flags = (os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
             | getattr(os, "O_CLOEXEC", 0))
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refusal(path, "it is a symbolic link (name the file itself)") from None
        if exc.errno == errno.ENXIO:  # a FIFO nobody reads (opened without blocking), a socket
            raise _refusal(path, "it is not a regular file") from None
        raise _refusal(path, exc.strerror or str(exc)) from None
    info = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = "it is not a regular file"
    elif hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        problem = f"it is owned by another user (uid {info.st_uid})"
    elif _same_file(info, 1):
        problem = "it is this process's stdout, which is reserved for output (exec --json prints JSONL there)"
    if problem is not None:
        os.close(fd)
        raise _refusal(path, problem)
    return fd


_files: dict[str, int] = {}  # absolute path -> its descriptor, opened once per process
_files_lock = threading.RLock()


def _shared_fd(path: str) -> int:
    """The descriptor for `path`, opened the first time only: later clients never look the path up."""
    key = os.path.abspath(path)
    with _files_lock:
        if key not in _files:
            if _is_stdout(path):  # `/dev/stdout` is a symlink: say what is wrong with it
                raise ConfigError(f"the request log {path} is this process's stdout, which is reserved for "
                                  "output (exec --json prints JSONL there)",
                                  hint=f"point {ENV_VAR} (or log_requests) at a file, e.g. in $OCODEX_HOME")
            _files[key] = _open_log(path)
        return _files[key]


class RequestLog:
    """Appends request and response lines to one file; its `hooks()` plug into an `httpx.Client`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = _shared_fd(path)  # fails now, with a clear message, if the file cannot be used

    def _write_line(self, record: dict[str, Any]) -> None:
        data = memoryview((jsontext.dumps(record) + "\n").encode("utf-8"))  # lone surrogates escaped
        try:
            with _files_lock:  # one line at a time, whichever client writes it
                while data:  # os.write may write less than asked for
                    data = data[os.write(self._fd, data):]
        except OSError as exc:
            raise ConfigError(f"cannot write the request log {self.path}: {exc.strerror or exc}") from None

    def _write(self, record: dict[str, Any]) -> None:
        with contextlib.suppress(ConfigError):  # a debug log must never fail the request it records
            self._write_line(record)

    @staticmethod
    def _now() -> str:
        return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def on_request(self, request: httpx.Request) -> None:
        number = next(_ids)
        request.extensions = {**request.extensions, "ocodex_log": (number, time.monotonic())}
        body = request.read()
        record: dict[str, Any] = {"type": "request", "id": number, "pid": os.getpid(), "time": self._now(),
                                  "method": request.method, "url": scrub(str(request.url)),
                                  "headers": _headers(request.headers),
                                  "body": _body(body[:MAX_BODY_BYTES]) if body else None}
        if len(body) > MAX_BODY_BYTES:
            record["body_truncated"] = True
        self._write(record)

    def on_response(self, response: httpx.Response) -> None:
        number, started = response.request.extensions.get("ocodex_log", (None, time.monotonic()))

        def done(data: bytes, cut: bool) -> None:
            record: dict[str, Any] = {
                "type": "response", "id": number, "pid": os.getpid(), "time": self._now(),
                "status": response.status_code,
                "ms": round((time.monotonic() - started) * 1000), "headers": _headers(response.headers),
                "body": _body(data, response.headers.get("content-encoding")) if data else None}
            if cut:
                record["body_truncated"] = True
            self._write(record)

        stream = response.stream
        if isinstance(stream, httpx.SyncByteStream):
            response.stream = _TeeStream(stream, done)
        else:
            done(b"", False)

    def hooks(self) -> dict[str, list[Any]]:
        return {"request": [self.on_request], "response": [self.on_response]}
