"""A small client for Ollama's native API: probe, version, tags, show, ps and streamed pull.

Owns the wire details of those endpoints and turns every transport or HTTP failure into an
`OcodexError` subclass with a one-line message; no httpx exception escapes this module. Chat does
not live here (providers own it). Only imported when ocodex actually talks to a server, so httpx is
imported at module top.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

import httpx

from ocodex.errors import OcodexError, ProviderError, PullError, ServerUnavailable
from ocodex.http import Transport
from ocodex.ollama.urls import BASE_URL_VAR, endpoint_hint
from ocodex.providers.errors import json_error, retry_after_seconds
from ocodex.redact import redact_url, scrub

PROBE_TIMEOUT = 10.0
"""Read timeout (seconds) for the readiness probe."""
INSTALL_URL = "https://github.com/ollama/ollama?tab=readme-ov-file#ollama"
META_TIMEOUT = 60.0
"""Read timeout (seconds) for the small JSON endpoints (version, tags, show, ps)."""
BUSY_STATUSES = frozenset({429, 500, 502, 503, 504})
"""Statuses after which the idempotent management calls are retried."""
RETRY_BASE_DELAY = 0.25
MAX_RETRY_DELAY = 10.0
LOAD_TIMEOUT = 600.0
"""Read timeout (seconds) for loading or creating a model: a large one can take minutes."""


# ---------------------------------------------------------------------------------------------
# Data returned by the client


@dataclass(slots=True)
class ModelEntry:
    """One local model from `GET /api/tags`."""

    name: str
    size: int | None = None
    digest: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    context_length: int | None = None  # only servers >= 0.30 list it
    capabilities: list[str] = field(default_factory=list)  # only servers >= 0.30 list it
    remote_host: str | None = None  # set for cloud stub models


@dataclass(slots=True)
class ModelDetails:
    """What `POST /api/show` says about one model."""

    name: str
    capabilities: list[str] = field(default_factory=list)
    context_length: int | None = None  # trained context, from model_info
    num_ctx: int | None = None  # Modelfile `PARAMETER num_ctx`, if set
    temperature: float | None = None  # Modelfile `PARAMETER temperature`, if set
    top_p: float | None = None  # Modelfile `PARAMETER top_p`, if set
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    architecture: str | None = None

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities


@dataclass(slots=True)
class LoadedModel:
    """One model loaded in memory, from `GET /api/ps`."""

    name: str
    size: int | None = None
    size_vram: int | None = None
    context_length: int | None = None  # the context the runner actually allocated (>= 0.10)
    expires_at: datetime | None = None


@dataclass(slots=True, frozen=True)
class PullUpdate:
    """One NDJSON progress line of `POST /api/pull`."""

    status: str
    digest: str | None = None
    total: int | None = None
    completed: int | None = None


# ---------------------------------------------------------------------------------------------
# Versions

_VERSION_RE = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?([-+].*)?$")


def _parse_version(text: str) -> tuple[tuple[int, int, int], bool] | None:
    """((major, minor, patch), is_prerelease) or None when `text` is not a version."""
    match = _VERSION_RE.match(text.strip())
    if not match:
        return None
    major, minor, patch, suffix = match.groups()
    return (int(major), int(minor or 0), int(patch or 0)), (suffix or "").startswith("-")


def version_at_least(version: str | None, minimum: str) -> bool:
    """Semver-style `version >= minimum`. `0.0.0` (dev builds) and unparseable versions count as latest.

    A pre-release (`0.13.4-rc1`) sorts below its release, as in semver.
    """
    if version is None:
        return True
    have, want = _parse_version(version), _parse_version(minimum)
    if have is None or want is None or have[0] == (0, 0, 0):
        return True
    if have[0] != want[0]:
        return have[0] > want[0]
    return not have[1] or want[1]


# ---------------------------------------------------------------------------------------------
# Small parsing helpers


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _str_list(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)  # Go writes nanoseconds
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def context_length_from(model_info: Mapping[str, Any]) -> int | None:
    """`<arch>.context_length` from `/api/show` model_info, else any key ending in `.context_length`."""
    arch = model_info.get("general.architecture")
    if isinstance(arch, str):
        found = _int(model_info.get(f"{arch}.context_length"))
        if found:
            return found
    for key, value in model_info.items():
        if key == "context_length" or key.endswith(".context_length"):
            found = _int(value)
            if found:
                return found
    return None


def parameters_from(parameters: Any) -> dict[str, str]:
    """`/api/show` `parameters` text (`key   value` lines) as a dict; the first value of a key wins."""
    if not isinstance(parameters, str):
        return {}
    found: dict[str, str] = {}
    for line in parameters.splitlines():
        key, _, value = line.strip().partition(" ")
        if key and value.strip():
            found.setdefault(key, value.strip().strip("\"'"))
    return found


def _number(text: str | None, kind: type[int] | type[float]) -> Any:
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        return None


def num_ctx_from(parameters: Any) -> int | None:
    """`num_ctx` from `/api/show` `parameters` text (`num_ctx    32768` lines), if set."""
    return _number(parameters_from(parameters).get("num_ctx"), int)


def _model_entry(raw: dict[str, Any]) -> ModelEntry:
    details = _dict(raw.get("details"))
    return ModelEntry(
        name=_str(raw.get("name")) or _str(raw.get("model")) or "",
        size=_int(raw.get("size")),
        digest=_str(raw.get("digest")),
        parameter_size=_str(details.get("parameter_size")),
        quantization=_str(details.get("quantization_level")),
        context_length=_int(details.get("context_length")),
        capabilities=_str_list(raw.get("capabilities")),
        remote_host=_str(raw.get("remote_host")),
    )


def _model_details(name: str, raw: dict[str, Any]) -> ModelDetails:
    details = _dict(raw.get("details"))
    model_info = _dict(raw.get("model_info"))
    parameters = parameters_from(raw.get("parameters"))
    return ModelDetails(
        name=name,
        capabilities=_str_list(raw.get("capabilities")),
        context_length=context_length_from(model_info) or _int(details.get("context_length")),
        num_ctx=_number(parameters.get("num_ctx"), int),
        temperature=_number(parameters.get("temperature"), float),
        top_p=_number(parameters.get("top_p"), float),
        family=_str(details.get("family")),
        parameter_size=_str(details.get("parameter_size")),
        quantization=_str(details.get("quantization_level")),
        architecture=_str(model_info.get("general.architecture")),
    )


def _loaded_model(raw: dict[str, Any]) -> LoadedModel:
    return LoadedModel(
        name=_str(raw.get("name")) or _str(raw.get("model")) or "",
        size=_int(raw.get("size")),
        size_vram=_int(raw.get("size_vram")),
        context_length=_int(raw.get("context_length")),
        expires_at=_timestamp(raw.get("expires_at")),
    )


def _pull_update(raw: dict[str, Any]) -> PullUpdate:
    return PullUpdate(status=_str(raw.get("status")) or "", digest=_str(raw.get("digest")),
                      total=_int(raw.get("total")), completed=_int(raw.get("completed")))


_HTML_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)


def error_message(response: httpx.Response) -> str:
    """The server's error text: native `{"error": "..."}`, OpenAI `{"error": {"message"}}`, or the body."""
    return scrub(_error_text(response))


def _error_text(response: httpx.Response) -> str:
    try:
        text = response.text.strip()
    except (httpx.StreamError, UnicodeDecodeError):  # body never read (connection broke)
        text = ""
    message = json_error(text)
    if message is not None:
        return message
    if text.startswith("<"):  # a proxy's HTML error page (nginx: `<html>\r\n<head><title>401 ...`)
        title = _HTML_TITLE_RE.search(text)
        return " ".join(title.group(1).split()) if title and title.group(1).strip() else \
            (response.reason_phrase or f"HTTP {response.status_code}")
    if text:
        return text.splitlines()[0].strip()[:200]
    return response.reason_phrase or f"HTTP {response.status_code}"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text or type(exc).__name__


# ---------------------------------------------------------------------------------------------
# The client


class OllamaClient:
    """Ollama's native API at `root` (the server root, e.g. `http://localhost:11434`, no `/v1`)."""

    def __init__(self, root: str, transport: Transport | None = None, *, base_url: str | None = None,
                 env: Mapping[str, str] | None = None, max_retries: int = 2) -> None:
        self.root = root.strip().rstrip("/")
        self.base_url = base_url or f"{self.root}/v1"
        self._transport = transport or Transport()
        self._env = env
        self._http: httpx.Client | None = None
        self.max_retries = max_retries  # for 429/5xx answers to the (idempotent) management calls

    # -- lifecycle --------------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        if self._http is None:
            try:
                self._http = self._transport.client()
            except OSError as exc:  # a CA bundle that cannot be read, an unusable TLS setup
                raise OcodexError(f"Cannot set up the HTTP client for {self.root}: {_reason(exc)}",
                                  hint="check the provider's TLS settings (ca_cert / verify_tls)") from None
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> OllamaClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- error mapping ----------------------------------------------------------------------

    def _start_hint(self, url: str, reason: str | None = None) -> str:
        env = os.environ if self._env is None else self._env
        configured = redact_url(env.get(BASE_URL_VAR, "").strip()) or "unset"
        tried = f"tried GET {url}" + (f" ({reason})" if reason else "")
        return ("Start it with `ollama serve` (install: "
                f"{INSTALL_URL}) or `docker compose -f deploy/docker-compose.yml up -d`; "
                f"check {BASE_URL_VAR} (currently: {configured}); {tried}.")

    def _unreachable(self, method: str, path: str, exc: Exception) -> ServerUnavailable:
        url = f"{self.root}{path}"
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
            return ServerUnavailable(f"Ollama at {self.root} did not answer {method} {path} in time",
                                     hint="The server accepted the connection but sent nothing back; "
                                          "is it overloaded or is a proxy in the way?")
        return ServerUnavailable(f"Cannot reach Ollama at {self.root} ({_reason(exc)})",
                                 hint=self._start_hint(url))

    def _transport_error(self, method: str, path: str, exc: Exception) -> OcodexError:
        if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
            return OcodexError(f"Invalid Ollama URL {self.root}{path}: {_reason(exc)}",
                               hint="the base URL should look like http://host:11434/v1")
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.TimeoutException):
            return self._unreachable(method, path, exc)
        return ProviderError(f"{method} {path} to Ollama at {self.root} failed: {_reason(exc)}",
                             retryable=True)

    def _status_error(self, method: str, path: str, response: httpx.Response) -> ProviderError:
        status = response.status_code
        message = error_message(response)
        if status in (401, 403):
            return ProviderError(
                f"Ollama at {self.root} refused {method} {path} with HTTP {status} ({message})",
                hint="Authentication failed at a proxy in front of Ollama: configure the credentials it "
                     "needs (model_providers.oss.http_headers / env_http_headers / env_key, or "
                     "user:password in the base URL for Basic auth). A bare Ollama also answers 403 "
                     "when the Host header is not local (see OLLAMA_HOST/OLLAMA_ORIGINS).",
                status=status)
        hint = None
        if status in (502, 504):
            hint = ("a proxy or tunnel in front of Ollama could not get an answer from it: check that "
                    "`ollama serve` runs behind it and the proxy's upstream address")
        elif status >= 500:
            hint = ("the server failed; its log says why (`journalctl -u ollama`, or `docker logs` for "
                    "the container)")
        return ProviderError(f"Ollama at {self.root} answered {method} {path} with HTTP {status}: {message}",
                             hint=hint, status=status, retryable=status in (429, 502, 503, 504))

    # -- plumbing ---------------------------------------------------------------------------

    def _send(self, method: str, path: str, *, body: dict[str, Any] | None = None,
              timeout: float = META_TIMEOUT) -> httpx.Response:
        """One request; raises httpx's own exceptions (callers map them)."""
        content = None if body is None else json.dumps(body, separators=(",", ":"))
        headers = {"content-type": "application/json"} if body is not None else None
        limit = httpx.Timeout(min(timeout, self._transport.read_timeout),
                              connect=self._transport.connect_timeout)
        for attempt in range(1, self.max_retries + 2):
            response = self._client().request(method, f"{self.root}{path}", content=content,
                                              headers=headers, timeout=limit)
            if response.status_code not in BUSY_STATUSES or attempt > self.max_retries:
                return response
            # Busy or briefly failing (e.g. 503 "server busy" while a model loads): these calls are
            # idempotent, so wait as told (Retry-After) or back off with jitter, and ask again.
            delay = retry_after_seconds(response.headers.get("retry-after"))
            if delay is None:
                delay = RETRY_BASE_DELAY * (2 ** (attempt - 1)) * random.uniform(0.8, 1.2)
            delay = min(delay, MAX_RETRY_DELAY)
            if self._transport.notify is not None:
                self._transport.notify(f"Ollama at {self.root} answered {response.status_code} to {method} "
                                       f"{path}; retrying {attempt}/{self.max_retries} in {delay:.1f} s")
            response.close()
            time.sleep(delay)
        raise AssertionError("unreachable")  # the loop always returns

    def _request(self, method: str, path: str, *, body: dict[str, Any] | None = None,
                 timeout: float = META_TIMEOUT) -> httpx.Response:
        try:
            return self._send(method, path, body=body, timeout=timeout)
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise self._transport_error(method, path, exc) from None

    def _json(self, method: str, path: str, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ProviderError(f"Ollama at {self.root} sent a response to {method} {path} that is not "
                                "a JSON object; is this really an Ollama server?")
        return data

    def _call(self, method: str, path: str, *, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._request(method, path, body=body)
        if not response.is_success:
            raise self._status_error(method, path, response)
        return self._json(method, path, response)

    # -- endpoints --------------------------------------------------------------------------

    def probe(self) -> None:
        """Codex's readiness probe: `GET {root}/v1/models` must answer 2xx."""
        path = "/v1/models"
        url = f"{self.root}{path}"
        try:
            response = self._send("GET", path, timeout=PROBE_TIMEOUT)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise self._transport_error("GET", path, exc) from None
        except (httpx.HTTPError, httpx.StreamError) as exc:
            from ocodex.providers.errors import PLAIN_HTTP_HINT, is_plain_http_answer, is_tls_failure, transport_error

            if isinstance(exc, httpx.ProxyError):  # the proxy answered, not Ollama: say so
                raise transport_error(exc, url) from None
            if is_plain_http_answer(exc):
                raise OcodexError(f"TLS handshake failed with Ollama at {self.root}: {_reason(exc)}",
                                  hint=PLAIN_HTTP_HINT) from None
            if is_tls_failure(exc):
                raise OcodexError(f"TLS verification failed for Ollama at {self.root}: {_reason(exc)}",
                                  hint="if its certificate comes from a private CA, set "
                                       "model_providers.oss.ca_cert (or SSL_CERT_FILE) to that CA's PEM "
                                       "file") from None
            if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
                # Something accepted the connection: "start it with ollama serve" would mislead.
                limit = min(PROBE_TIMEOUT, self._transport.read_timeout)
                raise ServerUnavailable(
                    f"No running Ollama server detected at {self.root}: it accepted the connection but "
                    f"did not answer GET {path} within {limit:g} s",
                    hint="the server may be overloaded or stuck, or a proxy or tunnel in front of it may "
                         f"have lost its upstream; check that `curl {url}` answers") from None
            raise ServerUnavailable(f"No running Ollama server detected at {self.root}",
                                    hint=self._start_hint(url, _reason(exc))) from None
        if response.is_success:
            return
        if response.status_code == 404:
            raise ProviderError(f"No Ollama API at {url} (HTTP 404)", hint=self._wrong_endpoint_hint(),
                                status=404)
        raise self._status_error("GET", path, response)

    def base_url_status(self) -> int:
        """The HTTP status of `GET {base_url}/models`: whether the OpenAI-compatible route `exec`
        posts to (`{base_url}/chat/completions`) exists as configured, not just at `{root}/v1`."""
        path = "/models"
        url = f"{self.base_url.rstrip('/')}{path}"
        try:
            response = self._client().get(url, timeout=httpx.Timeout(
                min(PROBE_TIMEOUT, self._transport.read_timeout), connect=self._transport.connect_timeout))
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise self._transport_error("GET", url.removeprefix(self.root), exc) from None
        response.close()
        return response.status_code

    def _wrong_endpoint_hint(self) -> str:
        hint = endpoint_hint(self.base_url)
        return hint or ("Wrong endpoint used: for OSS via Ollama the base URL should look like "
                        f"http://host:11434/v1 (got {self.base_url}); is something other than Ollama "
                        "listening there?")

    def version(self) -> str | None:
        """`GET /api/version`; None when the server has no such route (404) or sends no version."""
        response = self._request("GET", "/api/version")
        if response.status_code == 404:
            return None
        if not response.is_success:
            raise self._status_error("GET", "/api/version", response)
        return _str(self._json("GET", "/api/version", response).get("version"))

    def tags(self) -> list[ModelEntry]:
        """Local models (`GET /api/tags`), newest first as the server sorts them."""
        data = self._call("GET", "/api/tags")
        models = data.get("models") or []
        return [_model_entry(item) for item in models if isinstance(item, dict)]

    def show(self, model: str) -> ModelDetails:
        """`POST /api/show` for one model; a missing model is a ProviderError (status 404)."""
        response = self._request("POST", "/api/show", body={"model": model})
        if response.status_code == 404:
            raise ProviderError(f"model '{model}' not found on the Ollama server at {self.root}",
                                hint=f"pull it with `ollama pull {model}` or `ocodex pull {model}`",
                                status=404)
        if not response.is_success:
            raise self._status_error("POST", "/api/show", response)
        return _model_details(model, self._json("POST", "/api/show", response))

    def ps(self) -> list[LoadedModel]:
        """Models loaded in memory now (`GET /api/ps`)."""
        data = self._call("GET", "/api/ps")
        models = data.get("models") or []
        return [_loaded_model(item) for item in models if isinstance(item, dict)]

    def delete(self, model: str) -> None:
        """`DELETE /api/delete`: remove a local model; a missing one is a ProviderError (status 404)."""
        response = self._request("DELETE", "/api/delete", body={"model": model})
        if response.status_code == 404:
            raise ProviderError(f"model '{model}' not found on the Ollama server at {self.root}",
                                hint="`ocodex models` lists the models it has", status=404)
        if not response.is_success:
            raise self._status_error("DELETE", "/api/delete", response)

    def load(self, model: str) -> None:
        """Load `model` into memory (`POST /api/generate` with no prompt and no options).

        No `num_ctx` is sent: a /v1 request would otherwise see different runner options and reload.
        """
        response = self._request("POST", "/api/generate", body={"model": model, "stream": False},
                                 timeout=LOAD_TIMEOUT)
        if not response.is_success:
            raise self._status_error("POST", "/api/generate", response)

    def create_variant(self, name: str, base: str, parameters: dict[str, Any]) -> None:
        """`POST /api/create` a model `name` from `base` with Modelfile `parameters` (e.g. num_ctx)."""
        response = self._request("POST", "/api/create",
                                 body={"model": name, "from": base, "parameters": parameters,
                                       "stream": False}, timeout=LOAD_TIMEOUT)
        if not response.is_success:
            raise self._status_error("POST", "/api/create", response)

    def unload(self, model: str) -> None:
        """Free `model`'s memory now (`POST /api/generate` with `keep_alive: 0` and no prompt)."""
        response = self._request("POST", "/api/generate", body={"model": model, "keep_alive": 0, "stream": False})
        if not response.is_success:
            raise self._status_error("POST", "/api/generate", response)

    def generate(self, model: str, prompt: str, options: dict[str, Any] | None = None
                 ) -> Iterator[dict[str, Any]]:
        """Stream `POST /api/generate`: every NDJSON object, ending with the `done` one (which holds
        Ollama's counters: prompt_eval_count/_duration, eval_count/_duration, load_duration)."""
        path = "/api/generate"
        response = self._open_stream(path, {"model": model, "prompt": prompt, "stream": True,
                                             "options": options or {}})
        try:
            if not response.is_success:
                self._read_quietly(response)
                raise self._status_error("POST", path, response)
            for line in response.iter_lines():
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except ValueError:
                    raise ProviderError(f"Ollama at {self.root} sent a {path} line that is not JSON: "
                                        f"{line[:120]}") from None
                if not isinstance(data, dict):
                    continue
                if "error" in data:
                    raise ProviderError(f"generation failed on the Ollama server at {self.root}: {data['error']}")
                yield data
                if data.get("done"):
                    return
        except (httpx.HTTPError, httpx.StreamError) as exc:
            raise self._transport_error("POST", path, exc) from None
        finally:
            response.close()
        raise ProviderError(f"the {path} stream from {self.root} ended before its final line")

    def pull(self, model: str) -> Iterator[PullUpdate]:
        """Stream `POST /api/pull` progress. Ends after `success`; raises PullError otherwise.

        Closing the iterator (or an exception inside it) closes the HTTP response, which makes
        Ollama stop the download; partial blobs are resumed by the next pull.
        """
        path = "/api/pull"
        response = self._open_stream(path, {"model": model, "stream": True})
        try:
            if not response.is_success:
                self._read_quietly(response)
                raise PullError(f"Pull failed: {error_message(response)}")
            yield from self._pull_lines(response)
        finally:
            response.close()

    def _open_stream(self, path: str, payload: dict[str, Any]) -> httpx.Response:
        """POST compact JSON (as Ollama's own clients send it) and return the unread, streaming response."""
        body = json.dumps(payload, separators=(",", ":"))
        client = self._client()
        try:
            request = client.build_request("POST", f"{self.root}{path}", content=body,
                                           headers={"content-type": "application/json"})
            return client.send(request, stream=True)
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise self._transport_error("POST", path, exc) from None

    @staticmethod
    def _read_quietly(response: httpx.Response) -> None:
        with contextlib.suppress(httpx.HTTPError, httpx.StreamError):
            response.read()

    def _pull_lines(self, response: httpx.Response) -> Iterator[PullUpdate]:
        try:
            for line in response.iter_lines():
                update = self._pull_line(line)
                if update is None:
                    continue
                yield update
                if update.status == "success":
                    return
        except httpx.TimeoutException:
            self._pull_failed(f"Ollama sent no progress for {self._transport.read_timeout:g}s")
        except (httpx.HTTPError, httpx.StreamError) as exc:
            self._pull_failed(f"connection to Ollama at {self.root} broke ({_reason(exc)})")
        raise PullError("Pull stream ended unexpectedly without success")

    @staticmethod
    def _pull_failed(reason: str) -> NoReturn:
        raise PullError(f"Pull failed: {reason}")

    @staticmethod
    def _pull_line(line: str) -> PullUpdate | None:
        text = line.strip()
        if not text:
            return None
        try:
            raw = json.loads(text)
        except ValueError:
            raise PullError(f"Pull failed: unexpected progress line from the server: {text[:120]}") from None
        if not isinstance(raw, dict):
            raise PullError(f"Pull failed: unexpected progress line from the server: {text[:120]}")
        if "error" in raw:
            error = raw["error"]
            message = error.get("message") if isinstance(error, dict) else error
            hint = None
            if "no space left on device" in str(message).lower():
                hint = ("the server's disk is full: free space there, or move its models to a larger volume "
                        "with OLLAMA_MODELS=/path/to/models and restart `ollama serve`")
            raise PullError(f"Pull failed: {message}", hint=hint)
        return _pull_update(raw)
