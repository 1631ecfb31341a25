"""Per-model profiles: the one place that decides how ocodex drives a model.

From what is known about a model (its name, and from Ollama's /api/show its family, parameter size and
capabilities; a custom llama.cpp or OpenAI-compatible provider gives only the name), `profile_for` decides:

- the edit format: `apply_patch` (Codex's patch grammar) for the models trained on it, gpt-oss and OpenAI's,
  and for every model not known to be small; `whole` (the complete new file) for small models (under 4B
  parameters), as aider found whole-file edits are what small models produce correctly and as
  benchmarks/tasks.py measured on Qwen2.5-Coder 0.5B/1.5B (README, "Small models"). `replace` (one exact
  piece of text, whitespace-tolerant) is there to choose: `edit_format = apply_patch | replace | whole`
  in config (or `-c`) overrides the profile's format.
- the tool protocol: a small model gets its tools described in the system prompt and its calls read from
  its text (`text_tools`), since Qwen2.5-Coder 0.5B/1.5B write their calls as fenced JSON that no server
  parses, and file contents written as JSON strings come out broken; whole files are written as a path line
  and a fenced block, as they write them unprompted (`ocodex.agent.fileblocks`).
- which helpers are on: the plan tool (dropped for small models: their favourite way to do nothing),
  attaching the files the prompt names, and running the check the prompt names after each edit.

The gpt-oss/OpenAI profile is exactly what every model got before profiles existed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ocodex.config.settings import EDIT_FORMATS

EditFormat = Literal["apply_patch", "replace", "whole"]

# Below this many billion parameters a model is "small": text protocol, whole files, every helper on.
SMALL_BELOW_B = 4.0

_OPENAI = re.compile(r"^(?:openai/)?(?:gpt-|o\d|chatgpt|codex)", re.IGNORECASE)
_SIZE = re.compile(r"(?<![\w.])(?:[a-z]*?)(\d+(?:\.\d+)?)\s*([bm])(?![a-z0-9])", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """How ocodex drives one model (see the module docstring)."""

    edit_format: EditFormat
    text_tools: bool  # tools in the system prompt, calls read from the answer's text
    plan_tool: bool
    attach_files: bool  # attach the workspace files the prompt names to it
    run_checks: bool  # run the check the prompt names after edits and before finishing
    size_b: float | None  # parameters in billions, when known
    reason: str  # why, for people ("small model (1.5B)")

    @property
    def small(self) -> bool:
        return self.size_b is not None and self.size_b < SMALL_BELOW_B


def parameters_b(text: str | None) -> float | None:
    """Billions of parameters in a size or a model name: "1.5B", "494.03M", "qwen2.5-coder:1.5b",
    "Qwen2.5-Coder-0.5B-Instruct", "llama3.1:8b-instruct-q4_K_M"; None when none is given."""
    if not text:
        return None
    found = None
    for match in _SIZE.finditer(text.replace("_", "-")):
        value = float(match.group(1))
        found = value / 1000 if match.group(2).lower() == "m" else value
    return found


def is_apply_patch_model(model: str, family: str | None = None) -> bool:
    """gpt-oss and OpenAI's models: trained on Codex's apply_patch and its tools."""
    name = model.lower()
    return "gpt-oss" in name or (family or "").lower() == "gptoss" or bool(_OPENAI.match(name.split("/")[-1]))


def profile_for(model: str, *, family: str | None = None, parameter_size: str | None = None,
                capabilities: tuple[str, ...] | None = None, edit_format: str | None = None) -> ModelProfile:
    """The profile for `model`; `edit_format` (the setting) overrides the format, nothing else.

    Only two profiles are measured (benchmarks/tasks.py): Codex's for models trained on apply_patch, and the
    small-model one. Every other model keeps Codex's tools and prompt, as before profiles existed, until a
    benchmark says otherwise."""
    size = parameters_b(parameter_size) or parameters_b(model.split("/")[-1])
    no_tools = capabilities is not None and "tools" not in capabilities
    if is_apply_patch_model(model, family):
        profile = ModelProfile("apply_patch", no_tools, True, False, False, size, "trained on apply_patch")
    elif size is not None and size < SMALL_BELOW_B:
        profile = ModelProfile("whole", True, False, True, True, size, f"small model ({size:g}B)")
    else:
        shown = f"{size:g}B model" if size is not None else "model of unknown size"
        profile = ModelProfile("apply_patch", no_tools, True, False, False, size, shown)
    if edit_format is not None and edit_format in EDIT_FORMATS and edit_format != profile.edit_format:
        chosen: EditFormat = edit_format  # type: ignore[assignment]
        return ModelProfile(chosen, profile.text_tools, profile.plan_tool, profile.attach_files,
                            profile.run_checks, size, f"{profile.reason}; edit_format from config")
    return profile
