"""Host memory and the oss model rule: the configured model, else by memory (>= 64 GiB RAM -> gpt-oss:120b,
else 20b), in `oss_model`.

Owns reading total physical memory without third-party packages (`/proc/meminfo` on Linux,
`sysconf` elsewhere) and the `OCODEX_HOST_MEMORY_GIB` override, a documented hook for tests and
benchmarks that pretends the host has that many GiB.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ocodex.errors import ConfigError

if TYPE_CHECKING:
    from ocodex.config import Settings

GIB = 1024**3
MEMORY_OVERRIDE_VAR = "OCODEX_HOST_MEMORY_GIB"
MEMINFO = "/proc/meminfo"


def _override(env: Mapping[str, str]) -> int | None:
    text = env.get(MEMORY_OVERRIDE_VAR, "").strip()
    if not text:
        return None
    try:
        gib = float(text)
    except ValueError:
        gib = -1.0
    if not gib > 0 or gib == float("inf"):
        raise ConfigError(f"{MEMORY_OVERRIDE_VAR} must be a positive number of GiB (got {text!r})")
    return int(gib * GIB)


def _from_meminfo(path: str = MEMINFO) -> int | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    fields = line.split()
                    unit = fields[2].lower() if len(fields) > 2 else "kb"
                    return int(fields[1]) * (1024 if unit == "kb" else 1)
    except (OSError, ValueError, IndexError):
        return None
    return None


def _from_sysconf() -> int | None:
    try:
        pages = os.sysconf("SC_PHYS_PAGES")
        page_size = os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    if pages <= 0 or page_size <= 0:
        return None
    return pages * page_size


def host_memory_bytes(env: Mapping[str, str] | None = None) -> int | None:
    """Total physical memory in bytes, or None when it cannot be determined."""
    override = _override(os.environ if env is None else env)
    if override is not None:
        return override
    return _from_meminfo() or _from_sysconf()


def format_gib(memory_bytes: int) -> str:
    return f"{memory_bytes / GIB:.1f} GiB"


def choose_default_model(memory_bytes: int | None, *, small: str = "gpt-oss:20b",
                         large: str = "gpt-oss:120b", threshold_gib: float = 64) -> tuple[str, str]:
    """Pick the oss default model for this much RAM; returns (model, reason)."""
    if memory_bytes is None or memory_bytes <= 0:
        return small, "host memory unknown"
    threshold = f"{threshold_gib:g} GiB"
    if memory_bytes >= threshold_gib * GIB:
        return large, f"host has {format_gib(memory_bytes)} RAM (>= {threshold})"
    return small, f"host has {format_gib(memory_bytes)} RAM (< {threshold})"


@dataclass(frozen=True, slots=True)
class ModelPick:
    """The model an `--oss` run uses, why, and whether the user chose it."""

    model: str
    reason: str  # "from -m", "from <config file>", or the memory rule's reason
    configured: bool  # False: the memory rule chose it


def oss_model(settings: Settings) -> ModelPick:
    """The model an `--oss` run uses: the configured one (`-m`, `model = ...`), else the memory rule
    over `[oss] small_model`/`large_model`. `exec`, `models` and `doctor` all ask this."""
    if settings.model:
        source = settings.describe_source("model")
        return ModelPick(settings.model, "from -m" if source == "command line" else f"from {source}", True)
    model, reason = choose_default_model(host_memory_bytes(), small=settings.oss.small_model,
                                         large=settings.oss.large_model,
                                         threshold_gib=settings.oss.large_model_min_ram_gib)
    return ModelPick(model, reason, False)
