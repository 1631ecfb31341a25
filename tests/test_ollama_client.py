"""OllamaClient against a tiny local HTTP server on 127.0.0.1, plus the oss readiness sequence."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ocodex.errors import Interrupted, OcodexError, ProviderError, PullError, ServerUnavailable
from ocodex.events import PullEnded, PullProgress
from ocodex.net.transport import Transport
from ocodex.ollama.bootstrap import prepare_oss
from ocodex.ollama.client import (
    OllamaClient,
    PullUpdate,
    context_length_from,
    num_ctx_from,
    parameters_from,
    version_at_least,
)
from ocodex.ollama.names import find_model

# ---------------------------------------------------------------------------------------------
# A tiny scripted server


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict -> JSON; str -> text; list -> NDJSON lines streamed one by one
    content_type: str | None = None
    hang: float = 0.0  # seconds to wait before answering
    drop: bool = False  # close the connection without answering
    gate: threading.Barrier | None = None  # answer only once every request sharing the gate has arrived


@dataclass
class Server:
    routes: dict[tuple[str, str], Reply] = field(default_factory=dict)
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)
    root: str = ""

    def route(self, method: str, path: str, reply: Reply) -> None:
        self.routes[(method, path)] = reply

    def paths(self) -> list[str]:
        return [f"{method} {path}" for method, path, _ in self.requests]


def _handler(state: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            state.requests.append((method, self.path, body))
            reply = state.routes.get((method, self.path), Reply(404, "404 page not found"))
            if reply.hang:
                time.sleep(reply.hang)
            if reply.gate is not None:
                try:
                    reply.gate.wait()
                except threading.BrokenBarrierError:  # they came one after another: fail the request
                    reply = Reply(500, "not concurrent")
            if reply.drop:
                self.close_connection = True
                return
            self.send_response(reply.status)
            if isinstance(reply.body, list):
                self.send_header("content-type", reply.content_type or "application/x-ndjson")
                self.end_headers()
                for line in reply.body:
                    text = line if isinstance(line, str) else json.dumps(line)
                    self.wfile.write(text.encode() + b"\n")
                    self.wfile.flush()
                return
            if isinstance(reply.body, dict):
                data, kind = json.dumps(reply.body).encode(), "application/json"
            else:
                data, kind = (reply.body or "").encode(), "text/plain"
            self.send_header("content-type", reply.content_type or kind)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up early (timeouts, interrupted pulls) are part of the tests


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server()
    httpd = QuietServer(("127.0.0.1", 0), _handler(state))
    state.root = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def client_for(server: Server, **transport: Any) -> OllamaClient:
    return OllamaClient(server.root, Transport(**transport), env={})


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


GPT_OSS_TAGS = {"models": [{
    "name": "gpt-oss:20b", "model": "gpt-oss:20b", "size": 13780173724, "digest": "aa4295ac10c3",
    "details": {"family": "gptoss", "families": None, "parameter_size": "20.9B",
                "quantization_level": "MXFP4", "context_length": 131072},
    "capabilities": ["completion", "tools", "thinking"],
}, {
    "name": "Qwen3:8B", "model": "Qwen3:8B", "size": 5, "digest": "bb", "details": {},
}]}

GPT_OSS_SHOW = {
    "parameters": "temperature                    1\nnum_ctx                        32768",
    "details": {"family": "gptoss", "parameter_size": "20.9B", "quantization_level": "MXFP4"},
    "model_info": {"general.architecture": "gptoss", "gptoss.context_length": 131072,
                   "gptoss.embedding_length": 2880, "tokenizer.ggml.tokens": []},
    "capabilities": ["completion", "tools", "thinking"],
}

PULL_OK = [
    {"status": "pulling manifest"},
    {"status": "pulling e7b273f96360", "digest": "sha256:e7b2", "total": 1000},
    {"status": "pulling e7b273f96360", "digest": "sha256:e7b2", "total": 1000, "completed": 500},
    {"status": "pulling e7b273f96360", "digest": "sha256:e7b2", "total": 1000, "completed": 1000},
    {"status": "pulling fa6710a93d78", "digest": "sha256:fa67", "total": 10, "completed": 10},
    {"status": "verifying sha256 digest"},
    {"status": "writing manifest"},
    {"status": "success"},
]


# ---------------------------------------------------------------------------------------------
# probe


def test_probe_ok(server: Server) -> None:
    server.route("GET", "/v1/models", Reply(200, {"object": "list", "data": None}))
    client_for(server).probe()
    assert server.paths() == ["GET /v1/models"]


def test_probe_closed_port_is_server_unavailable() -> None:
    root = f"http://127.0.0.1:{closed_port()}"
    client = OllamaClient(root, Transport(connect_timeout=2), env={})
    with pytest.raises(ServerUnavailable) as caught:
        client.probe()
    error = caught.value
    assert "No running Ollama server detected" in error.message
    assert error.message == f"No running Ollama server detected at {root}"
    assert error.hint is not None
    assert "ollama serve" in error.hint
    compose = Path(__file__).resolve().parents[1] / "deploy" / "docker-compose.yml"
    assert f"docker compose -f {compose} up -d" in error.hint  # absolute: it works from the user's folder
    assert "CODEX_OSS_BASE_URL (currently: unset)" in error.hint
    assert f"{root}/v1/models" in error.hint
    assert error.also is not None and "--local-provider embedded" in error.also  # the one extra line


def test_the_no_server_message_gains_one_line_naming_the_embedded_provider() -> None:
    import io

    from ocodex.errors import report

    root = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(ServerUnavailable) as caught:
        OllamaClient(root, Transport(connect_timeout=2), env={}).probe()
    err = io.StringIO()
    report(caught.value, err)
    lines = err.getvalue().splitlines()
    assert lines[0] == f"error: No running Ollama server detected at {root}"
    assert lines[1].startswith("hint: Start it with `ollama serve`")
    assert lines[2].startswith("hint: or run without Ollama: `ocodex exec --oss --local-provider embedded")
    assert len(lines) == 3


def test_probe_hint_names_codex_oss_port_when_that_chose_the_url() -> None:
    port = closed_port()
    client = OllamaClient(f"http://127.0.0.1:{port}", Transport(), env={"CODEX_OSS_PORT": str(port)})
    with pytest.raises(ServerUnavailable) as caught:
        client.probe()
    assert f"check CODEX_OSS_PORT (currently: {port})" in (caught.value.hint or "")
    assert "CODEX_OSS_BASE_URL" not in (caught.value.hint or "")


def test_probe_hint_shows_configured_base_url() -> None:
    root = f"http://127.0.0.1:{closed_port()}"
    client = OllamaClient(root, Transport(), env={"CODEX_OSS_BASE_URL": f"{root}/v1"})
    with pytest.raises(ServerUnavailable) as caught:
        client.probe()
    assert f"CODEX_OSS_BASE_URL (currently: {root}/v1)" in (caught.value.hint or "")


def test_probe_timeout_is_server_unavailable(server: Server) -> None:
    server.route("GET", "/v1/models", Reply(200, {}, hang=2.0))
    with pytest.raises(ServerUnavailable, match="No running Ollama server detected") as caught:
        client_for(server, read_timeout=0.2).probe()
    # It is listening, only silent: say so rather than "start it with ollama serve".
    assert "accepted the connection but did not answer GET /v1/models within 0.2 s" in caught.value.message
    assert "ollama serve" not in (caught.value.hint or "") and "curl" in (caught.value.hint or "")


@pytest.mark.parametrize("status", [401, 403])
def test_probe_auth_failure(server: Server, status: int) -> None:
    server.route("GET", "/v1/models", Reply(status, "denied"))
    with pytest.raises(ProviderError) as caught:
        client_for(server).probe()
    assert caught.value.status == status
    assert "Authentication" in (caught.value.hint or "")


def test_a_proxys_html_error_page_becomes_its_title(server: Server) -> None:
    page = ("<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>"
            "401 Authorization Required</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n")
    server.route("GET", "/api/tags", Reply(401, page, content_type="text/html"))
    server.route("GET", "/api/ps", Reply(502, "<html><body>bad gateway</body></html>", content_type="text/html"))
    client = client_for(server)
    client.max_retries = 0
    with pytest.raises(ProviderError) as caught:
        client.tags()
    assert caught.value.message.endswith("refused GET /api/tags with HTTP 401 (401 Authorization Required)")
    with pytest.raises(ProviderError) as caught:
        client.ps()
    assert caught.value.message.endswith("answered GET /api/ps with HTTP 502: Bad Gateway")
    assert "proxy or tunnel in front of Ollama" in (caught.value.hint or "")


def test_probe_404_gives_endpoint_hint(server: Server) -> None:
    client = OllamaClient(server.root, Transport(), base_url=f"{server.root}/api", env={})
    with pytest.raises(ProviderError) as caught:
        client.probe()
    assert caught.value.status == 404
    assert (caught.value.hint or "").startswith("Wrong endpoint used: for OSS via Ollama the base URL")
    assert f"(got {server.root}/api)" in (caught.value.hint or "")


def test_probe_other_status(server: Server) -> None:
    server.route("GET", "/v1/models", Reply(500, {"error": "boom"}))
    with pytest.raises(ProviderError, match="HTTP 500: boom") as caught:
        client_for(server).probe()
    assert caught.value.status == 500
    assert "journalctl -u ollama" in (caught.value.hint or "")  # where to look, not a bare failure


def test_invalid_url_is_an_ocodex_error() -> None:
    with pytest.raises(OcodexError, match="Invalid Ollama URL"):
        OllamaClient("localhost:11434", Transport(), env={}).probe()


# ---------------------------------------------------------------------------------------------
# version, tags, show, ps


def test_version(server: Server) -> None:
    server.route("GET", "/api/version", Reply(200, {"version": "0.12.0"}))
    assert client_for(server).version() == "0.12.0"


def test_version_404_is_none(server: Server) -> None:
    assert client_for(server).version() is None


def test_tags_and_name_matching(server: Server) -> None:
    server.route("GET", "/api/tags", Reply(200, GPT_OSS_TAGS))
    entries = client_for(server).tags()
    assert [e.name for e in entries] == ["gpt-oss:20b", "Qwen3:8B"]
    first = entries[0]
    assert (first.size, first.parameter_size, first.quantization, first.context_length) == (
        13780173724, "20.9B", "MXFP4", 131072)
    assert first.capabilities == ["completion", "tools", "thinking"]
    assert entries[1].capabilities == [] and entries[1].context_length is None
    names = [e.name for e in entries]
    assert find_model("qwen3:8b", names) == "Qwen3:8B"
    assert find_model("gpt-oss", names) is None


def test_tags_empty_and_null(server: Server) -> None:
    server.route("GET", "/api/tags", Reply(200, {"models": None}))
    assert client_for(server).tags() == []


def test_tags_not_json_is_provider_error(server: Server) -> None:
    server.route("GET", "/api/tags", Reply(200, "<html>proxy</html>", content_type="text/html"))
    with pytest.raises(ProviderError, match="not a JSON object"):
        client_for(server).tags()


def test_dropped_connection_is_provider_error(server: Server) -> None:
    server.route("GET", "/api/tags", Reply(drop=True))
    with pytest.raises(ProviderError, match="GET /api/tags"):
        client_for(server).tags()


def test_show_parses_details(server: Server) -> None:
    server.route("POST", "/api/show", Reply(200, GPT_OSS_SHOW))
    details = client_for(server).show("gpt-oss:20b")
    assert details.capabilities == ["completion", "tools", "thinking"]
    assert details.supports("tools") and not details.supports("vision")
    assert details.context_length == 131072
    assert details.num_ctx == 32768
    assert details.temperature == 1.0 and details.top_p is None
    assert (details.family, details.parameter_size, details.quantization, details.architecture) == (
        "gptoss", "20.9B", "MXFP4", "gptoss")
    assert server.requests[-1][2] == b'{"model":"gpt-oss:20b"}'


def test_show_404(server: Server) -> None:
    server.route("POST", "/api/show", Reply(404, {"error": "model 'nosuch:latest' not found"}))
    with pytest.raises(ProviderError, match="model 'nosuch' not found") as caught:
        client_for(server).show("nosuch")
    assert caught.value.status == 404


def test_context_length_fallbacks() -> None:
    assert context_length_from({"general.architecture": "gpt-oss", "gpt-oss.context_length": 8192}) == 8192
    assert context_length_from({"general.architecture": "llama", "qwen3.context_length": 40960}) == 40960
    assert context_length_from({"context_length": 4096}) == 4096
    assert context_length_from({"general.architecture": "x", "x.context_length": True}) is None
    assert context_length_from({}) is None


def test_parameters_parsing() -> None:
    assert num_ctx_from("num_ctx 65536") == 65536
    assert num_ctx_from('stop "<|end|>"\ntemperature 1') is None
    assert num_ctx_from("num_ctx lots") is None
    assert num_ctx_from(None) is None
    text = 'stop                           "<|start|>"\nstop                           "<|end|>"\ntop_p 0.9'
    assert parameters_from(text) == {"stop": "<|start|>", "top_p": "0.9"}


def test_ps(server: Server) -> None:
    server.route("GET", "/api/ps", Reply(200, {"models": [{
        "name": "gpt-oss:20b", "model": "gpt-oss:20b", "size": 14898000000, "size_vram": 14000000000,
        "expires_at": "2026-08-21T18:53:07.933550123-07:00", "context_length": 32768}]}))
    (loaded,) = client_for(server).ps()
    assert (loaded.name, loaded.size, loaded.size_vram, loaded.context_length) == (
        "gpt-oss:20b", 14898000000, 14000000000, 32768)
    assert loaded.expires_at is not None and loaded.expires_at.year == 2026


# ---------------------------------------------------------------------------------------------
# pull


def test_pull_success(server: Server) -> None:
    server.route("POST", "/api/pull", Reply(200, PULL_OK))
    updates = list(client_for(server).pull("gpt-oss:20b"))
    assert updates[0] == PullUpdate("pulling manifest")
    assert updates[2] == PullUpdate("pulling e7b273f96360", "sha256:e7b2", 1000, 500)
    assert updates[-1].status == "success"
    assert server.requests[-1][2] == b'{"model":"gpt-oss:20b","stream":true}'


def test_pull_error_line_inside_200_stream(server: Server) -> None:
    server.route("POST", "/api/pull", Reply(200, [
        {"status": "pulling manifest"}, {"error": "pull model manifest: file does not exist"}]))
    seen: list[PullUpdate] = []
    with pytest.raises(PullError) as caught:
        seen.extend(client_for(server).pull("nosuch"))
    assert str(caught.value) == "Pull failed: pull model manifest: file does not exist"
    assert seen == [PullUpdate("pulling manifest")]


def test_pull_out_of_disk_space_says_where_models_can_go(server: Server) -> None:
    error = "write /root/.ollama/models/blobs/sha256-e7b2-partial: no space left on device"
    server.route("POST", "/api/pull", Reply(200, [PULL_OK[1], {"error": error}]))
    with pytest.raises(PullError, match="no space left on device") as caught:
        list(client_for(server).pull("gpt-oss:20b"))
    assert "OLLAMA_MODELS=" in (caught.value.hint or "")


def test_pull_stream_without_success(server: Server) -> None:
    server.route("POST", "/api/pull", Reply(200, PULL_OK[:4]))
    with pytest.raises(PullError, match=r"^Pull stream ended unexpectedly without success$"):
        list(client_for(server).pull("gpt-oss:20b"))


def test_pull_http_error_status(server: Server) -> None:
    server.route("POST", "/api/pull", Reply(400, {"error": "invalid model name"}))
    with pytest.raises(PullError, match=r"^Pull failed: invalid model name$"):
        list(client_for(server).pull("bad name!"))


def test_pull_garbage_line(server: Server) -> None:
    server.route("POST", "/api/pull", Reply(200, ["<html>"]))
    with pytest.raises(PullError, match="unexpected progress line"):
        list(client_for(server).pull("x"))


def test_pull_against_closed_port() -> None:
    client = OllamaClient(f"http://127.0.0.1:{closed_port()}", Transport(), env={})
    with pytest.raises(ServerUnavailable):
        list(client.pull("x"))


# ---------------------------------------------------------------------------------------------
# versions


@pytest.mark.parametrize(("version", "minimum", "ok"), [
    ("0.13.4", "0.13.4", True),
    ("0.13.3", "0.13.4", False),
    ("0.14.0", "0.13.4", True),
    ("1.0", "0.13.4", True),
    ("v0.12.10", "0.12.4", True),
    ("0.0.0", "0.13.4", True),
    ("0.13.4-rc1", "0.13.4", False),
    ("0.13.5-rc1", "0.13.4", True),
    ("weird", "0.13.4", True),
    (None, "0.13.4", True),
])
def test_version_at_least(version: str | None, minimum: str, ok: bool) -> None:
    assert version_at_least(version, minimum) is ok


# ---------------------------------------------------------------------------------------------
# prepare_oss


class RecordingDisplay:
    def __init__(self, interrupt_after: int | None = None) -> None:
        self.updates: list[PullUpdate] = []
        self.finished = self.aborted = False
        self.interrupt_after = interrupt_after

    def update(self, update: PullUpdate) -> None:
        self.updates.append(update)
        if self.interrupt_after is not None and len(self.updates) >= self.interrupt_after:
            raise KeyboardInterrupt

    def finish(self) -> None:
        self.finished = True

    def abort(self) -> None:
        self.aborted = True


def ready_server(server: Server, *, version: str = "0.13.4", tags: dict | None = None) -> None:
    server.route("GET", "/v1/models", Reply(200, {"object": "list", "data": []}))
    server.route("GET", "/api/version", Reply(200, {"version": version}))
    server.route("GET", "/api/tags", Reply(200, GPT_OSS_TAGS if tags is None else tags))
    server.route("POST", "/api/show", Reply(200, GPT_OSS_SHOW))


class Events(list):
    """What prepare_oss emitted; `interrupt_after` pull updates, a Ctrl-C."""

    def __init__(self, interrupt_after: int | None = None) -> None:
        super().__init__()
        self.interrupt_after = interrupt_after

    def __call__(self, event: object) -> None:
        self.append(event)
        if isinstance(event, PullProgress) and self.interrupt_after is not None \
                and len(self.progress()) >= self.interrupt_after:
            raise KeyboardInterrupt

    def notes(self) -> list[str]:
        return [e.text() for e in self if hasattr(e, "text")]

    def progress(self) -> list[PullProgress]:
        return [e for e in self if isinstance(e, PullProgress)]

    def ended(self) -> list[bool]:
        return [e.ok for e in self if isinstance(e, PullEnded)]


def test_prepare_oss_model_present(server: Server) -> None:
    ready_server(server)
    events = Events()
    ready = prepare_oss(client=client_for(server), model="QWEN3:8b", auto_pull=True, emit=events)
    assert ready.model == "Qwen3:8B" and ready.version == "0.13.4" and not ready.pulled
    assert ready.details is not None and ready.details.context_length == 131072
    assert events == []
    paths = server.paths()  # the three independent probes go out at once, in any order
    assert sorted(paths[:3]) == ["GET /api/tags", "GET /api/version", "GET /v1/models"]
    assert paths[3:] == ["POST /api/show"]


def test_prepare_oss_sends_the_three_first_probes_at_once(server: Server) -> None:
    ready_server(server)
    gate = threading.Barrier(3, timeout=20)  # a safety net: sent one after another, the first never answers
    for method, path in (("GET", "/v1/models"), ("GET", "/api/version"), ("GET", "/api/tags")):
        route = server.routes[(method, path)]
        server.route(method, path, Reply(route.status, route.body, route.content_type, gate=gate))
    ready = prepare_oss(client=client_for(server), model="qwen3:8b", auto_pull=False, emit=Events())
    assert ready.model == "Qwen3:8B" and not gate.broken


def test_prepare_oss_pulls_missing_model(server: Server) -> None:
    ready_server(server, tags={"models": []})
    server.route("POST", "/api/pull", Reply(200, PULL_OK))
    events = Events()
    ready = prepare_oss(client=client_for(server), model="gpt-oss:20b", auto_pull=True, emit=events)
    assert ready.pulled and ready.model == "gpt-oss:20b"
    assert events.notes() == ["Pulling model gpt-oss:20b..."]
    assert len(events.progress()) == len(PULL_OK) and events.ended() == [True]
    assert {e.model for e in events.progress()} == {"gpt-oss:20b"}
    paths = server.paths()
    assert sorted(paths[:3]) == ["GET /api/tags", "GET /api/version", "GET /v1/models"]
    assert paths[3:] == ["POST /api/pull", "POST /api/show"]


def test_prepare_oss_missing_without_auto_pull(server: Server) -> None:
    ready_server(server, tags={"models": []})
    with pytest.raises(OcodexError, match="not available") as caught:
        prepare_oss(client=client_for(server), model="gpt-oss:20b", auto_pull=False, emit=Events())
    assert "ollama pull gpt-oss:20b" in (caught.value.hint or "")
    assert "ocodex pull" in (caught.value.hint or "")


def test_prepare_oss_pull_failure_aborts_display(server: Server) -> None:
    ready_server(server, tags={"models": []})
    server.route("POST", "/api/pull", Reply(200, [{"error": "pull model manifest: file does not exist"}]))
    events = Events()
    with pytest.raises(PullError, match="Pull failed") as caught:
        prepare_oss(client=client_for(server), model="nosuch", auto_pull=True, emit=events)
    assert events.ended() == [False]
    assert "https://ollama.com/library" in (caught.value.hint or "")  # what to do next
    assert "`ocodex pull nosuch`" in (caught.value.hint or "")


def test_prepare_oss_interrupted_pull(server: Server) -> None:
    ready_server(server, tags={"models": []})
    server.route("POST", "/api/pull", Reply(200, PULL_OK))
    events = Events(interrupt_after=2)
    with pytest.raises(Interrupted) as caught:
        prepare_oss(client=client_for(server), model="gpt-oss:20b", auto_pull=True, emit=events)
    assert str(caught.value) == ("Pull of gpt-oss:20b interrupted; run the command again to resume "
                                 "(Ollama keeps partial downloads)")
    assert caught.value.exit_code == 130
    assert events.ended() == [False]


def test_prepare_oss_old_version_warns_and_404_version_is_fine(server: Server) -> None:
    ready_server(server, version="0.5.1")
    events = Events()
    prepare_oss(client=client_for(server), model="gpt-oss:20b", auto_pull=False, emit=events)
    assert len(events.notes()) == 1 and "0.5.1" in events.notes()[0]
    del server.routes[("GET", "/api/version")]
    ready = prepare_oss(client=client_for(server), model="gpt-oss:20b", auto_pull=False, emit=events)
    assert ready.version is None and len(events.notes()) == 1


def test_prepare_oss_tolerates_show_failure(server: Server) -> None:
    ready_server(server)
    server.route("POST", "/api/show", Reply(500, {"error": "boom"}))
    ready = prepare_oss(client=client_for(server), model="gpt-oss:20b", auto_pull=False, emit=Events())
    assert ready.details is None


def test_prepare_oss_no_server() -> None:
    client = OllamaClient(f"http://127.0.0.1:{closed_port()}", Transport(), env={})
    with pytest.raises(ServerUnavailable, match="No running Ollama server detected"):
        prepare_oss(client=client, model="gpt-oss:20b", auto_pull=True, emit=Events())


def test_pull_with_progress_feeds_a_display_and_stops_on_ctrl_c(server: Server) -> None:
    from ocodex.ollama.pull import pull_with_progress

    server.route("POST", "/api/pull", Reply(200, PULL_OK))
    display = RecordingDisplay()
    pull_with_progress(client_for(server), "gpt-oss:20b", display)
    assert len(display.updates) == len(PULL_OK) and display.finished and not display.aborted
    stopped = RecordingDisplay(interrupt_after=2)
    with pytest.raises(Interrupted):
        pull_with_progress(client_for(server), "gpt-oss:20b", stopped)
    assert len(stopped.updates) == 2 and stopped.aborted and not stopped.finished
