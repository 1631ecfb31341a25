"""A scripted fake Ollama server speaking real HTTP on loopback, for tests, benchmarks and demos.

This module owns the test double that stands in for `ollama serve` in ocodex's tests and benchmarks.
It reproduces the wire formats of the Ollama API reference notes (section numbers below refer to
them): the native API (`/`, `/api/version`, `/api/tags`, `/api/show`, `/api/ps`, `/api/pull`,
`/api/delete`, `/api/generate`, `/api/create`; §1), the OpenAI-compatible `/v1/chat/completions` (both
SSE wire formats, §2.3) and `/v1/models` (§2.4), Ollama's error bodies and statuses (§2.5, §3) and its
model-name rules (§5).

Chat replies are scripted: `server.script(Turn.text("hi"), Turn.tool_call("shell", {...}))` queues
turns, and each `/v1/chat/completions` request that passes validation consumes one (an empty queue
answers `default_reply`); `Turn.raw_stream(body)` streams a body exactly as given, for servers that
break the format. Every request is recorded in `server.requests`.

Standard library only, so it starts in a few milliseconds::

    with FakeOllama(models=["gpt-oss:20b"]) as server:
        server.script(Turn.text("hello"))
        ...  # point a client at server.base_url

Run `python tests/fakes/fake_ollama.py --port 11434` for a standalone server.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import random
import re
import selectors
import signal
import socket
import socketserver
import string
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, TypedDict, Unpack

__all__ = ["FakeOllama", "ModelName", "RecordedRequest", "ToolCallSpec", "Turn", "TurnOptions", "main"]

SSEFormat = Literal["new", "old"]
TurnKind = Literal["reply", "error", "cut", "midstream_error", "raw"]

CHAT_PATH = "/v1/chat/completions"
KEEP_ALIVE_SECONDS = 300.0
# Pulling a name containing one of these markers fails like a nonexistent model does.
UNKNOWN_MODEL_MARKERS = ("nosuch",)
MANIFEST_MISSING = "pull model manifest: file does not exist"
REASONING_EFFORTS = ("", "none", "minimal", "low", "medium", "high", "max", "xhigh", "ultra")


# --------------------------------------------------------------------------------------------------
# Model names (§5)

_PART_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}")
_NAMESPACE_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,79}")
_HOST_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,349}")

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"


@dataclass(frozen=True, slots=True)
class ModelName:
    """A parsed `{host}/{namespace}/{model}:{tag}` with Ollama's defaults filled in."""

    host: str
    namespace: str
    model: str
    tag: str

    @classmethod
    def parse(cls, raw: str) -> ModelName | None:
        """Parse like `types/model/name.go`; None when the name is invalid."""
        text = raw.strip()
        slash, colon = text.rfind("/"), text.rfind(":")
        rest, tag = (text[:colon], text[colon + 1:]) if colon > slash else (text, DEFAULT_TAG)
        parts = rest.split("/")
        if len(parts) > 3:
            return None
        model = parts[-1]
        namespace = parts[-2] if len(parts) >= 2 else DEFAULT_NAMESPACE
        host = parts[-3] if len(parts) == 3 else DEFAULT_HOST
        if not (_PART_RE.fullmatch(model) and _PART_RE.fullmatch(tag)
                and _NAMESPACE_RE.fullmatch(namespace) and _HOST_RE.fullmatch(host)):
            return None
        return cls(host, namespace, model, tag)

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Names compare case-insensitively."""
        return (self.host.lower(), self.namespace.lower(), self.model.lower(), self.tag.lower())

    @property
    def display(self) -> str:
        """`DisplayShortest`: the form `/api/tags` and `/v1/models` show (always with `:tag`)."""
        if self.host.lower() != DEFAULT_HOST:
            return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"
        if self.namespace.lower() != DEFAULT_NAMESPACE:
            return f"{self.namespace}/{self.model}:{self.tag}"
        return f"{self.model}:{self.tag}"

    @property
    def qualified(self) -> str:
        """The fully qualified name used in `does not support tools` errors."""
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"


# --------------------------------------------------------------------------------------------------
# Model metadata: plausible details derived from the name


@dataclass(frozen=True, slots=True)
class _Family:
    prefix: str
    family: str
    capabilities: tuple[str, ...]
    quantization: str
    parameters: float  # billions, when the tag does not say
    embedding_length: int
    bytes_per_parameter: float
    template: str = "{{ .Prompt }}"


_HARMONY_TEMPLATE = "<|start|>system<|message|>{{ .System }}<|end|>{{ range .Messages }}…{{ end }}"
_FAMILIES: tuple[_Family, ...] = (
    _Family("gpt-oss", "gptoss", ("completion", "tools", "thinking"), "MXFP4", 20.9, 2880, 0.66,
            _HARMONY_TEMPLATE),
    _Family("qwen3-coder", "qwen3moe", ("completion", "tools"), "Q4_K_M", 30.5, 2048, 0.62),
    _Family("qwen3", "qwen3", ("completion", "tools", "thinking"), "Q4_K_M", 8.2, 4096, 0.62),
    _Family("qwen2.5-coder", "qwen2", ("completion", "tools", "insert"), "Q4_K_M", 7.6, 3584, 0.62),
    _Family("deepseek-r1", "qwen3", ("completion", "thinking"), "Q4_K_M", 8.2, 4096, 0.62),
    _Family("gemma3", "gemma3", ("completion", "vision"), "Q4_K_M", 4.3, 2560, 0.77),
    _Family("llama3.2", "llama", ("completion", "tools"), "Q4_K_M", 3.2, 3072, 0.63),
    _Family("llama3", "llama", ("completion", "tools"), "Q4_K_M", 8.0, 4096, 0.61),
    _Family("nomic-embed-text", "nomic-bert", ("embedding",), "F16", 0.137, 768, 2.0),
    _Family("all-minilm", "bert", ("embedding",), "F16", 0.023, 384, 2.0),
)
_GENERIC_FAMILY = _Family("", "llama", ("completion", "tools"), "Q4_K_M", 7.6, 4096, 0.62)
_KNOWN_SIZES = {("gpt-oss", "20b"): 20.9, ("gpt-oss", "120b"): 116.8}
_SIZE_TAG_RE = re.compile(r"(\d+(?:\.\d+)?)([bm])(?![a-z])")
_SMALL_LAYER = 7240  # bytes: the params/template/license blob of a pull


def _same_model(raw: str, name: ModelName) -> bool:
    parsed = ModelName.parse(raw)
    return parsed is not None and parsed.key == name.key


def _family_for(name: ModelName) -> _Family:
    base = name.model.lower()
    for fam in _FAMILIES:
        if base.startswith(fam.prefix):
            return fam
    return _GENERIC_FAMILY


def _parameter_count(name: ModelName, fam: _Family) -> float:
    """Billions of parameters: known sizes, else read from a tag like `4b` / `0.6b` / `135m`."""
    tag = name.tag.lower()
    if (fam.prefix, tag) in _KNOWN_SIZES:
        return _KNOWN_SIZES[(fam.prefix, tag)]
    match = _SIZE_TAG_RE.match(tag)
    if match:
        value = float(match.group(1))
        return value / 1000 if match.group(2) == "m" else value
    return fam.parameters


def _parameter_size(billions: float) -> str:
    return f"{billions:.1f}B" if billions >= 1 else f"{billions * 1000:.0f}M"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(slots=True)
class _ModelInfo:
    """Everything the native endpoints report about one model."""

    name: ModelName
    family: _Family
    parameters: float
    capabilities: list[str]
    size: int
    digest: str
    modified: float
    num_ctx: int | None
    extra_parameters: dict[str, Any]

    @property
    def layers(self) -> list[tuple[str, int]]:
        """(digest, total) of the two blobs a pull downloads; their totals sum to `size`."""
        return [("sha256:" + _sha256(self.name.qualified + "#weights"), self.size - _SMALL_LAYER),
                ("sha256:" + _sha256(self.name.qualified + "#params"), _SMALL_LAYER)]

    def details(self, *, extended: bool, context_length: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "parent_model": "", "format": "gguf", "family": self.family.family,
            "families": [self.family.family], "parameter_size": _parameter_size(self.parameters),
            "quantization_level": self.family.quantization,
        }
        if extended:  # /api/tags (v0.30.0+) also carries these
            out["context_length"] = context_length
            out["embedding_length"] = self.family.embedding_length
        return out

    def parameter_lines(self) -> list[tuple[str, str]]:
        lines: list[tuple[str, str]] = []
        if self.num_ctx is not None:
            lines.append(("num_ctx", str(self.num_ctx)))
        for key, value in self.extra_parameters.items():
            for item in value if isinstance(value, list) else [value]:
                lines.append((key, item if isinstance(item, str) else json.dumps(item)))
        if self.family.family == "gptoss" and "temperature" not in self.extra_parameters:
            lines.append(("temperature", "1"))
        return lines


# --------------------------------------------------------------------------------------------------
# Scripted chat turns


def _new_call_id() -> str:
    return "call_" + "".join(random.choices(string.ascii_lowercase + string.digits, k=8))


@dataclass(slots=True)
class ToolCallSpec:
    """One tool call a scripted turn emits. A dict `arguments` is sent as compact JSON, a str raw."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def __post_init__(self) -> None:
        if self.id is None:
            self.id = _new_call_id()

    @property
    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False, separators=(",", ":"))


class TurnOptions(TypedDict, total=False):
    """Keyword options every `Turn` constructor accepts."""

    reasoning: str | None
    chunks: int | None
    usage: tuple[int, int] | None
    finish_reason: str
    same_index: bool
    in_last_chunk: bool
    abrupt: bool
    delay: float
    model_check: bool


@dataclass(slots=True)
class Turn:
    """One scripted reply to a `/v1/chat/completions` request.

    Build it with the classmethods; fields are public so tests can inspect (e.g. a generated call id).
    """

    kind: TurnKind = "reply"
    content: str = ""
    reasoning: str | None = None
    calls: list[ToolCallSpec] = field(default_factory=list)
    chunks: int | None = None  # split content into this many deltas; None: word by word
    usage: tuple[int, int] | None = None  # (prompt_tokens, completion_tokens); None: estimated
    finish_reason: str = "stop"  # becomes "tool_calls" when calls are sent (unless "length")
    same_index: bool = False  # every tool call streamed with "index": 0 (ollama/ollama#15457)
    in_last_chunk: bool = False  # calls ride on the last content chunk / the finish chunk (old fmt)
    status: int = 500  # error turns
    message: str = ""  # error and midstream_error turns
    after_chunks: int = 2  # cut turns: data events sent before the connection drops
    abrupt: bool = True  # cut turns: drop the socket mid-body (False: end the body cleanly, no [DONE])
    delay: float = 0.0  # seconds slept before every SSE event (and before a non-streamed reply)
    model_check: bool = True  # False: skip model lookup and capability checks for this request
    raw: bytes = b""  # raw turns: the streamed body, sent exactly as given (malformed servers)

    @classmethod
    def text(cls, text: str, **options: Unpack[TurnOptions]) -> Turn:
        """A plain answer, optionally preceded by `reasoning`."""
        return cls(kind="reply", content=text, **options)

    @classmethod
    def tool_call(cls, name: str, arguments: dict[str, Any] | str, *, id: str | None = None,
                  text: str = "", **options: Unpack[TurnOptions]) -> Turn:
        """One tool call (after optional `text` content)."""
        return cls(kind="reply", content=text, calls=[ToolCallSpec(name, arguments, id)], **options)

    @classmethod
    def tool_calls(cls, calls: Iterable[ToolCallSpec], *, text: str = "",
                   **options: Unpack[TurnOptions]) -> Turn:
        """Several tool calls in one turn."""
        return cls(kind="reply", content=text, calls=list(calls), **options)

    @classmethod
    def error(cls, status: int, message: str, **options: Unpack[TurnOptions]) -> Turn:
        """A non-streamed HTTP error with the OpenAI error body (§2.5)."""
        return cls(kind="error", status=status, message=message, **options)

    @classmethod
    def cut(cls, text: str = "partial answer", after_chunks: int = 2,
            **options: Unpack[TurnOptions]) -> Turn:
        """Stream `after_chunks` data events, then close the connection: no finish chunk, no [DONE]."""
        return cls(kind="cut", content=text, after_chunks=after_chunks, **options)

    @classmethod
    def midstream_error(cls, message: str, *, text: str = "", **options: Unpack[TurnOptions]) -> Turn:
        """Ollama's `{"error":...}` mid-stream as /v1 shows it: an empty content chunk, then the end."""
        return cls(kind="midstream_error", message=message, content=text, **options)

    @classmethod
    def raw_stream(cls, body: bytes | str, **options: Unpack[TurnOptions]) -> Turn:
        """A streamed reply whose body is exactly `body` (SSE lines as a broken server writes them)."""
        data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        return cls(kind="raw", raw=data, **options)

    @property
    def effective_finish_reason(self) -> str:
        return "tool_calls" if self.calls and self.finish_reason == "stop" else self.finish_reason


@dataclass(slots=True)
class RecordedRequest:
    """One HTTP request as the fake received it."""

    method: str
    path: str  # without the query string
    headers: dict[str, str]  # lower-case keys
    body: bytes
    json: Any | None  # the parsed body, None if empty or not JSON
    query: str = ""


# --------------------------------------------------------------------------------------------------
# Wire helpers

_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_GO_ESCAPE_RE = re.compile("[<>&\u2028\u2029]")


def _go_dumps(obj: Any) -> str:
    """Compact JSON as Go's encoding/json writes it (UTF-8, with <, > and & escaped)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return _GO_ESCAPE_RE.sub(lambda m: _GO_ESCAPES[m.group()], text)


def _go_bytes(obj: Any) -> bytes:
    return _go_dumps(obj).encode("utf-8", "replace")


def _decode_json(body: bytes) -> tuple[Any, str | None]:
    """Parse a request body; on failure return Go's decoder message instead."""
    if not body.strip():
        return None, "EOF"
    try:
        return json.loads(body), None
    except UnicodeDecodeError:
        return None, "invalid character looking for beginning of value"
    except json.JSONDecodeError as exc:
        if exc.pos >= len(exc.doc.rstrip()):
            return None, "unexpected EOF"
        return None, f"invalid character {exc.doc[exc.pos]!r} looking for beginning of value"


def _split_words(text: str) -> list[str]:
    """Word-sized deltas, like tokens: 'hello world' -> ['hello', ' world']. Joins back to `text`."""
    pieces = re.findall(r"\s*\S+", text)
    tail = text[len("".join(pieces)):]
    if tail:
        if pieces:
            pieces[-1] += tail
        else:
            pieces = [tail]
    return pieces


def _split_even(text: str, count: int) -> list[str]:
    if not text:
        return []
    count = max(1, min(count, len(text)))
    bounds = [len(text) * i // count for i in range(count + 1)]
    return [text[bounds[i]:bounds[i + 1]] for i in range(count)]


def _timestamp(epoch: float) -> str:
    """RFC 3339 in local time, as Go prints `time.Time` (`Z` for UTC)."""
    text = datetime.fromtimestamp(epoch).astimezone().isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _error_type(status: int) -> str:
    return {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")


def _openai_error(status: int, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": _error_type(status), "param": None, "code": None}}


def _estimate_tokens(*parts: Any) -> int:
    total = 0
    for part in parts:
        total += len(part) if isinstance(part, str) else len(json.dumps(part))
    return max(1, total // 4)


# --------------------------------------------------------------------------------------------------
# HTTP plumbing


class _Stream:
    """A chunked (Transfer-Encoding) response body written piece by piece."""

    def __init__(self, handler: _Handler, content_type: str) -> None:
        self._handler = handler
        handler.send_response_only(200)
        handler.send_header("Date", handler.date_time_string())
        handler.send_header("Content-Type", content_type)
        handler.send_header("Transfer-Encoding", "chunked")
        self.alive = handler.finish_headers()

    def write(self, data: bytes) -> bool:
        """Send one chunk; False once the client has gone (stop writing then)."""
        if self.alive:
            self.alive = self._handler.write_raw(b"%x\r\n%s\r\n" % (len(data), data))
        return self.alive

    def close(self) -> None:
        """End the body properly."""
        if self.alive:
            self.alive = self._handler.write_raw(b"0\r\n\r\n")

    def drop(self) -> None:
        """Leave the body unterminated and close the connection."""
        self.alive = False
        self._handler.close_connection = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as Go does; small SSE writes would otherwise stall ~40 ms
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # silence http.server's per-request logging

    def do_GET(self) -> None:
        body = self._read_body()
        if body is None:
            return
        self.server.fake._dispatch(self, body)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _read_body(self) -> bytes | None:
        try:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                parts = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(parts)
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length > 0 else b""
        except (ValueError, OSError):
            self.close_connection = True
            self.respond(400, b"400 Bad Request", "text/plain")
            return None

    # -- writing ----------------------------------------------------------------------------------

    def write_raw(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            self.wfile.flush()
            return True
        except (OSError, ValueError):  # BrokenPipe, ConnectionReset, closed file
            self.close_connection = True
            return False

    def finish_headers(self) -> bool:
        try:
            self.end_headers()
            return True
        except (OSError, ValueError):
            self.close_connection = True
            return False

    def respond(self, status: int, body: bytes, content_type: str | None) -> None:
        self.send_response_only(status)
        self.send_header("Date", self.date_time_string())
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.finish_headers() and body and self.command != "HEAD":
            self.write_raw(body)

    def respond_json(self, status: int, obj: Any) -> None:
        self.respond(status, _go_bytes(obj), "application/json; charset=utf-8")

    def respond_text(self, status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> None:
        self.respond(status, text.encode(), content_type)

    def stream(self, content_type: str) -> _Stream:
        return _Stream(self, content_type)

    def drop(self) -> None:
        """Close the connection without any response."""
        self.close_connection = True

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that tracks its connections so `stop()` can close them all."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], fake: FakeOllama) -> None:
        self.fake = fake
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._conn_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._handler_threads: list[threading.Thread] = []
        super().__init__(address, _Handler)
        self.timeout = 0.0  # handle_request() must not block: our loop already selected the socket

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), which can block on DNS for seconds.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = host, port

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                                  name=f"fake-ollama:{self.server_port}", daemon=True)
        with self._conn_lock:
            self._handler_threads = [t for t in self._handler_threads if t.is_alive()]
            self._handler_threads.append(thread)
            self._connections.add(request)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # a client that went away is not an error worth a traceback
        super().handle_error(request, client_address)

    def close_connections(self, timeout: float) -> None:
        with self._conn_lock:
            connections, threads = list(self._connections), list(self._handler_threads)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


# --------------------------------------------------------------------------------------------------
# The fake server

Route = Callable[[_Handler, RecordedRequest], None]


class FakeOllama:
    """A fake `ollama serve` on 127.0.0.1 whose chat replies are scripted with `Turn`s.

    All constructor arguments are kept as public attributes and may be changed while it runs.
    """

    def __init__(
        self,
        models: Sequence[str] | None = None,
        version: str | None = "0.13.4",
        capabilities: dict[str, list[str]] | None = None,
        context_length: int = 131072,
        num_ctx: int | None = None,
        loaded_context: int | None = 4096,
        sse_format: SSEFormat = "new",
        default_reply: str = "hi",
        pull_script: list[dict[str, Any]] | None = None,
        pull_error: str | None = None,
        pull_error_after: int = 2,
        pull_delay: float = 0.0,
        port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        self.models: list[str] = list(models) if models is not None else ["gpt-oss:20b"]
        for name in self.models:
            if ModelName.parse(name) is None:
                raise ValueError(f"invalid model name: {name!r}")
        self.version = version
        self.capabilities: dict[str, list[str]] = dict(capabilities or {})
        self.context_length = context_length
        self.num_ctx = num_ctx
        self.loaded_context = loaded_context
        self.sse_format: SSEFormat = sse_format
        self.default_reply = default_reply
        self.pull_script = pull_script
        self.pull_error = pull_error
        self.pull_error_after = pull_error_after
        self.pull_delay = pull_delay
        self.port = port
        self.host = host

        self.requests: list[RecordedRequest] = []
        self._turns: deque[Turn] = deque()
        self._lock = threading.RLock()
        self._epoch = time.time() - 86400.0
        self._modified: dict[tuple[str, ...], float] = {}  # pulled/created models
        self._derived: dict[tuple[str, ...], tuple[ModelName, dict[str, Any]]] = {}  # /api/create
        self._loaded: dict[tuple[str, ...], tuple[ModelName, float]] = {}  # key -> (name, load time)
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._routes: dict[str, dict[str, Route]] = {
            "/": {"GET": self._root, "HEAD": self._root},
            "/api/version": {"GET": self._version, "HEAD": self._version},
            "/api/tags": {"GET": self._tags, "HEAD": self._tags},
            "/api/show": {"POST": self._show},
            "/api/ps": {"GET": self._ps},
            "/api/pull": {"POST": self._pull},
            "/api/delete": {"DELETE": self._delete},
            "/api/generate": {"POST": self._generate},
            "/api/create": {"POST": self._create},
            CHAT_PATH: {"POST": self._chat},
            "/v1/models": {"GET": self._v1_models},
        }

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> FakeOllama:
        """Bind (port 0 picks a free one) and serve on a daemon thread. Returns self."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self.port), self)
        self._wake = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name=f"fake-ollama:{self.port_number}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close every open connection, join all threads. Idempotent."""
        httpd, thread, wake = self._httpd, self._thread, self._wake
        if httpd is None or thread is None or wake is None:
            return
        self._stopping.set()  # interrupts scripted delays
        wake[1].send(b"x")
        thread.join(5.0)
        httpd.close_connections(timeout=5.0)
        httpd.server_close()
        for sock in wake:
            sock.close()
        self._httpd = self._thread = self._wake = None

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        assert self._httpd is not None and self._wake is not None
        httpd, wake = self._httpd, self._wake[0]
        with selectors.DefaultSelector() as selector:
            selector.register(httpd.socket, selectors.EVENT_READ, "accept")
            selector.register(wake, selectors.EVENT_READ, "wake")
            while True:
                for key, _ in selector.select():
                    if key.data == "wake":
                        return
                    httpd.handle_request()

    # -- addresses --------------------------------------------------------------------------------

    @property
    def port_number(self) -> int:
        """The bound port (after start)."""
        if self._httpd is None:
            raise RuntimeError("FakeOllama is not running; call start() or use it as a context manager")
        return int(self._httpd.server_address[1])

    @property
    def root(self) -> str:
        """`http://127.0.0.1:PORT`: what OLLAMA_HOST would point at."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port_number}"

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/v1`: the OpenAI-compatible base URL."""
        return self.root + "/v1"

    # -- scripting and inspection -----------------------------------------------------------------

    def script(self, *turns: Turn) -> None:
        """Queue chat replies; each validated /v1/chat/completions request consumes one."""
        with self._lock:
            self._turns.extend(turns)

    @property
    def pending_turns(self) -> list[Turn]:
        """Scripted turns not consumed yet."""
        with self._lock:
            return list(self._turns)

    @property
    def chat_requests(self) -> list[Any]:
        """Parsed JSON bodies of every POST /v1/chat/completions, in order."""
        with self._lock:
            return [r.json for r in self.requests
                    if r.method == "POST" and r.path == CHAT_PATH and r.json is not None]

    def loaded_models(self) -> list[str]:
        """Display names of models a chat/generate request has loaded (what /api/ps lists)."""
        with self._lock:
            return [info.name.display for info, _ in self._loaded_infos()]

    # -- model lookup -----------------------------------------------------------------------------

    def _find(self, raw: str) -> _ModelInfo | None:
        wanted = ModelName.parse(raw)
        if wanted is None:
            return None
        for index, stored in enumerate(list(self.models)):
            name = ModelName.parse(stored)
            if name is not None and name.key == wanted.key:
                return self._describe(name, index)
        return None

    def _installed(self) -> list[_ModelInfo]:
        infos = []
        for index, stored in enumerate(list(self.models)):
            name = ModelName.parse(stored)
            if name is not None and all(i.name.key != name.key for i in infos):
                infos.append(self._describe(name, index))
        return sorted(infos, key=lambda i: i.modified, reverse=True)

    def _describe(self, name: ModelName, index: int | None = None) -> _ModelInfo:
        derived = self._derived.get(name.key)
        base = self._describe(derived[0]) if derived and derived[0].key != name.key else None
        fam = base.family if base else _family_for(name)
        params = base.parameters if base else _parameter_count(name, fam)
        caps = self._capabilities_for(name)
        if caps is None:
            caps = list(base.capabilities) if base else list(fam.capabilities)
        extra = dict(derived[1]) if derived else {}
        num_ctx = extra.pop("num_ctx", None) if derived else None
        if num_ctx is None:
            num_ctx = base.num_ctx if base else self.num_ctx
        modified = self._modified.get(name.key)
        if modified is None:
            modified = self._epoch - 3600.0 * (index or 0)
        return _ModelInfo(
            name=name, family=fam, parameters=params, capabilities=caps,
            size=int(params * 1e9 * fam.bytes_per_parameter) + _SMALL_LAYER,
            # The digest names the manifest, as Ollama's does: changed capabilities or num_ctx, a new digest.
            digest=_sha256(name.qualified if self._capabilities_for(name) is None and num_ctx is None
                           else f"{name.qualified}|{sorted(caps)}|{num_ctx}"), modified=modified,
            num_ctx=int(num_ctx) if num_ctx is not None else None, extra_parameters=extra,
        )

    def _capabilities_for(self, name: ModelName) -> list[str] | None:
        for raw, caps in list(self.capabilities.items()):
            parsed = ModelName.parse(raw)
            if parsed is not None and parsed.key == name.key:
                return list(caps)
        return None

    def _loaded_infos(self) -> list[tuple[_ModelInfo, float]]:
        out = []
        for name, loaded_at in list(self._loaded.values()):
            info = self._find(name.qualified)
            if info is not None:
                out.append((info, loaded_at))
        return sorted(out, key=lambda pair: pair[1], reverse=True)

    def _mark_loaded(self, info: _ModelInfo) -> None:
        with self._lock:
            self._loaded[info.name.key] = (info.name, time.time())

    # -- dispatch ---------------------------------------------------------------------------------

    def _dispatch(self, handler: _Handler, body: bytes) -> None:
        path, _, query = handler.path.partition("?")
        parsed, error = _decode_json(body) if body else (None, "EOF")
        request = RecordedRequest(
            method=handler.command, path=path,
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body, json=parsed if error is None else None, query=query,
        )
        with self._lock:
            self.requests.append(request)
        methods = self._routes.get(path)
        if methods is None and path.startswith("/v1/models/") and len(path) > len("/v1/models/"):
            methods = {"GET": self._v1_model}
        if methods is None:
            handler.respond_text(404, "404 page not found", "text/plain")
        elif handler.command not in methods:
            handler.respond_text(405, "405 method not allowed", "text/plain")
        else:
            methods[handler.command](handler, request)

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; False means stop now."""
        if seconds <= 0:
            return not self._stopping.is_set()
        return not self._stopping.wait(seconds)

    @staticmethod
    def _native_body(handler: _Handler, request: RecordedRequest) -> dict[str, Any] | None:
        """The JSON object of a native request, or None after answering 400 like Ollama."""
        if not request.body.strip():
            handler.respond_json(400, {"error": "missing request body"})
            return None
        parsed, error = _decode_json(request.body)
        if error is not None:
            handler.respond_json(400, {"error": error})
            return None
        if not isinstance(parsed, dict):
            handler.respond_json(400, {"error": "json: cannot unmarshal into Go value of type object"})
            return None
        return parsed

    @staticmethod
    def _model_field(body: dict[str, Any]) -> str:
        value = body.get("model") or body.get("name") or ""
        return value if isinstance(value, str) else ""

    # -- native endpoints -------------------------------------------------------------------------

    def _root(self, handler: _Handler, request: RecordedRequest) -> None:
        handler.respond_text(200, "Ollama is running")

    def _version(self, handler: _Handler, request: RecordedRequest) -> None:
        if self.version is None:
            handler.respond_text(404, "404 page not found", "text/plain")
        else:
            handler.respond_json(200, {"version": self.version})

    def _tags(self, handler: _Handler, request: RecordedRequest) -> None:
        models = [{
            "name": info.name.display,
            "model": info.name.display,
            "modified_at": _timestamp(info.modified),
            "size": info.size,
            "digest": info.digest,
            "details": info.details(extended=True, context_length=self.context_length),
            "capabilities": info.capabilities,
        } for info in self._installed()]
        handler.respond_json(200, {"models": models})

    def _show(self, handler: _Handler, request: RecordedRequest) -> None:
        body = self._native_body(handler, request)
        if body is None:
            return
        raw = self._model_field(body)
        if not raw:
            handler.respond_json(400, {"error": "model is required"})
            return
        name = ModelName.parse(raw)
        info = self._find(raw) if name else None
        if name is None:
            handler.respond_json(400, {"error": "invalid model name"})
            return
        if info is None:
            handler.respond_json(404, {"error": f"model '{name.display}' not found"})
            return
        arch = info.family.family
        verbose = body.get("verbose") is True
        lines = info.parameter_lines()
        modelfile = (
            '# Modelfile generated by "ollama show"\n'
            "# To build a new Modelfile based on this, replace FROM with:\n"
            f"# FROM {info.name.display}\n\n"
            f"FROM /home/user/.ollama/models/blobs/sha256-{info.layers[0][0][7:]}\n"
            f'TEMPLATE """{info.family.template}"""\n'
            + "".join(f"PARAMETER {k} {v}\n" for k, v in lines)
        )
        response: dict[str, Any] = {
            "license": "Apache License\nVersion 2.0, January 2004",
            "modelfile": modelfile,
        }
        if lines:
            response["parameters"] = "\n".join(f"{k:<30} {v}" for k, v in lines)
        response.update({
            "template": info.family.template,
            "details": info.details(extended=False, context_length=self.context_length),
            "model_info": {
                "general.architecture": arch,
                "general.file_type": 4 if info.family.quantization == "MXFP4" else 15,
                "general.parameter_count": int(info.parameters * 1e9),
                f"{arch}.block_count": 24,
                f"{arch}.context_length": self.context_length,
                f"{arch}.embedding_length": info.family.embedding_length,
                "tokenizer.ggml.model": "gpt2",
                "tokenizer.ggml.tokens": ["!", '"', "#", "$", "%", "&"] if verbose else [],
            },
            "tensors": [
                {"name": "token_embd.weight", "type": "Q4_K",
                 "shape": [info.family.embedding_length, 201088]},
                {"name": "blk.0.attn_k.weight", "type": "F16", "shape": [info.family.embedding_length, 512]},
            ],
            "capabilities": info.capabilities,
            "modified_at": _timestamp(info.modified),
        })
        handler.respond_json(200, response)

    def _ps(self, handler: _Handler, request: RecordedRequest) -> None:
        models = []
        with self._lock:
            loaded = self._loaded_infos()
        for info, loaded_at in loaded:
            entry: dict[str, Any] = {
                "name": info.name.display,
                "model": info.name.display,
                "size": info.size,
                "digest": info.digest,
                "details": info.details(extended=False, context_length=self.context_length),
                "expires_at": _timestamp(loaded_at + KEEP_ALIVE_SECONDS),
                "size_vram": info.size,
            }
            derived = self._derived.get(info.name.key)
            if derived and info.num_ctx is not None and "num_ctx" in derived[1]:
                # a model created with PARAMETER num_ctx loads with exactly that context
                entry["context_length"] = min(info.num_ctx, self.context_length)
            elif self.loaded_context is not None:
                entry["context_length"] = self.loaded_context
            models.append(entry)
        handler.respond_json(200, {"models": models})

    def _pull_lines(self, name: ModelName) -> tuple[list[dict[str, Any]], str | None]:
        """The NDJSON objects a pull emits and the error it ends with (None: success)."""
        error: str | None = None
        if self.pull_script is not None:
            lines = [dict(line) for line in self.pull_script]
        elif any(marker in name.display.lower() for marker in UNKNOWN_MODEL_MARKERS):
            lines, error = [{"status": "pulling manifest"}], MANIFEST_MISSING
        else:
            lines = [{"status": "pulling manifest"}]
            for digest, total in self._describe(name).layers:
                for step in range(5):  # 0%, 25%, 50%, 75%, 100%; `completed` omitted while 0
                    line: dict[str, Any] = {"status": f"pulling {digest[7:19]}", "digest": digest,
                                            "total": total}
                    if step:
                        line["completed"] = total * step // 4
                    lines.append(line)
            lines += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"},
                      {"status": "success"}]
        if self.pull_error is not None:
            lines, error = lines[:max(0, self.pull_error_after)], self.pull_error
        return lines, error

    def _install(self, name: ModelName) -> None:
        """Add a pulled or created model to `models` (once) and make it the newest."""
        with self._lock:
            if not any(_same_model(stored, name) for stored in self.models):
                self.models.append(name.display)
            self._modified[name.key] = time.time()

    def _pull(self, handler: _Handler, request: RecordedRequest) -> None:
        body = self._native_body(handler, request)
        if body is None:
            return
        name = ModelName.parse(self._model_field(body))
        if name is None:
            handler.respond_json(400, {"error": "invalid model name"})
            return
        lines, error = self._pull_lines(name)
        succeeded = error is None and any(line.get("status") == "success" for line in lines)
        if body.get("stream") is False:
            for _ in lines:
                if not self._sleep(self.pull_delay):
                    handler.drop()
                    return
            if error is not None:
                handler.respond_json(500, {"error": error})
                return
            if succeeded:
                self._install(name)
            handler.respond_json(200, {"status": "success"})
            return
        stream = handler.stream("application/x-ndjson")
        for line in [*lines, {"error": error}] if error is not None else lines:
            if not self._sleep(self.pull_delay) or not stream.write(_go_bytes(line) + b"\n"):
                stream.drop()
                return  # a cancelled pull installs nothing
        if succeeded:
            self._install(name)
        stream.close()

    def _delete(self, handler: _Handler, request: RecordedRequest) -> None:
        body = self._native_body(handler, request)
        if body is None:
            return
        raw = self._model_field(body)
        name = ModelName.parse(raw)
        if name is None:
            handler.respond_json(400, {"error": f'name "{raw}" is invalid'})
            return
        with self._lock:
            kept = [m for m in self.models if not _same_model(m, name)]
            if len(kept) == len(self.models):
                handler.respond_json(404, {"error": f"model '{raw}' not found"})
                return
            self.models[:] = kept
            for table in (self._loaded, self._modified, self._derived):
                table.pop(name.key, None)
        handler.respond(200, b"", None)

    def _create(self, handler: _Handler, request: RecordedRequest) -> None:
        body = self._native_body(handler, request)
        if body is None:
            return
        name = ModelName.parse(self._model_field(body))
        if name is None:
            handler.respond_json(400, {"error": "invalid model name"})
            return
        source = body.get("from")
        if not isinstance(source, str) or not source:
            handler.respond_json(400, {"error": "neither 'from' or 'files' was specified"})
            return
        base = self._find(source)
        if base is None:
            handler.respond_json(404, {"error": f"model '{source}' not found"})
            return
        parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
        with self._lock:
            # Flatten chains (c from b from a) so a model is always described from a plain base.
            root, inherited = self._derived.get(base.name.key, (base.name, {}))
            self._derived[name.key] = (root, {**inherited, **parameters})
        self._install(name)
        lines = [{"status": f"using existing layer {digest}"} for digest, _ in base.layers]
        lines += [{"status": "creating new layer sha256:" + _sha256(name.qualified + "#params")},
                  {"status": "writing manifest"}, {"status": "success"}]
        if body.get("stream") is False:
            handler.respond_json(200, {"status": "success"})
            return
        stream = handler.stream("application/x-ndjson")
        for line in lines:
            if not stream.write(_go_bytes(line) + b"\n"):
                return
        stream.close()

    def _generate(self, handler: _Handler, request: RecordedRequest) -> None:
        body = self._native_body(handler, request)
        if body is None:
            return
        raw = self._model_field(body)
        if not raw:
            handler.respond_json(400, {"error": "model is required"})
            return
        info = self._find(raw)
        if info is None:
            handler.respond_json(404, {"error": f"model '{raw}' not found"})
            return
        now = _timestamp(time.time())
        prompt = body.get("prompt") or ""
        if body.get("keep_alive") in (0, "0", "0s", "0m") and not prompt:
            with self._lock:
                self._loaded.pop(info.name.key, None)
            handler.respond_json(200, {"model": raw, "created_at": now, "response": "", "done": True,
                                       "done_reason": "unload"})
            return
        self._mark_loaded(info)
        if not prompt:
            handler.respond_json(200, {"model": raw, "created_at": now, "response": "", "done": True,
                                       "done_reason": "load"})
            return
        pieces = _split_words(self.default_reply)
        final = {"model": raw, "created_at": now, "response": "", "done": True, "done_reason": "stop",
                 "total_duration": 250_000_000, "load_duration": 10_000_000,
                 "prompt_eval_count": _estimate_tokens(prompt), "prompt_eval_duration": 50_000_000,
                 "eval_count": len(pieces), "eval_duration": 150_000_000}
        if body.get("stream") is False:
            handler.respond_json(200, {**final, "response": self.default_reply})
            return
        stream = handler.stream("application/x-ndjson")
        for piece in pieces:
            line = {"model": raw, "created_at": now, "response": piece, "done": False}
            if not stream.write(_go_bytes(line) + b"\n"):
                return
        stream.write(_go_bytes(final) + b"\n")
        stream.close()

    # -- /v1 endpoints ----------------------------------------------------------------------------

    def _v1_models(self, handler: _Handler, request: RecordedRequest) -> None:
        data = [{"id": info.name.display, "object": "model", "created": int(info.modified),
                 "owned_by": info.name.namespace} for info in self._installed()]
        handler.respond_json(200, {"object": "list", "data": data or None})

    def _v1_model(self, handler: _Handler, request: RecordedRequest) -> None:
        raw = request.path[len("/v1/models/"):]
        info = self._find(raw)
        if info is None:
            handler.respond_json(404, _openai_error(404, f"model '{raw}' not found"))
            return
        handler.respond_json(200, {"id": raw, "object": "model", "created": int(info.modified),
                                   "owned_by": info.name.namespace})

    def _chat(self, handler: _Handler, request: RecordedRequest) -> None:
        parsed, error = _decode_json(request.body)
        if error is None and not isinstance(parsed, dict):
            error = "json: cannot unmarshal into Go value of type openai.ChatCompletionRequest"
        if error is not None:
            handler.respond_json(400, _openai_error(400, error))
            return
        body: dict[str, Any] = parsed
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            handler.respond_json(400, _openai_error(400, "[] is too short - 'messages'"))
            return
        effort = body.get("reasoning_effort")
        if isinstance(body.get("reasoning"), dict) and "effort" in body["reasoning"]:
            effort = body["reasoning"]["effort"]
        if effort is not None and effort not in REASONING_EFFORTS:
            handler.respond_json(400, _openai_error(400, f"invalid reasoning value: '{effort}' (must be "
                                                         '"low", "medium", "high", "max" or "none")'))
            return
        with self._lock:
            turn = self._turns[0] if self._turns else Turn.text(self.default_reply)
            if turn.model_check:
                failure = self._check_chat_model(body, effort)
                if failure is not None:
                    handler.respond_json(failure[0], _openai_error(*failure))
                    return
            if self._turns:
                self._turns.popleft()
        self._serve_turn(handler, body, turn)

    def _check_chat_model(self, body: dict[str, Any], effort: Any) -> tuple[int, str] | None:
        """Ollama's model and capability checks for a chat; (status, message) when one fails."""
        raw = body.get("model")
        if not isinstance(raw, str) or not raw:
            return 400, "model is required"
        info = self._find(raw)
        if info is None:
            return 404, f"model '{raw}' not found"
        if "completion" not in info.capabilities:
            return 400, f'"{raw}" does not support chat'
        if body.get("tools") and "tools" not in info.capabilities:
            return 400, f"{info.name.qualified} does not support tools"
        self._mark_loaded(info)  # the scheduler loads the model before the thinking check
        if effort not in (None, "", "none") and "thinking" not in info.capabilities:
            return 400, f'"{raw}" does not support thinking'
        return None

    # -- chat replies -----------------------------------------------------------------------------

    def _serve_turn(self, handler: _Handler, body: dict[str, Any], turn: Turn) -> None:
        streaming = body.get("stream") is True
        options = body.get("stream_options")
        include_usage = streaming and isinstance(options, dict) and options.get("include_usage") is True
        if turn.kind == "error" or not streaming:
            if not self._sleep(turn.delay):
                handler.drop()
            elif turn.kind == "error":
                handler.respond_json(turn.status, _openai_error(turn.status, turn.message))
            elif turn.kind == "cut":
                handler.drop()  # the server died before answering
            elif turn.kind == "midstream_error":
                handler.respond_json(500, _openai_error(500, turn.message))
            else:
                handler.respond_json(200, self._completion(body, turn))
            return
        self._stream_turn(handler, body, turn, include_usage)

    def _usage(self, body: dict[str, Any], turn: Turn) -> dict[str, int]:
        if turn.usage is not None:
            prompt, completion = turn.usage
        else:
            prompt = _estimate_tokens(body.get("messages") or [], body.get("tools") or [])
            completion = _estimate_tokens(turn.content, turn.reasoning or "",
                                          *(call.arguments_json for call in turn.calls))
        return {"prompt_tokens": prompt, "completion_tokens": completion,
                "total_tokens": prompt + completion}

    @staticmethod
    def _call_json(turn: Turn, index: int, call: ToolCallSpec) -> dict[str, Any]:
        return {"id": call.id, "index": 0 if turn.same_index else index, "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json}}

    def _completion(self, body: dict[str, Any], turn: Turn) -> dict[str, Any]:
        """The non-streamed `chat.completion` object (§2.2)."""
        message: dict[str, Any] = {"role": "assistant", "content": turn.content}
        if turn.reasoning:
            message["reasoning"] = turn.reasoning
        if turn.calls:
            message["tool_calls"] = [self._call_json(turn, i, c) for i, c in enumerate(turn.calls)]
        return {
            "id": f"chatcmpl-{random.randrange(999)}", "object": "chat.completion",
            "created": int(time.time()), "model": body.get("model", ""),
            "system_fingerprint": "fp_ollama",
            "choices": [{"index": 0, "message": message, "finish_reason": turn.effective_finish_reason}],
            "usage": self._usage(body, turn),
        }

    def _chunk_events(self, body: dict[str, Any], turn: Turn, include_usage: bool) -> list[dict[str, Any]]:
        """The SSE data objects of one streamed turn, in the configured wire format (§2.3)."""
        fmt = self.sse_format
        base = {"id": f"chatcmpl-{random.randrange(999)}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": body.get("model", ""),
                "system_fingerprint": "fp_ollama"}

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}

        # Each delta: content, reasoning, tool calls. Reasoning comes first, then content.
        deltas: list[tuple[str, str | None, list[dict[str, Any]] | None]] = [
            ("", piece, None) for piece in _split_words(turn.reasoning or "")]
        pieces = _split_even(turn.content, turn.chunks) if turn.chunks else _split_words(turn.content)
        deltas += [(piece, None, None) for piece in pieces]

        if turn.kind == "cut":
            deltas = deltas[:max(0, turn.after_chunks)]
        elif turn.kind == "midstream_error":
            deltas.append(("", None, None))

        calls = []
        if turn.kind == "reply":
            calls = [self._call_json(turn, i, c) for i, c in enumerate(turn.calls)]
        final_calls: list[dict[str, Any]] | None = None
        if calls and turn.in_last_chunk and fmt == "old":
            final_calls = calls
        elif calls and turn.in_last_chunk:
            if pieces:
                last = deltas[-1]
                deltas[-1] = (last[0], last[1], calls)
            else:
                deltas.append(("", None, calls))
        elif calls:
            deltas += [("", None, [call]) for call in calls]
        if turn.kind == "reply" and fmt == "new" and not deltas:
            deltas.append(("", None, None))  # the role must come somewhere

        events = []
        for position, (content, reasoning, tool_calls) in enumerate(deltas):
            delta: dict[str, Any] = {"role": "assistant"} if fmt == "old" or position == 0 else {}
            delta["content"] = content
            if reasoning:
                delta["reasoning"] = reasoning
            if tool_calls:
                delta["tool_calls"] = tool_calls
            events.append(chunk(delta))
        if turn.kind != "reply":
            return events

        finish = turn.effective_finish_reason
        if fmt == "new":
            events.append(chunk({}, finish))
        else:
            final: dict[str, Any] = {"role": "assistant", "content": ""}
            if final_calls:
                final["tool_calls"] = final_calls
            events.append(chunk(final, finish))
        if include_usage:
            events.append({**base, "choices": [], "usage": self._usage(body, turn)})
        return events

    def _stream_turn(self, handler: _Handler, body: dict[str, Any], turn: Turn, include_usage: bool) -> None:
        stream = handler.stream("text/event-stream")
        if turn.kind == "raw":
            if self._sleep(turn.delay):
                stream.write(turn.raw)
            stream.close()
            return
        events = self._chunk_events(body, turn, include_usage)
        for event in events:
            if not self._sleep(turn.delay) or not stream.write(b"data: " + _go_bytes(event) + b"\n\n"):
                stream.drop()
                return
        if turn.kind == "reply":
            stream.write(b"data: [DONE]\n\n")
        if turn.kind == "cut" and turn.abrupt:
            stream.drop()
        else:
            stream.close()


# --------------------------------------------------------------------------------------------------
# CLI


def main(argv: Sequence[str] | None = None) -> int:
    """`python tests/fakes/fake_ollama.py`: serve until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(prog="python tests/fakes/fake_ollama.py",
                                     description="A fake Ollama server for benchmarks and demos.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11434, help="0 picks a free port")
    parser.add_argument("--model", action="append", dest="models", metavar="NAME",
                        help="an installed model (repeatable; default gpt-oss:20b)")
    parser.add_argument("--reply", default="hi", help="the answer to every chat request")
    parser.add_argument("--server-version", default="0.13.4", help="what /api/version reports")
    parser.add_argument("--sse-format", choices=("new", "old"), default="new")
    parser.add_argument("--context-length", type=int, default=131072)
    parser.add_argument("--num-ctx", type=int, default=None)
    parser.add_argument("--loaded-context", type=int, default=4096)
    args = parser.parse_args(argv)

    server = FakeOllama(models=args.models or ["gpt-oss:20b"], version=args.server_version,
                        context_length=args.context_length, num_ctx=args.num_ctx,
                        loaded_context=args.loaded_context, sse_format=args.sse_format,
                        default_reply=args.reply, port=args.port, host=args.host)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        server.start()
    except OSError as exc:
        print(f"fake_ollama: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"listening on {server.base_url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
