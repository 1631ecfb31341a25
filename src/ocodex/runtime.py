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
from ocodex.errors import ConfigError, OcodexError
from ocodex.events import Event, ItemIds, Notice
from ocodex.http import Transport
from ocodex.ids import uuid7
from ocodex.providers.base import Provider
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


@dataclass(slots=True)
class Runtime:
    thread_id: str
    agent: Agent
    provider: Provider
    transport: Transport
    model: str

    def close(self) -> None:
        self.provider.close()
        self.transport.close()


def transport_for(provider: ProviderConfig, env: dict[str, str] | os._Environ[str]) -> Transport:
    verify: bool | str = provider.ca_cert or provider.verify_tls
    return Transport(headers=provider.resolved_headers(env), query_params=dict(provider.query_params),
                     verify=verify, read_timeout=provider.stream_idle_timeout_ms / 1000)


def _plain_http_only(base_url: str) -> bool:
    """True when no TLS can be involved: an http:// URL and no proxy that might be https."""
    proxies = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")
    return base_url.startswith("http://") and not any(os.environ.get(name) for name in proxies)


def _model_source(settings: Settings) -> str:
    source = settings.describe_source("model")
    return "from -m" if source == "command line" else f"from {source}"


def _prepare_oss(settings: Settings, provider: ProviderConfig, transport: Transport,
                 emit: Callable[[Event], None]) -> tuple[str, ModelChoice]:
    from ocodex.ollama.bootstrap import prepare_oss
    from ocodex.ollama.client import OllamaClient
    from ocodex.ollama.memory import choose_default_model, host_memory_bytes
    from ocodex.ollama.urls import endpoint_hint, oss_base_url, server_root
    from ocodex.render.progress import make_pull_display

    if provider.base_url:
        base_url, source = provider.base_url, "model_providers.oss.base_url"
    else:
        base_url, source = oss_base_url(os.environ)
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
    transport.plain_http_only = _plain_http_only(base_url)
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
    return base_url, choice


def _make_provider(provider: ProviderConfig, base_url: str, transport: Transport) -> Provider:
    if provider.wire_api == "chat":
        from ocodex.providers.chat import ChatCompletionsProvider

        return ChatCompletionsProvider(base_url, transport)
    raise ConfigError(f"provider '{provider.id}' uses wire_api = \"{provider.wire_api}\", which this "
                      "version of ocodex cannot speak yet; set wire_api = \"chat\" for an OpenAI-compatible "
                      "/v1 server")


def prepare_runtime(*, settings: Settings, cwd: Path, home: Path, emit: Callable[[Event], None],
                    thread_id: str | None = None) -> Runtime:
    provider_config = settings.provider()
    policy = SandboxPolicy(
        mode=settings.sandbox_mode, cwd=cwd,  # type: ignore[arg-type]
        writable_roots=[Path(p).expanduser() for p in settings.sandbox_workspace_write.writable_roots],
        network_access=settings.sandbox_workspace_write.network_access)
    check_available(policy)

    transport = transport_for(provider_config, os.environ)
    if provider_config.id == "oss":
        base_url, choice = _prepare_oss(settings, provider_config, transport, emit)
    else:
        if not provider_config.base_url:
            raise ConfigError(f"provider '{provider_config.id}' has no base_url; set "
                              f"model_providers.{provider_config.id}.base_url in config.toml")
        if not settings.model:
            raise ConfigError(f"no model chosen for provider '{provider_config.id}'; pass -m MODEL")
        base_url, choice = provider_config.base_url, ModelChoice(settings.model, _model_source(settings))
        transport.plain_http_only = _plain_http_only(base_url)
        emit(Notice(f"provider: {provider_config.id} at {base_url}"))
        emit(Notice(f"model: {choice.model} ({choice.reason})"))

    if choice.capabilities is not None and "tools" not in choice.capabilities:
        raise OcodexError(f"model '{choice.model}' cannot call tools, which ocodex needs to read and edit code",
                          hint="choose a model with the tools capability, e.g. -m gpt-oss:20b or -m qwen3:8b "
                               "(`ollama show MODEL` lists capabilities)")
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
    messages = initial_messages(
        system=system_prompt(policy.describe()), agents_md=agents_md,
        environment=environment_context(cwd, sandbox_mode=policy.mode,
                                        network_access=policy.network_enabled,
                                        writable_roots=writable))
    ctx = ToolContext(cwd=cwd, policy=policy, emit=emit, ids=ItemIds(),
                      output_limit_bytes=settings.tool_output_token_limit * 4)
    options = AgentOptions(model=choice.model, temperature=temperature, top_p=top_p,
                           reasoning_effort=effort,
                           request_max_retries=provider_config.request_max_retries,
                           stream_max_retries=provider_config.stream_max_retries,
                           hide_reasoning=settings.hide_agent_reasoning)
    agent = Agent(provider=provider, tools=ToolRegistry.default(), ctx=ctx, options=options,
                  messages=messages, emit=emit)
    return Runtime(thread_id or uuid7(), agent, provider, transport, choice.model)
