"""`exec --output-schema FILE`: the JSON Schema the final message must match.

The schema goes to the model as a chat-completions `response_format` of type `json_schema` (named
`codex_output_schema`, strict, as Codex sends it), on every request of the turn but the compaction
request (its answer is a plain-text summary, not the task's answer), and the final message is checked
against it with `jsonschema` (imported only when a schema is given).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ocodex.errors import OcodexError, UsageError
from ocodex.protocol import ModelEvent, ModelRequest, Provider

SCHEMA_NAME = "codex_output_schema"
MAX_SCHEMA_BYTES = 4 * 1024 * 1024


class OutputSchemaMismatch(OcodexError):
    """The final message is not JSON matching --output-schema."""


def load_output_schema(path: Path) -> dict[str, Any]:
    from ocodex.files import NotRegularFile, read_regular

    try:
        data = read_regular(path, MAX_SCHEMA_BYTES + 1)  # a FIFO is refused, not waited on
        if len(data) > MAX_SCHEMA_BYTES:
            raise UsageError(f"--output-schema {path}: larger than {MAX_SCHEMA_BYTES // 1024 // 1024} MiB")
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise UsageError(f"--output-schema {path}: no such file") from None
    except NotRegularFile:
        raise UsageError(f"--output-schema {path}: not a regular file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--output-schema {path}: cannot read it ({exc})") from None
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--output-schema {path}: not valid JSON (line {exc.lineno}, column {exc.colno}: "
                         f"{exc.msg})") from None
    except RecursionError:
        raise UsageError(f"--output-schema {path}: nested too deeply to read") from None
    if not isinstance(schema, dict):
        raise UsageError(f"--output-schema {path}: a JSON Schema must be a JSON object")
    from jsonschema import SchemaError
    from jsonschema.validators import validator_for

    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        raise UsageError(f"--output-schema {path}: not a valid JSON Schema ({exc.message})") from None
    return schema


@dataclass(frozen=True, slots=True)
class OutputSchema:
    """A loaded `--output-schema`: the schema, and where it came from (for messages)."""

    schema: dict[str, Any]
    source: str

    def wrap(self, provider: Provider) -> Provider:
        return WithResponseFormat(provider, response_format(self.schema))

    def check(self, text: str) -> None:
        check_output(text, self.schema, self.source)


def response_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": schema}}


class WithResponseFormat:
    """A provider that sends `response_format` with every request of the one it wraps."""

    def __init__(self, inner: Provider, fmt: dict[str, Any]) -> None:
        self.inner = inner
        self.fmt = fmt

    def stream(self, request: ModelRequest) -> Iterator[ModelEvent]:
        if request.purpose == "compaction":  # its answer is a plain-text summary, not the task's answer
            return self.inner.stream(request)
        return self.inner.stream(replace(request, response_format=self.fmt))

    def close(self) -> None:
        self.inner.close()


def check_output(text: str, schema: dict[str, Any], source: str) -> None:
    """Raise OutputSchemaMismatch unless `text` is JSON that `schema` accepts."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OutputSchemaMismatch(f"the final message is not JSON, so it cannot match --output-schema "
                                   f"{source} ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    from jsonschema import ValidationError
    from jsonschema.validators import validator_for

    validator = validator_for(schema)(schema)
    try:
        validator.validate(value)
    except ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise OutputSchemaMismatch(f"the final message does not match --output-schema {source}: at {where}: "
                                   f"{exc.message}") from None
