"""A small stdio MCP server written with the `mcp` SDK, for the tests: `python probe.py [OPTIONS]`.

Tools: `add`, `echo`, `env` (a variable of its environment), `image` (a tiny PNG), `crash` (exits
mid-call), `slow` (sleeps), `big` (a long text), `fail` (a tool error), and with `--many N` N padded
tools for the schema budget. `--pidfile PATH` writes its pid there; `--hang` reads stdin and never
answers, not even `initialize`; `--stderr TEXT` writes TEXT to stderr before starting; `--garbage` writes a
line that is not JSON-RPC on stdout before serving (the client's SDK logs a parse error with a traceback).
"""

import argparse
import base64
import os
import sys
import time
from pathlib import Path

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pidfile")
    parser.add_argument("--hang", action="store_true")
    parser.add_argument("--many", type=int, default=0)
    parser.add_argument("--stderr")
    parser.add_argument("--garbage", action="store_true")
    args = parser.parse_args()
    if args.pidfile:
        Path(args.pidfile).write_text(str(os.getpid()))
    if args.stderr:
        print(args.stderr, file=sys.stderr, flush=True)
    if args.garbage:
        print("this is not JSON-RPC", flush=True)
    if args.hang:
        for _line in sys.stdin:  # read everything, answer nothing
            pass
        time.sleep(3600)
        return

    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.utilities.types import Image

    server = MCPServer("probe")

    @server.tool(description="Add two integers.")
    def add(a: int, b: int) -> str:
        return str(a + b)

    @server.tool(description="Echo the text back.")
    def echo(text: str) -> str:
        return f"echo: {text}"

    @server.tool(description="Read one environment variable of the server.")
    def env(name: str) -> str:
        return os.environ.get(name, "<unset>")

    @server.tool(description="Return a tiny PNG image.")
    def image() -> Image:
        return Image(data=PNG, format="png")

    @server.tool(description="Exit the server in the middle of the call.")
    def crash() -> str:
        print("probe: crashing as asked", file=sys.stderr, flush=True)
        os._exit(3)

    @server.tool(description="Sleep, then answer.")
    def slow(seconds: float) -> str:
        time.sleep(seconds)
        return "slept"

    @server.tool(description="Return a long text.")
    def big(lines: int = 5000) -> str:
        return "\n".join(f"line {i}" for i in range(lines))

    @server.tool(description="Report a tool error.")
    def fail() -> str:
        raise ValueError("it failed as asked")

    for number in range(args.many):
        def padded(x: str = "") -> str:
            return x
        padding = "A padded tool. " + "Lorem ipsum dolor sit amet. " * 20
        server.tool(name=f"padded_{number}", description=padding)(padded)

    server.run("stdio")


if __name__ == "__main__":
    main()
