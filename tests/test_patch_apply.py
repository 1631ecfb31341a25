"""Applying Codex patches to a workspace: placement of chunks, atomicity, path safety, and messages."""

from __future__ import annotations

import difflib
import os
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocodex.patch.apply import AppliedChange, apply_patch, apply_patch_text
from ocodex.patch.parser import AddFile, Patch, PatchError


def wrap(*lines: str) -> str:
    return "\n".join(["*** Begin Patch", *lines, "*** End Patch"]) + "\n"


def run(root: Path, *lines: str) -> str:
    return apply_patch_text(wrap(*lines), root)[1]


def fails(root: Path, *lines: str) -> str:
    with pytest.raises(PatchError) as caught:
        apply_patch_text(wrap(*lines), root)
    return str(caught.value)


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "src").mkdir()
    (root / "src" / "a.py").write_text("def foo():\n    return 1\n\n\ndef bar():\n    return 2\n")
    (root / "old.txt").write_text("bye\n")
    return root


# ---- the four operations ---------------------------------------------------------------------------

def test_add_update_delete_and_the_codex_summary(ws: Path) -> None:
    changes, summary = apply_patch_text(wrap(
        "*** Delete File: old.txt",
        "*** Update File: src/a.py",
        "@@ def bar():",
        "-    return 2",
        "+    return 3",
        "*** Add File: docs/hello.txt",
        "+hello",
        "+world",
    ), ws)
    assert summary == "Success. Updated the following files:\nA docs/hello.txt\nM src/a.py\nD old.txt"
    assert changes == [AppliedChange(ws / "old.txt", "delete"), AppliedChange(ws / "src/a.py", "update"),
                       AppliedChange(ws / "docs/hello.txt", "add")]
    assert (ws / "docs/hello.txt").read_text() == "hello\nworld\n"
    assert (ws / "src/a.py").read_text().endswith("def bar():\n    return 3\n")
    assert not (ws / "old.txt").exists()


def test_move_with_changes(ws: Path) -> None:
    os.chmod(ws / "src/a.py", 0o750)
    changes, summary = apply_patch_text(wrap(
        "*** Update File: src/a.py", "*** Move to: lib/b.py", "@@", "-def foo():", "+def baz():"), ws)
    assert changes == [AppliedChange(ws / "lib/b.py", "update", move_from=ws / "src/a.py")]
    assert summary.endswith("\nM lib/b.py")
    assert not (ws / "src/a.py").exists()
    assert (ws / "lib/b.py").read_text().startswith("def baz():\n    return 1\n")
    assert stat.S_IMODE((ws / "lib/b.py").stat().st_mode) == 0o750


def test_pure_rename(ws: Path) -> None:
    before = (ws / "old.txt").read_bytes()
    run(ws, "*** Update File: old.txt", "*** Move to: new.txt")
    assert (ws / "new.txt").read_bytes() == before and not (ws / "old.txt").exists()


def test_move_onto_a_different_existing_file_is_refused(ws: Path) -> None:
    message = fails(ws, "*** Update File: old.txt", "*** Move to: src/a.py", "@@", "-bye", "+hi")
    assert "cannot move to src/a.py: a different file already exists there" in message


def test_add_refuses_to_overwrite_but_accepts_identical_content(ws: Path) -> None:
    message = fails(ws, "*** Add File: old.txt", "+something else")
    assert message == ("apply_patch verification failed: hunk 1 (Add File: old.txt): file already exists "
                       "(use '*** Update File: old.txt' to change it, or '*** Delete File: old.txt' "
                       "before adding it again)")
    assert run(ws, "*** Add File: old.txt", "+bye").endswith("A old.txt")


def test_delete_then_add_and_add_then_update_in_one_patch(ws: Path) -> None:
    run(ws, "*** Delete File: old.txt", "*** Add File: old.txt", "+new",
        "*** Add File: fresh.txt", "+one", "*** Update File: fresh.txt", "@@", "-one", "+two")
    assert (ws / "old.txt").read_text() == "new\n"
    assert (ws / "fresh.txt").read_text() == "two\n"


def test_new_files_get_default_permissions(ws: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    run(ws, "*** Add File: n.txt", "+x")
    assert stat.S_IMODE((ws / "n.txt").stat().st_mode) == 0o666 & ~umask


def test_update_keeps_the_file_mode(ws: Path) -> None:
    os.chmod(ws / "old.txt", 0o741)
    run(ws, "*** Update File: old.txt", "-bye", "+hi")
    assert stat.S_IMODE((ws / "old.txt").stat().st_mode) == 0o741


def test_no_temp_files_are_left_behind(ws: Path) -> None:
    run(ws, "*** Update File: old.txt", "-bye", "+hi", "*** Add File: src/n.py", "+x")
    assert sorted(p.name for p in ws.rglob("*")) == ["a.py", "n.py", "old.txt", "src"]


# ---- locating chunks -------------------------------------------------------------------------------

def test_multiple_chunks_in_order(ws: Path) -> None:
    run(ws, "*** Update File: src/a.py", "@@", " def foo():", "-    return 1", "+    return 10",
        "@@", " def bar():", "-    return 2", "+    return 20")
    assert (ws / "src/a.py").read_text() == "def foo():\n    return 10\n\n\ndef bar():\n    return 20\n"


def test_anchor_picks_the_right_occurrence(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("class A:\n    x = 1\n\nclass B:\n    x = 1\n")
    run(tmp_path, "*** Update File: m.py", "@@ class B:", "-    x = 1", "+    x = 2")
    assert (tmp_path / "m.py").read_text() == "class A:\n    x = 1\n\nclass B:\n    x = 2\n"


def test_anchor_may_be_a_line_prefix_and_anchors_may_nest(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "class A(Base):\n    def run(self):\n        pass\n"
        "class B(Base):\n    def stop(self):\n        pass\n    def run(self):\n        pass\n")
    run(tmp_path, "*** Update File: m.py", "@@ class B", "@@ def run", "-        pass", "+        return 1")
    assert (tmp_path / "m.py").read_text().endswith("    def run(self):\n        return 1\n")
    assert "class A(Base):\n    def run(self):\n        pass\n" in (tmp_path / "m.py").read_text()


def test_missing_anchor_is_forgiven_when_the_lines_are_unique(ws: Path) -> None:
    run(ws, "*** Update File: src/a.py", "@@ def nonexistent():", "-    return 2", "+    return 3")
    assert (ws / "src/a.py").read_text().endswith("    return 3\n")


def test_missing_anchor_with_ambiguous_lines_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("x = 1\nx = 1\n")
    message = fails(tmp_path, "*** Update File: m.py", "@@ def nope():", "-x = 1", "+x = 2")
    assert message == ("apply_patch verification failed: hunk 1 (Update File: m.py): could not find the "
                       "context line '@@ def nope():' (searched from line 1; the file has 2 lines)")


@pytest.mark.parametrize(("on_disk", "in_patch"), [
    ("    value = 1   ", "    value = 1"),  # trailing whitespace
    ("\tvalue = 1", "  value = 1"),  # indentation
    ("msg = “it’s — done”", "msg = \"it's - done\""),  # typographic punctuation
    ("a\u00a0=\u00a01", "a = 1"),  # no-break spaces
])
def test_fuzzy_matching(tmp_path: Path, on_disk: str, in_patch: str) -> None:
    (tmp_path / "f.py").write_text(f"before\n{on_disk}\nafter\n")
    run(tmp_path, "*** Update File: f.py", "@@", " before", f"-{in_patch}", "+replaced")
    assert (tmp_path / "f.py").read_text() == "before\nreplaced\nafter\n"


def test_exact_match_wins_over_an_earlier_fuzzy_one(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x  \nx\n")
    run(tmp_path, "*** Update File: f.txt", "-x", "+y")
    assert (tmp_path / "f.txt").read_text() == "x  \ny\n"


def test_end_of_file_pins_the_chunk_to_the_end(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("end\nmiddle\nend\n\n")
    run(tmp_path, "*** Update File: f.txt", "@@", "-end", "+END", "*** End of File")
    assert (tmp_path / "f.txt").read_text() == "end\nmiddle\nEND\n\n"


def test_pure_insertion_goes_after_the_anchor_or_at_the_end(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("a\nb\nc\n")
    run(tmp_path, "*** Update File: f.txt", "@@ a", "+after a", "@@", "+at end")
    assert (tmp_path / "f.txt").read_text() == "a\nafter a\nb\nc\nat end\n"


def test_trailing_empty_context_may_stand_for_the_final_newline(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("a\nb\n")
    run(tmp_path, "*** Update File: f.txt", "@@", "-b", "+B", " ", "*** End of File")
    assert (tmp_path / "f.txt").read_text() == "a\nB\n"


def test_missing_final_newline_is_added(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_bytes(b"a\nb")
    run(tmp_path, "*** Update File: f.txt", "-a", "+A")
    assert (tmp_path / "f.txt").read_bytes() == b"A\nb\n"


def test_crlf_file_keeps_crlf_and_crlf_patch_is_fine(tmp_path: Path) -> None:
    (tmp_path / "w.txt").write_bytes(b"\xef\xbb\xbfone\r\ntwo\r\nthree\r\n")
    apply_patch_text(wrap("*** Update File: w.txt", "@@", " one", "-two", "+2").replace("\n", "\r\n"), tmp_path)
    assert (tmp_path / "w.txt").read_bytes() == b"\xef\xbb\xbfone\r\n2\r\nthree\r\n"


def test_deleting_every_line_leaves_an_empty_file(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("only\n")
    run(tmp_path, "*** Update File: f.txt", "-only")
    assert (tmp_path / "f.txt").read_bytes() == b""


# ---- failures: messages, and nothing changes ----------------------------------------------------------

def test_failing_second_hunk_leaves_every_file_untouched(ws: Path) -> None:
    before = snapshot(ws)
    message = fails(ws, "*** Update File: src/a.py", "@@", "-def foo():", "+def foo2():",
                    "*** Delete File: old.txt", "*** Add File: new/file.txt", "+x",
                    "*** Update File: src/a.py", "@@", " def bar():", "-    return 99", "+    return 3")
    assert message == (
        "apply_patch verification failed: hunk 4 (Update File: src/a.py): could not find the lines to replace:\n"
        "  def bar():\n"
        "      return 99\n"
        "The closest match starts at line 5 (1 of 2 lines match); the file there reads:\n"
        "  def bar():\n"
        "      return 2\n"
        "(the file has 6 lines; check the context lines match the file exactly)")
    assert snapshot(ws) == before
    assert not (ws / "new").exists()


def test_missing_file(ws: Path) -> None:
    message = fails(ws, "*** Update File: src/x.py", "-a", "+b")
    assert message == ("apply_patch verification failed: hunk 1 (Update File: src/x.py): "
                       "Failed to read file to update src/x.py: No such file or directory")
    assert "No such file or directory" in fails(ws, "*** Delete File: nope.txt")


def test_file_deleted_earlier_in_the_patch(ws: Path) -> None:
    message = fails(ws, "*** Delete File: old.txt", "*** Update File: old.txt", "-bye", "+hi")
    assert message.endswith("No such file or directory (it was deleted earlier in this patch)")
    assert (ws / "old.txt").exists()


def test_out_of_order_chunks_are_explained(ws: Path) -> None:
    message = fails(ws, "*** Update File: src/a.py", "@@", "-    return 2", "+    return 3",
                    "@@", "-    return 1", "+    return 0")
    assert "chunk 2 of 2: could not find the lines to replace" in message
    assert "They occur at line 2, but this chunk is searched for only from line 7" in message


def test_directories_and_binary_files(ws: Path) -> None:
    (ws / "blob.bin").write_bytes(b"\xff\xfe\x00")
    assert "src is a directory" in fails(ws, "*** Delete File: src")
    assert "Is a directory" in fails(ws, "*** Update File: src", "-a", "+b")
    assert "src is a directory" in fails(ws, "*** Add File: src", "+a")
    assert "not UTF-8 text" in fails(ws, "*** Update File: blob.bin", "-a", "+b")
    assert "cannot create old.txt/x: old.txt is a file" in fails(ws, "*** Add File: old.txt/x", "+a")
    run(ws, "*** Delete File: blob.bin")
    assert not (ws / "blob.bin").exists()


def test_write_failure_rolls_back(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(ws)
    real_replace = os.replace
    calls = []

    def flaky_replace(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise PermissionError(13, "Permission denied")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky_replace)
    with pytest.raises(PatchError, match=r"while writing src/a.py: Permission denied; no files were changed"):
        apply_patch_text(wrap("*** Delete File: old.txt", "*** Add File: d/new.txt", "+n",
                              "*** Update File: src/a.py", "-def foo():", "+def f():"), ws)
    monkeypatch.undo()
    assert snapshot(ws) == before
    assert not (ws / "d").exists()
    assert not [p for p in ws.rglob(".ocodex-*")]


# ---- paths ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["../x", "src/../../x", "a/b/../../../x"])
def test_parent_escapes_are_refused(ws: Path, path: str) -> None:
    assert fails(ws, f"*** Add File: {path}", "+x").endswith(f"Path escapes the workspace: {path}")
    assert not (ws.parent / "x").exists()


def test_absolute_path_is_refused_even_without_the_parser(ws: Path) -> None:
    with pytest.raises(PatchError, match="Path escapes the workspace: /tmp/x"):
        apply_patch(Patch([AddFile("/tmp/x", "x\n")]), ws)


def test_symlink_escapes_are_refused(ws: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    (ws / "linkdir").symlink_to(outside)
    (ws / "linkfile").symlink_to(outside / "secret.txt")
    (ws / "dangling").symlink_to(outside / "new.txt")
    for lines in [("*** Add File: linkdir/new.txt", "+x"),
                  ("*** Update File: linkfile", "-secret", "+owned"),
                  ("*** Update File: linkdir/secret.txt", "-secret", "+owned"),
                  ("*** Add File: dangling", "+x"),
                  ("*** Delete File: linkdir/secret.txt",),
                  ("*** Update File: old.txt", "*** Move to: linkdir/moved.txt")]:
        assert "Path escapes the workspace" in fails(ws, *lines)
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "secret\n"


def test_symlinks_inside_the_workspace(ws: Path) -> None:
    (ws / "alias.txt").symlink_to("old.txt")
    run(ws, "*** Update File: alias.txt", "-bye", "+hi")
    assert (ws / "alias.txt").is_symlink() and (ws / "old.txt").read_text() == "hi\n"
    run(ws, "*** Delete File: alias.txt")
    assert not (ws / "alias.txt").is_symlink() and (ws / "old.txt").exists()


def test_relative_root_and_normalised_paths(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ws.parent)
    changes, summary = apply_patch_text(wrap("*** Add File: ./src/../n.txt", "+x"), Path("ws"))
    assert changes == [AppliedChange(ws / "n.txt", "add")]
    assert summary.endswith("\nA n.txt")


# ---- property: a patch generated from a diff reproduces the edit --------------------------------------

def make_patch(path: str, old: list[str], new: list[str], context: int, contiguous: bool) -> str:
    """A Codex patch turning `old` into `new`, built from difflib's grouped opcodes.

    With `contiguous`, each chunk's leading context reaches back to the previous chunk, so the chunks
    are unambiguous even when the file repeats lines.
    """
    out = [f"*** Update File: {path}"]
    previous_end = 0
    for group in difflib.SequenceMatcher(None, old, new, autojunk=False).get_grouped_opcodes(context):
        if all(tag == "equal" for tag, *_ in group):
            continue
        out.append("@@")
        if contiguous:
            out += [f" {line}" for line in old[previous_end:group[0][1]]]
        for tag, i1, i2, j1, j2 in group:
            out += [f" {line}" for line in old[i1:i2]] if tag == "equal" else []
            out += [f"-{line}" for line in old[i1:i2]] if tag in ("replace", "delete") else []
            out += [f"+{line}" for line in new[j1:j2]] if tag in ("replace", "insert") else []
        previous_end = group[-1][2]
        if previous_end == len(old) and old:
            out.append("*** End of File")
    return wrap(*out)


def as_text(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


line_chars = st.characters(exclude_characters="\r\n\ufeff", exclude_categories=("Cs",))


@st.composite
def edits(draw: st.DrawFn, unique: bool) -> tuple[list[str], list[str]]:
    if unique:
        old = [f"{i}:{text}" for i, text in enumerate(draw(st.lists(st.text(line_chars, max_size=8),
                                                                     max_size=25)))]
        pool = old + [f"new{i}" for i in range(10)]
    else:
        pool = ["a", "b", "", "  a", "a  ", "\t", "c"]
        old = draw(st.lists(st.sampled_from(pool), max_size=25))
    new = list(old)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        at = draw(st.integers(0, len(new)))
        if op == "insert" or not new:
            new.insert(at, draw(st.sampled_from(pool)))
        elif op == "delete":
            del new[min(at, len(new) - 1)]
        else:
            new[min(at, len(new) - 1)] = draw(st.sampled_from(pool)) + "!"
    return old, new


@settings(max_examples=80, deadline=None)
@given(st.booleans().flatmap(lambda unique: st.tuples(st.just(unique), edits(unique))),
       st.integers(1, 3))
def test_generated_patch_reproduces_the_edit(case: tuple[bool, tuple[list[str], list[str]]],
                                              context: int) -> None:
    unique, (old, new) = case
    if old == new:
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "f.txt").write_text(as_text(old), encoding="utf-8")
        apply_patch_text(make_patch("f.txt", old, new, context, contiguous=not unique), root)
        assert (root / "f.txt").read_text(encoding="utf-8") == as_text(new)
