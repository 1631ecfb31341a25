"""CLI surface: version, help, usage errors, and the promise that --help/--version stay light."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ocodex import __version__
from ocodex.cli import build_parser, merge_common

HEAVY = ("httpx", "httpcore", "rich", "ssl", "tomllib")


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_import_no_http_or_rendering(flag: str) -> None:
    proc = python(
        "import sys\nfrom ocodex.cli import main\n"
        f"try:\n    main([{flag!r}])\nexcept SystemExit:\n    pass\n"
        # (a None entry is a module kept from being imported: ocodex's stub for httpx's CLI)
        f"print(sorted({{m.split('.')[0] for m, module in sys.modules.items() if module is not None}}"
        f" & set({HEAVY!r})))")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_version_output() -> None:
    proc = subprocess.run([sys.executable, "-m", "ocodex", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == f"ocodex {__version__}"


def test_exec_help_lists_the_codex_flags() -> None:
    proc = subprocess.run([sys.executable, "-m", "ocodex", "exec", "--help"], capture_output=True, text=True)
    for flag in ("--oss", "--model", "--openai", "--config", "--profile", "--cd", "--json",
                 "--output-last-message", "--skip-git-repo-check", "--color", "--sandbox", "--full-auto"):
        assert flag in proc.stdout


def test_bad_flag_is_a_usage_error() -> None:
    proc = subprocess.run([sys.executable, "-m", "ocodex", "exec", "--sandbox", "nope", "hi"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_root_config_values_come_before_exec_ones() -> None:
    args = merge_common(build_parser().parse_args(
        ["-c", "a=1", "-m", "root-model", "exec", "-c", "b=2", "--json", "--", "json", "hi"]))
    assert args.config == ["a=1", "b=2"]
    assert args.model == "root-model"
    assert args.prompt == ["json", "hi"]
    assert args.json is True


def test_experimental_json_alias() -> None:
    args = build_parser().parse_args(["exec", "--experimental-json", "hi"])
    assert args.json is True


def test_a_bad_cd_is_the_same_error_for_exec_and_the_interactive_session(tmp_path) -> None:
    import os

    env = {**os.environ, "OCODEX_HOME": str(tmp_path / "home")}
    missing = tmp_path / "nope"
    errors = []
    faces = (["exec", "--cd", str(missing), "hi"], ["--cd", str(missing)], ["resume", "--last", "-C", str(missing)])
    for args in faces:
        proc = subprocess.run([sys.executable, "-m", "ocodex", *args], capture_output=True, text=True, env=env,
                              stdin=subprocess.DEVNULL, timeout=30)
        errors.append((proc.returncode, proc.stderr))
    assert errors == [(2, f"error: --cd {missing}: not a directory\n")] * 3


def test_importing_httpx_through_ocodex_leaves_its_command_line_client_out() -> None:
    # httpx imports click, rich and pygments for its own CLI whenever they are installed: a third of its
    # import time, on every run. A JSONL run renders nothing with rich either.
    proc = python("import sys, ocodex, httpx\nprint(sorted({m.split('.')[0] for m, module in sys.modules.items()"
                  " if module is not None} & {'click', 'rich', 'pygments'}))")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
