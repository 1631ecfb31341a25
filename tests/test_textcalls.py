"""The text tool-call parser and JSON repair: examples plus hypothesis properties."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocodex.agent.textcalls import (
    expected_shape,
    extract_text_calls,
    repair_arguments,
    repair_json,
    text_protocol_prompt,
)
from ocodex.tools.registry import ToolRegistry

TOOLS = {"shell", "apply_patch", "update_plan"}

# Values a model puts in arguments. Strings avoid backslashes so Python's repr stays JSON-compatible.
_text = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\\"), max_size=30)
_scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | _text
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(_text, inner, max_size=4), max_leaves=12)
_arguments = st.dictionaries(_text, _values, max_size=5)
# Prose around a call: no characters that open a block.
_prose = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="{}<>`'\"\\"), max_size=40)


def _render(style: str, name: str, arguments: dict[str, Any]) -> str:
    call = json.dumps({"name": name, "arguments": arguments})
    if style == "tag":
        return f"<tool_call>\n{call}\n</tool_call>"
    if style == "fence":
        return f"```json\n{call}\n```"
    return call


@settings(max_examples=150, deadline=None, derandomize=True)
@given(style=st.sampled_from(["tag", "fence", "bare"]), name=st.sampled_from(sorted(TOOLS)),
       arguments=_arguments, before=_prose, after=_prose)
def test_a_call_in_any_style_is_found_and_stripped(style: str, name: str, arguments: dict[str, Any],
                                                    before: str, after: str) -> None:
    if style != "tag":
        after = ""  # a json fence or bare object is a call only when it ends the message
    text = f"{before}\n{_render(style, name, arguments)}\n{after}"
    visible, calls = extract_text_calls(text, TOOLS)
    assert len(calls) == 1
    assert calls[0].name == name and calls[0].error is None
    assert json.loads(calls[0].arguments) == arguments
    assert "tool_call" not in visible and "```" not in visible
    assert visible == f"{before}\n\n{after}".strip() or visible.split() == f"{before} {after}".split()


@settings(max_examples=150, deadline=None, derandomize=True)
@given(value=_values)
def test_valid_json_parses_unchanged(value: Any) -> None:
    assert repair_json(json.dumps(value)) == value


@settings(max_examples=150, deadline=None, derandomize=True)
@given(value=st.dictionaries(_text, _values, max_size=5))
def test_python_literals_and_single_quotes_are_repaired(value: dict[str, Any]) -> None:
    assert repair_json(repr(value)) == value


@settings(max_examples=150, deadline=None, derandomize=True)
@given(value=st.dictionaries(st.text("abcxyz_ ", min_size=1, max_size=8),
                             st.lists(st.integers(), max_size=3), min_size=1, max_size=4))
def test_trailing_commas_are_repaired(value: dict[str, list[int]]) -> None:
    text = json.dumps(value).replace("]", ",]").replace("[,]", "[]")[:-1] + ",}"
    assert repair_json(text) == value


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=st.text(max_size=200))
def test_the_parser_never_raises_and_never_invents_tools(text: str) -> None:
    visible, calls = extract_text_calls(text, TOOLS)
    assert isinstance(visible, str)
    for call in calls:
        if call.error is None:
            assert isinstance(json.loads(call.arguments), dict)


def test_only_known_tools_count_outside_tags() -> None:
    text = 'Result: {"name": "report", "arguments": {"x": 1}}'
    assert extract_text_calls(text, TOOLS) == (text, [])


@settings(max_examples=150, deadline=None, derandomize=True)
@given(style=st.sampled_from(["fence", "bare"]), name=st.sampled_from(sorted(TOOLS)),
       arguments=_arguments, before=_prose, after=_prose.filter(lambda t: t.strip()))
def test_a_json_example_followed_by_prose_is_not_run(style: str, name: str, arguments: dict[str, Any],
                                                     before: str, after: str) -> None:
    text = f"{before}\n{_render(style, name, arguments)}\n{after}"
    visible, calls = extract_text_calls(text, TOOLS)
    assert calls == [] and visible == text.strip()


def test_explanations_of_a_call_are_not_run() -> None:
    explained = ('To delete the build directory the agent sends:\n```json\n'
                 '{"name": "shell", "arguments": {"command": ["rm", "-rf", "build"]}}\n```\n'
                 "and the shell tool runs it in the sandbox.")
    inline = 'A call looks like {"name": "shell", "arguments": {"command": "ls"}}'
    quoted = 'Send `{"name": "shell", "arguments": {"command": "ls"}}`'
    for text in (explained, inline, quoted):
        assert extract_text_calls(text, TOOLS) == (text, [])


def test_trailing_calls_after_a_lead_in_are_run_in_order() -> None:
    text = ('Let me look.\n```json\n{"name": "shell", "arguments": {"command": "a"}}\n```\n'
            '{"name": "shell", "arguments": {"command": "b"}}\n')
    visible, calls = extract_text_calls(text, TOOLS)
    assert visible == "Let me look."
    assert [json.loads(c.arguments)["command"] for c in calls] == ["a", "b"]


def test_mistral_and_llama_markers_before_a_bare_call() -> None:
    mistral = ('[TOOL_CALLS] [{"name": "shell", "arguments": {"command": "ls"}}, '
               '{"name": "shell", "arguments": {"command": "pwd"}}]')
    visible, calls = extract_text_calls(mistral, TOOLS)
    assert visible == "" and [json.loads(c.arguments)["command"] for c in calls] == ["ls", "pwd"]
    visible, calls = extract_text_calls('<|python_tag|>{"name": "shell", "parameters": {"command": "ls"}}', TOOLS)
    assert visible == "" and calls[0].name == "shell"
    for text in ('Numbers: [1, 2]', 'See [{"name": "shell", "arguments": {}}]', 'Result:\n[{"name": "report"}]'):
        assert extract_text_calls(text, TOOLS) == (text, [])


def test_a_broken_tag_is_an_error_call_with_the_name() -> None:
    _, calls = extract_text_calls('<tool_call>{"name": "shell", "arguments": {"command": [}</tool_call>',
                                  TOOLS)
    assert calls[0].name == "shell" and calls[0].arguments == "{}"
    assert calls[0].error is not None and "not valid JSON" in calls[0].error


def test_other_call_shapes() -> None:
    _, calls = extract_text_calls('{"function": {"name": "shell", "arguments": "{\\"command\\": \\"ls\\"}"}}',
                                  TOOLS)
    assert json.loads(calls[0].arguments) == {"command": "ls"}
    _, calls = extract_text_calls('{"tool": "shell", "command": "ls"}', TOOLS)
    assert json.loads(calls[0].arguments) == {"command": "ls"}
    _, calls = extract_text_calls("```tool_call\n{'name': 'update_plan', 'args': {'plan': []}}\n```", TOOLS)
    assert calls[0].name == "update_plan" and json.loads(calls[0].arguments) == {"plan": []}


def test_several_calls_keep_their_order() -> None:
    text = ('<tool_call>{"name": "shell", "arguments": {"command": "a"}}</tool_call>'
            '<tool_call>{"name": "shell", "arguments": {"command": "b"}}</tool_call>')
    _, calls = extract_text_calls(text, TOOLS)
    assert [json.loads(c.arguments)["command"] for c in calls] == ["a", "b"]


def test_repair_arguments() -> None:
    assert repair_arguments("") == ("{}", None)
    assert repair_arguments("{'a': True,}") == ('{"a": true}', None)
    assert repair_arguments('"{\\"a\\": 1}"') == ('{"a": 1}', None)  # double-encoded
    assert repair_arguments("[1, 2]") == ("{}", "the arguments must be a JSON object")
    text, problem = repair_arguments('{"a": ')
    assert text == "{}" and problem is not None


def test_expected_shape_and_protocol_prompt() -> None:
    specs = ToolRegistry.default().specs()
    shell = next(s for s in specs if s.name == "shell")
    assert expected_shape(shell) == '{"command": <array/string>, "workdir": <string>, "timeout_ms": <integer>}'
    prompt = text_protocol_prompt(specs)
    assert "<tool_call>" in prompt and all(s.name in prompt for s in specs)
    assert len(prompt.encode()) < 1200  # it replaces the tool schemas, so it must stay lean


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=st.text(alphabet=st.sampled_from(list("{}[]:,'\"\\xU0aTrueNn1 ")), max_size=60))
def test_repair_fails_only_with_value_error(text: str) -> None:
    try:
        value = repair_json(text)
    except ValueError:
        return
    assert isinstance(value, dict | list | str | int | float | bool | type(None))
    json.dumps(value)  # whatever comes back can be sent on as JSON


@pytest.mark.parametrize(("text", "called"), [
    ('```json\n{"name": "update_plan", "arguments": {"plan": []}}\n```', ["update_plan"]),
    ('{"name": "shell", "arguments": {"command": ["ls"]}}', ["shell"]),
    ('<tool_call>{"name": "shell", "arguments": {"command": ["ls"]}}</tool_call>', ["shell"]),
    ('{"status": "ok", "name": "not-a-tool"}', []),
    ('{"name": "Ann", "arguments": {"a": 1}, "age": 3}', []),
    ('Run this:\n{"name": "shell", "arguments": {"command": ["ls"]}}', []),
    ('{"name": "shell", "arguments": {"command": ["ls"]}}\n\nThat lists the files.', []),
])
def test_only_calls_is_the_one_rule_for_a_reply_that_is_nothing_but_calls(text: str, called: list[str]) -> None:
    from ocodex.agent.textcalls import only_calls

    assert [call.name for call in only_calls(text, ["shell", "apply_patch"])] == called
