"""The shipped nginx proxy config, run for real: nginx on 127.0.0.1 with a self-signed certificate and
Basic auth in front of the fake Ollama; `ocodex exec`, `doctor` and `models` through it."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from fakes.fake_ollama import FakeOllama

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = pytest.mark.skipif(NGINX is None or shutil.which("openssl") is None,
                                reason="needs nginx and openssl (scripts/test installs them)")
USER, PASSWORD = "alice", "correct horse battery staple"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def make_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def shipped_config(*, https_port: int, http_port: int, certs: Path, htpasswd: Path, upstream: str) -> str:
    """deploy/nginx/ollama.conf with only its addresses and file locations changed for this machine."""
    text = (DEPLOY / "nginx/ollama.conf").read_text()
    replacements = {
        "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "/etc/nginx/certs/": f"{certs}/",
        "/etc/nginx/htpasswd": str(htpasswd),
        "set $ollama_upstream http://ollama:11434;": f"set $ollama_upstream {upstream};",
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def wrapper_config(prefix: Path, site: Path) -> str:
    """A main nginx.conf around the site file, as the nginx image's own does, with private paths."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # the workers must read files in a 0700 temp dir
    temp = "\n".join(f"    {kind}_temp_path {prefix}/{kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                            "uwsgi", "scgi"))
    return (f"{user}worker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log warn;\n"
            f"events {{ worker_connections 64; }}\nhttp {{\n    access_log off;\n{temp}\n"
            f"    include {site};\n}}\n")


@dataclass
class Proxy:
    url: str  # https://127.0.0.1:PORT
    http_url: str
    cert: Path
    fake: FakeOllama


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    prefix = tmp_path_factory.mktemp("nginx")
    cert, _ = make_certificate(prefix)
    hashed = subprocess.run(["openssl", "passwd", "-apr1", PASSWORD], check=True, capture_output=True,
                            text=True).stdout.strip()
    htpasswd = prefix / "htpasswd"
    htpasswd.write_text(f"{USER}:{hashed}\n")
    with FakeOllama(models=["gpt-oss:20b"]) as fake:
        https_port, http_port = _free_port(), _free_port()
        site = prefix / "ollama.conf"
        site.write_text(shipped_config(https_port=https_port, http_port=http_port, certs=prefix,
                                       htpasswd=htpasswd, upstream=fake.root))
        main = prefix / "nginx.conf"
        main.write_text(wrapper_config(prefix, site))
        check = subprocess.run([NGINX, "-t", "-p", str(prefix), "-c", str(main)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        server = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(main), "-g", "daemon off;"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"nginx did not start: {server.stderr.read()!r}") from None
                    time.sleep(0.05)
            yield Proxy(f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}", cert, fake)
        finally:
            server.terminate()
            server.wait(10)


def _through(proxy: Proxy, password: str | None, *, trust: bool = True) -> tuple[list[str], dict[str, str]]:
    """(-c options, environment) that point ocodex at the proxy with these credentials."""
    options = [] if password is None else \
        ["-c", f'model_providers.oss.http_headers={{Authorization="{_basic(USER, password)}"}}']
    env = {"CODEX_OSS_BASE_URL": f"{proxy.url}/v1"}
    if trust:
        options += ["-c", f'model_providers.oss.ca_cert="{proxy.cert}"']
    return options, env


def test_nginx_accepts_the_shipped_config(tmp_path: Path) -> None:
    """`nginx -t` over deploy/nginx/ollama.conf as shipped, with only the certificate and password files
    moved (the `ollama` upstream goes through Docker's resolver at request time, so it need not resolve)."""
    certs = tmp_path / "certs"
    certs.mkdir()
    make_certificate(certs)
    (tmp_path / "htpasswd").write_text("x:{PLAIN}y\n")
    site = (DEPLOY / "nginx/ollama.conf").read_text().replace("/etc/nginx/certs/", f"{certs}/") \
        .replace("/etc/nginx/htpasswd", str(tmp_path / "htpasswd"))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(wrapper_config(tmp_path, tmp_path / "site.conf"))
    check = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert "syntax is ok" in check.stderr and "test is successful" in check.stderr


def test_plain_http_redirects_to_https(proxy: Proxy) -> None:
    response = httpx.get(f"{proxy.http_url}/api/tags")
    assert response.status_code == 301
    assert response.headers["location"].startswith("https://")


def test_exec_through_the_proxy_with_the_right_password(ocodex, proxy: Proxy) -> None:
    options, env = _through(proxy, PASSWORD)
    before = len(proxy.fake.chat_requests)
    run = ocodex(*options, "exec", "--oss", "say hi", env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "hi\n"
    assert f"provider: oss at {proxy.url}/v1" in run.stderr
    assert len(proxy.fake.chat_requests) == before + 1
    chat = [r for r in proxy.fake.requests if r.path == "/v1/chat/completions"][-1]
    assert "authorization" not in chat.headers  # the proxy's credentials stop at the proxy


def test_exec_through_the_proxy_with_the_wrong_password(ocodex, proxy: Proxy) -> None:
    options, env = _through(proxy, "wrong")
    run = ocodex(*options, "exec", "--oss", "say hi", env=env)
    assert run.returncode == 1
    assert "HTTP 401" in run.stderr and "hint:" in run.stderr
    assert "Traceback" not in run.stderr
    assert "wrong" not in run.stderr and _basic(USER, "wrong") not in run.stderr  # no secrets in output


def test_doctor_through_the_proxy(ocodex, proxy: Proxy) -> None:
    options, env = _through(proxy, PASSWORD)
    run = ocodex(*options, "doctor", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ok   reachable" in run.stdout and "with an Authorization header" in run.stdout
    assert f"ok   tls           certificate verified against {proxy.cert}" in run.stdout

    options, env = _through(proxy, "wrong")
    denied = ocodex(*options, "doctor", env=env)
    assert denied.returncode == 1
    assert "FAIL auth" in denied.stdout and "401" in denied.stdout
    assert "fix: Authentication failed at a proxy" in denied.stdout

    options, env = _through(proxy, None)
    anonymous = ocodex(*options, "doctor", "--json", env=env)
    assert anonymous.returncode == 1 and '"name": "auth"' in anonymous.stdout

    options, env = _through(proxy, PASSWORD, trust=False)
    untrusted = ocodex(*options, "doctor", env=env)
    assert untrusted.returncode == 1
    assert "FAIL tls" in untrusted.stdout and "ca_cert" in untrusted.stdout


def test_models_and_pull_stream_through_the_proxy(ocodex, proxy: Proxy) -> None:
    options, env = _through(proxy, PASSWORD)
    pulled = ocodex(*options, "pull", "qwen3:8b", env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert "(100.0%)" in pulled.stderr and "qwen3:8b" in proxy.fake.models
    listed = ocodex(*options, "models", env=env)
    assert listed.returncode == 0 and "qwen3:8b" in listed.stdout


def test_credentials_in_the_base_url_as_the_docs_show(ocodex, proxy: Proxy) -> None:
    """docs/deploying.md's form: CODEX_OSS_BASE_URL=https://user:password@host/v1 (plus the proxy's CA)."""
    host = proxy.url.removeprefix("https://")
    env = {"CODEX_OSS_BASE_URL": f"https://{USER}:{PASSWORD.replace(' ', '%20')}@{host}/v1",
           "SSL_CERT_FILE": str(proxy.cert)}
    run = ocodex("exec", "--oss", "say hi", env=env)
    assert run.returncode == 0, run.stderr
    doctor = ocodex("doctor", env=env)
    assert doctor.returncode == 0, doctor.stdout
    assert f"ok   server        {proxy.url}/v1 (from CODEX_OSS_BASE_URL)" in doctor.stdout
    for output in (run.stderr, doctor.stdout, doctor.stderr):
        assert "battery" not in output  # the password is never shown
    wrong = ocodex("doctor", env={**env, "CODEX_OSS_BASE_URL": f"https://{USER}:nope@{host}/v1"})
    assert wrong.returncode == 1 and "FAIL auth" in wrong.stdout and "nope" not in wrong.stdout
