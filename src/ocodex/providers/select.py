"""The wire adapter for a provider: the one place that maps `wire_api` to a `Provider`.

A new wire format is one branch here (its module imported only when used). Getting a provider's model
ready (an Ollama pull, an in-process llama.cpp server) is `ocodex.thread.assembly`'s `SERVERS` table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocodex.errors import ConfigError

if TYPE_CHECKING:
    from ocodex.config import ProviderConfig
    from ocodex.net.transport import Transport
    from ocodex.protocol import Provider


def make_provider(provider: ProviderConfig, base_url: str, transport: Transport) -> Provider:
    """The streaming adapter for `provider` at `base_url`, sharing `transport`'s connection pool."""
    if provider.wire_api == "chat":
        from ocodex.providers.chat import ChatCompletionsProvider

        return ChatCompletionsProvider(base_url, transport, provider_id=provider.id)
    if provider.wire_api == "responses":
        from ocodex.providers.responses import ResponsesProvider

        return ResponsesProvider(base_url, transport, provider_id=provider.id)
    raise ConfigError(f"provider '{provider.id}' uses wire_api = \"{provider.wire_api}\", which this "
                      "version of ocodex cannot speak yet; set wire_api = \"chat\" for an OpenAI-compatible "
                      "/v1 server")
