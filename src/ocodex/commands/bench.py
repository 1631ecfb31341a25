"""`ocodex bench [-m MODEL] [--runs N]`: what the seed's "bandwidth and latency" section talks about, measured.

Each run measures, on the user's own server: round-trip time (`GET /api/version`), model load time
(unload with `keep_alive: 0`, then an empty `/api/generate`), and one streamed `/api/generate` whose
prompt is ocodex's real first-turn prompt (system prompt, environment context, tool schemas), giving
time to first token and, from Ollama's own counters, prompt and generation tokens per second. Bytes
per turn is the size of that first `/v1/chat/completions` request. Medians are reported, with a
suggestion. Unloading interrupts anyone else using the model on a shared server; `--warm` skips it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocodex.commands.common import (
    Target,
    add_json_option,
    add_server_options,
    console,
    open_target,
    print_json,
    run_guarded,
    table,
)
from ocodex.errors import OcodexError, UsageError
from ocodex.render.safe import terminal_safe

if TYPE_CHECKING:
    from ocodex.config import Settings

GENERATE_TOKENS = 64
"""Tokens generated per run: enough for a stable rate, short enough for a big model on a CPU."""
NS = 1e9


@dataclass(slots=True)
class RunResult:
    rtt_ms: float
    load_s: float | None
    ttft_s: float
    prompt_tokens: int | None
    prompt_tps: float | None
    gen_tokens: int | None
    gen_tps: float | None


@dataclass(slots=True)
class BenchReport:
    server: str
    model: str
    runs: list[RunResult] = field(default_factory=list)
    request_bytes: int = 0

    def median(self, name: str) -> float | None:
        values = [getattr(run, name) for run in self.runs if getattr(run, name) is not None]
        return statistics.median(values) if values else None

    def summary(self) -> dict[str, Any]:
        names = ("rtt_ms", "load_s", "ttft_s", "prompt_tokens", "prompt_tps", "gen_tokens", "gen_tps")
        return {name: self.median(name) for name in names}


TASK = "add a --verbose flag to cli.py and a test for it"
"""The typical one-line task of the measured first turn."""


def first_turn_request(model: str, cwd: Path, settings: Settings | None = None) -> dict[str, Any]:
    """The body `exec` sends on a task's first request from `cwd` with these settings (sandbox mode,
    AGENTS.md files), for a typical one-line task: the same assembly (`opening_messages`) and tools
    (`select_tools`) a run uses."""
    from ocodex.agent.prompt import opening_messages
    from ocodex.config import Settings, ocodex_home
    from ocodex.protocol import ModelRequest
    from ocodex.providers.chat import build_body
    from ocodex.thread.assembly import sandbox_policy
    from ocodex.tools.select import select_tools

    if settings is None:  # the defaults: a read-only sandbox, and no AGENTS.md
        settings, home, doc_bytes = Settings(), Path("/nonexistent"), 0
    else:
        home, doc_bytes = ocodex_home(), settings.project_doc_max_bytes
    tools = select_tools(model).registry.specs()  # exec never asks for approval
    messages, _ = opening_messages(cwd=cwd, home=home, policy=sandbox_policy(settings, cwd), tools=tools,
                                   doc_max_bytes=doc_bytes, doc_fallbacks=settings.project_doc_fallback_filenames)
    messages.append({"role": "user", "content": TASK})
    return build_body(ModelRequest(model=model, messages=messages, tools=tools, temperature=1.0, top_p=1.0))


def _prompt_text(body: dict[str, Any]) -> str:
    """The first turn flattened to text: what the model has to read before its first token."""
    parts = [str(m.get("content") or "") for m in body["messages"]]
    parts.append(json.dumps(body.get("tools") or []))
    return "\n\n".join(parts)


class Bench:
    def __init__(self, target: Target, model: str, *, warm: bool) -> None:
        self.client = target.client
        self.model = model
        self.warm = warm

    def rtt(self) -> float:
        start = time.perf_counter()
        self.client.version()
        return (time.perf_counter() - start) * 1000

    def load(self) -> float | None:
        if self.warm:
            self.client.load(self.model)
            return None
        self.client.unload(self.model)
        start = time.perf_counter()
        self.client.load(self.model)
        return time.perf_counter() - start

    def generate(self, prompt: str) -> tuple[float, dict[str, Any]]:
        """Stream one generation; (seconds to the first token, the final counters)."""
        # A fresh nonce first, so the server cannot reuse the previous run's KV cache.
        start = time.perf_counter()
        first: float | None = None
        final: dict[str, Any] = {}
        for data in self.client.generate(self.model, f"[run {uuid.uuid4().hex}]\n{prompt}",
                                         {"num_predict": GENERATE_TOKENS}):
            if first is None and (data.get("response") or data.get("thinking")):
                first = time.perf_counter() - start
            final = data
        return (first if first is not None else time.perf_counter() - start), final

    def run_once(self, prompt: str) -> RunResult:
        rtt = self.rtt()
        load = self.load()
        ttft, final = self.generate(prompt)
        prompt_tokens, prompt_ns = final.get("prompt_eval_count"), final.get("prompt_eval_duration")
        gen_tokens, gen_ns = final.get("eval_count"), final.get("eval_duration")
        return RunResult(
            rtt_ms=rtt, load_s=load, ttft_s=ttft, prompt_tokens=prompt_tokens,
            prompt_tps=prompt_tokens / (prompt_ns / NS) if prompt_tokens and prompt_ns else None,
            gen_tokens=gen_tokens, gen_tps=gen_tokens / (gen_ns / NS) if gen_tokens and gen_ns else None)


def suggestions(report: BenchReport, remote: bool) -> list[str]:
    """Advice from the medians, following the seed's tradeoffs (local vs remote, small vs large)."""
    out = []
    rtt, gen, ttft, load = (report.median(n) for n in ("rtt_ms", "gen_tps", "ttft_s", "load_s"))
    kib = report.request_bytes / 1024
    if rtt is not None and rtt > 50:
        out.append(f"Round trips take {rtt:.0f} ms and a first turn sends {kib:.0f} KiB (later turns grow): "
                   "run Ollama closer to the code (local or same LAN) or keep context small.")
    elif remote:
        out.append(f"The remote server is close ({rtt:.1f} ms): network cost is small next to generation.")
    if gen is not None and gen < 10:
        smaller = "a q4 tag of a smaller model" if "20b" in report.model else "gpt-oss:20b or a q4 tag"
        out.append(f"Generation runs at {gen:.1f} tok/s: a smaller or more quantised model "
                   f"({smaller}) will feel much faster for everyday edits.")
    elif gen is not None and gen > 40 and "20b" in report.model:
        out.append(f"Generation runs at {gen:.0f} tok/s: this host could afford a larger model "
                   "(gpt-oss:120b) for complex multi-file tasks.")
    if ttft is not None and ttft > 5:
        out.append(f"The first token takes {ttft:.1f} s: prompt processing dominates; keep AGENTS.md and "
                   "pasted diffs short.")
    if load is not None and load > 10:
        out.append(f"Loading takes {load:.0f} s: keep the model resident (OLLAMA_KEEP_ALIVE=-1 on the "
                   "server) or pre-load it before work starts.")
    if not out:
        out.append("No bottleneck stands out: this setup suits interactive use.")
    return out


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.description = ("Measure round trip, model load time, time to first token, prompt and generation tokens "
                          "per second and bytes per turn (medians over --runs), then suggest a setup. Unloads the "
                          "model before each run to time a cold load (see --warm).")
    add_server_options(parser, model=True)
    add_json_option(parser)
    parser.add_argument("--runs", type=int, default=3, metavar="N", help="runs to take the median of (default 3)")
    parser.add_argument("--warm", action="store_true",
                        help="do not unload the model first (no load time; polite on a shared server)")
    parser.set_defaults(run=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    return run_guarded(lambda: _run(args))


def _pick_model(target: Target, available: list[str]) -> str:
    from ocodex.commands.models import default_choice

    choice = default_choice(target, available)
    if choice.present is None:
        raise OcodexError(f"model '{choice.model}' is not on the Ollama server at {target.client.root}",
                          hint=f"pull it first (`ocodex pull {choice.model}`) or pick another with -m")
    return choice.present


def _fmt(value: float | None, spec: str, unit: str = "") -> str:
    """`value` formatted with its unit, or `-` when it was not measured (no `- s`)."""
    return "-" if value is None else format(value, spec) + unit


def _run(args: argparse.Namespace) -> int:
    from ocodex.ollama.urls import is_loopback

    if args.runs < 1:
        raise UsageError("--runs must be at least 1")
    target = open_target(args)
    err = sys.stderr
    try:
        target.client.probe()
        model = _pick_model(target, [entry.name for entry in target.client.tags()])
        body = first_turn_request(model, Path.cwd(), target.settings)
        report = BenchReport(target.base_url, model,
                             request_bytes=len(json.dumps(body, separators=(",", ":")).encode()))
        bench = Bench(target, model, warm=args.warm)
        prompt = _prompt_text(body)
        for number in range(1, args.runs + 1):
            err.write(terminal_safe(f"bench: run {number}/{args.runs} with {model} on {target.base_url}...") + "\n")
            report.runs.append(bench.run_once(prompt))
    finally:
        target.close()
    tips = suggestions(report, remote=not is_loopback(target.base_url))
    if args.json:
        print_json({"server": report.server, "model": report.model, "runs": len(report.runs),
                    "request_bytes": report.request_bytes, "median": report.summary(),
                    "each": [asdict(run) for run in report.runs],
                    "suggestions": tips})
        return 0
    runs = f"{len(report.runs)} run" + ("s" if len(report.runs) != 1 else "")
    grid = table("MEASURE", "MEDIAN", "WHAT IT MEANS", title=f"{report.model} on {report.server} (median of {runs})")
    rows = [
        ("round trip", _fmt(report.median("rtt_ms"), ".1f", " ms"), "network + HTTP cost of every request"),
        ("load time", _fmt(report.median("load_s"), ".2f", " s"), "cold start after the model was unloaded"),
        ("first token", _fmt(report.median("ttft_s"), ".2f", " s"), "wait before a first-turn answer starts"),
        ("prompt", _fmt(report.median("prompt_tps"), ".0f", " tok/s"),
         f"reading {_fmt(report.median('prompt_tokens'), '.0f')} prompt tokens"),
        ("generation", _fmt(report.median("gen_tps"), ".1f", " tok/s"), "writing the answer"),
        ("bytes per turn", f"{report.request_bytes / 1024:.1f} KiB", "first request body; later turns add history"),
    ]
    for row in rows:
        grid.add_row(*row)
    out = console()
    out.print(grid)
    for tip in tips:
        out.print(terminal_safe(f"suggestion: {tip}"), markup=False)
    return 0
