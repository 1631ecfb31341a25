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

from ocodex.agent.loop import Agent, AgentOptions
from ocodex.config import ProviderConfig
from ocodex.connection import connect
from ocodex.errors import ConfigError, ProviderError
from ocodex.events import ItemIds
from ocodex.http import Endpoint, Transport
from ocodex.ollama.client import OllamaClient
from ocodex.providers.base import Completed, TextDelta
from ocodex.providers.errors import retry_after_seconds
from ocodex.redact import redact_url, register_secret, scrub, split_credentials
from ocodex.sandbox import SandboxPolicy
from ocodex.testing.fake_ollama import FakeOllama, Turn
from ocodex.testing.proxy import AuthProxy, Fault
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


def test_sensitive_header_values_are_registered_as_secrets() -> None:
    from ocodex.redact import register_headers

    register_headers({"X-Api-Key": "key-material-42", "Proxy-Authorization": "Basic YWxpY2U6c2VjcmV0",
                      "X-Team": "core-team"})
    text = scrub("sent key-material-42 and YWxpY2U6c2VjcmV0 for core-team")
    assert "key-material-42" not in text and "YWxpY2U6c2VjcmV0" not in text and "core-team" in text


def test_failover_mid_session_for_management_and_model_calls() -> None:
    with FakeOllama(models=["gpt-oss:20b"]) as first, FakeOllama(models=["gpt-oss:20b"]) as second:
        notes: list[str] = []
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
        assert len(notes) == 1 and "failing over" in notes[0]
        transport.close()


# --------------------------------------------------------------------------------- warnings and redaction


def test_plain_http_to_another_host_warns_once_per_host_and_can_be_silenced() -> None:
    provider = ProviderConfig(id="oss", name="Ollama", base_urls=["http://10.0.0.6:11434/v1"])
    connection = connect(provider, "http://10.0.0.5:11434/v1", {})
    assert len(connection.warnings) == 2
    assert "10.0.0.5 over plain HTTP" in connection.warnings[0]
    assert "SSH tunnel" in connection.warnings[0] and "oss.warn_plain_http=false" in connection.warnings[0]
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
