"""The request log (`OCODEX_LOG_REQUESTS` / `log_requests`): every exchange with the model server on
one JSON line each, bodies included, and not one secret in it — nor on stdout in --json mode."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import httpx

from fakes.fake_ollama import FakeOllama, Turn
from ocodex.net.transport import Endpoint, Transport
from ocodex.redact import register_secret

PASSWORD = "url-pa55word-LOGSECRET"
API_KEY = "sk-envkey-0123456789-LOGSECRET"
BEARER = "hdr-bearer-0123456789-LOGSECRET"
ENV_HEADER = "envhdr-0123456789-LOGSECRET"
QUERY_KEY = "qkey-0123456789-LOGSECRET"
SECRETS = (PASSWORD, API_KEY, BEARER, ENV_HEADER, QUERY_KEY)


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def lan_config(home: Path, fake: FakeOllama) -> None:
    url = fake.base_url.replace("http://", f"http://alice:{PASSWORD}@")
    (home / "config.toml").write_text(
        'model_provider = "lan"\n[model_providers.lan]\n'
        f'base_url = "{url}"\nenv_key = "LAN_KEY"\n'
        f'http_headers = {{ "X-Gateway-Auth" = "Bearer {BEARER}", "X-Team" = "core" }}\n'
        'env_http_headers = { "X-Route" = "LAN_ROUTE" }\n'
        f'query_params = {{ "api-key" = "{QUERY_KEY}" }}\n'
        "request_max_retries = 0\n")


def test_every_exchange_is_logged_with_bodies_and_no_secret(ocodex, fake, home, repo, tmp_path) -> None:
    lan_config(home, fake)
    log = tmp_path / "requests.jsonl"
    fake.script(Turn.text("logged answer", chunks=1))
    run = ocodex("exec", "-m", "gpt-oss:20b", "--json", "please log me",
                 env={"LAN_KEY": API_KEY, "LAN_ROUTE": ENV_HEADER, "OCODEX_LOG_REQUESTS": str(log)})
    assert run.returncode == 0, run.stderr
    # stdout stays pure Codex JSONL (each line schema-checked); the log never goes there.
    assert {e["type"] for e in run.events()} >= {"thread.started", "turn.completed"}
    assert "please log me" not in run.stderr

    lines = records(log)
    request = next(r for r in lines
                   if r["type"] == "request" and r["url"].split("?")[0].endswith("/chat/completions"))
    response = next(r for r in lines if r["type"] == "response" and r["id"] == request["id"])
    assert request["method"] == "POST" and request["body"]["model"] == "gpt-oss:20b"
    assert any("please log me" in json.dumps(m) for m in request["body"]["messages"])
    assert request["headers"]["authorization"] == "***" and request["headers"]["x-gateway-auth"] == "***"
    assert request["headers"]["x-route"] == "***" and request["headers"]["x-team"] == "core"
    assert response["status"] == 200 and "logged answer" in response["body"]
    assert isinstance(response["ms"], int)
    if os.name == "posix":
        assert stat.S_IMODE(log.stat().st_mode) == 0o600  # it holds prompts and code

    texts = [log.read_text(), run.stdout, run.stderr]
    texts += [p.read_text(errors="replace") for p in home.rglob("*") if p.is_file() and p.name != "config.toml"]
    for secret in SECRETS:
        assert all(secret not in text for text in texts), f"{secret} leaked"


def test_error_responses_are_logged_without_secrets(ocodex, fake, home, tmp_path) -> None:
    lan_config(home, fake)
    log = tmp_path / "requests.jsonl"
    fake.script(Turn.error(401, f"bad key {API_KEY}"))
    run = ocodex("exec", "-m", "gpt-oss:20b", "--json", "hi",
                 env={"LAN_KEY": API_KEY, "LAN_ROUTE": ENV_HEADER, "OCODEX_LOG_REQUESTS": str(log)})
    assert run.returncode == 1
    response = next(r for r in records(log) if r["type"] == "response")
    assert response["status"] == 401 and "bad key" in json.dumps(response["body"])
    for secret in SECRETS:
        assert secret not in log.read_text() and secret not in run.stdout + run.stderr, f"{secret} leaked"


def test_log_requests_config_key_and_an_unwritable_path(ocodex, fake, tmp_path) -> None:
    log = tmp_path / "from-config.jsonl"
    fake.script(Turn.text("ok"))
    run = ocodex("exec", "--oss", "-m", "gpt-oss:20b", "-c", f'log_requests="{log}"', "hi")
    assert run.returncode == 0, run.stderr
    paths = [r["url"] for r in records(log) if r["type"] == "request"]
    assert any(p.endswith("/api/tags") for p in paths) and any(p.endswith("/chat/completions") for p in paths)

    run = ocodex("exec", "--oss", "-m", "gpt-oss:20b", "hi",
                 env={"OCODEX_LOG_REQUESTS": str(tmp_path / "no-such-dir" / "log.jsonl")})
    assert run.returncode == 1
    assert "cannot write the request log" in run.stderr and "OCODEX_LOG_REQUESTS" in run.stderr
    assert "Traceback" not in run.stderr

    if Path("/dev/stdout").exists():  # stdout carries exec --json output: the log may not go there
        run = ocodex("exec", "--oss", "-m", "gpt-oss:20b", "--json", "hi", env={"OCODEX_LOG_REQUESTS": "/dev/stdout"})
        assert run.returncode == 1 and run.stdout == "" and "reserved for output" in run.stderr


def test_a_secret_that_json_escapes_is_still_masked_in_bodies(tmp_path: Path) -> None:
    from ocodex.net.request_log import _body

    register_secret('quo"ted\\key-9876')
    logged = _body(json.dumps({"note": 'the key is quo"ted\\key-9876'}).encode())
    assert logged == {"note": "the key is ***"}


def test_a_failed_connection_still_logs_the_request(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    register_secret(BEARER)
    log = tmp_path / "log.jsonl"
    root = f"http://127.0.0.1:{port}"
    transport = Transport(headers={"Authorization": f"Bearer {BEARER}"}, endpoints=[Endpoint(root)],
                          plain_http_only=True, log_requests=str(log))
    try:
        transport.client().post(root + "/v1/chat/completions", json={"key": BEARER})
    except httpx.ConnectError:
        pass
    finally:
        transport.close()
    (line,) = records(log)
    assert line["type"] == "request" and line["headers"]["authorization"] == "***"
    assert BEARER not in log.read_text()


def test_a_model_that_runs_env_sees_no_provider_credential(ocodex, fake, home, tmp_path) -> None:
    lan_config(home, fake)
    log = tmp_path / "requests.jsonl"
    fake.script(Turn.tool_call("shell", {"command": ["env"]}), Turn.text("done"))
    run = ocodex("exec", "-m", "gpt-oss:20b", "--json", "show the environment",
                 env={"LAN_KEY": API_KEY, "LAN_ROUTE": ENV_HEADER, "OCODEX_LOG_REQUESTS": str(log),
                      "UNRELATED_SETTING": "kept-value"})
    assert run.returncode == 0, run.stderr
    output = run.items("command_execution")[0]["aggregated_output"]
    assert "UNRELATED_SETTING=kept-value" in output  # the environment is passed on...
    assert "LAN_KEY" not in output and "LAN_ROUTE" not in output  # ...minus the provider's credentials
    sent = json.dumps(fake.chat_requests[-1])
    for secret in SECRETS:
        assert secret not in run.stdout and secret not in sent and secret not in log.read_text(), secret
