"""The Codex patch grammar: what parses to which hunks, what is tolerated, and what each error says."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocodex.patch.parser import AddFile, Chunk, DeleteFile, Patch, PatchError, UpdateFile, parse_patch


def wrap(*lines: str) -> str:
    return "\n".join(["*** Begin Patch", *lines, "*** End Patch"]) + "\n"


FULL = wrap(
    "*** Add File: path/add.py",
    "+abc",
    "+def",
    "*** Delete File: path/delete.py",
    "*** Update File: path/update.py",
    "*** Move to: path/update2.py",
    "@@ def f():",
    "-    pass",
    "+    return 123",
)

FULL_HUNKS = [
    AddFile("path/add.py", "abc\ndef\n"),
    DeleteFile("path/delete.py"),
    UpdateFile("path/update.py", "path/update2.py",
               [Chunk("def f():", ["    pass"], ["    return 123"], False)]),
]


def test_parses_every_hunk_kind() -> None:
    assert parse_patch(FULL) == Patch(FULL_HUNKS)


def test_update_with_several_chunks_and_end_of_file() -> None:
    patch = parse_patch(wrap(
        "*** Update File: m.py",
        "@@ class A",
        " x = 1",
        "-y = 2",
        "+y = 3",
        "@@",
        " tail",
        "+added",
        "*** End of File",
    ))
    assert patch.hunks == [UpdateFile("m.py", None, [
        Chunk("class A", ["x = 1", "y = 2"], ["x = 1", "y = 3"], False),
        Chunk(None, ["tail"], ["tail", "added"], True),
    ])]


def test_first_chunk_may_omit_the_at_at_line() -> None:
    patch = parse_patch(wrap("*** Update File: f.py", " import foo", "+bar"))
    assert patch.hunks == [UpdateFile("f.py", None, [Chunk(None, ["import foo"], ["import foo", "bar"])])]


def test_add_file_may_be_empty_and_keeps_inner_blank_lines() -> None:
    patch = parse_patch(wrap("*** Add File: empty.txt", "*** Add File: b.txt", "+one", "", "+three", ""))
    assert patch.hunks == [AddFile("empty.txt", ""), AddFile("b.txt", "one\n\nthree\n")]


@pytest.mark.parametrize("text", [
    "\n\n  " + FULL + "\n\n  \n",
    FULL.replace("\n", "\r\n"),
    FULL.rstrip("\n"),
    "<<'EOF'\n" + FULL + "EOF\n",
    '<<"EOF"\n' + FULL + "EOF",
    "<<EOF\n" + FULL + "EOF\n",
    "apply_patch <<'PATCH'\n" + FULL + "PATCH\n",
    "```diff\n" + FULL + "```\n",
    FULL.rstrip("\n") + "\nEOF\n",
    FULL.replace("*** Begin Patch", "  *** Begin Patch  ").replace("*** End Patch", "*** End Patch "),
    FULL.replace("*** Delete File:", "\n\n*** Delete File:"),
])
def test_tolerates_common_slips(text: str) -> None:
    assert parse_patch(text) == Patch(FULL_HUNKS)


def test_empty_line_inside_a_chunk_is_empty_context() -> None:
    patch = parse_patch(wrap("*** Update File: a.py", "@@", " def f():", "", "-    pass", "+    return 1"))
    chunk = patch.hunks[0].chunks[0]
    assert chunk.old_lines == ["def f():", "", "    pass"]
    assert chunk.new_lines == ["def f():", "", "    return 1"]


def test_empty_lines_at_chunk_edges_are_separators() -> None:
    patch = parse_patch(wrap(
        "*** Update File: a.py", "", "@@", "", "-a", "+b", "", "", "@@ g", "-c", "+d", "",
        "*** Delete File: x",
    ))
    assert patch.hunks[0].chunks == [Chunk(None, ["a"], ["b"]), Chunk("g", ["c"], ["d"])]


def test_unified_diff_header_keeps_only_its_section_text() -> None:
    patch = parse_patch(wrap("*** Update File: a.py", "@@ -10,4 +10,5 @@ def f():", "-a", "+b",
                             "@@ -20 +21 @@", "-c", "+d"))
    assert [c.anchor for c in patch.hunks[0].chunks] == ["def f():", None]


def test_consecutive_anchors_each_narrow_the_search() -> None:
    patch = parse_patch(wrap("*** Update File: a.py", "@@ class Base", "@@     def method(self):",
                             "-        pass", "+        return 1"))
    assert patch.hunks[0].chunks == [
        Chunk("class Base", [], []),
        Chunk("def method(self):", ["        pass"], ["        return 1"]),
    ]


def test_pure_rename_needs_no_chunks() -> None:
    patch = parse_patch(wrap("*** Update File: a.py", "*** Move to: b.py"))
    assert patch.hunks == [UpdateFile("a.py", "b.py", [])]


def test_marker_lookalikes_inside_content_are_content() -> None:
    patch = parse_patch(wrap("*** Add File: a.md", "+*** End Patch", "*** Update File: b.md",
                             " *** Add File: not a header", "-@@ x", "+*** End of File"))
    assert patch.hunks[0] == AddFile("a.md", "*** End Patch\n")
    assert patch.hunks[1].chunks == [Chunk(None, ["*** Add File: not a header", "@@ x"],
                                           ["*** Add File: not a header", "*** End of File"])]


@pytest.mark.parametrize(("text", "message"), [
    ("", "invalid patch: the patch is empty; the first line must be '*** Begin Patch'"),
    ("foo\n*** End Patch", "invalid patch: the first line must be '*** Begin Patch', got 'foo'"),
    ("*** Begin Patch\n*** Add File: a\n+x",
     "invalid patch: the last line must be '*** End Patch', got '+x' (was the patch cut off?)"),
    (wrap("*** Add File: a", "+x").rstrip() + "\nmore text",
     "invalid patch: line 4: '*** End Patch' must be the last line, but 'more text' follows it"),
    (wrap(), "invalid patch: no changes between '*** Begin Patch' and '*** End Patch'; "
             "expected '*** Add File:', '*** Delete File:' or '*** Update File:' hunks"),
    (wrap("*** Add File: a", "+x", "foo"),
     "invalid patch: line 4: every line of an added file must start with '+' "
     "('*** Add File: a'), got 'foo'"),
    (wrap("bar", "*** Add File: a"),
     "invalid patch: line 2: expected '*** Add File:', '*** Delete File:' or '*** Update File:', got 'bar'"),
    (wrap("*** Delete File: a", "+x"),
     "invalid patch: line 3: '*** Delete File: a' takes no lines after it, got '+x'"),
    (wrap("*** Add File: a", "+x", "*** Update File: a.py", "*** Delete File: b"),
     "invalid patch: hunk 2 (Update File: a.py) has no changes"),
    (wrap("*** Update File: a.py", "@@", " same"), "invalid patch: hunk 1 (Update File: a.py) has no changes"),
    (wrap("*** Update File: a.py", "@@", "-a", "oops"),
     "invalid patch: line 5: expected a line starting with ' ' (context), '-' (remove) or '+' (add), "
     "or '@@', got 'oops'"),
    (wrap("*** Update File: a.py", "@@", "*** End of File"),
     "invalid patch: line 4: '*** End of File' must follow the lines of a chunk"),
    (wrap("*** Update File: a.py", "-a", "+b", "*** Move to: c.py"),
     "invalid patch: line 5: '*** Move to:' must come directly after '*** Update File:'"),
    (wrap("*** Update File: a.py", "-a", "*** Frobnicate"),
     "invalid patch: line 4: expected a change line, '@@', '*** End of File' or the next hunk, "
     "got '*** Frobnicate'"),
    (wrap("*** Delete File: C:\\x.txt"), "invalid patch: line 2: paths must be relative to the workspace"),
    (wrap("*** Update File: a", "*** Move to: ~/b"),
     "invalid patch: line 3: paths must be relative to the workspace or absolute, got '~/b'"),
    (wrap("*** Add File:   ", "+x"), "invalid patch: line 2: '*** Add File:' needs a path"),
])
def test_errors_say_what_and_where(text: str, message: str) -> None:
    with pytest.raises(PatchError) as caught:
        parse_patch(text)
    assert str(caught.value).startswith(message)


def test_absolute_paths_parse_and_are_left_to_the_applier_to_check() -> None:
    patch = parse_patch(wrap("*** Add File: /srv/shared/a.txt", "+x", "*** Update File: b",
                             "*** Move to: /srv/shared/b", "@@", "-1", "+2"))
    assert [hunk.path for hunk in patch.hunks] == ["/srv/shared/a.txt", "b"]
    assert patch.hunks[1].move_to == "/srv/shared/b"


def test_line_numbers_count_from_the_text_as_sent() -> None:
    with pytest.raises(PatchError, match="line 6: every line"):
        parse_patch("\n\n" + wrap("*** Add File: a", "+x", "junk"))
    with pytest.raises(PatchError, match="line 4: every line"):
        parse_patch("<<'EOF'\n" + wrap("*** Add File: a", "junk") + "EOF\n")


# ---- properties -----------------------------------------------------------------------------------

MARKERS = ["*** Begin Patch", "*** End Patch", "*** Add File: a", "*** Delete File: b", "*** Update File: c",
           "*** Move to: d", "*** End of File", "@@", "@@ def f", "<<'EOF'", "EOF", "```", "", " ", "+", "-",
           "*** Add File: /abs", "*** Update File:", "@@ -1,2 +1,2 @@"]
line_text = st.text(alphabet=st.characters(exclude_characters="\n"), max_size=12)
fuzz_lines = st.lists(st.one_of(st.sampled_from(MARKERS), line_text,
                                st.builds(lambda p, t: p + t, st.sampled_from(" +-@*<"), line_text)),
                      max_size=14)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=200), fuzz_lines.map("\n".join),
                 fuzz_lines.map(lambda lines: "\n".join(["*** Begin Patch", *lines, "*** End Patch"]))))
def test_parser_raises_only_patch_error(text: str) -> None:
    try:
        patch = parse_patch(text)
    except PatchError as exc:
        assert str(exc).startswith("invalid patch: ")
    else:
        assert patch.hunks


content = st.text(alphabet=st.characters(exclude_characters="\r\n", exclude_categories=("Cs",)), max_size=10)
paths = st.from_regex(r"[a-z][a-z0-9_./-]{0,10}", fullmatch=True)
anchors = content.map(str.strip).filter(lambda a: a and a != "@@" and not a.startswith("-"))


@st.composite
def chunks(draw: st.DrawFn) -> Chunk:
    lines = draw(st.lists(st.tuples(st.sampled_from(" +-"), content), min_size=1, max_size=5))
    return Chunk(draw(st.none() | anchors),
                 [text for kind, text in lines if kind != "+"],
                 [text for kind, text in lines if kind != "-"],
                 draw(st.booleans()))


@st.composite
def hunks(draw: st.DrawFn) -> AddFile | DeleteFile | UpdateFile:
    kind = draw(st.sampled_from(["add", "delete", "update"]))
    path = draw(paths)
    if kind == "add":
        return AddFile(path, "".join(line + "\n" for line in draw(st.lists(content, max_size=4))))
    if kind == "delete":
        return DeleteFile(path)
    parts = draw(st.lists(chunks(), min_size=1, max_size=3))
    if all(c.old_lines == c.new_lines for c in parts):
        parts[0].new_lines.append("changed")
    return UpdateFile(path, draw(st.none() | paths), parts)


def render(patch: Patch) -> str:
    """Write a Patch in the canonical Codex form (the inverse of parse_patch)."""
    out = ["*** Begin Patch"]
    for hunk in patch.hunks:
        if isinstance(hunk, AddFile):
            out += [f"*** Add File: {hunk.path}", *("+" + line for line in hunk.contents.split("\n")[:-1])]
        elif isinstance(hunk, DeleteFile):
            out.append(f"*** Delete File: {hunk.path}")
        else:
            out.append(f"*** Update File: {hunk.path}")
            out += [f"*** Move to: {hunk.move_to}"] if hunk.move_to else []
            for chunk in hunk.chunks:
                out.append(f"@@ {chunk.anchor}" if chunk.anchor else "@@")
                out += [f"-{line}" for line in chunk.old_lines] + [f"+{line}" for line in chunk.new_lines]
                out += ["*** End of File"] if chunk.is_end_of_file else []
    return "\n".join([*out, "*** End Patch"])


@settings(max_examples=80, deadline=None)
@given(st.lists(hunks(), min_size=1, max_size=4).map(Patch))
def test_render_then_parse_round_trips(patch: Patch) -> None:
    assert parse_patch(render(patch)) == patch
