"""`ocodex.agent.splice`: a small model's answer holding only the functions it changed goes into its file."""

from __future__ import annotations

import ast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocodex.agent.splice import splice

pytestmark = pytest.mark.fast

FILE = '''"""Statistics."""
import math

LIMIT = 10


def mean(xs):
    return sum(xs) / (len(xs) - 1)


@staticmethod
def median(xs):
    return sorted(xs)[len(xs) // 2]


class Box:
    size = 1


if __name__ == "__main__":
    print(mean([1, 2]))
'''


def test_a_changed_function_replaces_the_files_own_and_the_rest_stays() -> None:
    result = splice(FILE, "import statistics\n\ndef mean(xs):\n    return statistics.fmean(xs)\n")
    assert result is not None
    assert "return statistics.fmean(xs)" in result and "(len(xs) - 1)" not in result
    assert result.startswith('"""Statistics."""\nimport math\nimport statistics\n\nLIMIT = 10\n')
    assert result.endswith('if __name__ == "__main__":\n    print(mean([1, 2]))\n')


def test_decorators_go_with_the_definition_and_the_files_stay_when_the_block_has_none() -> None:
    result = splice(FILE, "@staticmethod\ndef median(xs):\n    return 0\n")
    assert result is not None and result.count("@staticmethod") == 1 and "return 0" in result
    undecorated = splice(FILE, "def median(xs):\n    return 0\n")
    assert undecorated is not None and "@staticmethod\ndef median(xs):\n    return 0\n" in undecorated


def test_a_block_with_every_definition_is_a_whole_file_so_what_it_leaves_out_goes() -> None:
    # "remove the unused import": the model sends the whole file without it
    block = "def mean(xs):\n    return 1\n\ndef median(xs):\n    return 2\n\nclass Box:\n    size = 2\n"
    assert splice(FILE, block) is None


def test_line_numbers_count_as_pythons_tokenizer_does() -> None:
    original = "X = 1\n\x0c\ndef f():\n    return 1\n\n\ndef g():\n    return 2\n"  # a form feed line
    result = splice(original, "def f():\n    return 3\n")
    assert result == "X = 1\n\x0c\ndef f():\n    return 3\n\n\ndef g():\n    return 2\n"
    crlf = splice("def f():\r\n    return 1\r\n\r\ndef g():\r\n    return 2\r\n", "def f():\r\n    return 3\r\n")
    assert crlf == "def f():\r\n    return 3\r\n\r\ndef g():\r\n    return 2\r\n"


def test_a_new_future_import_is_not_a_fragments_to_make() -> None:
    assert splice(FILE, "from __future__ import annotations\n\ndef mean(xs):\n    return 1\n") is None


@pytest.mark.parametrize("block", [
    "def mean(xs):\n    return 1\n\nLIMIT = 3\n",  # a module-level statement: a whole file
    "def mode(xs):\n    return 1\n",  # a name the file does not define (a rename, a new file)
    "def mean(xs):\n    return 1\n\ndef mode(xs):\n    return 2\n",
    "def mean(xs):\n  return (\n",  # does not parse
    "import os\n",  # no definition
    "def mean(xs):\n    return 1\n\ndef mean(xs):\n    return 2\n",  # one name twice
])
def test_what_is_not_a_fragment_is_left_to_be_a_whole_file(block: str) -> None:
    assert splice(FILE, block) is None


def test_a_file_that_defines_a_name_twice_takes_no_fragment() -> None:
    assert splice("def f():\n    return 1\n\ndef f():\n    return 2\n", "def f():\n    return 3\n") is None


_names = st.lists(st.from_regex(r"[a-z]{1,8}", fullmatch=True), min_size=2, max_size=6, unique=True)


@settings(max_examples=60, deadline=None)
@given(names=_names, data=st.data())
def test_splicing_any_strict_subset_keeps_every_other_definition(names: list[str], data: st.DataObject) -> None:
    names = [f"f_{name}" for name in names]
    original = "".join(f"def {name}():\n    return {index}\n\n\n" for index, name in enumerate(names))
    chosen = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names) - 1, unique=True))
    block = "".join(f"def {name}():\n    return '{name} new'\n\n" for name in chosen)
    result = splice(original, block)
    assert result is not None
    assert splice(original, "".join(f"def {name}():\n    return 0\n\n" for name in names)) is None  # all: whole
    tree = ast.parse(result)
    assert [node.name for node in tree.body if isinstance(node, ast.FunctionDef)] == names  # order kept
    for index, name in enumerate(names):
        assert (f"return '{name} new'" in result) == (name in chosen)
        assert (f"return {index}\n" in result) == (name not in chosen)


def test_the_one_definition_asked_for_is_a_fragment_even_of_a_file_that_defines_nothing_else() -> None:
    original = 'import sys\n\n\ndef initials(name):\n    return name[0]\n\n\nif __name__ == "__main__":\n    print(1)\n'
    block = "def initials(name):\n    return name[:1]\n"
    assert splice(original, block) is None  # unasked: a whole file, which drops the `__main__` block
    assert splice(original, block, asked="initials") == original.replace("name[0]", "name[:1]")
    assert splice(original, block, asked="other") is None
    assert splice(original, "def main():\n    pass\n", asked="initials") is None  # not the asked one


def test_new_helpers_beside_the_asked_definition_go_in_just_before_it() -> None:
    original = 'import sys\n\n\ndef shout(s):\n    return s.upper()\n\n\ndef initials(name):\n    return name[0]\n'
    block = "def _words(name):\n    return name.split()\n\n\ndef _first(w):\n    return w[0]\n\n\n" \
            "def initials(name):\n    return ''.join(_first(w) for w in _words(name))\n"
    spliced = splice(original, block, asked="initials")
    assert spliced is not None and spliced.startswith('import sys\n\n\ndef shout(s):\n    return s.upper()\n\n\n'
                                                       'def _words(name):')
    assert spliced.index("def _words") < spliced.index("def _first") < spliced.index("def initials")
    assert "return name[0]" not in spliced and splice(original, block) is None  # unasked: new names, no fragment
