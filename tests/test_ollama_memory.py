"""Host memory detection and the memory-based default oss model."""

from __future__ import annotations

import os

import pytest

from ocodex.errors import ConfigError
from ocodex.ollama import memory
from ocodex.ollama.memory import GIB, choose_default_model, host_memory_bytes


def test_override_wins() -> None:
    assert host_memory_bytes({"OCODEX_HOST_MEMORY_GIB": "128"}) == 128 * GIB
    assert host_memory_bytes({"OCODEX_HOST_MEMORY_GIB": " 0.5 "}) == GIB // 2


@pytest.mark.parametrize("value", ["abc", "0", "-4", "inf", "nan"])
def test_bad_override_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError, match="OCODEX_HOST_MEMORY_GIB"):
        host_memory_bytes({"OCODEX_HOST_MEMORY_GIB": value})


def test_meminfo_parsing(tmp_path, monkeypatch) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24538112 kB\nMemFree:         1234 kB\n")
    monkeypatch.setattr(memory, "MEMINFO", str(meminfo))
    assert memory._from_meminfo(str(meminfo)) == 24538112 * 1024


def test_missing_meminfo_falls_back_to_sysconf(monkeypatch) -> None:
    monkeypatch.setattr(memory, "_from_meminfo", lambda: None)
    monkeypatch.setattr(memory, "_from_sysconf", lambda: 8 * GIB)
    assert host_memory_bytes({}) == 8 * GIB


def test_unknown_memory(monkeypatch) -> None:
    monkeypatch.setattr(memory, "_from_meminfo", lambda: None)
    monkeypatch.setattr(memory, "_from_sysconf", lambda: None)
    assert host_memory_bytes({}) is None


@pytest.mark.skipif(not os.path.exists("/proc/meminfo"), reason="reads Linux's /proc/meminfo")
def test_real_host_memory_is_what_the_kernel_reports() -> None:
    found = host_memory_bytes({})
    assert found is not None
    kernel = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")  # the same RAM, counted in pages
    assert abs(found - kernel) <= kernel // 100, (found, kernel)


def test_choose_default_model() -> None:
    assert choose_default_model(int(23.4 * GIB)) == ("gpt-oss:20b", "host has 23.4 GiB RAM (< 64 GiB)")
    assert choose_default_model(64 * GIB) == ("gpt-oss:120b", "host has 64.0 GiB RAM (>= 64 GiB)")
    assert choose_default_model(None) == ("gpt-oss:20b", "host memory unknown")
    assert choose_default_model(16 * GIB, small="s", large="l", threshold_gib=8)[0] == "l"
