"""Assembling a ready-to-run agent from settings: provider, model, sandbox, tools and prompt.

Shared by every face (exec today, the interactive session next). For the `oss` provider this runs
Ollama's readiness sequence first: probe the server, choose the model (flag, config, or the RAM rule),
pull it when missing, and read its capabilities.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ocodex.agent.loop import Agent, AgentOptions
from ocodex.agent.prompt import environment_context, initial_messages, load_agents_md, system_prompt
from ocodex.config import ProviderConfig, Settings
from ocodex.errors import ConfigError
from ocodex.events import Event, ItemIds, Notice
from ocodex.ids import uuid7
from ocodex.net.connection import Connection
from ocodex.net.transport import Transport
from ocodex.protocol import Provider
from ocodex.sandbox import SandboxPolicy, check_available
from ocodex.tools.base import ToolContext
from ocodex.tools.registry import ToolRegistry

# Sampling defaults when neither config nor the model's Modelfile says: Ollama's /v1 would otherwise
# force 1.0 for both. gpt-oss is trained for 1.0; others get Ollama's own built-in defaults.
GPT_OSS_SAMPLING = (1.0, 1.0)
OLLAMA_SAMPLING = (0.8, 0.9)


@dataclass(slots=True)
class ModelChoice:
    model: str
    reason: str
    capabilities: list[str] | None = None
    sampling: tuple[float | None, float | None] = (None, None)
    context_window: int | None = None  # effective, in tokens; None: unknown


@dataclass(slots=True)
class Runtime:
    thread_id: str
    agent: Agent
    provider: Provider
    transport: Transport
    model: str
    capabilities: list[str] | None = None  # from /api/show; None when unknown (non-Ollama providers)
    provider_id: str = "oss"

    def close(self) -> None:
        self.provider.close()
        self.transport.close()


def _primary_url(provider: ProviderConfig) -> tuple[str, str]:
    """(primary base URL, where it came from). For oss: its base_url, else CODEX_OSS_BASE_URL/PORT."""
    if provider.base_url:
        return provider.base_url, f"model_providers.{provider.id}.base_url"
    if provider.id == "oss":
        from ocodex.ollama.urls import BASE_URL_VAR, oss_base_url

        if provider.base_urls and not os.environ.get(BASE_URL_VAR, "").strip():
            return provider.base_urls[0], "model_providers.oss.base_urls"
        return oss_base_url(os.environ)
    if provider.base_urls:
        return provider.base_urls[0], f"model_providers.{provider.id}.base_urls"
    raise ConfigError(f"provider '{provider.id}' has no base_url; set "
                      f"model_providers.{provider.id}.base_url in config.toml")


def _connect(settings: Settings, provider: ProviderConfig, emit: Callable[[Event], None]) -> tuple[Connection, str]:
    """The provider's connection (TLS, auth, failover), after its warnings are shown."""
    from ocodex.net.connection import connect

    url, source = _primary_url(provider)
    warn = settings.oss.warn_plain_http if provider.id == "oss" else True
    connection = connect(provider, url, os.environ, warn_plain_http=warn,
                         notify=lambda message: emit(Notice(message, "warning")), log_requests=settings.log_requests)
    for warning in connection.warnings:
        emit(Notice(warning, "warning"))
    if provider.env_key and not os.environ.get(provider.env_key, "").strip() and provider.id != "oss":
        raise ConfigError(f"provider '{provider.id}' needs an API key in the environment variable "
                          f"{provider.env_key}, which is not set",
                          hint=provider.env_key_instructions or f"export {provider.env_key}=... and run again")
    # Build the HTTP client now, so a bad ca_cert or SSL_CERT_FILE is reported before anything else.
    connection.transport.client()
    return connection, source


def _model_source(settings: Settings) -> str:
    source = settings.describe_source("model")
    return "from -m" if source == "command line" else f"from {source}"


def _prepare_oss(settings: Settings, provider: ProviderConfig, transport: Transport,
                 emit: Callable[[Event], None], base_url: str, source: str) -> tuple[str, ModelChoice]:
    from ocodex.ollama.bootstrap import prepare_oss
    from ocodex.ollama.client import OllamaClient
    from ocodex.ollama.memory import choose_default_model, host_memory_bytes
    from ocodex.ollama.urls import endpoint_hint, server_root
    from ocodex.render.progress import make_pull_display

    hint = endpoint_hint(base_url)
    if hint:
        emit(Notice(hint, "warning"))
    if settings.model:
        model, reason = settings.model, _model_source(settings)
    else:
        model, reason = choose_default_model(
            host_memory_bytes(), small=settings.oss.small_model, large=settings.oss.large_model,
            threshold_gib=settings.oss.large_model_min_ram_gib)
        reason = f"default for --oss: {reason}; choose another with -m"
    # The client shares the transport's connection pool with the model requests; the runtime closes it.
    client = OllamaClient(server_root(base_url), transport, base_url=base_url)
    ready = prepare_oss(client=client, model=model, auto_pull=settings.oss.auto_pull,
                        notify=lambda message: emit(Notice(message)),
                        progress=make_pull_display(sys.stderr, model=model))
    emit(Notice(f"provider: oss at {base_url} ({source}); Ollama {ready.version or 'version unknown'}"))
    emit(Notice(f"model: {ready.model} ({reason})"))
    details = ready.details
    choice = ModelChoice(ready.model, reason)
    if details is not None:
        choice.capabilities = list(details.capabilities)
        default = GPT_OSS_SAMPLING if "gpt-oss" in ready.model.lower() or details.family == "gptoss" \
            else OLLAMA_SAMPLING
        temperature = getattr(details, "temperature", None)
        top_p = getattr(details, "top_p", None)
        choice.sampling = (temperature if temperature is not None else default[0],
                           top_p if top_p is not None else default[1])
    else:
        choice.sampling = GPT_OSS_SAMPLING if "gpt-oss" in ready.model.lower() else OLLAMA_SAMPLING
    from ocodex.ollama.window import size_context

    plan = size_context(client, ready.model, details, settings.model_context_window)
    emit(Notice(plan.line))
    choice.model, choice.context_window = plan.model, plan.window
    return base_url, choice


def _make_provider(provider: ProviderConfig, base_url: str, transport: Transport) -> Provider:
    if provider.wire_api == "chat":
        from ocodex.providers.chat import ChatCompletionsProvider

        return ChatCompletionsProvider(base_url, transport, provider_id=provider.id)
    if provider.wire_api == "responses":
        from ocodex.providers.responses import ResponsesProvider

        return ResponsesProvider(base_url, transport, provider_id=provider.id)
    raise ConfigError(f"provider '{provider.id}' uses wire_api = \"{provider.wire_api}\", which this "
                      "version of ocodex cannot speak yet; set wire_api = \"chat\" for an OpenAI-compatible "
                      "/v1 server")


def prepare_runtime(*, settings: Settings, cwd: Path, home: Path, emit: Callable[[Event], None],
                    thread_id: str | None = None) -> Runtime:
    provider_config = settings.provider()
    policy = SandboxPolicy(
        mode=settings.sandbox_mode, cwd=cwd,  # type: ignore[arg-type]
        writable_roots=[Path(p).expanduser() for p in settings.sandbox_workspace_write.writable_roots],
        network_access=settings.sandbox_workspace_write.network_access,
        allow_unix_sockets=[Path(p).expanduser() for p in settings.sandbox_workspace_write.allow_unix_sockets],
        include_tmp=not settings.sandbox_workspace_write.exclude_slash_tmp,
        include_tmpdir=not settings.sandbox_workspace_write.exclude_tmpdir_env_var,
        limits=settings.sandbox_limits)
    check_available(policy)

    if provider_config.id != "oss" and not settings.model:
        raise ConfigError(f"no model chosen for provider '{provider_config.id}'; pass -m MODEL")
    connection, source = _connect(settings, provider_config, emit)
    transport = connection.transport
    if provider_config.id == "oss":
        base_url, choice = _prepare_oss(settings, provider_config, transport, emit, connection.base_url, source)
    else:
        base_url, choice = connection.base_url, ModelChoice(settings.model, _model_source(settings))
        choice.context_window = settings.model_context_window
        emit(Notice(f"provider: {provider_config.id} at {base_url}"))
        emit(Notice(f"model: {choice.model} ({choice.reason})"))

    text_tools = choice.capabilities is not None and "tools" not in choice.capabilities
    if text_tools:
        emit(Notice(f"'{choice.model}' has no native tool calling: ocodex describes its tools in the prompt "
                    "and reads calls from the text (less reliable; a model with the tools capability, "
                    "e.g. qwen3:8b or gpt-oss:20b, works better)", "warning"))
    effort = settings.model_reasoning_effort
    if effort and choice.capabilities is not None and "thinking" not in choice.capabilities:
        emit(Notice(f"ignoring model_reasoning_effort={effort}: '{choice.model}' is not a thinking model",
                    "warning"))
        effort = None

    temperature = settings.temperature if settings.temperature is not None else choice.sampling[0]
    top_p = settings.top_p if settings.top_p is not None else choice.sampling[1]
    provider = _make_provider(provider_config, base_url, transport)

    agents_md = load_agents_md(cwd, home, max_bytes=settings.project_doc_max_bytes,
                               fallback_filenames=tuple(settings.project_doc_fallback_filenames))
    if agents_md is not None and agents_md.truncated:
        emit(Notice(f"AGENTS.md files exceed project_doc_max_bytes={settings.project_doc_max_bytes}; "
                    "the rest was cut", "warning"))
    writable = policy.writable() if policy.mode == "workspace-write" else []
    tools = ToolRegistry.default()
    system = system_prompt(policy.describe())
    if text_tools:
        from ocodex.agent.textcalls import text_protocol_prompt

        system = f"{system}\n\n{text_protocol_prompt(tools.specs())}"
    messages = initial_messages(
        system=system, agents_md=agents_md,
        environment=environment_context(cwd, sandbox_mode=policy.mode,
                                        network_access=policy.network_enabled,
                                        writable_roots=writable))
    output_limit = settings.tool_output_token_limit * 4
    if choice.context_window is not None:  # one tool output may use at most a quarter of the window
        output_limit = min(output_limit, choice.context_window)
    from ocodex.tools.env import tool_env

    env = tool_env(policy=policy, providers=settings.model_providers.values(), filters=settings.project_filters,
                   home=home)
    ctx = ToolContext(cwd=cwd, policy=policy, emit=emit, ids=ItemIds(), output_limit_bytes=output_limit,
                      env=env, max_timeout_ms=settings.tool_timeout_max_ms)
    options = AgentOptions(model=choice.model, temperature=temperature, top_p=top_p,
                           reasoning_effort=effort,
                           request_max_retries=provider_config.request_max_retries,
                           stream_max_retries=provider_config.stream_max_retries,
                           hide_reasoning=settings.hide_agent_reasoning, text_tools=text_tools,
                           context_window=choice.context_window,
                           auto_compact_limit=settings.model_auto_compact_token_limit)
    agent = Agent(provider=provider, tools=tools, ctx=ctx, options=options,
                  messages=messages, emit=emit)
    return Runtime(thread_id or uuid7(), agent, provider, transport, choice.model,
                   capabilities=choice.capabilities, provider_id=provider_config.id)
