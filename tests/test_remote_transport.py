"""Remote servers: TLS with a CA made here, Basic and Bearer auth at a proxy, 401s, proxies from the
environment, retries (refused, 503 + Retry-After, stalls), failover between servers, the plain-HTTP
warning, and secrets that never show up anywhere."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fakes.fake_ollama import FakeOllama, Turn
from fakes.proxy import AuthProxy, Fault
from ocodex.agent.loop import Agent, AgentOptions
from ocodex.config import ProviderConfig
from ocodex.errors import ConfigError, ProviderError
from ocodex.events import ItemIds
from ocodex.net.connection import connect
from ocodex.net.transport import Endpoint, Transport
from ocodex.ollama.client import OllamaClient
from ocodex.providers.base import Completed, TextDelta
from ocodex.providers.errors import retry_after_seconds
from ocodex.redact import redact_url, register_secret, scrub, split_credentials
from ocodex.sandbox import SandboxPolicy
from ocodex.tools.base import ToolContext
from ocodex.tools.registry import ToolRegistry

trustme = pytest.importorskip("trustme", reason="trustme (a test dependency: pip install -e '.[test]') "
                                                "makes the test CA")

PASSWORD = "pa55-w0rd-SECRET"
TOKEN = "tok-0123456789-SECRET"


@pytest.fixture(scope="module")
def ca() -> Any:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: Any, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def server_ssl(ca: Any) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_credentials(url: str, user: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}:{password}@{rest}"


def no_secret_anywhere(run: Any, *roots: Path, secrets: tuple[str, ...] = (PASSWORD, TOKEN)) -> None:
    texts = [run.stdout, run.stderr]
    for root in roots:
        texts += [p.read_text(errors="replace") for p in root.rglob("*")
                  if p.is_file() and ".git" not in p.parts]
    for secret in secrets:
        assert all(secret not in text for text in texts), f"{secret} leaked"


# --------------------------------------------------------------------------------- TLS and auth


def test_https_with_basic_auth_from_the_url_and_a_custom_ca(ocodex, fake, home, repo, ca_file, server_ssl) -> None:
    with AuthProxy(fake.root, ssl_context=server_ssl, basic=("alice", PASSWORD)) as proxy:
        fake.script(Turn.text("over TLS"))
        run = ocodex("exec", "--oss", "-m", "gpt-oss:20b", "--json",
                     "-c", f'model_providers.oss.ca_cert="{ca_file}"', "hi",
                     env={"CODEX_OSS_BASE_URL": with_credentials(proxy.base_url, "alice", PASSWORD)})
        assert run.returncode == 0, run.stderr
        assert run.items("agent_message")[-1]["text"] == "over TLS"
        # Management calls and the model call all went through the proxy, authenticated.
        paths = {r.path for r in proxy.requests}
        assert {"/v1/models", "/api/tags", "/v1/chat/completions"} <= paths
        assert all(r.status != 401 for r in proxy.requests)
        assert f"provider: oss at {proxy.base_url}" in run.stderr  # shown without the credentials
        no_secret_anywhere(run, home, repo)


def test_ssl_cert_file_is_honoured_and_an_unknown_ca_is_explained(ocodex, fake, ca_file, server_ssl) -> None:
    with AuthProxy(fake.root, ssl_context=server_ssl) as proxy:
        run = ocodex("exec", "--oss", "-m", "gpt-oss:20b", "hi", env={"CODEX_OSS_BASE_URL": proxy.base_url})
        assert run.returncode == 1
        assert "TLS verification failed for Ollama" in run.stderr and "model_providers.oss.ca_cert" in run.stderr

        config = ["-c", f'model_providers.lan.base_url="{proxy.base_url}"', "-c", "model_provider=lan",
                  "-c", "model_providers.lan.request_max_retries=0"]
        run = ocodex("exec", *config, "-m", "gpt-oss:20b", "hi")
        assert run.returncode == 1
        assert "TLS verification failed" in run.stderr and "ca_cert" in run.stderr

        fake.script(Turn.text("trusted"))
        run = ocodex("exec", *config, "-m", "gpt-oss:20b", "hi", env={"SSL_CERT_FILE": str(ca_file)})
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == "trusted"


def test_https_to_a_plain_http_server_says_so(ocodex, fake) -> None:
    https = fake.base_url.replace("http://", "https://")
    run = ocodex("exec", "--oss", "-m", "gpt-oss:20b", "hi", env={"CODEX_OSS_BASE_URL": https})
    assert run.returncode == 1 and "speaks plain HTTP, not TLS" in run.stderr and "ca_cert" not in run.stderr
    run = ocodex("exec", *lan(https, "model_providers.lan.request_max_retries=0"), "-m", "gpt-oss:20b", "hi")
    assert run.returncode == 1 and "speaks plain HTTP, not TLS" in run.stderr and "ca_cert" not in run.stderr


def test_bearer_token_from_env_key_for_a_custom_provider(ocodex, fake, home, repo, ca_file, server_ssl) -> None:
    with AuthProxy(fake.root, ssl_context=server_ssl, bearer=TOKEN) as proxy:
        (home / "config.toml").write_text(
            'model_provider = "lan"\n[model_providers.lan]\n'
            f'base_url = "{proxy.base_url}"\nenv_key = "LAN_TOKEN"\nca_cert = "{ca_file}"\n'
            'http_headers = { "X-Team" = "core" }\nquery_params = { "api-version" = "2025-01-01" }\n')
        fake.script(Turn.text("bearer ok"))
        run = ocodex("exec", "-m", "gpt-oss:20b", "hi", env={"LAN_TOKEN": TOKEN})
        assert run.returncode == 0, run.stderr
        sent = next(r for r in fake.requests if r.path == "/v1/chat/completions")
        assert sent.headers["x-team"] == "core" and sent.query == "api-version=2025-01-01"
        # A custom provider sends only the model request: no Ollama probes.
        assert [r.path for r in proxy.requests] == ["/v1/chat/completions"]
        no_secret_anywhere(run, home, repo)


def test_401_from_the_proxy_names_the_settings_to_check(ocodex, fake, home, repo, ca_file, server_ssl) -> None:
    with AuthProxy(fake.root, ssl_context=server_ssl, basic=("alice", PASSWORD)) as proxy:
        run = ocodex("exec", "--oss", "-m", "gpt-oss:20b", "-c", f'model_providers.oss.ca_cert="{ca_file}"', "hi",
                     env={"CODEX_OSS_BASE_URL": with_credentials(proxy.base_url, "alice", "wrong-password")})
        assert run.returncode == 1
        assert "401" in run.stderr and "Authentication failed at a proxy" in run.stderr
        assert "http_headers" in run.stderr and "user:password" in run.stderr
        assert "wrong-password" not in run.stderr

        (home / "config.toml").write_text(
            f'model_provider = "lan"\n[model_providers.lan]\nbase_url = "{proxy.base_url}"\n'
            f'ca_cert = "{ca_file}"\nenv_key = "LAN_TOKEN"\n')
        run = ocodex("exec", "-m", "gpt-oss:20b", "--json", "hi", env={"LAN_TOKEN": TOKEN})
        assert run.returncode == 1
        failed = next(e for e in run.events() if e["type"] == "turn.failed")
        assert "401" in failed["error"]["message"] and "model_providers.lan.env_key" in failed["error"]["message"]
        no_secret_anywhere(run, home, repo)


# --------------------------------------------------------------------------------- proxies from the environment


def test_http_proxy_and_no_proxy_are_honoured(ocodex, fake) -> None:
    with AuthProxy(fake.root) as forward:
        fake.script(Turn.text("via proxy"), Turn.text("direct"))
        run = ocodex("exec", "--oss", "-m", "gpt-oss:20b", "hi", env={"HTTP_PROXY": forward.root})
        assert run.returncode == 0, run.stderr
        assert "/v1/chat/completions" in {r.path for r in forward.requests}

        before = len(forward.requests)
        run = ocodex("exec", "--oss", "-m", "gpt-oss:20b", "hi",
                     env={"HTTP_PROXY": forward.root, "NO_PROXY": "127.0.0.1"})
        assert run.returncode == 0, run.stderr
        assert len(forward.requests) == before


# --------------------------------------------------------------------------------- resilience


def lan(url: str, *extra: str) -> list[str]:
    args = ["-c", f'model_providers.lan.base_url="{url}"', "-c", "model_provider=lan"]
    for item in extra:
        args += ["-c", item]
    return args


def test_connection_refused_is_retried_visibly_then_fails(ocodex) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    run = ocodex("exec", *lan(url, "model_providers.lan.request_max_retries=2"), "-m", "m", "--json", "hi")
    assert run.returncode == 1
    retries = [e["message"] for e in run.events() if e["type"] == "error"]
    assert [m.split(" (")[0] for m in retries] == ["Reconnecting... 1/2", "Reconnecting... 2/2"]
    failed = next(e for e in run.events() if e["type"] == "turn.failed")
    assert "cannot connect" in failed["error"]["message"]


def test_503_with_retry_after_is_retried_and_recovers(ocodex, fake) -> None:
    with AuthProxy(fake.root) as proxy:
        proxy.fail_next(Fault(503, headers={"content-type": "application/json", "retry-after": "0"},
                              path="/v1/chat/completions"))
        fake.script(Turn.text("recovered"))
        run = ocodex("exec", *lan(proxy.base_url), "-m", "gpt-oss:20b", "hi")
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == "recovered"
        assert "Reconnecting... 1/4 (model request failed (503)" in run.stderr
        assert [r.status for r in proxy.requests] == [503, 200]


def test_a_stalled_stream_is_retried(ocodex, fake) -> None:
    fake.script(Turn.text("slow answer that stalls", delay=3.0), Turn.text("fresh answer"))
    run = ocodex("exec", *lan(fake.base_url, "model_providers.lan.stream_idle_timeout_ms=400"),
                 "-m", "gpt-oss:20b", "--json", "hi")
    assert run.returncode == 0, run.stderr
    errors = [e["message"] for e in run.events() if e["type"] == "error"]
    assert errors and "stopped responding" in errors[0]
    assert run.items("agent_message")[-1]["text"] == "fresh answer"


def test_a_dropped_connection_before_any_answer_is_retried(ocodex, fake) -> None:
    with AuthProxy(fake.root) as proxy:
        proxy.fail_next(Fault(None, path="/v1/chat/completions"))
        fake.script(Turn.text("second try"))
        run = ocodex("exec", *lan(proxy.base_url), "-m", "gpt-oss:20b", "hi")
        assert run.returncode == 0, run.stderr
        assert "Reconnecting... 1/" in run.stderr and run.stdout.strip() == "second try"


def test_a_stream_cut_in_the_middle_of_an_event_is_retried(ocodex, fake) -> None:
    partial = b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hel'
    with AuthProxy(fake.root) as proxy:
        proxy.fail_next(Fault(200, body=partial, headers={"content-type": "text/event-stream"},
                              path="/v1/chat/completions"))
        fake.script(Turn.text("complete answer"))
        run = ocodex("exec", *lan(proxy.base_url), "-m", "gpt-oss:20b", "--json", "hi")
        assert run.returncode == 0, run.stderr
        errors = [e["message"] for e in run.events() if e["type"] == "error"]
        assert len(errors) == 1 and "broke off in the middle of an event" in errors[0]
        assert run.items("agent_message")[-1]["text"] == "complete answer"


def test_a_web_page_instead_of_a_stream_fails_at_once_naming_the_base_url(ocodex, fake) -> None:
    page = b"<!doctype html><html><body>Open WebUI</body></html>"
    with AuthProxy(fake.root) as proxy:
        for _ in range(3):
            proxy.fail_next(Fault(200, body=page, headers={"content-type": "text/html; charset=utf-8"},
                                  path="/v1/chat/completions"))
        run = ocodex("exec", *lan(proxy.base_url), "-m", "gpt-oss:20b", "--json", "hi")
        assert run.returncode == 1
        assert not [e for e in run.events() if e["type"] == "error"]  # no pointless retries
        failed = next(e for e in run.events() if e["type"] == "turn.failed")["error"]["message"]
        assert "answered with a web page" in failed and "check the base URL" in failed
        assert [r.status for r in proxy.requests] == [200]


def test_a_refused_connection_through_a_proxy_names_the_proxy(monkeypatch) -> None:
    import httpx

    from ocodex.providers.errors import transport_error

    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://bob:prx-secret-1@127.0.0.1:1")
    monkeypatch.setenv("http_proxy", "http://bob:prx-secret-1@127.0.0.1:1")
    error = transport_error(httpx.ConnectError("[Errno 111] Connection refused"), "http://10.1.2.3/v1/x")
    assert "the proxy http://127.0.0.1:1" in (error.hint or "") and "prx-secret-1" not in (error.hint or "")
    monkeypatch.setenv("NO_PROXY", "10.1.2.3")
    monkeypatch.setenv("no_proxy", "10.1.2.3")
    error = transport_error(httpx.ConnectError("refused"), "http://10.1.2.3/v1/x")
    assert "proxy" not in (error.hint or "")


def test_a_429_for_an_exhausted_quota_is_not_retried_but_a_rate_limit_is() -> None:
    from ocodex.providers.errors import http_error

    quota = (b'{"error":{"message":"You exceeded your current quota, please check your plan and billing '
             b'details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}')
    error = http_error(429, quota, model="gpt-5", url="https://api.openai.com/v1/responses")
    assert not error.retryable and "quota" in (error.hint or "")
    limited = b'{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}'
    assert http_error(429, limited, model="gpt-5", url="https://api.openai.com/v1/responses").retryable


def test_a_407_from_a_forward_proxy_is_an_auth_failure_not_retried(monkeypatch) -> None:
    import httpx

    from ocodex.providers.errors import transport_error

    monkeypatch.setenv("HTTPS_PROXY", "http://bob:prx-secret-2@127.0.0.1:3128")
    monkeypatch.setenv("https_proxy", "http://bob:prx-secret-2@127.0.0.1:3128")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    error = transport_error(httpx.ProxyError("407 Proxy Authentication Required"), "https://10.1.2.3/v1/x")
    assert isinstance(error, ProviderError) and not error.retryable
    assert "authentication failed at the proxy http://127.0.0.1:3128" in error.message
    assert "HTTPS_PROXY" in (error.hint or "") and "prx-secret-2" not in error.message + (error.hint or "")
    assert scrub(error.hint or "") == error.hint  # the advice survives the redaction of printed text
    from ocodex.providers.errors import http_error

    plain = http_error(407, b"Proxy Authentication Required", model="m", url="http://10.1.2.3/v1/x")
    assert "authentication failed at the proxy" in plain.message and "HTTP_PROXY" in (plain.hint or "")


def test_oss_behind_a_proxy_that_wants_credentials_blames_the_proxy(ocodex) -> None:
    import http.server
    import threading

    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_CONNECT(self) -> None:
            self.send_response(407)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        run = ocodex("exec", "--oss", "-m", "gpt-oss:20b", "hi",
                     env={"HTTPS_PROXY": f"http://127.0.0.1:{server.server_address[1]}",
                          "NO_PROXY": "", "no_proxy": "", "CODEX_OSS_BASE_URL": "https://ollama.invalid/v1"})
    finally:
        server.shutdown()
        server.server_close()
    assert run.returncode == 1
    assert "authentication failed at the proxy" in run.stderr and "No running Ollama" not in run.stderr


class _FlakyProvider:
    def __init__(self, error: ProviderError) -> None:
        self.error: ProviderError | None = error

    def stream(self, request: Any) -> Iterator[Any]:
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        yield TextDelta("done")
        yield Completed("stop")

    def close(self) -> None:
        pass


def test_retry_after_sets_the_wait(tmp_path: Path) -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None
    events: list[Any] = []
    ctx = ToolContext(cwd=tmp_path, policy=SandboxPolicy(mode="danger-full-access", cwd=tmp_path),
                      emit=events.append, ids=ItemIds())
    provider = _FlakyProvider(ProviderError("model request failed (429): slow down", status=429,
                                            retryable=True, retry_after=7.0))
    agent = Agent(provider=provider, tools=ToolRegistry.default(), ctx=ctx, options=AgentOptions(model="m"),
                  messages=[], emit=events.append)
    waits: list[float] = []
    agent.sleep = waits.append
    assert agent.run_turn("hi").final_message == "done"
    assert waits == [7.0]


# --------------------------------------------------------------------------------- failover


def test_oss_fails_over_to_the_next_base_url(ocodex, fake) -> None:
    down = f"http://127.0.0.1:{closed_port()}/v1"
    fake.script(Turn.text("from the second box"))
    run = ocodex("exec", "--oss", "-m", "gpt-oss:20b", "-c", f'model_providers.oss.base_urls=["{fake.base_url}"]',
                 "hi", env={"CODEX_OSS_BASE_URL": down})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "from the second box"
    assert f"{down.removesuffix('/v1')} is unreachable" in run.stderr
    assert f"failing over to {fake.root}" in run.stderr
    assert run.stderr.count("failing over") == 1  # the working server stays the active one


def test_all_servers_down_names_each_one(ocodex) -> None:
    first, second = (f"http://127.0.0.1:{closed_port()}/v1" for _ in range(2))
    run = ocodex("exec", "--oss", "-m", "gpt-oss:20b", "-c", f'model_providers.oss.base_urls=["{second}"]', "hi",
                 env={"CODEX_OSS_BASE_URL": first})
    assert run.returncode == 1
    assert "none of the 2 servers answered" in run.stderr
    assert first.removesuffix("/v1") in run.stderr and second.removesuffix("/v1") in run.stderr


def test_the_proxy_keeps_its_fault_for_an_authorized_request() -> None:
    import httpx

    with FakeOllama(models=["gpt-oss:20b"]) as upstream, AuthProxy(upstream.root, bearer=TOKEN) as proxy:
        proxy.fail_next(Fault(503))
        assert httpx.get(f"{proxy.root}/api/tags").status_code == 401
        headers = {"authorization": f"Bearer {TOKEN}"}
        assert httpx.get(f"{proxy.root}/api/tags", headers=headers).status_code == 503
        assert httpx.get(f"{proxy.root}/api/tags", headers=headers).status_code == 200


def test_sensitive_header_values_are_registered_as_secrets() -> None:
    from ocodex.redact import register_headers

    register_headers({"X-Api-Key": "key-material-42", "Proxy-Authorization": "Basic YWxpY2U6c2VjcmV0",
                      "X-Team": "core-team"})
    text = scrub("sent key-material-42 and YWxpY2U6c2VjcmV0 for core-team")
    assert "key-material-42" not in text and "YWxpY2U6c2VjcmV0" not in text and "core-team" in text


def test_proxy_passwords_query_keys_and_env_header_values_become_secrets() -> None:
    provider = ProviderConfig(id="x", name="x", query_params={"api-key": "qk-77665544", "v": "2025"},
                              env_http_headers={"X-Route": "ROUTE", "X-Stage": "STAGE"})
    connect(provider, "https://h/v1", {"HTTPS_PROXY": "http://bob:prx-pw-9911@proxy:3128",
                                       "ROUTE": "route-tag-5566", "STAGE": "prod"})
    text = scrub("qk-77665544 prx-pw-9911 route-tag-5566 v=2025 in prod")
    assert text == "*** *** *** v=2025 in prod"  # "prod" is too short to be a credential


def test_an_unexpected_error_shows_its_traceback_without_secrets() -> None:
    import io

    from ocodex.errors import run_reporting

    register_secret("tb-secret-424242")

    def buggy() -> int:
        raise RuntimeError("oops with https://u:tb-secret-424242@h/v1")

    err = io.StringIO()
    assert run_reporting(buggy, err) == 1
    assert "Traceback" in err.getvalue() and "RuntimeError: oops" in err.getvalue()
    assert "tb-secret-424242" not in err.getvalue()


def test_a_mid_stream_error_is_scrubbed() -> None:
    from ocodex.errors import StreamError
    from ocodex.providers.chat import parse_chat_stream

    register_secret("echoed-key-31337")
    with pytest.raises(StreamError) as info:
        list(parse_chat_stream(['data: {"error": {"message": "bad key echoed-key-31337"}}', ""]))
    assert "echoed-key-31337" not in info.value.message and "bad key ***" in info.value.message


def test_failover_mid_session_for_management_and_model_calls() -> None:
    with FakeOllama(models=["gpt-oss:20b"]) as first, FakeOllama(models=["gpt-oss:20b"]) as second:
        notes: list[Any] = []
        transport = Transport(endpoints=[Endpoint(first.root), Endpoint(second.root)], notify=notes.append)
        client = OllamaClient(first.root, transport, env={})
        client.probe()
        assert [r.path for r in first.requests] == ["/v1/models"]
        first_root = first.root
        first.stop()
        assert [m.name for m in client.tags()] == ["gpt-oss:20b"]
        response = transport.client().post(f"{first_root}/v1/chat/completions",
                                           json={"model": "gpt-oss:20b", "messages": [{"role": "user",
                                                                                        "content": "hi"}]})
        assert response.status_code == 200
        assert [r.path for r in second.requests] == ["/api/tags", "/v1/chat/completions"]
        assert len(notes) == 1 and "failing over" in notes[0].text()
        assert (notes[0].failed, notes[0].next) == (first_root, second.root)
        transport.close()


# --------------------------------------------------------------------------------- warnings and redaction


def test_plain_http_to_another_host_warns_once_per_host_and_can_be_silenced() -> None:
    provider = ProviderConfig(id="oss", name="Ollama", base_urls=["http://10.0.0.6:11434/v1"])
    connection = connect(provider, "http://10.0.0.5:11434/v1", {})
    assert [(w.host, w.setting) for w in connection.warnings] == [("10.0.0.5", "oss.warn_plain_http"),
                                                                   ("10.0.0.6", "oss.warn_plain_http")]
    text = connection.warnings[0].text()
    assert "10.0.0.5 over plain HTTP" in text
    assert "SSH tunnel" in text and "oss.warn_plain_http=false" in text
    assert connection.transport.plain_http_only
    assert connect(provider, "http://10.0.0.5:11434/v1", {}, warn_plain_http=False).warnings == []
    for url in ("http://localhost:11434/v1", "http://127.0.0.1:11434/v1", "https://10.0.0.5/v1"):
        assert connect(ProviderConfig(id="x", name="x"), url, {}).warnings == []
    assert not connect(ProviderConfig(id="x", name="x"), "http://h/v1", {"HTTPS_PROXY": "http://p"}
                       ).transport.plain_http_only


def test_a_bad_base_url_is_a_config_error_without_its_password() -> None:
    for url in ("http://h:notaport/v1", "ftp://h/v1", "http://u:hunter22@h:99999/v1"):
        with pytest.raises(ConfigError) as info:
            connect(ProviderConfig(id="oss", name="Ollama"), url, {})
        assert "not a valid http:// or https:// URL" in info.value.message
        assert "CODEX_OSS_BASE_URL" in (info.value.hint or "") and "hunter22" not in info.value.message


def test_credentials_are_split_off_and_scrubbed() -> None:
    clean, auth = split_credentials("https://bob:p%40ss-word-1@ollama.example.com:8443/v1")
    assert clean == "https://ollama.example.com:8443/v1" and auth == ("bob", "p@ss-word-1")
    assert redact_url("https://bob:x@h/v1") == "https://h/v1"
    register_secret("sk-live-abcdef123456")
    text = scrub("key sk-live-abcdef123456 at https://u:p@h/v1 with Authorization: Bearer abcdef.ghijk")
    assert "sk-live" not in text and "u:p@" not in text and "abcdef.ghijk" not in text
    assert "p@ss-word-1" not in scrub("server said: p@ss-word-1")


def test_a_token_as_the_url_user_name_is_a_secret() -> None:
    clean, auth = split_credentials("https://ghp-tok3n-998877@models.example.com/v1")
    assert clean == "https://models.example.com/v1" and auth == ("ghp-tok3n-998877", "")
    assert scrub("server said: unknown user ghp-tok3n-998877") == "server said: unknown user ***"


def test_plain_http_warning_on_stderr_and_silenced_by_config(ocodex, fake) -> None:
    # A forward proxy on loopback stands in for the network: nothing leaves 127.0.0.1.
    with AuthProxy(fake.root) as forward:
        env = {"HTTP_PROXY": forward.root, "CODEX_OSS_BASE_URL": "http://gpu-box.invalid:11434/v1"}
        fake.script(Turn.text("a"), Turn.text("b"))
        run = ocodex("exec", "--oss", "-m", "gpt-oss:20b", "hi", env=env)
        assert run.returncode == 0, run.stderr
        warnings = [line for line in run.stderr.splitlines() if "plain HTTP" in line]
        assert len(warnings) == 1 and "gpu-box.invalid" in warnings[0] and "SSH tunnel" in warnings[0]
        run = ocodex("exec", "--oss", "-m", "gpt-oss:20b", "-c", "oss.warn_plain_http=false", "hi", env=env)
        assert run.returncode == 0, run.stderr
        assert "plain HTTP" not in run.stderr
        assert {r.path for r in forward.requests} >= {"/v1/models", "/v1/chat/completions"}


def test_a_busy_ollama_is_retried_for_its_management_calls(ocodex, fake) -> None:
    with AuthProxy(fake.root) as proxy:
        proxy.fail_next(Fault(503, headers={"content-type": "application/json", "retry-after": "0"},
                              body=b'{"error":"server busy, please try again.  maximum pending requests exceeded"}',
                              path="/api/tags"))
        run = ocodex("exec", "--oss", "hi", env={"CODEX_OSS_BASE_URL": proxy.base_url})
        assert run.returncode == 0, run.stderr
        assert "answered 503 to GET /api/tags; retrying 1/2" in run.stderr
        tags = [r.status for r in proxy.requests if r.path == "/api/tags"]
        assert tags == [503, 200]
