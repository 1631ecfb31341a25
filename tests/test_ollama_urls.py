"""oss base URL selection, server root, endpoint hint and loopback detection."""

from __future__ import annotations

import pytest

from ocodex.errors import ConfigError
from ocodex.ollama.urls import endpoint_hint, is_loopback, oss_base_url, server_root


def test_default_base_url() -> None:
    assert oss_base_url({}) == ("http://localhost:11434/v1", "default")


def test_blank_values_fall_back_to_default() -> None:
    assert oss_base_url({"CODEX_OSS_BASE_URL": "   ", "CODEX_OSS_PORT": ""}) == (
        "http://localhost:11434/v1", "default")


def test_explicit_base_url_is_trimmed_and_wins_over_port() -> None:
    env = {"CODEX_OSS_BASE_URL": "  http://gpu-box:11434/v1 ", "CODEX_OSS_PORT": "9999"}
    assert oss_base_url(env) == ("http://gpu-box:11434/v1", "CODEX_OSS_BASE_URL")


def test_port_override() -> None:
    assert oss_base_url({"CODEX_OSS_PORT": " 8080 "}) == ("http://localhost:8080/v1", "CODEX_OSS_PORT")


@pytest.mark.parametrize("port", ["0", "65536", "abc", "-1", "11434x"])
def test_invalid_port_is_a_config_error(port: str) -> None:
    with pytest.raises(ConfigError, match="CODEX_OSS_PORT"):
        oss_base_url({"CODEX_OSS_PORT": port})


@pytest.mark.parametrize("url", ["localhost:11434/v1", "ftp://host/v1", "http://"])
def test_base_url_without_http_scheme_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="CODEX_OSS_BASE_URL"):
        oss_base_url({"CODEX_OSS_BASE_URL": url})


@pytest.mark.parametrize("url", ["bob:s3cr3t@gpu-box:11434/v1", "ftp://bob:s3cr3t@gpu-box/v1",
                                 "tok3n-s3cr3t@gpu-box:11434"])
def test_a_rejected_base_url_never_shows_its_credentials(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        oss_base_url({"CODEX_OSS_BASE_URL": url})
    assert "s3cr3t" not in caught.value.message and "gpu-box" in caught.value.message


@pytest.mark.parametrize(("base", "root"), [
    ("http://localhost:11434/v1", "http://localhost:11434"),
    ("http://localhost:11434/v1/", "http://localhost:11434"),
    ("http://localhost:11434", "http://localhost:11434"),
    ("http://localhost:11434/", "http://localhost:11434"),
    ("https://example.com/ollama/v1", "https://example.com/ollama"),
    ("http://h/v1/v1", "http://h/v1"),
])
def test_server_root(base: str, root: str) -> None:
    assert server_root(base) == root


def test_endpoint_hint() -> None:
    assert endpoint_hint("http://localhost:11434/v1") is None
    assert endpoint_hint("http://localhost:11434/v1/") is None
    assert endpoint_hint("http://localhost:11434") == (
        "Wrong endpoint used: for OSS via Ollama the base URL should look like "
        "http://host:11434/v1 (got http://localhost:11434)")
    assert endpoint_hint("http://h/api") is not None


@pytest.mark.parametrize(("url", "loopback"), [
    ("http://localhost:11434/v1", True),
    ("http://LOCALHOST:11434", True),
    ("http://127.0.0.1:11434", True),
    ("http://127.8.9.10", True),
    ("http://[::1]:11434/v1", True),
    ("http://[::ffff:127.0.0.1]/", True),
    ("localhost:11434", True),
    ("127.0.0.1", True),
    ("http://10.0.0.5:11434/v1", False),
    ("https://ollama.example.com/v1", False),
    ("http://[::2]/", False),
    ("http://0.0.0.0:11434", False),
    ("", False),
])
def test_is_loopback(url: str, loopback: bool) -> None:
    assert is_loopback(url) is loopback
