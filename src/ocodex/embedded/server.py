"""llama.cpp's HTTP server, run in this process with `xllamacpp`, serving one GGUF on 127.0.0.1.

`LlamaServer(path, alias=...)` is a context manager: entering starts the server on a free loopback port
(OpenAI-compatible `/v1` under `base_url`), leaving stops it. The model's own chat template renders tools
(`use_jinja`), one request runs at a time unless asked otherwise (`n_parallel = 1`: the KV cache follows one
conversation), and sampling is deterministic for every request that does not say otherwise: temperature 0 and
a fixed seed are the server's defaults here. `xllamacpp` is imported only when a server starts.
"""

from __future__ import annotations

import gc
from pathlib import Path
from types import TracebackType
from typing import Any

from ocodex.errors import OcodexError

DEFAULT_SEED = 1234
DEFAULT_CONTEXT = 8192


class EmbeddedServerError(OcodexError):
    """The in-process llama.cpp server cannot start."""


def _xllamacpp(extra: str) -> Any:
    try:
        import xllamacpp
    except ImportError:
        raise EmbeddedServerError("llama.cpp's server (the xllamacpp package) is not installed",
                                  hint=f"pip install 'ocodex[{extra}]' (prebuilt for x86_64 Linux)") from None
    return xllamacpp


def require_xllamacpp(extra: str = "local") -> None:
    """Raise `EmbeddedServerError` naming the extra to install when llama.cpp's server cannot be imported."""
    _xllamacpp(extra)


class LlamaServer:
    """One GGUF served on 127.0.0.1 until `stop()` (or the end of a `with` block).

    `alias` is the model name requests use (and `/v1/models` lists). `temperature` and `seed` are the defaults
    for requests that send none (None: llama.cpp's own). `n_predict` caps each answer (-1: no cap but the
    context). `n_parallel` requests run at once, each in a slot of `n_ctx / n_parallel` tokens. `threads`
    defaults to llama.cpp's choice. `api_key` makes the server ask for `Authorization: Bearer KEY`.
    """

    def __init__(self, model_path: Path, *, alias: str, n_ctx: int = DEFAULT_CONTEXT,
                 temperature: float | None = 0.0, seed: int | None = DEFAULT_SEED, n_predict: int = -1,
                 threads: int | None = None, api_key: str | None = None, n_parallel: int = 1,
                 extra: str = "local") -> None:
        if n_ctx < 512:
            raise EmbeddedServerError(f"n_ctx={n_ctx} is too small for a coding agent; use at least 512")
        if n_parallel < 1:
            raise EmbeddedServerError(f"n_parallel={n_parallel} must be at least 1")
        self.model_path = Path(model_path)
        self.alias = alias
        self.n_ctx = n_ctx
        self.temperature = temperature
        self.seed = seed
        self.n_predict = n_predict
        self.threads = threads
        self.api_key = api_key
        self.n_parallel = n_parallel
        self.extra = extra
        self._server: Any = None
        self._url: str | None = None

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT` (the OpenAI-compatible API is under `/v1`)."""
        if self._url is None:
            raise EmbeddedServerError("the llama.cpp server is not running")
        return self._url

    @property
    def running(self) -> bool:
        return self._server is not None

    def _params(self, xllamacpp: Any) -> Any:
        params = xllamacpp.CommonParams()
        params.model.path = str(self.model_path)
        params.model_alias = {self.alias}  # a set of names: a plain str would become a set of its characters
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # a free port, chosen by the OS
        params.n_ctx = self.n_ctx
        params.n_parallel = self.n_parallel  # slots share n_ctx: each gets n_ctx / n_parallel
        params.n_predict = self.n_predict
        params.use_jinja = True  # the model's own chat template carries the tools
        params.warmup = False
        params.verbosity = 0
        if self.temperature is not None:
            params.sampling.temp = self.temperature
        if self.seed is not None:
            params.sampling.seed = self.seed
        if self.threads is not None:
            params.cpuparams.n_threads = self.threads
            params.cpuparams_batch.n_threads = self.threads
        if self.api_key is not None:
            params.api_keys = [self.api_key]
        return params

    def start(self) -> str:
        """Load the model and listen; returns `base_url`. Starting a running server is a no-op."""
        if self._server is not None:
            return self.base_url
        if not self.model_path.is_file():
            raise EmbeddedServerError(f"model file {self.model_path} does not exist")
        xllamacpp = _xllamacpp(self.extra)
        try:
            server = xllamacpp.Server(self._params(xllamacpp))
            address = str(server.listening_address)
        except Exception as exc:  # the extension reports load failures as plain exceptions
            raise EmbeddedServerError(f"llama.cpp could not serve {self.model_path.name}: {exc}") from None
        if not address.startswith("http://127.0.0.1:"):
            del server
            raise EmbeddedServerError(f"llama.cpp's server listens at {address!r}, not on 127.0.0.1")
        self._server, self._url = server, address.rstrip("/")
        return self._url

    def stop(self) -> None:
        """Stop serving and free the model (dropping the last reference stops xllamacpp's server)."""
        if self._server is None:
            return
        self._server = None
        self._url = None
        gc.collect()

    def __enter__(self) -> LlamaServer:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
