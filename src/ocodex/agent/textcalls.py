"""Tool calls that small models write as text, and JSON that is almost valid.

This module owns three things: repairing near-valid JSON (`repair_json`: trailing commas, single
quotes, Python's True/False/None, code fences), finding tool calls written into an answer's text
(`extract_text_calls`: `<tool_call>…</tool_call>` blocks as Qwen writes them, fenced blocks, and a
bare JSON object naming a known tool) and stripping them from the visible answer, and the text-only
tool protocol offered to models without the `tools` capability (`text_protocol_prompt`).

A JSON object only counts as a call when it names one of the offered tools, and a `json` fence or
bare object only at the end of the message, so an answer that merely shows or explains some JSON is
left alone. A `<tool_call>` block is always a call: when its JSON cannot be
repaired it becomes a `TextCall` with an `error` that shows the expected shape.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any

from ocodex.protocol import ToolSpec

NAME_KEYS = ("name", "tool", "tool_name", "function")
ARGUMENT_KEYS = ("arguments", "parameters", "args", "input")
_HEX = "0123456789abcdefABCDEF"
_PY_LITERALS = {"True": "true", "False": "false", "None": "null"}
_TAG_RE = re.compile(r"<(tool_call|function_call)>\s*(.*?)\s*(?:</\1>|\Z)", re.DOTALL)
_FENCE_RE = re.compile(r"```[ \t]*([A-Za-z_-]*)[ \t]*\n(.*?)\n?[ \t]*```", re.DOTALL)
# What some models write just before a bare call (Mistral, Llama 3.1) when a template did not parse it.
_CALL_MARKERS = ("[TOOL_CALLS]", "<|python_tag|>")
_NAME_RE = re.compile(r"""["']?(?:name|tool|tool_name)["']?\s*:\s*["']([A-Za-z_][\w.-]*)["']""")


@dataclass(slots=True)
class TextCall:
    """A tool call found in text. `arguments` is valid JSON text unless `error` is set."""

    name: str
    arguments: str
    error: str | None = None


def _strip_fence(text: str) -> str:
    match = _FENCE_RE.fullmatch(text.strip())
    return match.group(2) if match else text


def _rewrite(text: str) -> str:
    """Rewrite JSON-like text into JSON: single-quoted strings, trailing commas, Python literals."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'":
            j, buf = i + 1, []
            while j < n and text[j] != ch:
                if text[j] == "\\" and j + 1 < n:
                    nxt = text[j + 1]
                    width = {"x": 2, "U": 8}.get(nxt, 0)  # Python-only escapes
                    digits = text[j + 2:j + 2 + width]
                    if width and len(digits) == width and all(c in _HEX for c in digits):
                        buf.append(json.dumps(chr(int(digits, 16)))[1:-1])
                        j += 2 + width
                        continue
                    buf.append("'" if nxt == "'" else "\\" + nxt)
                    j += 2
                    continue
                buf.append('\\"' if text[j] == '"' else "\\n" if text[j] == "\n" else text[j])
                j += 1
            if j >= n:
                raise ValueError("unterminated string")
            out.append('"' + "".join(buf) + '"')
            i = j + 1
        elif ch == ",":
            k = i + 1
            while k < n and text[k].isspace():
                k += 1
            if k < n and text[k] in "}]":
                i += 1  # a trailing comma
                continue
            out.append(ch)
            i += 1
        elif ch.isalpha():
            k = i
            while k < n and (text[k].isalnum() or text[k] == "_"):
                k += 1
            word = text[i:k]
            out.append(_PY_LITERALS.get(word, word))
            i = k
        else:
            out.append(ch)
            i += 1
    return "".join(out)


TOO_DEEP = "the JSON is nested too deeply to read"


def repair_json(text: str) -> Any:
    """Parse JSON, repairing the mistakes small models make. Raises ValueError when it cannot."""
    body = _strip_fence(text).strip()
    try:
        return json.loads(body)
    except ValueError:
        pass
    except RecursionError:  # e.g. 100,000 nested brackets: no repair makes that usable
        raise ValueError(TOO_DEEP) from None
    try:
        return json.loads(_rewrite(body), strict=False)
    except ValueError as exc:
        raise ValueError(f"not valid JSON even after repair ({exc})") from None
    except RecursionError:
        raise ValueError(TOO_DEEP) from None


_FLOAT_MAX = 1.7976931348623157e308


def _finite(value: Any) -> Any:
    """`value` with numbers no JSON reader of the history can take (Infinity, NaN, 10**400) made finite:
    the server parses the arguments sent back to it (Go into float64) and refuses a whole request over one."""
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        return max(-_FLOAT_MAX, min(_FLOAT_MAX, value))
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _FLOAT_MAX:
        return _FLOAT_MAX if value > 0 else -_FLOAT_MAX
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def repair_arguments(arguments: str) -> tuple[str, str | None]:
    """Native tool-call arguments as canonical JSON text, and an error when they cannot be used."""
    if not arguments.strip():
        return "{}", None
    try:
        value = repair_json(arguments)
    except ValueError as exc:
        return "{}", str(exc)
    if isinstance(value, str):  # arguments double-encoded as a JSON string
        with contextlib.suppress(ValueError):
            value = repair_json(value)
    if not isinstance(value, dict):
        return "{}", "the arguments must be a JSON object"
    try:
        return json.dumps(_finite(value), ensure_ascii=False), None
    except RecursionError:
        return "{}", TOO_DEEP


def expected_shape(spec: ToolSpec | None) -> str:
    """A one-line example of a tool's arguments, built from its JSON schema."""
    if spec is None:
        return "{}"
    props = spec.parameters.get("properties") or {}
    parts = []
    for key, schema in props.items():
        kind = schema.get("type") or "/".join(s.get("type", "?") for s in schema.get("anyOf", []))
        parts.append(f'"{key}": <{kind}>')
    return "{" + ", ".join(parts) + "}"


def shape_error(name: str, problem: str, spec: ToolSpec | None) -> str:
    """The error result a model gets for arguments that could not be used."""
    return (f"error: the arguments for {name} could not be read: {problem}. Send one JSON object "
            f"shaped like {expected_shape(spec)}")


def _call_from(value: Any, tools: set[str]) -> TextCall | None:
    """A `TextCall` when `value` is an object naming a known tool."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("function"), dict):
        return _call_from(value["function"], tools)
    name = next((value[k] for k in NAME_KEYS if isinstance(value.get(k), str)), None)
    if name not in tools:
        return None
    args: Any = next((value[k] for k in ARGUMENT_KEYS if k in value), None)
    if args is None:  # {"name": "shell", "command": ...}: the arguments inline
        args = {k: v for k, v in value.items() if k not in NAME_KEYS}
    if isinstance(args, str):
        text, error = repair_arguments(args)
        return TextCall(name, text, error)
    if not isinstance(args, dict):
        return TextCall(name, "{}", "the arguments must be a JSON object")
    return TextCall(name, json.dumps(args, ensure_ascii=False))


def _block_call(body: str, tools: set[str], *, always: bool) -> TextCall | None:
    """The call inside a tag or fence; with `always`, a broken one becomes an error call."""
    try:
        value = repair_json(body)
    except ValueError as exc:
        match = _NAME_RE.search(body)
        if match and (always or match.group(1) in tools):
            return TextCall(match.group(1), "{}", str(exc))
        return None
    call = _call_from(value, tools)
    if call is None and always and isinstance(value, dict):
        name = next((value[k] for k in NAME_KEYS if isinstance(value.get(k), str)), "")
        if name:
            return TextCall(name, "{}", None)  # an unknown tool: dispatch reports it
    return call


def _balanced_objects(text: str, opening: str = "{", closing: str = "}") -> list[tuple[int, int]]:
    """(start, end) of each top-level `{...}` (or other bracket) span, skipping those inside strings."""
    spans, depth, start, quote, escaped = [], 0, 0, "", False
    for i, ch in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'" and depth:
            quote = ch
        elif ch == opening:
            if depth == 0:
                start = i
            depth += 1
        elif ch == closing and depth:
            depth -= 1
            if depth == 0:
                spans.append((start, i + 1))
    return spans


def _tidy(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _trailing_calls(rest: str, names: set[str]) -> tuple[str, list[TextCall]] | None:
    """The `json`/plain fence or bare JSON that ends `rest`, as calls, and the text before it.

    Bare JSON (an object, or a list of call objects as Mistral's `[TOOL_CALLS] [...]`) must also
    start its own line: JSON quoted inside a sentence is never a call.
    """
    body = rest.rstrip()
    fence = next((m for m in reversed(list(_FENCE_RE.finditer(body))) if m.end() == len(body)), None)
    if fence is not None:
        if fence.group(1).lower() not in ("", "json", "json5"):
            return None
        call = _block_call(fence.group(2), names, always=False)
        return (body[:fence.start()], [call]) if call is not None else None
    brackets = ("{", "}") if body.endswith("}") else ("[", "]") if body.endswith("]") else None
    spans = [span for span in _balanced_objects(body, *brackets) if span[1] == len(body)] if brackets else []
    if not spans:
        return None
    start = spans[-1][0]
    before = body[:start].rstrip(" \t")
    for marker in _CALL_MARKERS:
        if before.endswith(marker):
            before = before[:-len(marker)].rstrip(" \t")
            break
    if before and not before.endswith("\n"):
        return None
    if brackets == ("{", "}"):
        call = _block_call(body[start:], names, always=False)
        return (before, [call]) if call is not None else None
    try:
        value = repair_json(body[start:])
    except ValueError:
        return None
    calls = [_call_from(item, names) for item in value] if isinstance(value, list) else []
    if not calls or any(call is None for call in calls):
        return None
    return before, [call for call in calls if call is not None]


def extract_text_calls(text: str, tools: set[str] | list[str]) -> tuple[str, list[TextCall]]:
    """Tool calls written in `text`, and the text with them removed.

    `<tool_call>` tags and `tool_call`/`tool`/`function` fences count anywhere. A `json` or plain
    fence, or a bare object on its own lines, counts only at the end of the message (nothing but
    other such calls after it): a model that calls a tool stops there, while an answer that
    explains a call goes on talking, and must not have its example executed.
    """
    names = set(tools)
    calls: list[TextCall] = []

    def take(match: re.Match[str]) -> str:
        """A tag, or a fence labelled as a tool call, becomes a call (and leaves the text) if it reads as one."""
        is_fence = match.re is _FENCE_RE
        if is_fence and match.group(1).lower() not in ("tool_call", "tool", "function"):
            return match.group(0)
        call = _block_call(match.group(2), names, always=True)
        if call is None:
            return match.group(0)
        calls.append(call)
        return ""

    rest = _FENCE_RE.sub(take, _TAG_RE.sub(take, text))
    trailing: list[TextCall] = []
    while (found := _trailing_calls(rest, names)) is not None:
        rest, found_calls = found
        trailing[:0] = found_calls
    return _tidy(rest), calls + trailing


def text_protocol_prompt(specs: list[ToolSpec]) -> str:
    """The system-prompt section that teaches a model without native tool calling to call tools."""
    lines = [
        "# Calling tools",
        "This model has no native tool calling. To call a tool, reply with exactly one block:",
        '<tool_call>{"name": "TOOL", "arguments": {...}}</tool_call>',
        "and nothing after it. The result comes back in a <tool_result> message. When the task is "
        "done, reply with plain text and no block.",
        "Tools and their arguments:",
    ]
    for spec in specs:
        lines.append(f"- {spec.name}: {spec.description} Arguments: {expected_shape(spec)}")
    return "\n".join(lines)


def only_calls(text: str, tools: set[str] | list[str]) -> list[TextCall]:
    """The calls `text` consists of, when it is nothing but tool calls written as text (fenced or bare,
    in any of the shapes `extract_text_calls` reads; one naming a tool that is not offered counts too, so
    the model hears that the tool does not exist rather than having its call taken as its answer).

    This is the one rule for a model that speaks native tools: a reply that is only a call is a call by
    intent and runs (servers often fail to parse a small model's calls), while prose that quotes a call is
    text and never runs. Empty when `text` holds anything else."""
    names = set(tools)
    visible, calls = extract_text_calls(text, names)
    if calls and not visible.strip():
        return calls
    body = _strip_fence(text.strip()).strip()
    if not (body.startswith("{") and body.endswith("}")):
        return []
    try:
        value = repair_json(body)
    except ValueError:
        return []
    # An unknown tool's call has the call's shape and nothing else: {"name": ..., "arguments": {...}}.
    # Any other object (an answer in JSON, --output-schema's) is an answer, even with a "name" in it.
    if not isinstance(value, dict) or len(value) != 2 or not any(k in value for k in NAME_KEYS) \
            or not any(isinstance(value.get(k), dict) for k in ARGUMENT_KEYS):
        return []
    call = _block_call(body, names, always=True)
    return [call] if call is not None else []
