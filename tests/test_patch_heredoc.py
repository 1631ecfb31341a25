"""Recognising `apply_patch` calls made through the shell tool, in the shapes models produce."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocodex.patch.apply import apply_patch_text
from ocodex.patch.heredoc import ShellPatch, extract_patch_from_command
from ocodex.patch.parser import parse_patch

PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch"


@pytest.mark.parametrize(("command", "expected"), [
    (["apply_patch", PATCH], ShellPatch(PATCH)),
    (["applypatch", PATCH + "\n"], ShellPatch(PATCH + "\n")),
    (["/usr/local/bin/apply_patch", PATCH], ShellPatch(PATCH)),
    (["apply_patch", f"<<'EOF'\n{PATCH}\nEOF\n"], ShellPatch(PATCH)),
    (["bash", "-lc", f"apply_patch <<'EOF'\n{PATCH}\nEOF\n"], ShellPatch(PATCH)),
    (["/bin/zsh", "-c", f'apply_patch <<"PATCH"\n{PATCH}\nPATCH'], ShellPatch(PATCH)),
    (["bash", "-l", "-c", f"applypatch <<EOF\n{PATCH}\nEOF"], ShellPatch(PATCH)),
    (f"apply_patch <<'PATCH'\n{PATCH}\nPATCH", ShellPatch(PATCH)),
    (f"apply_patch<<EOF\n{PATCH}\nEOF\n", ShellPatch(PATCH)),
    (f"apply_patch <<-EOF\n\t{PATCH.replace(chr(10), chr(10) + chr(9))}\n\tEOF", ShellPatch(PATCH)),
    (f"apply_patch <<'EOF'\r\n{PATCH}\r\nEOF\r\n", ShellPatch(PATCH)),
    (f"apply_patch <<'EOF'\n{PATCH}\n", ShellPatch(PATCH)),  # unterminated: bash reads to the end
    (f"cd sub && apply_patch <<'EOF'\n{PATCH}\nEOF\n", ShellPatch(PATCH, "sub")),
    (["bash", "-lc", f"cd 'my dir' && apply_patch <<'EOF'\n{PATCH}\nEOF"], ShellPatch(PATCH, "my dir")),
    (f'cd "/abs/path"&&apply_patch <<EOF\n{PATCH}\nEOF', ShellPatch(PATCH, "/abs/path")),
    (f"apply_patch '{PATCH}'", ShellPatch(PATCH)),
    (f'cd src && apply_patch "{PATCH}"', ShellPatch(PATCH, "src")),
    ([f"apply_patch <<'EOF'\n{PATCH}\nEOF"], ShellPatch(PATCH)),
    ("apply_patch <<'EOF'\nnot a patch\nEOF", ShellPatch("not a patch")),  # still a call; parsing fails later
])
def test_recognised(command: list[str] | str, expected: ShellPatch) -> None:
    assert extract_patch_from_command(command) == expected


@pytest.mark.parametrize("command", [
    [],
    ["ls", "-la"],
    ["apply_patch"],
    ["apply_patch", PATCH, "extra"],
    ["bash", "-lc", "echo hi"],
    ["python", "-c", f"apply_patch <<'EOF'\n{PATCH}\nEOF"],
    "ls -la",
    "git apply fix.diff",
    "cat <<'EOF' > notes.txt\nhello\nEOF",
    f"cat <<'EOF' | apply_patch\n{PATCH}\nEOF",
    f"echo start; apply_patch <<'EOF'\n{PATCH}\nEOF",
    f"apply_patch <<'EOF'\n{PATCH}\nEOF\necho done",
    f"cd sub || apply_patch <<'EOF'\n{PATCH}\nEOF",
    f"cd a b && apply_patch <<'EOF'\n{PATCH}\nEOF",
    "apply_patch 'unbalanced",
    "echo apply_patch",
    PATCH,
])
def test_not_recognised(command: list[str] | str) -> None:
    assert extract_patch_from_command(command) is None


def test_extracted_patch_parses_and_applies_in_the_cd_directory(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    found = extract_patch_from_command(["bash", "-lc", f"cd sub && apply_patch <<'EOF'\n{PATCH}\nEOF\n"])
    assert found is not None and found.workdir == "sub"
    assert len(parse_patch(found.patch).hunks) == 1
    _, summary = apply_patch_text(found.patch, tmp_path / found.workdir)
    assert summary == "Success. Updated the following files:\nA hello.txt"
    assert (tmp_path / "sub" / "hello.txt").read_text() == "hi\n"


_LINE = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)
_DELIMITER = st.sampled_from(["EOF", "PATCH", "END", "x-1"])


@settings(max_examples=150, deadline=None)
@given(st.lists(_LINE, min_size=1, max_size=8), _DELIMITER, st.sampled_from(["'", '"', ""]),
       st.sampled_from(["script", "bash", "argv"]))
def test_a_heredoc_body_comes_back_exactly(lines: list[str], delimiter: str, quote: str, shape: str) -> None:
    """Whatever the patch text, wrapped as models wrap it, the same text is what gets applied."""
    body_lines = [line for line in lines if line.strip() != delimiter]
    body = "\n".join(body_lines)
    if not body.strip():
        return
    heredoc = f"<<{quote}{delimiter}{quote}\n{body}\n{delimiter}\n"
    command: list[str] | str = {"script": "apply_patch " + heredoc, "bash": ["bash", "-lc", "apply_patch " + heredoc],
                                "argv": ["apply_patch", heredoc]}[shape]
    assert extract_patch_from_command(command) == ShellPatch(body)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=80), st.lists(st.text(max_size=30), max_size=4)))
def test_only_an_apply_patch_call_is_recognised(command: list[str] | str) -> None:
    """A command that never names apply_patch is never taken for one (it runs in the real shell)."""
    words = command if isinstance(command, str) else " ".join(command)
    if "apply_patch" in words or "applypatch" in words:
        return
    assert extract_patch_from_command(command) is None
