"""`ocodex mcp list|add|remove`: the real CLI against real servers, and config.toml edited in place with its
comments and layout kept (a property test drives the editor over generated files)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Run, base_env
from ocodex.mcp.edit import add_server, remove_server

PROBE = Path(__file__).parent / "mcp_servers" / "probe.py"

CONFIG = '''# My ocodex settings.
model = "qwen3:8b"  # the one that fits

# Documentation lookups.
[mcp_servers.docs]
command = "docs-server"   # from PATH
args = ["--port", "4000"]

[mcp_servers.docs.env]
DOCS_TOKEN = "abc"

# The Ollama defaults, tuned.
[oss]
auto_pull = false  # pull by hand
'''


def ocodex(home: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    proc = subprocess.run([sys.executable, "-m", "ocodex", *args], capture_output=True, text=True,
                          env={**base_env(home, None), **(env or {})}, stdin=subprocess.DEVNULL, timeout=120)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def comments(text: str) -> list[str]:
    return [line.split("#", 1)[1].strip() for line in text.splitlines() if "#" in line]


def test_add_and_remove_keep_the_file_s_comments_and_layout(home: Path) -> None:
    path = home / "config.toml"
    path.write_text(CONFIG)
    path.chmod(0o640)
    run = ocodex(home, "mcp", "add", "probe", "--env", "A=1", "--env", "B=x=y", "--", sys.executable, str(PROBE),
                 "--stderr", "-v")
    assert run.returncode == 0 and run.stderr == f"added MCP server 'probe' in {path}\n", run.stderr
    text = path.read_text()
    assert comments(text) == comments(CONFIG)
    assert text.startswith(CONFIG.split("# The Ollama")[0])  # everything before it untouched
    assert text.endswith("# The Ollama defaults, tuned.\n[oss]\nauto_pull = false  # pull by hand\n")
    assert tomllib.loads(text)["mcp_servers"]["probe"] == {
        "command": sys.executable, "args": [str(PROBE), "--stderr", "-v"], "env": {"A": "1", "B": "x=y"}}
    assert path.stat().st_mode & 0o777 == 0o640

    run = ocodex(home, "mcp", "add", "web", "--url", "https://mcp.example.com/mcp", "--bearer-token-env-var", "TOK")
    assert run.returncode == 0, run.stderr
    assert tomllib.loads(path.read_text())["mcp_servers"]["web"] == {
        "url": "https://mcp.example.com/mcp", "bearer_token_env_var": "TOK"}

    assert ocodex(home, "mcp", "remove", "docs").returncode == 0
    assert ocodex(home, "mcp", "rm", "web").returncode == 0
    text = path.read_text()
    data = tomllib.loads(text)
    assert set(data["mcp_servers"]) == {"probe"} and data["oss"] == {"auto_pull": False}
    assert comments(text) == ["My ocodex settings.", "the one that fits", "Documentation lookups.",
                              "The Ollama defaults, tuned.", "pull by hand"]
    assert "docs-server" not in text and "DOCS_TOKEN" not in text


def test_bad_mcp_commands_are_one_line_errors_that_change_nothing(home: Path) -> None:
    path = home / "config.toml"
    path.write_text(CONFIG)
    cases = [
        (["mcp", "remove", "nope"], 1, f"error: no MCP server named 'nope' in {path} (configured: docs)"),
        (["mcp", "add", "bad.name", "--", "x"], 2, "error: invalid MCP server name 'bad.name': use letters, digits"),
        (["mcp", "add", "empty"], 2, "error: `ocodex mcp add` needs the command that starts the server"),
        (["mcp", "add", "w", "--url", "ftp://h"], 2, "error: --url ftp://h: expected an http:// or https:// URL"),
        (["mcp", "add", "w", "--env", "NOEQUALS", "--", "x"], 2, "error: --env NOEQUALS: expected KEY=VALUE"),
    ]
    for args, code, message in cases:
        run = ocodex(home, *args)
        assert (run.returncode, run.stderr.splitlines()[0]) == (code, message) or \
            (run.returncode == code and run.stderr.startswith(message)), (args, run.stderr)
        assert path.read_text() == CONFIG
    path.write_text(CONFIG + "[oops\n")
    run = ocodex(home, "mcp", "add", "x", "--", "x")
    assert run.returncode == 1 and run.stderr.startswith(f"error: {path}:15:6: invalid TOML") and \
        "Traceback" not in run.stderr
    assert path.read_text() == CONFIG + "[oops\n"


def test_list_starts_each_server_and_shows_its_tools_and_their_cost(home: Path, tmp_path: Path) -> None:
    (home / "config.toml").write_text(
        f"[mcp_servers.probe]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(str(PROBE))}]\n"
        'disabled_tools = ["crash"]\n\n'
        '[mcp_servers.off]\ncommand = "never-run"\nenabled = false\n\n'
        f"[mcp_servers.broken]\ncommand = {json.dumps(str(tmp_path / 'nope'))}\n")
    run = ocodex(home, "mcp", "list")
    assert run.returncode == 1, run.stderr  # an enabled server did not start
    lines = run.stdout.splitlines()
    assert lines[0] == f"probe  (stdio: {sys.executable} {PROBE})"
    assert lines[1].startswith("  started: 7 of 8 tools offered to the model, ~")
    add = next(line for line in lines if "mcp__probe__add" in line)
    assert add.split()[1] == "~" and int(add.split()[2]) > 20 and add.endswith("Add two integers.")
    assert next(line for line in lines if "mcp__probe__crash" in line).endswith(
        "(not offered: enabled_tools/disabled_tools)")
    assert "off  (stdio: never-run)" in lines and "  disabled (enabled = false)" in lines
    assert f"  did not start: cannot run {tmp_path / 'nope'}: no such file or directory" in lines

    rows = [json.loads(line) for line in ocodex(home, "mcp", "list", "--json").stdout.splitlines()]
    probe = rows[0]
    assert (probe["name"], probe["started"], len(probe["tools"])) == ("probe", True, 8)
    offered = sum(t["tokens"] for t in probe["tools"] if t["name"] != "crash")
    assert offered - 8 <= probe["schema_tokens"] <= offered  # sent as one list: a few separators fewer
    assert [(r["name"], r["enabled"], r["started"]) for r in rows[1:]] == [("off", False, False),
                                                                            ("broken", True, False)]


def test_list_with_nothing_configured(home: Path) -> None:
    run = ocodex(home, "mcp", "list")
    assert run.returncode == 0 and run.stdout == ""
    assert run.stderr.startswith("no MCP servers configured in")


# ---- the editor, over generated files ---------------------------------------------------------------

NAMES = st.text(alphabet="abcdefghij-_0123", min_size=1, max_size=8)
WORDS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="#"),
                max_size=12)


def toml_value(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)  # JSON strings and lists are TOML ones too (no \uD800 pairs)


@st.composite
def config_files(draw: st.DrawFn) -> str:
    """A config.toml with comments everywhere and some [mcp_servers.*] tables."""
    names = draw(st.lists(NAMES, unique=True, max_size=4))
    parts = ["# head comment\n", 'model = "m"  # trailing\n']
    for name in names:
        if draw(st.booleans()):
            parts.append(f"\n# about {name}\n")
        table = {"command": draw(WORDS) or "x", "args": draw(st.lists(WORDS, max_size=3))}
        parts.append(f"[mcp_servers.{name}]\ncommand = {toml_value(table['command'])}  # run it\n"
                     f"args = {toml_value(table['args'])}\n")
        if draw(st.booleans()):
            parts.append(f"[mcp_servers.{name}.env]\nK = {toml_value(draw(WORDS))}\n")
        if draw(st.booleans()):
            parts.append("\n# a section that follows\n[oss]\nauto_pull = true # keep\n")
            break
    parts.append("\n[sandbox_workspace_write]  # last\nnetwork_access = false\n")
    return "".join(parts)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config_files(), NAMES, st.lists(WORDS, min_size=1, max_size=3), st.data())
def test_edits_change_exactly_one_server_and_lose_no_other_comment(tmp_path: Path, text: str, name: str,
                                                                   command: list[str], data) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    before = tomllib.loads(text)
    table = {"command": command[0] or "x", "args": command[1:]}

    add_server(path, name, table)
    after = tomllib.loads(path.read_text())
    assert after["mcp_servers"][name] == table
    assert {k: v for k, v in after.items() if k != "mcp_servers"} == {k: v for k, v in before.items()
                                                                       if k != "mcp_servers"}
    assert {k: v for k, v in after["mcp_servers"].items() if k != name} == \
        {k: v for k, v in before.get("mcp_servers", {}).items() if k != name}
    kept = [c for c in comments(text) if c != "run it" and not c.startswith("about ")]
    assert all(c in comments(path.read_text()) for c in kept)

    victim = data.draw(st.sampled_from(sorted(after["mcp_servers"])))
    remove_server(path, victim)
    final = tomllib.loads(path.read_text())
    assert victim not in final.get("mcp_servers", {})
    assert {k: v for k, v in final.items() if k != "mcp_servers"} == \
        {k: v for k, v in after.items() if k != "mcp_servers"}
    assert all(c in comments(path.read_text()) for c in kept)
