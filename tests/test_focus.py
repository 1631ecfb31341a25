"""`ocodex.agent.focus`: the function a failing check points at, from tracebacks, pytest frames and pytest's
`where` lines, found only in the task's shown non-test Python files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocodex.agent.assist import is_test_path
from ocodex.agent.focus import MAX_LINES, focus, option_hint, unknown_option

pytestmark = pytest.mark.fast

NAMES = ('"""Initials."""\n\nimport sys\n\n\ndef initials(full_name):\n'
         '    return "".join(part[0].upper() for part in full_name.split(" "))\n\n\n'
         'if __name__ == "__main__":\n    print(initials(sys.argv[1]))\n')
PRICING = ('def apply_discount(price, percent):\n    if not 0 <= percent <= 100:\n        raise ValueError("range")\n'
           '    return round(price * percent / 100, 2)\n\n\ndef with_tax(price, rate=0.2):\n'
           '    return round(price * (1 + rate), 2)\n')
TEST = "from pricing import apply_discount\n\n\ndef test_discount():\n    assert apply_discount(80.0, 25) == 60.0\n"
TRACEBACK = '''Traceback (most recent call last):
  File "{path}", line 11, in <module>
    print(initials(sys.argv[1]))
  File "{path}", line 7, in initials
    return "".join(part[0].upper() for part in full_name.split(" "))
  File "{path}", line 7, in <genexpr>
IndexError: string index out of range
'''
WHERE = '''    def test_discount():
>       assert apply_discount(80.0, 25) == 60.0
E       assert 20.0 == 60.0
E        +  where 20.0 = apply_discount(80.0, 25)

test_pricing.py:5: AssertionError
'''


def find(output: str, option: str | None = None, cwd: Path | None = None, **files: str):
    return focus(output, {path.replace("__", "/").replace("_py", ".py"): text for path, text in files.items()},
                 is_test_path, option=option, cwd=cwd)


@pytest.mark.parametrize("path", ["names.py", "/tmp/work/names.py"])
def test_a_traceback_points_at_the_function_its_deepest_frame_is_in(path: str) -> None:
    found = find(TRACEBACK.format(path=path), names_py=NAMES)
    assert found is not None and (found.path, found.name, found.line) == ("names.py", "initials", 7)
    assert found.source == NAMES.splitlines()[5] + "\n" + NAMES.splitlines()[6]
    message = found.message()
    assert message.startswith("The traceback ends in `initials`, in names.py, at line 7:")
    assert found.source in message and message.endswith("Reply with the corrected function under the line `names.py`.")


def test_a_failed_assertion_points_at_the_function_it_called_not_at_the_test() -> None:
    found = find(WHERE, pricing_py=PRICING, test_pricing_py=TEST)
    assert found is not None and (found.path, found.name, found.line) == ("pricing.py", "apply_discount", None)
    assert found.source == "\n".join(PRICING.splitlines()[:4])
    assert found.message().startswith("The failing test calls `apply_discount`, which is in pricing.py:")


def test_a_pytest_frame_line_in_the_code_wins_over_the_where_line() -> None:
    output = WHERE.replace("test_pricing.py:5: AssertionError", "test_pricing.py:5: in test_discount\n"
                           "    ...\npricing.py:7: in with_tax\n    return round(\nE   TypeError: boom")
    found = find(output, pricing_py=PRICING, test_pricing_py=TEST)
    assert found is not None and (found.name, found.line) == ("with_tax", 7)


def test_a_frame_in_a_method_or_in_module_code_gives_no_focus() -> None:
    code = ("class Cart:\n    def total(self):\n        return self.items\n\n\ndef total(carts):\n"
            "    return sum(c.total() for c in carts)\n\n\nCart().total()\n")
    frames = ('  File "cart.py", line 10, in <module>\n  File "cart.py", line 3, in total\n'
              "AttributeError: 'Cart' object has no attribute 'items'\n")
    assert find(frames, cart_py=code) is None  # not the top-level `total`, which has the method's name
    assert find('  File "cart.py", line 10, in <module>\n', cart_py=code) is None


def test_a_line_outside_the_named_function_is_an_edited_file_s_so_the_name_wins() -> None:
    found = find('  File "pricing.py", line 2, in with_tax\nTypeError: boom\n', pricing_py=PRICING)
    assert found is not None and found.name == "with_tax"


@pytest.mark.parametrize("output", [
    '  File "/usr/lib/python3.11/json/__init__.py", line 346, in loads\n',  # not a shown file
    '  File "test_names.py", line 2, in test_it\n',  # a test
    "E   assert 1 == 2\nE    +  where 1 = len([0])\n",  # a builtin
    "FAILED for some other reason\n",
])
def test_nothing_outside_the_task_s_own_code_is_focused_on(output: str) -> None:
    assert find(output, names_py=NAMES, test_names_py="def test_it():\n    assert False\n") is None


def test_a_long_definition_or_a_file_that_does_not_parse_is_not_focused_on() -> None:
    long = "def big():\n" + "    x = 1\n" * MAX_LINES
    assert find('  File "big.py", line 3, in big\n', big_py=long) is None
    assert find('  File "bad.py", line 1, in f\n', bad_py="def f(:\n") is None


@given(st.text(max_size=400), st.text(max_size=400), st.integers(min_value=0, max_value=40))
def test_focus_never_raises_and_shows_a_slice_of_a_shown_non_test_file(noise: str, code: str, line: int) -> None:
    output = f'{noise}\n  File "mod.py", line {line}, in f\nmod.py:{line}: in g\nE  where 1 = f(2)\n{noise}'
    shown = {"mod.py": code, "test_mod.py": code, "notes.txt": code}
    found = focus(output, shown, is_test_path)
    if found is not None:
        assert found.path == "mod.py" and found.source in code and found.source.strip()


LINES = ('import argparse\n\n\ndef main(argv=None):\n    parser = argparse.ArgumentParser()\n'
         '    parser.add_argument("path")\n    args = parser.parse_args(argv)\n    print(args.path)\n\n\n'
         'if __name__ == "__main__":\n    main()\n')


@pytest.mark.parametrize("output", [
    "usage: lines.py [-h] path\nlines.py: error: unrecognized arguments: --dry-run notes.txt\n",
    "Usage: lines.py [OPTIONS] PATH\nTry 'lines.py --help' for help.\n\nError: No such option: --dry-run\n",
])
def test_a_rejected_option_points_at_the_function_that_sets_up_the_parser(output: str) -> None:
    assert unknown_option(output) == "--dry-run"
    found = find(output, "--dry-run", lines_py=LINES, test_lines_py="def test_it():\n    parser.add_argument('x')\n")
    assert found is not None and (found.path, found.name) == ("lines.py", "main")
    assert found.message() == (
        "`--dry-run` is not an option of lines.py yet: `main` sets up its parser, which needs a "
        '`parser.add_argument("--dry-run", ...)` line, and the code must use `args.dry_run`.\n\n'
        f"```python\n{found.source}\n```\n\nReply with the corrected function under the line `lines.py`.")
    assert "--dry-run" in option_hint("--dry-run")


def test_a_rejected_option_with_no_one_parser_function_falls_back_to_the_traceback() -> None:
    two = LINES + "\n\ndef other(parser):\n    parser.add_argument('--x')\n"
    output = "error: unrecognized arguments: --y\n" + TRACEBACK.format(path="names.py")
    found = find(output, "--y", lines_py=two, names_py=NAMES)
    assert found is not None and found.name == "initials"
    assert unknown_option("all good\n") is None


def test_the_option_s_attribute_is_named_on_what_parse_args_returned() -> None:
    code = LINES.replace("args = parser", "options = parser").replace("args.path", "options.path")
    found = find("error: unrecognized arguments: --top 3\n", "--top", cli_py=code)
    assert found is not None and "and the code must use `options.top`." in found.message()


def test_an_option_the_task_does_not_add_is_not_taken_for_a_missing_parser_line() -> None:
    output = "ERROR: usage: pytest [options]\npytest: error: unrecognized arguments: --cov\n"
    assert find(output, "--json", lines_py=LINES) is None and find(output, None, lines_py=LINES) is None


def test_a_same_named_file_of_an_installed_package_or_another_folder_is_not_the_workspace_s() -> None:
    installed = '  File "/venv/lib/python3.11/site-packages/x/names.py", line 7, in initials\n'
    assert find(installed, names_py=NAMES) is None
    elsewhere = '  File "/other/names.py", line 7, in initials\n'
    assert find(elsewhere, cwd=Path("/work"), names_py=NAMES) is None
    found = find('  File "/work/names.py", line 7, in initials\n', cwd=Path("/work"), names_py=NAMES)
    assert found is not None and found.name == "initials"
    assert find('  File "lib/names.py", line 7, in initials\n', names_py=NAMES) is None  # relative: exact only


def test_a_warning_line_is_no_frame_and_the_first_where_is_the_assertion_s_own_call() -> None:
    warning = "pricing.py:2: DeprecationWarning: old\n"
    assert find(warning, pricing_py=PRICING) is None
    nested = WHERE.replace("apply_discount(80.0, 25)\n", "apply_discount(80.0, 25)\nE        +    where 80.0 = "
                           "with_tax(1)\n", 1)
    found = find(nested, pricing_py=PRICING, test_pricing_py=TEST)
    assert found is not None and found.name == "apply_discount"


def test_the_source_is_cut_where_python_numbers_lines() -> None:
    code = "X = 1\x0c\n\n\ndef b():\n    x = 1\n    return x\n"
    found = find('  File "m.py", line 6, in b\n', m_py=code)
    assert found is not None and found.source == "def b():\n    x = 1\n    return x"
