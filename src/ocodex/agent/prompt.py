"""Prompt assembly: the system prompt, AGENTS.md instructions and the environment context (one home:
`opening_messages`, for runs and `ocodex bench` alike).

The opening messages are built once per session and never rewritten, so the server can reuse its KV
cache for the whole prefix on every later request. AGENTS.md files are in the workspace, where the
model may have put anything: only regular files are read (opened without blocking, so a FIFO cannot
hang start-up), and no more of them than the cap.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ocodex.profile import ModelProfile
    from ocodex.protocol import ToolSpec
    from ocodex.sandbox import SandboxPolicy

from ocodex.files import read_regular

AGENTS_FILENAMES = ("AGENTS.override.md", "AGENTS.md")
PROJECT_ROOT_MARKERS = (".git",)


PROMPTS = Path(__file__).resolve().parent.parent / "prompts"  # package data (pyproject's package-data)


def _prompt(name: str) -> str:
    return (PROMPTS / name).read_text("utf-8")


def system_prompt(permissions: str, *, edit_format: str = "apply_patch", plan: bool = True,
                  small: bool = False) -> str:
    """The system prompt: Codex's shape (`system.md`, with the tools of `edit_format` and the plan tool), or
    the short one for a small model that writes whole files as text (`small.md`). Neither holds an example
    path, name or line a model could paste as real: every <...> says what stands there."""
    if small:  # `permissions` is then the policy's one sentence (`SandboxPolicy.brief`)
        return f"{_prompt('small.md').strip()}\n\n{permissions}"
    tools = _prompt("tool_shell.md") + _prompt(f"tool_{edit_format}.md")
    base = _prompt("system.md").replace("{tools}", tools)
    base = base.replace("{plan}", _prompt("tool_plan.md") if plan else "").strip()
    return f"{base}\n\n# Sandbox\n{permissions}"


def project_root(cwd: Path) -> Path:
    """The nearest ancestor of `cwd` (itself included) holding a `.git`, else `cwd`."""
    for directory in (cwd, *cwd.parents):
        if any((directory / marker).exists() for marker in PROJECT_ROOT_MARKERS):
            return directory
    return cwd


@dataclass(slots=True)
class ProjectDocs:
    """The AGENTS.md instructions for a session, the files they came from, and whether they were cut."""

    text: str
    files: list[Path]
    truncated: bool


def _read(path: Path, limit: int | None = None) -> bytes | None:
    """`read_regular`, with None for a file that is not there, not regular or unreadable."""
    try:
        return read_regular(path, limit)
    except OSError:
        return None


def _first_existing(directory: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def load_agents_md(cwd: Path, home: Path, *, max_bytes: int = 32768,
                   fallback_filenames: tuple[str, ...] = ()) -> ProjectDocs | None:
    """`$OCODEX_HOME/AGENTS.md`, then one file per directory from the project root down to `cwd`.

    In each directory `AGENTS.override.md` wins over `AGENTS.md` (then the fallback names). The project
    part is capped at `max_bytes`, as Codex does; 0 disables project docs.
    """
    names = AGENTS_FILENAMES + tuple(fallback_filenames)
    files: list[Path] = []
    global_doc = _first_existing(home, ("AGENTS.override.md", "AGENTS.md"))
    global_data = _read(global_doc) if global_doc else None
    global_text = global_data.decode("utf-8", "replace").strip() if global_data else ""
    if global_doc and global_text:
        files.append(global_doc)

    root = project_root(cwd)
    chain = [cwd, *cwd.parents]
    chain = list(reversed(chain[: chain.index(root) + 1])) if root in chain else [cwd]
    project_parts: list[str] = []
    budget = max_bytes
    truncated = False
    for directory in chain:
        if budget <= 0:
            truncated = truncated or _first_existing(directory, names) is not None
            continue
        doc = _first_existing(directory, names)
        if doc is None:
            continue
        data = _read(doc, budget + 1)  # one byte more than fits says whether it was cut
        if data is None:
            continue
        if len(data) > budget:
            data, truncated = data[:budget], True
        budget -= len(data)
        text = data.decode("utf-8", "ignore").strip()
        if text:
            project_parts.append(text)
            files.append(doc)

    sections = [global_text] if global_text else []
    if project_parts:
        sections.append("\n\n".join(project_parts))
    if not sections:
        return None
    body = "\n\n--- project-doc ---\n\n".join(sections)
    text = f"# AGENTS.md instructions for {cwd}\n\n<INSTRUCTIONS>\n{body}\n</INSTRUCTIONS>"
    return ProjectDocs(text, files, truncated)


def environment_context(cwd: Path, *, sandbox_mode: str, network_access: bool,
                        writable_roots: list[Path]) -> str:
    now = _dt.datetime.now().astimezone()
    shell = Path(os.environ.get("SHELL") or "/bin/bash").name
    lines = [
        "<environment_context>",
        f"  <cwd>{cwd}</cwd>",
        f"  <shell>{shell}</shell>",
        f"  <current_date>{now.date().isoformat()}</current_date>",
        f"  <timezone>{now.tzname()}</timezone>",
        f"  <sandbox_mode>{sandbox_mode}</sandbox_mode>",
        f"  <network_access>{'enabled' if network_access else 'restricted'}</network_access>",
    ]
    if writable_roots:
        lines.append(f"  <writable_roots>{', '.join(str(p) for p in writable_roots)}</writable_roots>")
    lines.append("</environment_context>")
    return "\n".join(lines)


def initial_messages(*, system: str, agents_md: ProjectDocs | None, environment: str | None) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
    if agents_md is not None:
        messages.append({"role": "user", "content": agents_md.text})
    if environment is not None:
        messages.append({"role": "user", "content": environment})
    return messages


def system_message(policy: SandboxPolicy, tools: Sequence[ToolSpec], *, text_tools: bool,
                   profile: ModelProfile | None = None) -> str:
    """The system prompt for `policy` and the model's `profile`, with the text tool protocol for `tools`
    when the model has no native tool calling (a small model writing whole files has its own prompt)."""
    edit_format = profile.edit_format if profile is not None else "apply_patch"
    small = text_tools and edit_format == "whole"
    system = system_prompt(policy.brief() if small else policy.describe(), edit_format=edit_format, small=small,
                           plan=any(spec.name == "update_plan" for spec in tools))
    if text_tools and not small:
        from ocodex.agent.textcalls import text_protocol_prompt

        system = f"{system}\n\n{text_protocol_prompt(list(tools))}"
    return system


def opening_messages(*, cwd: Path, home: Path, policy: SandboxPolicy, tools: Sequence[ToolSpec],
                     text_tools: bool = False, doc_max_bytes: int = 32768, doc_fallbacks: Sequence[str] = (),
                     profile: ModelProfile | None = None) -> tuple[list[dict[str, Any]], ProjectDocs | None]:
    """A session's opening messages, as every run (and `ocodex bench`) sends them: the system prompt
    (`system_message`), the AGENTS.md files, and the environment context. Also returns the project
    docs, to tell whether they were cut."""
    agents_md = load_agents_md(cwd, home, max_bytes=doc_max_bytes, fallback_filenames=tuple(doc_fallbacks))
    system = system_message(policy, tools, text_tools=text_tools, profile=profile)
    writable = policy.writable() if policy.mode == "workspace-write" else []
    environment = environment_context(cwd, sandbox_mode=policy.mode, network_access=policy.network_enabled,
                                      writable_roots=writable)
    if profile is not None and profile.small and profile.edit_format == "whole":
        # A small model writing whole files reads the context as text to repeat (it echoed it into its
        # answers); it is shown the files it needs instead, and the sandbox is in its system prompt.
        return initial_messages(system=system, agents_md=agents_md, environment=None), agents_md
    return initial_messages(system=system, agents_md=agents_md, environment=environment), agents_md
