"""The parts of the small-model help that read the prompt and the workspace: which files a task is about
(`ocodex.agent.mentions`), which command checks it (`ocodex.agent.checks`), and the model profile."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocodex.agent.checks import CheckRounds, check_command, expected_output, prints, tail, without_added_option
from ocodex.agent.mentions import MAX_FILES, attachment, files_using, named_files, quoted_names, workspace_files
from ocodex.profile import parameters_b, profile_for

pytestmark = pytest.mark.fast


def make(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_named_files_exact_paths_bare_names_and_traceback_lines(tmp_path: Path) -> None:
    make(tmp_path, {"app.py": "", "settings.py": "", "docs/slug.md": "", "pkg/util.py": "", "a/x.py": "",
                    "b/x.py": ""})
    files = workspace_files(tmp_path)
    prompt = ('Fix it.\n  File "app.py", line 13\nSee docs/slug.md and util.py, not x.py, not missing.py; '
              "`settings.py`.")
    assert named_files(prompt, files) == ["app.py", "docs/slug.md", "pkg/util.py", "settings.py"]


def test_quoted_names_and_the_files_using_them(tmp_path: Path) -> None:
    make(tmp_path, {"billing.py": "def calc_total(x):\n    return x\n", "shop.py": "from billing import calc_total\n",
                    "other.py": "calc_totally = 1\n", "notes.bin": "calc_total"})
    names = quoted_names("Rename `calc_total` to `invoice_total`; `Cart.add()` too; `x` is too short.")
    assert names == ["calc_total", "invoice_total", "add"]
    assert files_using(names, tmp_path, workspace_files(tmp_path), []) == ["billing.py", "shop.py"]


def test_the_attachment_skips_hidden_links_out_fifos_and_big_files_and_keeps_to_its_budget(tmp_path: Path) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("SECRET = 1\n")
    work = make(tmp_path / "work", {"main.py": "print(1)\n", ".hidden/h.py": "", "big.py": "x" * 20_000,
                                    "mid.py": "y = 2\n" * 100})
    (work / "link.py").symlink_to(outside)
    os.mkfifo(work / "pipe.py")
    found = attachment("Look at main.py, link.py, pipe.py, big.py, mid.py and .hidden/h.py", work,
                       budget_bytes=200)
    assert found is not None
    message, shown = found
    assert list(shown) == ["main.py"]  # mid.py is over the budget left
    assert "SECRET" not in message and "x" * 100 not in message and "h.py" not in message
    assert attachment("nothing named here", work, budget_bytes=10_000) is None


def test_at_most_max_files_are_shown(tmp_path: Path) -> None:
    names = [f"m{i}.py" for i in range(MAX_FILES + 3)]
    work = make(tmp_path, {name: "pass\n" for name in names})
    found = attachment(" ".join(names), work, budget_bytes=100_000)
    assert found is not None and list(found[1]) == names[:MAX_FILES]


@pytest.mark.parametrize(("prompt", "command"), [
    ("Implement it. Check your work with `python3 -m pytest -q`.", "python3 -m pytest -q"),
    ("Try `python3 wordfreq.py poem.txt --top 2`.", "python3 wordfreq.py poem.txt --top 2"),
    ("Running it crashes:\n```\n$ python3 app.py\nTraceback\n```\nMake `python3 app.py` work.", "python3 app.py"),
    ("Run `python3 demo.py` and then `npm test`.", "npm test"),
    ("Rename `calc_total` in `billing.py`.", None),
    ("Explain `ls -la` output.", None),
    ("Use `./run.sh` to see it.", "./run.sh"),
    ("For example `python3 convert.py 100\n--precision 3` must print `37.778`.",
     "python3 convert.py 100 --precision 3"),
    # the spaces inside a command are its own: the bug may be the two spaces
    ('Two spaces:\n```\n$ python3 names.py "Ada  Lovelace"\nTraceback\n```', 'python3 names.py "Ada  Lovelace"'),
    ("Run `python3 pad.py 'a  b'` and\n`python3 x.py`.", "python3 pad.py 'a  b'"),
])
def test_check_command(prompt: str, command: str | None) -> None:
    assert check_command(prompt) == command


@given(st.text(max_size=400))
def test_check_command_never_raises_and_returns_words_from_the_prompt(prompt: str) -> None:
    found = check_command(prompt)
    assert found is None or (found == found.strip() and "\n" not in found
                             and all(word in prompt for word in found.split()))


@pytest.mark.parametrize(("prompt", "command", "expected"), [
    ("For example `python3 convert.py 100\n--precision 3` must print `37.778`.",
     "python3 convert.py 100 --precision 3", "37.778"),
    ("Make `python3 app.py` print `hello, world`.", "python3 app.py", "hello, world"),
    ("`python3 sum.py 1 2`, and it should output: `3`", "python3 sum.py 1 2", "3"),
    ("`python3 table.py` must print\n```\na 1\nb 2\n```\nin that order.", "python3 table.py", "a 1\nb 2"),
    ("Try `python3 todo.py todos.txt --json`.", "python3 todo.py todos.txt --json", None),
    ("`python3 -m pytest -q` must pass.", "python3 -m pytest -q", None),
    ("Run `python3 app.py`; it prints the todos.", "python3 app.py", None),
    # a pasted session shows what the command prints now: the failure, not the goal
    ("Running it crashes:\n```\n$ python3 app.py\nTraceback\n```\nMake `python3 app.py` work.", "python3 app.py",
     None),
    ("`python3 a.py` must print `1`, and `python3 b.py` must print `2`.", "python3 b.py", "2"),
])
def test_expected_output(prompt: str, command: str, expected: str | None) -> None:
    assert check_command(prompt) == command or "b.py" in command
    assert expected_output(prompt, command) == expected


@pytest.mark.parametrize(("prompt", "command", "default"), [
    ("Add an option `--precision N` to choose", "python3 convert.py 100 --precision 3", "python3 convert.py 100"),
    ("Add a `--json` option to todo.py", "python3 todo.py todos.txt --json", "python3 todo.py todos.txt"),
    ("Add a `--reverse` option", "python3 lines.py a.txt --reverse --number", "python3 lines.py a.txt --number"),
    ("Add an option `--top=N`.", "python3 wordfreq.py poem.txt --top=2", "python3 wordfreq.py poem.txt"),
    ("It adds a --verbose flag", "python3 x.py --verbose a", "python3 x.py a"),
    ("Add a `--name <who>` option", "python3 x.py --name 'a b' -q", "python3 x.py -q"),
    ("Fix the `--verbose` option", "python3 x.py --verbose a", None),  # an option that exists already
    ("Add a `--json` option", "python3 -m pytest -q", None),  # the check does not use it
    ("Add a `--json` option", "python3 'unclosed", None),
])
def test_without_added_option(prompt: str, command: str, default: str | None) -> None:
    assert without_added_option(prompt, command) == default


REPORT = "Exit code: 0\nWall time: 0.1 seconds\nOutput:\n"


def test_prints_matches_whole_words_and_lines_in_order_after_the_shell_header() -> None:
    assert prints(REPORT + "37.778\n", "37.778") and prints("Celsius: 37.778 C", "37.778")
    assert not prints(REPORT + "37.7781\n", "37.778") and not prints(REPORT + "37.8\n", "37.778")
    assert not prints(REPORT + "1\n", "0")  # "Exit code: 0" is the report's, not the command's output
    assert prints(REPORT + "a  1\n\nb 2\n", "a 1\nb 2") and not prints(REPORT + "b 2\na 1\n", "a 1\nb 2")
    rounds = CheckRounds("python3 convert.py 100", "37.8")
    assert rounds.failure(0, REPORT + "37.8\n") is None and rounds.failure(2, REPORT + "37.8\n") == "exit code 2"
    assert rounds.failure(0, REPORT + "37.77\n") == "exit code 0, but the output is not `37.8` as the task says"


_LINE = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=30)


@given(st.lists(_LINE, min_size=1, max_size=4), _LINE, _LINE)
def test_prints_finds_expected_lines_wherever_the_output_has_them(expected: list[str], before: str,
                                                                  after: str) -> None:
    wanted = "\n".join(expected)
    if not wanted.strip():
        assert not prints(wanted, wanted)
        return
    assert prints(f"{REPORT}{before}\n{wanted}\n{after}\n", wanted)
    assert prints(f"{REPORT}{before} {wanted} \n", wanted) or "\n" in wanted.strip()
    assert not prints(REPORT + before, wanted) or " ".join(wanted.split()) in " ".join(before.split())


def test_tail_keeps_the_last_lines_and_says_how_many_were_cut() -> None:
    text = "\n".join(str(i) for i in range(100))
    assert tail(text, 3) == "[97 earlier lines left out]\n97\n98\n99"
    assert tail("a\nb\n", 3) == "a\nb"


@pytest.mark.parametrize(("text", "size"), [("1.5B", 1.5), ("494.03M", 0.49403), ("qwen2.5-coder:1.5b", 1.5),
                                            ("Qwen2.5-Coder-0.5B-Instruct", 0.5), ("llama3.1:8b-instruct-q4_K_M", 8),
                                            ("gpt-oss:20b", 20), ("llama", None), ("", None)])
def test_parameters_b(text: str, size: float | None) -> None:
    assert parameters_b(text) == pytest.approx(size)


def test_profiles() -> None:
    assert profile_for("gpt-oss:20b").edit_format == "apply_patch"
    assert profile_for("gpt-5-codex").edit_format == "apply_patch"
    small = profile_for("qwen2.5-coder:1.5b")
    assert (small.edit_format, small.text_tools, small.plan_tool, small.attach_files, small.run_checks) == \
        ("whole", True, False, True, True)
    assert profile_for("custom", parameter_size="494.03M").small  # Ollama's /api/show size wins over the name
    assert profile_for("qwen3:8b").edit_format == "apply_patch" and not profile_for("qwen3:8b").text_tools
    assert profile_for("gemma3:4b", capabilities=("completion",)).text_tools
    overridden = profile_for("qwen2.5-coder:1.5b", edit_format="replace")
    assert overridden.edit_format == "replace" and overridden.text_tools and "from config" in overridden.reason
