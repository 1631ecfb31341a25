"""Run ocodex's CLI and write, as JSON to the file named by the first argument, which modules were loaded:
`at_mcp_start`, every module loaded when the MCP servers' loop thread ("ocodex-mcp") started;
`by_mcp_thread`, the modules that thread loaded itself; `at_exit`, every module loaded at the end.
The other arguments are ocodex's. Used by tests/test_mcp_imports.py."""

from __future__ import annotations

import atexit
import json
import sys
import threading

OUT = sys.argv[1]
found: dict[str, list[str]] = {"by_mcp_thread": []}


def _audit(event: str, args: tuple) -> None:
    if event == "import" and threading.current_thread().name == "ocodex-mcp":
        found["by_mcp_thread"].append(args[0])


_start = threading.Thread.start


def _start_noting(self: threading.Thread) -> None:
    if self.name == "ocodex-mcp" and "at_mcp_start" not in found:
        found["at_mcp_start"] = sorted(sys.modules)
    _start(self)


def _write() -> None:
    found["at_exit"] = sorted(sys.modules)
    with open(OUT, "w") as out:
        json.dump(found, out)


sys.addaudithook(_audit)
threading.Thread.start = _start_noting  # type: ignore[method-assign]
atexit.register(_write)
sys.argv = ["ocodex", *sys.argv[2:]]

from ocodex.cli import main  # noqa: E402 - after the hooks, so they see every import

sys.exit(main())
