"""The one streaming interface every provider implements, and the model events it yields.

The types themselves live in `ocodex.protocol` (shared by the loop, the tools and the providers);
they are re-exported here, where a provider author looks for them.
"""

from __future__ import annotations

from ocodex.protocol import (
    Completed,
    ModelEvent,
    ModelRequest,
    Provider,
    ReasoningDelta,
    TextDelta,
    TokenUsage,
    ToolCall,
    ToolSpec,
)

__all__ = ["Completed", "ModelEvent", "ModelRequest", "Provider", "ReasoningDelta", "TextDelta", "TokenUsage",
           "ToolCall", "ToolSpec"]
