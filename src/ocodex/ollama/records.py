"""What Ollama's native API answers, as typed records, and the rules for reading those answers.

Owns `ModelEntry` (`/api/tags`), `ModelDetails` (`/api/show`), `LoadedModel` (`/api/ps`) and
`PullUpdate` (`/api/pull` progress), the parsers that build them from JSON without trusting a field's
type, and version comparison. No I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class ModelEntry:
    """One local model from `GET /api/tags`."""

    name: str
    size: int | None = None
    digest: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    context_length: int | None = None  # only servers >= 0.30 list it
    capabilities: list[str] = field(default_factory=list)  # only servers >= 0.30 list it
    remote_host: str | None = None  # set for cloud stub models


@dataclass(slots=True)
class ModelDetails:
    """What `POST /api/show` says about one model."""

    name: str
    capabilities: list[str] = field(default_factory=list)
    context_length: int | None = None  # trained context, from model_info
    num_ctx: int | None = None  # Modelfile `PARAMETER num_ctx`, if set
    temperature: float | None = None  # Modelfile `PARAMETER temperature`, if set
    top_p: float | None = None  # Modelfile `PARAMETER top_p`, if set
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    architecture: str | None = None

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities


@dataclass(slots=True)
class LoadedModel:
    """One model loaded in memory, from `GET /api/ps`."""

    name: str
    size: int | None = None
    size_vram: int | None = None
    context_length: int | None = None  # the context the runner actually allocated (>= 0.10)
    expires_at: datetime | None = None


@dataclass(slots=True, frozen=True)
class PullUpdate:
    """One NDJSON progress line of `POST /api/pull`."""

    status: str
    digest: str | None = None
    total: int | None = None
    completed: int | None = None


# ---------------------------------------------------------------------------------------------
# Versions

_VERSION_RE = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?([-+].*)?$")


def _parse_version(text: str) -> tuple[tuple[int, int, int], bool] | None:
    """((major, minor, patch), is_prerelease) or None when `text` is not a version."""
    match = _VERSION_RE.match(text.strip())
    if not match:
        return None
    major, minor, patch, suffix = match.groups()
    return (int(major), int(minor or 0), int(patch or 0)), (suffix or "").startswith("-")


def version_at_least(version: str | None, minimum: str) -> bool:
    """Semver-style `version >= minimum`. `0.0.0` (dev builds) and unparseable versions count as latest.

    A pre-release (`0.13.4-rc1`) sorts below its release, as in semver.
    """
    if version is None:
        return True
    have, want = _parse_version(version), _parse_version(minimum)
    if have is None or want is None or have[0] == (0, 0, 0):
        return True
    if have[0] != want[0]:
        return have[0] > want[0]
    return not have[1] or want[1]


# ---------------------------------------------------------------------------------------------
# Small parsing helpers


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _str_list(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)  # Go writes nanoseconds
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def context_length_from(model_info: Mapping[str, Any]) -> int | None:
    """`<arch>.context_length` from `/api/show` model_info, else any key ending in `.context_length`."""
    arch = model_info.get("general.architecture")
    if isinstance(arch, str):
        found = _int(model_info.get(f"{arch}.context_length"))
        if found:
            return found
    for key, value in model_info.items():
        if key == "context_length" or key.endswith(".context_length"):
            found = _int(value)
            if found:
                return found
    return None


def parameters_from(parameters: Any) -> dict[str, str]:
    """`/api/show` `parameters` text (`key   value` lines) as a dict; the first value of a key wins."""
    if not isinstance(parameters, str):
        return {}
    found: dict[str, str] = {}
    for line in parameters.splitlines():
        key, _, value = line.strip().partition(" ")
        if key and value.strip():
            found.setdefault(key, value.strip().strip("\"'"))
    return found


def _number(text: str | None, kind: type[int] | type[float]) -> Any:
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        return None


def num_ctx_from(parameters: Any) -> int | None:
    """`num_ctx` from `/api/show` `parameters` text (`num_ctx    32768` lines), if set."""
    return _number(parameters_from(parameters).get("num_ctx"), int)


def model_entry(raw: dict[str, Any]) -> ModelEntry:
    details = _dict(raw.get("details"))
    return ModelEntry(
        name=_str(raw.get("name")) or _str(raw.get("model")) or "",
        size=_int(raw.get("size")),
        digest=_str(raw.get("digest")),
        parameter_size=_str(details.get("parameter_size")),
        quantization=_str(details.get("quantization_level")),
        context_length=_int(details.get("context_length")),
        capabilities=_str_list(raw.get("capabilities")),
        remote_host=_str(raw.get("remote_host")),
    )


def model_details(name: str, raw: dict[str, Any]) -> ModelDetails:
    details = _dict(raw.get("details"))
    model_info = _dict(raw.get("model_info"))
    parameters = parameters_from(raw.get("parameters"))
    return ModelDetails(
        name=name,
        capabilities=_str_list(raw.get("capabilities")),
        context_length=context_length_from(model_info) or _int(details.get("context_length")),
        num_ctx=_number(parameters.get("num_ctx"), int),
        temperature=_number(parameters.get("temperature"), float),
        top_p=_number(parameters.get("top_p"), float),
        family=_str(details.get("family")),
        parameter_size=_str(details.get("parameter_size")),
        quantization=_str(details.get("quantization_level")),
        architecture=_str(model_info.get("general.architecture")),
    )


def loaded_model(raw: dict[str, Any]) -> LoadedModel:
    return LoadedModel(
        name=_str(raw.get("name")) or _str(raw.get("model")) or "",
        size=_int(raw.get("size")),
        size_vram=_int(raw.get("size_vram")),
        context_length=_int(raw.get("context_length")),
        expires_at=_timestamp(raw.get("expires_at")),
    )


def pull_update(raw: dict[str, Any]) -> PullUpdate:
    return PullUpdate(status=_str(raw.get("status")) or "", digest=_str(raw.get("digest")),
                      total=_int(raw.get("total")), completed=_int(raw.get("completed")))
