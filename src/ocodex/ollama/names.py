"""Ollama model-name rules: how a typed name maps onto the names `/api/tags` lists.

A full name is `{host}/{namespace}/{model}:{tag}` with defaults `registry.ollama.ai`, `library` and
`latest`. A `:` is a tag separator only when it comes after the last `/` (in `localhost:5000/ns/m`
it belongs to the host). The server lists the *shortest display form*: the host is dropped when it
is the default, the namespace too when it is `library`, and the tag is always shown. Comparison is
case-insensitive. This module owns those rules and nothing else; it never talks to a server.
"""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"


def _split_tag(name: str) -> tuple[str, str]:
    """Split `path:tag`, treating a colon as a tag separator only after the last `/`."""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1:]
    return name, ""


def _strip_scheme(name: str) -> str:
    """Drop any leading `http://`/`https://` (and the whitespace around it)."""
    name = name.strip()
    while name.lower().startswith(("https://", "http://")):
        name = name.split("://", 1)[1].strip()
    return name


def display_name(name: str) -> str:
    """The shortest display form of `name`, keeping its case (`Library/Foo` -> `Foo:latest`).

    This is what the server shows for a freshly pulled model typed as `name`.
    """
    path, tag = _split_tag(_strip_scheme(name))
    tag = tag.strip() or DEFAULT_TAG
    parts = path.split("/")
    model = parts[-1].strip()
    namespace = parts[-2].strip() if len(parts) >= 2 else DEFAULT_NAMESPACE
    host = "/".join(parts[:-2]).strip() if len(parts) >= 3 else DEFAULT_HOST
    if len(parts) == 2 and namespace.lower() == DEFAULT_HOST:
        # `registry.ollama.ai/model`: a namespace cannot contain dots, so this is the host.
        host, namespace = DEFAULT_HOST, DEFAULT_NAMESPACE
    if host.lower() != DEFAULT_HOST or namespace.lower() == DEFAULT_HOST:
        prefix = f"{host}/{namespace}/"
    elif namespace.lower() != DEFAULT_NAMESPACE:
        prefix = f"{namespace}/"
    else:
        prefix = ""
    return f"{prefix}{model}:{tag}"


def normalize(name: str) -> str:
    """Lowercased shortest display form: `Library/Llama3.1` -> `llama3.1:latest`.

    Idempotent. A blank name normalizes to the empty string.
    """
    if not name.strip():
        return ""
    return display_name(name.strip().lower())


def same_model(a: str, b: str) -> bool:
    """Whether two typed or listed names refer to the same model tag (case-insensitive)."""
    na, nb = normalize(a), normalize(b)
    return bool(na) and na == nb


def find_model(name: str, available: Iterable[str]) -> str | None:
    """The server's spelling of `name` among `available` names, or None when it is not there.

    An exact match wins; otherwise the first name that normalizes the same way.
    """
    names = list(available)
    if name in names:
        return name
    wanted = normalize(name)
    if not wanted:
        return None
    for candidate in names:
        if normalize(candidate) == wanted:
            return candidate
    return None
