"""MCP tools as ocodex `Tool`s, and MCP results as what the model reads.

A server's tool `search` on server `docs` reaches the model as `mcp__docs__search` (Codex's name; letters,
digits, `_` and `-` only, at most 64 characters, a short hash keeping long or clashing names apart),
with the server's description and input schema. Each tool tells the registry's approval gate what a
call would do (`approval_request`, by the tool's `approval_mode`; the thread's policy decides); a call
the gate stops is a failed item naming the setting that lets it run. A call that goes ahead emits the
Codex `mcp_tool_call` item (`item.started`, then `item.completed` as a new value), runs through the
manager, and its result becomes text for the model: text blocks as they are, embedded text resources
with their URI, images as image content when the model has vision (a one-line summary otherwise), and
audio, binary resources and links summarised in one line each. Structured content is shown as JSON
only when the result has no text. The text is cut head + tail to the run's tool-output limit; the
item keeps the whole result.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ocodex.approval import ApprovalRequest, McpToolRequest
from ocodex.events import ItemCompleted, ItemStarted, McpToolCall
from ocodex.mcp.config import McpServerConfig
from ocodex.tools.base import Tool, ToolContext, ToolResult
from ocodex.tools.truncate import truncate_middle

if TYPE_CHECKING:
    from ocodex.mcp.client import CallOutcome, ServerTool
    from ocodex.mcp.manager import McpManager, ServerStatus

PREFIX = "mcp__"
MAX_NAME = 64  # OpenAI-compatible function names: ^[a-zA-Z0-9_-]{1,64}$
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_IMAGE_TYPES = {"image/png", "image/jpeg", "image/webp"}  # what Ollama's /v1 accepts as data URLs
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))


def qualified_name(server: str, tool: str) -> str:
    """`mcp__SERVER__TOOL`, made a valid function name."""
    name = _UNSAFE.sub("_", f"{PREFIX}{server}__{tool}")
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"{name[:MAX_NAME - 9]}_{digest}"


def model_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The server's input schema as the model gets it: an object schema, without `$schema` (bytes that
    buy nothing in a small window)."""
    out = {k: v for k, v in schema.items() if k != "$schema"} if isinstance(schema, dict) else {}
    out["type"] = "object"
    if not isinstance(out.get("properties"), dict):
        out["properties"] = {}
    return out


def _kib(size: int) -> str:
    return f"{size / 1024:.1f} KiB" if size >= 1024 else f"{size} bytes"


def _decoded_size(data: str) -> int:
    """Bytes in base64 `data` (without decoding it)."""
    data = data.strip()
    return max(len(data) * 3 // 4 - len(data) + len(data.rstrip("=")), 0)


def _image_url(block: dict[str, Any]) -> str | None:
    """A data URL for an image block whose bytes really are PNG, JPEG or WebP; None otherwise."""
    data = block.get("data")
    if not isinstance(data, str):
        return None
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
    mime = next((m for signature, m in _SIGNATURES if raw.startswith(signature)), None)
    if mime is None and raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        mime = "image/webp"
    return f"data:{mime};base64,{data}" if mime in _IMAGE_TYPES else None


@dataclass(slots=True)
class ModelView:
    """A result as the model reads it: text, and images to attach when the model has vision."""

    text: str
    images: list[str] = field(default_factory=list)


def render_for_model(outcome: CallOutcome, *, vision: bool, model: str = "the model") -> ModelView:
    """What the model reads for one call's outcome (see the module docstring)."""
    if outcome.error is not None:
        return ModelView(f"error: {outcome.error}")
    parts: list[str] = []
    images: list[str] = []
    for block in outcome.content:
        kind = block.get("type")
        if kind == "text":
            parts.append(str(block.get("text", "")))
        elif kind == "image":
            mime = str(block.get("mimeType", "image"))
            size = _kib(_decoded_size(str(block.get("data", ""))))
            url = _image_url(block) if vision else None
            if url is not None:
                images.append(url)
                parts.append(f"[image {len(images)}: {mime}, {size}, attached below]")
            elif vision:
                parts.append(f"[image: {mime}, {size}; not attached: only PNG, JPEG and WebP images can be]")
            else:
                parts.append(f"[image: {mime}, {size}; not shown: {model} has no vision]")
        elif kind == "audio":
            parts.append(f"[audio: {block.get('mimeType', 'audio')}, "
                         f"{_kib(_decoded_size(str(block.get('data', ''))))}; not shown]")
        elif kind == "resource":
            resource = block.get("resource") or {}
            uri = resource.get("uri", "")
            if isinstance(resource.get("text"), str):
                parts.append(f"[resource {uri}]\n{resource['text']}")
            else:
                size = _kib(_decoded_size(str(resource.get("blob", ""))))
                parts.append(f"[resource {uri}: {resource.get('mimeType', 'binary')}, {size}; not shown]")
        elif kind == "resource_link":
            label = block.get("name") or block.get("title") or ""
            mime = f" ({block['mimeType']})" if block.get("mimeType") else ""
            parts.append(f"[resource link: {label} {block.get('uri', '')}{mime}]".replace("  ", " "))
        else:
            parts.append(f"[{kind or 'unknown'} content; not shown]")
    has_text = any(block.get("type") == "text" for block in outcome.content)
    if outcome.structured_content is not None and not has_text:
        parts.append(json.dumps(outcome.structured_content, ensure_ascii=False))
    text = "\n".join(parts) if parts else "(the tool returned no content)"
    if outcome.is_error:
        text = f"error: {text}"
    return ModelView(text, images)


@dataclass(frozen=True, slots=True)
class Definition:
    """One server tool as the model would see it."""

    tool: ServerTool
    name: str
    description: str
    parameters: dict[str, Any]
    offered: bool  # allowed by enabled_tools / disabled_tools

    def tokens(self) -> int:
        """Prompt tokens this definition costs on every request (bytes / 4 of its JSON)."""
        return spec_tokens([self])


def spec_tokens(definitions: list[Definition]) -> int:
    """Prompt tokens these definitions cost on every request, sent together (bytes / 4 of their JSON, as the
    agent's budget counts the tools it sends)."""
    from ocodex.protocol import ToolSpec

    if not definitions:
        return 0
    specs = [ToolSpec(d.name, d.description, d.parameters).to_chat() for d in definitions]
    return -(-len(json.dumps(specs, ensure_ascii=False).encode("utf-8")) // 4)


def definitions(status: ServerStatus, taken: set[str] | None = None) -> list[Definition]:
    """The model-facing definitions of a started server's tools; names in `taken` are avoided."""
    taken = set() if taken is None else taken
    out = []
    for tool in status.tools:
        name = qualified_name(status.config.name, tool.name)
        if name in taken:  # two names that sanitise alike: keep them apart
            digest = hashlib.sha1(tool.name.encode("utf-8")).hexdigest()[:6]
            name = qualified_name(status.config.name, f"{tool.name}_{digest}")
        taken.add(name)
        description = tool.description.strip() or f"Tool '{tool.name}' of MCP server '{status.config.name}'."
        out.append(Definition(tool, name, description, model_schema(tool.input_schema),
                              status.config.allows(tool.name)))
    return out


def approval_request(config: McpServerConfig, tool: str, args: dict[str, Any]) -> McpToolRequest | None:
    """What a call asks the thread's approval gate: nothing for a tool whose `approval_mode` is `approve`
    (`[mcp_servers.X.tools.T]`, else the server's `default_tools_approval_mode`), an `McpToolRequest` the
    policy decides on for `auto`, and one asked under every policy for `prompt` (see `ocodex.approval`)."""
    mode = config.approval_mode(tool)
    if mode == "approve":
        return None
    return McpToolRequest(config.name, tool, args, prompt=mode == "prompt")


def declined_error(config: McpServerConfig, tool: str) -> str:
    """The failed item's error for a call the gate stopped, naming the setting that lets the tool run."""
    key = (f"mcp_servers.{config.name}.tools.{tool}.approval_mode" if tool in config.tool_approval_modes
           else f"mcp_servers.{config.name}.default_tools_approval_mode")
    return f"the call was not approved; to let it run without asking, set {key} = \"approve\""


@dataclass(slots=True)
class McpTools:
    """The tools of the started servers, and what their handlers share."""

    manager: McpManager
    configs: dict[str, McpServerConfig] = field(default_factory=dict)
    vision: bool = False
    model: str = "the model"
    targets: dict[str, tuple[str, ServerTool]] = field(default_factory=dict)  # name -> (server, tool)

    def build(self, statuses: list[ServerStatus]) -> list[Tool]:
        """One `Tool` per allowed tool of every started server, each gated by its approval mode."""
        tools: list[Tool] = []
        for status in statuses:
            self.configs[status.config.name] = status.config
            for definition in definitions(status, taken=set(self.targets)):
                if not definition.offered:
                    continue
                self.targets[definition.name] = (status.config.name, definition.tool)
                tools.append(Tool(definition.name, definition.description, definition.parameters,
                                  self._handler(definition.name), approval=self._approval(definition.name),
                                  declined=self._declined(definition.name)))
        return tools

    def _handler(self, name: str) -> Callable[[dict[str, Any], ToolContext], ToolResult]:
        def handle(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
            return self.run(name, args, ctx)

        return handle

    def _approval(self, name: str) -> Callable[[dict[str, Any], ToolContext], McpToolRequest | None]:
        server, tool = self.targets[name]

        def describe(args: dict[str, Any], ctx: ToolContext) -> McpToolRequest | None:
            return approval_request(self.configs[server], tool.name, args)

        return describe

    def _declined(self, name: str) -> Callable[[ApprovalRequest, ToolContext], None]:
        server, tool = self.targets[name]

        def declined(request: ApprovalRequest, ctx: ToolContext) -> None:
            if isinstance(request, McpToolRequest):
                ctx.emit(ItemCompleted(McpToolCall(ctx.ids.next(), server, tool.name, request.arguments,
                                                   error=declined_error(self.configs[server], tool.name),
                                                   status="failed")))

        return declined

    def run(self, name: str, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """One call the gate let through: `item.started`, the call, `item.completed` (failed or not)."""
        server, tool = self.targets[name]
        item_id = ctx.ids.next()
        ctx.emit(ItemStarted(McpToolCall(item_id, server, tool.name, args)))
        try:
            return self._run(item_id, server, tool, args, ctx)
        except Exception as exc:  # a bug of ours or the SDK's: an error result, never a traceback
            from ocodex.mcp.safe import one_line

            error = one_line(f"the MCP tool call failed: {type(exc).__name__}: {exc}")
            ctx.emit(ItemCompleted(McpToolCall(item_id, server, tool.name, args, error=error, status="failed")))
            return ToolResult(f"error: {error}", success=False)

    def _run(self, item_id: str, server: str, tool: ServerTool, args: dict[str, Any], ctx: ToolContext
             ) -> ToolResult:
        outcome = self.manager.call(server, tool.name, args)
        if outcome.error is not None:
            ctx.emit(ItemCompleted(McpToolCall(item_id, server, tool.name, args, error=outcome.error,
                                               status="failed")))
        else:
            ctx.emit(ItemCompleted(McpToolCall(
                item_id, server, tool.name, args,
                result={"content": outcome.content, "structured_content": outcome.structured_content},
                status="failed" if outcome.is_error else "completed")))
        view = render_for_model(outcome, vision=self.vision, model=self.model)
        text = truncate_middle(view.text, ctx.output_limit_bytes)
        return ToolResult(text, success=outcome.error is None and not outcome.is_error, images=view.images)
