"""Imports run one way, as docs/architecture.md draws the house, and start-up stays light.

Every `import` in `src/ocodex` (lazy ones inside functions and `TYPE_CHECKING` ones included) goes from
a layer to the same layer or one below it. No module imports another module's private (`_`) names.
Modules stay under 450 lines unless their docstring says why. (That `--help` and `--version` import
neither httpx nor rich is tests/test_cli.py's.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ocodex"

# Lowest first; a module may import its own layer and those below. Longest prefix wins.
LAYERS: list[tuple[str, ...]] = [
    # render.safe is pure text (terminal_safe), which errors.report needs: foundation, not rendering.
    ("ocodex", "ocodex.errors", "ocodex.redact", "ocodex.ids", "ocodex.offmain", "ocodex.protocol", "ocodex.events",
     "ocodex.notes", "ocodex.backoff", "ocodex.context_window", "ocodex.approval", "ocodex.jsontext",
     "ocodex.render.safe"),
    # mcp.config is read by config (an [mcp_servers] table checked across its keys), mcp.safe is pure text.
    ("ocodex.config", "ocodex.sandbox", "ocodex.patch", "ocodex.sessions", "ocodex.attachments",
     "ocodex.filters", "ocodex.output_schema", "ocodex.files", "ocodex.last_message", "ocodex.profile",
     "ocodex.mcp.config", "ocodex.mcp.safe"),
    ("ocodex.net",),
    ("ocodex.ollama",),
    ("ocodex.providers",),
    ("ocodex.tools", "ocodex.mcp"),  # MCP servers' tools are tools (the SDK: mcp.client, on mcp.manager's thread)
    ("ocodex.agent",),
    ("ocodex.thread", "ocodex.testing"),
    ("ocodex.render",),
    ("ocodex.commands", "ocodex.ui"),
    # The entry: launch picks the process (resident hands the run over), cli parses; resident.server runs cli.
    ("ocodex.cli", "ocodex.__main__", "ocodex.launch", "ocodex.resident"),
]


def _layer(module: str) -> int:
    best, rank = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    assert rank >= 0, f"{module} is in no layer of tests/test_imports.py"
    return rank


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, imported names) for every ocodex import in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ocodex") and not node.level:
            found.append((node.lineno, node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names if alias.name.startswith("ocodex")]
    return found


FILES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_run_one_way(path: Path) -> None:
    importer = _module_name(path)
    wrong = []
    for line, module, names in _imports(path):
        target = module
        if names and f"{module}.{names[0]}" in {_module_name(f) for f in FILES}:
            target = f"{module}.{names[0]}"  # `from ocodex.ollama import pull`: the module pull
        if _layer(target) > _layer(importer):
            wrong.append(f"line {line}: {importer} (layer {_layer(importer)}) imports {target} "
                         f"(layer {_layer(target)})")
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        if private and module != importer:
            wrong.append(f"line {line}: {importer} imports private {', '.join(private)} from {module}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_modules_stay_small_or_say_why(path: Path) -> None:
    lines = path.read_text().count("\n")
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert lines <= 450 or "450 lines" in docstring, f"{path.name} has {lines} lines and no reason at its top"


def test_the_faces_do_not_reach_into_each_other() -> None:
    for face, other in (("commands/exec.py", "ocodex.ui"), ("ui/repl.py", "ocodex.commands.exec")):
        modules = {module for _, module, _ in _imports(SRC / face)}
        assert not any(m == other or m.startswith(other + ".") for m in modules), f"{face} imports {other}"
