"""The request log: every HTTP exchange with a model server, one JSON line each, secrets masked.

Turned on with `OCODEX_LOG_REQUESTS=PATH` or `log_requests = "PATH"` in config.toml (the variable wins).
Each request adds a `{"type": "request", ...}` line when it is sent (method, URL, headers, body) and a
`{"type": "response", ...}` line when its body has been read or closed (status, headers, body, ms),
linked by `id` (numbered per process; `pid` tells runs that share a file apart). Credential-carrying
header values are replaced by `***`; URLs, headers and bodies also pass through `ocodex.redact`, so
registered secrets (API keys, URL passwords, header tokens) never reach the file. Lines are appended
to a file created with mode 0600 (it holds prompts and code); nothing is ever written to stdout.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

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
    """True when `path` names the same file as file descriptor 1."""
    try:
        target, stdout = os.stat(path), os.fstat(1)
    except OSError:
        return False
    return (target.st_dev, target.st_ino) == (stdout.st_dev, stdout.st_ino)


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


class RequestLog:
    """Appends request and response lines to one file; its `hooks()` plug into an `httpx.Client`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._write_line(None)  # fail now, with a clear message, if the file cannot be written
        if _is_stdout(path):
            raise ConfigError(f"the request log {path} is this process's stdout, which is reserved for output "
                              "(exec --json prints JSONL there)",
                              hint=f"point {ENV_VAR} (or log_requests) at a file, or at /dev/stderr")

    def _write_line(self, record: dict[str, Any] | None) -> None:
        line = "" if record is None else json.dumps(record, ensure_ascii=False) + "\n"
        try:
            with self._lock:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    data = memoryview(line.encode("utf-8"))
                    while data:  # os.write may write less than asked for
                        data = data[os.write(fd, data):]
                finally:
                    os.close(fd)
        except OSError as exc:
            raise ConfigError(f"cannot write the request log {self.path}: {exc.strerror or exc}",
                              hint=f"point {ENV_VAR} (or log_requests in config.toml) at a writable file") \
                from None

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
