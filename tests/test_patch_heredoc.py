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


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=80), st.lists(st.text(max_size=30), max_size=4),
                 st.text(max_size=60).map(lambda t: "apply_patch <<" + t),
                 st.text(max_size=60).map(lambda t: "cd " + t + " && apply_patch <<EOF\n")))
def test_never_raises(command: list[str] | str) -> None:
    result = extract_patch_from_command(command)
    assert result is None or isinstance(result.patch, str)
