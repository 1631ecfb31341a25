"""Assembling what a thread runs on from settings: connection, server readiness, model, tools, prompt, agent.

For the `oss` provider this runs Ollama's readiness sequence first: probe the server, choose the model
(flag, config, or the RAM rule), pull it when missing, read its capabilities and size its context
window. What it finds is said in events (`SessionConfigured`, warnings as typed kinds, pull progress),
never printed here.

Hooks:
- a `ModelServer` is how a thread reaches its model: `connect(settings, emit)` returns the provider
  and what was chosen. The default, `HttpServers`, connects over HTTP and looks up `SERVERS`, which
  maps a provider id to how its model is made ready (`oss`: Ollama's sequence; anything else: the
  configured model as is); a new local provider (e.g. an in-process llama.cpp server) is one entry
  there, and the wire adapter is `ocodex.providers.select.make_provider`. The embedded provider
  (`ocodex.thread.embedded`) is its own `ModelServer`: it starts llama.cpp in this process first
  (`default_server` picks it). `ocodex.testing.scripted` is another `ModelServer`, with no HTTP at all.
- the tools come from `ocodex.tools.select.select_tools` (per model and approval policy), with the
  thread's extra tools added: those given to `Thread.open(extra_tools=...)`, and its MCP servers' tools
  (`ocodex.mcp.toolset`), offered once the model's context window is known (their schema budget is a
  quarter of it). The servers themselves belong to the thread: `start_mcp` starts them before the
  model server is probed, so both happen at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ocodex import offmain
from ocodex.agent.loop import Agent, AgentOptions
from ocodex.agent.prompt import opening_messages, system_message
from ocodex.approval import ApprovalGate, ApprovalRequest, Verdict
from ocodex.config import ProviderConfig, Settings
from ocodex.config.endpoints import base_url_for
from ocodex.config.settings import EMBEDDED_PROVIDER_ID
from ocodex.errors import ConfigError, OcodexError
from ocodex.events import (
    ContextSized,
    EffortIgnored,
    EmbeddedAssembling,
    EmbeddedLoading,
    Event,
    ItemIds,
    ProjectDocTruncated,
    PullStarted,
    SessionConfigured,
    TextToolMode,
    WrongEndpoint,
)
from ocodex.net.connection import Connection
from ocodex.profile import profile_for
from ocodex.protocol import Provider, ServerModel
from ocodex.sandbox import SandboxPolicy
from ocodex.tools.base import Tool, ToolContext
from ocodex.tools.select import select_tools

if TYPE_CHECKING:
    from ocodex.mcp.toolset import McpServers
    from ocodex.ollama.client import OllamaClient
    from ocodex.ollama.ready import Validation

# Sampling defaults when neither config nor the model's Modelfile says: Ollama's /v1 would otherwise
# force 1.0 for both. gpt-oss is trained for 1.0; others get Ollama's own built-in defaults.
GPT_OSS_SAMPLING = (1.0, 1.0)
OLLAMA_SAMPLING = (0.8, 0.9)

Emit = Callable[[Event], None]
Ask = Callable[[ApprovalRequest], Verdict]  # `ApprovalGate.decide`


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """The model a thread talks to, and what its server says about it."""

    model: str
    reason: str
    capabilities: tuple[str, ...] | None = None  # from /api/show; None when unknown (non-Ollama providers)
    sampling: tuple[float | None, float | None] = (None, None)
    context_window: int | None = None  # effective, in tokens; None: unknown
    context: ContextSized | None = None  # how the window was learned (Ollama)
    server_version: str | None = None
    family: str | None = None  # from /api/show (`qwen2`, `gptoss`); None when unknown
    parameter_size: str | None = None  # from /api/show (`1.5B`); None when unknown
    validation: Validation | None = None  # a warm run's check of the cached probes (ocodex.ollama.ready)


@dataclass(frozen=True, slots=True)
class Connected:
    """A model ready for requests: its provider (the wire adapter), what was chosen, and where it runs."""

    provider: Provider
    choice: ModelChoice
    server: str  # the base URL as shown to people (no credentials)
    source: str  # how it was chosen
    closer: Callable[[], None] | None = None  # ends the connection (the provider's own close comes first)
    catalog: Callable[[], list[ServerModel]] | None = None  # the server's models; None: it cannot list them

    def close(self) -> None:
        try:
            self.provider.close()
        finally:
            if self.closer is not None:
                self.closer()


class ModelServer(Protocol):
    """How a thread reaches its model."""

    def connect(self, settings: Settings, emit: Emit, ask: Ask | None = None) -> Connected:
        """The model made ready. `ask` is the thread's approval gate, for what the server must ask first (a
        large pull)."""
        ...


@dataclass(slots=True)
class Assembly:
    """Everything one model of a thread runs on; `close()` ends its connections."""

    agent: Agent
    connected: Connected
    provider_id: str
    configured: SessionConfigured

    @property
    def choice(self) -> ModelChoice:
        return self.connected.choice

    @property
    def model(self) -> str:
        return self.connected.choice.model

    def close(self) -> None:
        self.connected.close()


def sandbox_policy(settings: Settings, cwd: Path) -> SandboxPolicy:
    """The sandbox `settings` ask for, in `cwd`."""
    return SandboxPolicy(
        mode=settings.sandbox_mode, cwd=cwd,  # type: ignore[arg-type]
        writable_roots=[Path(p).expanduser() for p in settings.sandbox_workspace_write.writable_roots],
        network_access=settings.sandbox_workspace_write.network_access,
        allow_unix_sockets=[Path(p).expanduser() for p in settings.sandbox_workspace_write.allow_unix_sockets],
        include_tmp=not settings.sandbox_workspace_write.exclude_slash_tmp,
        include_tmpdir=not settings.sandbox_workspace_write.exclude_tmpdir_env_var,
        limits=settings.sandbox_limits)


def _connect(settings: Settings, provider: ProviderConfig, emit: Emit) -> tuple[Connection, str]:
    """The provider's connection (TLS, auth, failover), after its warnings are shown."""
    from ocodex.net.connection import connect

    url, source = base_url_for(provider, os.environ)
    warn = settings.oss.warn_plain_http if provider.id == "oss" else True
    connection = connect(provider, url, os.environ, warn_plain_http=warn, notify=emit,
                         log_requests=settings.log_requests)
    for warning in connection.warnings:
        emit(warning)
    if provider.env_key and not os.environ.get(provider.env_key, "").strip() and provider.id != "oss":
        raise ConfigError(f"provider '{provider.id}' needs an API key in the environment variable "
                          f"{provider.env_key}, which is not set",
                          hint=provider.env_key_instructions or f"export {provider.env_key}=... and run again")
    # Build the HTTP client now, so a bad ca_cert or SSL_CERT_FILE is reported before anything else.
    connection.transport.client()
    return connection, source


def _ready_oss(settings: Settings, connection: Connection, emit: Emit, ask: Ask | None = None) -> ModelChoice:
    """Ollama's readiness: probe, version, the model (pulled if missing), its details and window; on a warm run
    what the probes found last time, checked by one request in the background (`ocodex.ollama.ready`)."""
    from ocodex.config import ocodex_home
    from ocodex.ollama.client import OllamaClient
    from ocodex.ollama.memory import oss_model
    from ocodex.ollama.ready import get_ready
    from ocodex.ollama.urls import endpoint_hint, server_root

    base_url = connection.base_url
    wrong_endpoint = endpoint_hint(base_url)
    if wrong_endpoint:
        emit(WrongEndpoint(base_url))
    pick = oss_model(settings)
    reason = pick.reason if pick.configured else f"default for --oss: {pick.reason}; choose another with -m"
    # The client shares the transport's connection pool with the model requests; the assembly closes it.
    client = OllamaClient(server_root(base_url), connection.transport, base_url=base_url)
    if wrong_endpoint and _answers_404(client):  # nothing is pulled for model requests that would 404
        raise ConfigError(f"the base URL {base_url} has no model API: GET {base_url.rstrip('/')}/models answered "
                          "404, so every model request would fail; nothing was pulled", hint=wrong_endpoint)
    readiness = get_ready(client=client, home=ocodex_home(os.environ), model=pick.model,
                          requested=settings.model_context_window, auto_pull=settings.oss.auto_pull, emit=emit,
                          use_cache=not wrong_endpoint, default=not pick.configured, ask=ask)
    ready, plan = readiness.ready, readiness.plan
    details = ready.details
    gpt_oss = "gpt-oss" in ready.model.lower()
    if details is not None:
        default = GPT_OSS_SAMPLING if gpt_oss or details.family == "gptoss" else OLLAMA_SAMPLING
        sampling = (details.temperature if details.temperature is not None else default[0],
                    details.top_p if details.top_p is not None else default[1])
        capabilities: tuple[str, ...] | None = tuple(details.capabilities)
    else:
        sampling, capabilities = (GPT_OSS_SAMPLING if gpt_oss else OLLAMA_SAMPLING), None
    return ModelChoice(plan.model, reason, capabilities, sampling, plan.window, plan.sized, ready.version,
                       details.family if details is not None else None,
                       details.parameter_size if details is not None else None, validation=readiness.validation)


def _answers_404(client: OllamaClient) -> bool:
    """Whether the base URL's `/models` is missing (an unreachable server is the probe's to report)."""
    from ocodex.errors import OcodexError

    try:
        return client.base_url_status() == 404
    except OcodexError:
        return False


def _ready_configured(settings: Settings, connection: Connection, emit: Emit, ask: Ask | None = None) -> ModelChoice:
    """Any other server: the model named by -m or config, as is."""
    assert settings.model is not None
    source = settings.describe_source("model")
    reason = "from -m" if source == "command line" else f"from {source}"
    return ModelChoice(settings.model, reason, context_window=settings.model_context_window)


SERVERS: dict[str, Callable[[Settings, Connection, Emit, Ask | None], ModelChoice]] = {"oss": _ready_oss}
"""How a provider's model is made ready, by provider id; others use the configured model as is."""


class HttpServers:
    """The default `ModelServer`: the selected provider's server over HTTP (TLS, auth, failover)."""

    def connect(self, settings: Settings, emit: Emit, ask: Ask | None = None) -> Connected:
        provider_config = settings.provider()
        if provider_config.id not in SERVERS and not settings.model:
            raise ConfigError(f"no model chosen for provider '{provider_config.id}'; pass -m MODEL")
        connection, source = _connect(settings, provider_config, emit)
        transport = connection.transport
        try:
            choice = SERVERS.get(provider_config.id, _ready_configured)(settings, connection, emit, ask)
            from ocodex.providers.select import make_provider

            provider = make_provider(provider_config, connection.base_url, transport)
            if choice.validation is not None:  # a warm run: a server gone is said as the probe says it
                provider = choice.validation.guard(provider)
        except BaseException:
            transport.close()
            raise
        catalog = _ollama_catalog(connection) if provider_config.id in SERVERS else None
        return Connected(provider, choice, connection.base_url, source, transport.close, catalog)


def _ollama_catalog(connection: Connection) -> Callable[[], list[ServerModel]]:
    """The Ollama server's models, asked over the thread's connection when a face wants them (`/model`)."""

    def catalog() -> list[ServerModel]:
        from ocodex.ollama.catalog import list_models
        from ocodex.ollama.client import OllamaClient
        from ocodex.ollama.urls import server_root

        client = OllamaClient(server_root(connection.base_url), connection.transport, base_url=connection.base_url)
        return [ServerModel(entry.name, entry.size, entry.parameter_size, entry.context_length,
                            tuple(entry.capabilities) if entry.capabilities else None)
                for entry in list_models(client)]

    return catalog


def default_server(settings: Settings) -> ModelServer:
    """How `settings`' provider is reached: the embedded provider in this process, any other over HTTP."""
    if settings.model_provider == EMBEDDED_PROVIDER_ID:
        from ocodex.thread.embedded import EmbeddedServer

        return EmbeddedServer()
    return HttpServers()


SHARED_WITH_MCP = ("httpcore", "concurrent.futures.thread")
"""What this thread's own code imports that the MCP SDK imports too, on the servers' loop thread while this one
goes on (httpcore's certifi, importlib.resources and anyio; the probes' thread pool's queue). They are imported
here, before that thread starts: on Python < 3.15 two threads importing one package at once can fail with
_DeadlockError (CPython gh-83065). tests/test_mcp_imports.py keeps the list complete."""


def start_mcp(settings: Settings) -> McpServers | None:
    """Start the configured MCP servers in the background (None, and no SDK import, when none is enabled)."""
    if not any(server.enabled for server in settings.mcp_servers.values()):
        return None
    import importlib

    from ocodex.mcp.toolset import start_servers

    for name in SHARED_WITH_MCP:  # this thread imports them soon anyway
        importlib.import_module(name)

    return start_servers(settings.mcp_servers)


def assemble(settings: Settings, *, cwd: Path, home: Path, emit: Emit, ids: ItemIds, approvals: ApprovalGate,
             extra_tools: Sequence[Tool] = (), wrap: Callable[[Provider], Provider] | None = None,
             server: ModelServer | None = None, mcp: McpServers | None = None) -> Assembly:
    """Connect, make the model ready and build the agent. `wrap` decorates the provider (e.g. to send
    --output-schema's response format); `ids` and `approvals` are the thread's, shared by every model;
    `server` is how the model is reached (default: `HttpServers`); `mcp` the thread's MCP servers, whose
    tools this model is offered (or refused, over the schema budget)."""
    provider_config = settings.provider()
    policy = sandbox_policy(settings, cwd)
    # The sandbox probe (a confined command that must show no capabilities) runs while the server is asked:
    # it waits on a process, the connection on the network. Its failure is reported first, as if it ran first,
    # and nothing heavy (a pull, the embedded model's assembly or start) begins before it is known.
    probe = _InBackground(_probe_sandbox, policy, home)

    def connecting(event: Event) -> None:
        if isinstance(event, PullStarted | EmbeddedAssembling | EmbeddedLoading):
            probe.result()
        emit(event)

    try:
        connected = (server or default_server(settings)).connect(settings, connecting, approvals.decide)
    except OcodexError:
        probe.result()  # (Ctrl-C and exits go on as they are)
        raise
    choice = connected.choice
    try:
        probe.result()
        offer = None
        if mcp is not None:
            vision = choice.capabilities is not None and "vision" in choice.capabilities
            offer = mcp.offer(emit=emit, context_window=choice.context_window, vision=vision, model=choice.model)
        profile = profile_for(choice.model, family=choice.family, parameter_size=choice.parameter_size,
                              capabilities=choice.capabilities, edit_format=settings.edit_format)
        tool_set = select_tools(choice.model, approval_policy=settings.approval_policy, profile=profile,
                                extra=[*extra_tools, *(offer.tools if offer is not None else ())])
        lacks_tools = choice.capabilities is not None and "tools" not in choice.capabilities
        text_tools = lacks_tools or profile.text_tools
        effort = settings.model_reasoning_effort
        configured = SessionConfigured(
            provider=provider_config.id, server=connected.server, server_source=connected.source,
            server_version=choice.server_version, model=choice.model, model_reason=choice.reason,
            context=choice.context, context_window=choice.context_window, sandbox=policy.mode,
            approval=settings.approval_policy, edit_format=tool_set.edit_format, reasoning_effort=effort,
            cwd=str(cwd), capabilities=choice.capabilities)
        emit(configured)
        if offer is not None and offer.cost is not None:
            emit(offer.cost)
        if lacks_tools and not profile.small:  # a small model's text protocol is its profile's choice
            emit(TextToolMode(choice.model, "capabilities"))
        if effort and choice.capabilities is not None and "thinking" not in choice.capabilities:
            emit(EffortIgnored(effort, choice.model))
            effort = None

        temperature = settings.temperature if settings.temperature is not None else choice.sampling[0]
        top_p = settings.top_p if settings.top_p is not None else choice.sampling[1]
        provider = connected.provider
        if wrap is not None:
            provider = wrap(provider)
        messages, agents_md = opening_messages(
            cwd=cwd, home=home, policy=policy, tools=tool_set.registry.specs(), text_tools=text_tools, profile=profile,
            doc_max_bytes=settings.project_doc_max_bytes, doc_fallbacks=settings.project_doc_fallback_filenames)
        if agents_md is not None and agents_md.truncated:
            emit(ProjectDocTruncated(settings.project_doc_max_bytes))
        output_limit = settings.tool_output_token_limit * 4
        if choice.context_window is not None:  # one tool output may use at most a quarter of the window
            output_limit = min(output_limit, choice.context_window)
        env_for = _env_for(settings, home)
        ctx = ToolContext(cwd=cwd, policy=policy, emit=emit, ids=ids, output_limit_bytes=output_limit,
                          env=env_for(policy), env_for=env_for, approvals=approvals,
                          max_timeout_ms=settings.tool_timeout_max_ms)
        options = AgentOptions(model=choice.model, temperature=temperature, top_p=top_p, reasoning_effort=effort,
                               request_max_retries=provider_config.request_max_retries,
                               stream_max_retries=provider_config.stream_max_retries,
                               hide_reasoning=settings.hide_agent_reasoning, text_tools=text_tools,
                               context_window=choice.context_window,
                               auto_compact_limit=settings.model_auto_compact_token_limit, profile=profile,
                               text_tools_system=None if text_tools else system_message(
                                   policy, tool_set.registry.specs(), text_tools=True, profile=profile))
        agent = Agent(provider=provider, tools=tool_set.registry, ctx=ctx, options=options, messages=messages,
                      emit=emit)
    except BaseException:
        connected.close()
        raise
    return Assembly(agent, connected, provider_config.id, configured)


def _probe_sandbox(policy: SandboxPolicy, home: Path) -> None:
    """`check_available`, unless a probe with the same fingerprint passed here lately
    (`ocodex.sandbox.verified`); imported in the probe's own thread, so the runner, bubblewrap's argv and the
    seccomp compiler load there while the main thread asks the server."""
    from ocodex.sandbox.verified import VerifiedSandboxes, fingerprint

    print_ = fingerprint(policy)
    verified = VerifiedSandboxes(home)
    if print_ is not None and verified.known(print_):
        return
    from ocodex.sandbox.run import check_available

    check_available(policy)
    if print_ is not None:
        verified.remember(print_)


class _InBackground:
    """`function(*args)` run in a thread from now on; `result()` waits for it and raises what it raised."""

    def __init__(self, function: Callable[..., object], *args: object) -> None:
        self._error: BaseException | None = None

        def run() -> None:
            try:
                function(*args)
            except BaseException as exc:  # handed to result(), in the caller's thread
                self._error = exc

        self._thread = threading.Thread(target=run, name="ocodex-sandbox-probe", daemon=True)
        offmain.start(self._thread)

    def result(self) -> None:
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error


def _env_for(settings: Settings, home: Path) -> Callable[[SandboxPolicy], dict[str, str]]:
    """The tools' environment for a sandbox policy (`ocodex.tools.env.tool_env`, the one place it is built)."""
    from ocodex.tools.env import tool_env

    # The variables holding MCP servers' credentials (bearer_token_env_var, env_http_headers) are hidden too.
    mcp_credentials = {var for server in settings.mcp_servers.values() for var in server.credential_vars()}

    def env_for(policy: SandboxPolicy) -> dict[str, str]:
        return tool_env(policy=policy, providers=settings.model_providers.values(), filters=settings.project_filters,
                        home=home, hidden=mcp_credentials)

    return env_for
