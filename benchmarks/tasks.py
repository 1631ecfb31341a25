"""Task success on real models: ocodex against a no-agent baseline, same server, same prompts, same checks.

Run: `.venv/bin/python benchmarks/tasks.py` (needs `pip install -e '.[local]'` for the 1.5B and/or
`'.[local-small]'` for the 0.5B). `--quick` runs six tasks (one per kind), `--model both` both models,
`--tasks a,b` named tasks, `--arm agent|baseline`, `--selfcheck` only proves the tasks are sound (each check
fails on the untouched repo and passes with the reference solution), without a model.

For each model, llama.cpp's server is started in this process (`ocodex.embedded`: the GGUF assembled from the
installed wheels, n_ctx 8192, one slot, one thread (`--threads`), temperature 0 and seed 1234 as defaults,
answers capped at `--max-tokens`). Then every task runs in a fresh git repo at the same path (so prompts repeat
byte for byte between runs), first through the agent arm, then through the baseline, so each arm keeps the
server's prompt cache warm for the next task:

Before each task the server's prompt cache is put in the same state (taskbench/priming.py), so a task's result
does not depend on which tasks ran before it (`--quick` and the full run agree on the tasks they share).

- agent: `ocodex exec --full-auto --json -m MODEL PROMPT` with a `[model_providers.llama]` config
  (`wire_api = "chat"`, `-c temperature=0` as config) in an isolated OCODEX_HOME; its tools' login shell gets
  this interpreter's bin directory (python3 with pytest) first on PATH.
- baseline: one chat request with the prompt, every file of the repo, and an instruction to send back whole
  changed files in fenced blocks under their paths (taskbench/baseline.py); the files are written and scored.

Scoring (taskbench/suite.py) runs the task's `check/` tests in ocodex's workspace-write sandbox on a copy of the
workspace with the original tests restored: the model may edit tests, scoring uses the originals.

Failure causes, the first rule that matches (agent arm):
1. timeout: the run was killed at the time limit (`--timeout`, else the task's, else 180 s).
2. error: ocodex exited non-zero without a `turn.failed` event or loop-guard error (a crash, bad config,
   the server unreachable).
3. edit failed: no file of the repo changed, and at least one edit (`apply_patch`, also through the shell)
   failed; this wins over loop and empty answer, since it is what the model could not do.
4. loop: ocodex's loop guard ended the turn ("loop detected", or "tool calls all failed").
5. empty answer: the turn failed on an empty answer from the model.
6. error: any other `turn.failed` (a server error, the context window exceeded).
7. no edit: the run finished without changing any file and without trying an edit.
8. wrong code: files changed but the check fails.
Baseline arm: timeout (no whole answer in time), error (HTTP failure), empty answer (an empty reply), edit
failed (no fenced block under a usable path, e.g. cut off by `--max-tokens`), no edit (the files sent back
are the originals), wrong code (files written, check fails).

Printed per model and arm: tasks passed; median wall time per task and per solved task; prompt and
completion tokens per task (means, as llama.cpp counts them: every request's whole prompt); tool calls and
requests per task (means); the failure causes; the server's throughput and the host's load (CPU contention
shows up as slow tokens/s and timeouts). `benchmarks/results/<time>/results.json` holds each run's detail and
the paths of its transcripts (`--json` events, session file, request log, diff, check output).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from taskbench.agent import PREFLIGHT_COMMAND, agent_template, run_agent, tools_preflight
from taskbench.baseline import run_baseline
from taskbench.priming import flush, prime
from taskbench.record import RunRecord
from taskbench.report import details, model_report, task_table
from taskbench.suite import KINDS, Task, TaskError, load_tasks, reset_dir, select, self_check

from ocodex.errors import OcodexError, report

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MODELS = {"1.5b": "qwen2.5-coder:1.5b", "0.5b": "qwen2.5-coder:0.5b"}
DEFAULT_TIMEOUT_S = 180.0
DEFAULT_CTX = 8192
DEFAULT_MAX_TOKENS = 1024
# llama.cpp's threads wait for each other at every step: on a shared 2-core machine two threads drop from ~28 to
# 2-4 tokens/s whenever another process runs, one thread holds ~20 (1.5B, measured here).
DEFAULT_THREADS = 1
SEED = 1234


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Task success of ocodex and a no-agent baseline on real models.")
    parser.add_argument("--model", choices=["1.5b", "0.5b", "both"], default="1.5b")
    parser.add_argument("--quick", action="store_true", help="a fixed six-task subset, one task per kind")
    parser.add_argument("--tasks", help="comma-separated task names (see --list)")
    parser.add_argument("--arm", choices=["agent", "baseline", "both"], default="both")
    parser.add_argument("--timeout", type=float, help=f"seconds per task (default: the task's, else "
                                                      f"{DEFAULT_TIMEOUT_S:g})")
    parser.add_argument("--jobs", type=int, default=1, help="tasks at once (one server slot each; keep 1 on 2 cores)")
    parser.add_argument("--ctx", type=int, default=DEFAULT_CTX, help="context tokens per slot")
    parser.add_argument("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS, help="longest answer per request")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help=f"llama.cpp threads (default {DEFAULT_THREADS}: steady on a shared machine)")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="where results go")
    parser.add_argument("--list", action="store_true", help="list the tasks and exit")
    parser.add_argument("--selfcheck", action="store_true", help="check the tasks themselves (no model) and exit")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.timeout is not None and args.timeout <= 0:
        parser.error("--timeout must be positive")
    if args.ctx < 2048 or args.max_tokens < 64:
        parser.error("--ctx must be at least 2048 and --max-tokens at least 64")
    return args


@contextlib.contextmanager
def bench_dir() -> Iterator[Path]:
    """The fixed scratch directory (the same workspace path every run), held for this run only."""
    base = Path(tempfile.gettempdir()) / "ocodex-bench"
    lock = open(f"{base}.lock", "w")  # noqa: SIM115 - held until the run ends
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(f"error: another benchmarks/tasks.py run is using {base}; wait for it to finish") from None
    try:
        yield reset_dir(base)
    finally:
        import shutil

        shutil.rmtree(base, ignore_errors=True)
        lock.close()


def preflight(scratch: Path, task: Task, n_ctx: int) -> None:
    """Scoring needs the sandbox; the model's tools must find python3 with pytest through ocodex's shell tool."""
    from ocodex.sandbox import SandboxPolicy, check_available

    check_available(SandboxPolicy(mode="workspace-write", cwd=reset_dir(scratch / "preflight")))
    problem = tools_preflight(task, workdir=scratch / "preflight", n_ctx=n_ctx)
    if problem is not None:
        raise SystemExit(f"error: `{PREFLIGHT_COMMAND}` fails in ocodex's shell tool, so the model could not run the "
                         f"tasks' tests: {' '.join(problem.split())[:300]}\nhint: the tool's login shell takes PATH "
                         "from /etc/profile; its python3 needs pytest (Debian: apt-get install python3-pytest; "
                         "scripts/test installs it)")


def run_selfcheck(tasks: list[Task], scratch: Path) -> int:
    bad = 0
    for task in tasks:
        problems = self_check(task, scratch)
        print(f"{task.id:<24} {task.kind:<10} {'ok' if not problems else 'BROKEN'}")
        for problem in problems:
            print(f"    {problem}")
        bad += bool(problems)
    counts = {kind: sum(t.kind == kind for t in tasks) for kind in KINDS}
    print(f"{len(tasks) - bad}/{len(tasks)} tasks sound; per kind: "
          + ", ".join(f"{kind} {count}" for kind, count in counts.items()))
    return 1 if bad else 0


def progress_bar(name: str) -> Callable[[int, int], None]:
    shown = [-1]

    def show(done: int, total: int) -> None:
        percent = done * 100 // total
        if percent != shown[0]:
            shown[0] = percent
            sys.stderr.write(f"\rassembling {name}: {percent:3d}% of {total / 2**30:.2f} GiB")
            if done == total:
                sys.stderr.write("\n")
            sys.stderr.flush()

    return show


def _commit() -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (with uncommitted changes)" if dirty else "")


class Run:
    """Where this run's results go; rewritten after every task, so an interrupted run keeps what it did."""

    def __init__(self, args: argparse.Namespace, tasks: list[Task], argv: list[str]) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        self.dir = args.results / stamp
        self.dir.mkdir(parents=True, exist_ok=False)
        self.records: list[RunRecord] = []
        self.meta = {"command": shlex.join([sys.executable, "benchmarks/tasks.py", *argv]),
                     "ocodex_commit": _commit(), "started": datetime.now(UTC).isoformat(),
                     "tasks": [t.id for t in tasks], "arm": args.arm, "ctx": args.ctx, "max_tokens": args.max_tokens,
                     "seed": SEED, "temperature": 0, "jobs": args.jobs, "threads": args.threads,
                     "timeout": args.timeout, "cpus": os.cpu_count()}

    def add(self, record: RunRecord) -> None:
        self.records.append(record)
        self.save()

    def save(self) -> None:
        data = {**self.meta, "finished": datetime.now(UTC).isoformat(),
                "records": [r.to_json() for r in self.records]}
        temp = self.dir / "results.json.tmp"
        temp.write_text(json.dumps(data, indent=1))
        temp.replace(self.dir / "results.json")


def arm_template(arm: str, model: str, first: Task, job: Path, args: argparse.Namespace) -> dict | None:
    """The request that primes the server before each task of `arm` (None: no priming, see taskbench.priming)."""
    if args.jobs > 1:
        print("note: with --jobs > 1 the server's cache is not primed per task; results can depend on the order",
              file=sys.stderr)
        return None
    if arm == "baseline":
        return {"model": model, "messages": [{"role": "user", "content": ""}], "temperature": 0, "seed": SEED}
    template = agent_template(first, model=model, workdir=job, n_ctx=args.ctx)
    if template is None:
        print("warning: could not capture ocodex's first request; the server's cache is not primed per task, so "
              "results can depend on the order of the tasks", file=sys.stderr)
    return template


def run_model(key: str, args: argparse.Namespace, tasks: list[Task], scratch: Path, run: Run) -> None:
    from ocodex.embedded.server import LlamaServer
    from ocodex.embedded.weights import ensure_model, find_model

    weights = find_model(MODELS[key])
    path = ensure_model(weights, progress=progress_bar(weights.name))
    arms = ["agent", "baseline"] if args.arm == "both" else [args.arm]
    started = time.monotonic()
    with LlamaServer(path, alias=weights.name, n_ctx=args.ctx * args.jobs, n_parallel=args.jobs,
                     n_predict=args.max_tokens, seed=SEED, temperature=0.0, threads=args.threads,
                     extra=weights.extra) as server:
        print(f"serving {weights.title} at {server.base_url} ({time.monotonic() - started:.1f} s to start)",
              file=sys.stderr)
        for arm in arms:
            template = arm_template(arm, weights.name, tasks[0], scratch / "job0", args)

            def one(item: tuple[int, Task], arm: str = arm, template: dict | None = template) -> RunRecord:
                index, task = item
                job = scratch / f"job{index % args.jobs}"
                out = run.dir / weights.name.replace(":", "-") / arm / task.id
                timeout = args.timeout or task.timeout or DEFAULT_TIMEOUT_S
                if template is not None:
                    prime(server.base_url, template)
                if arm == "agent":
                    return run_agent(task, model=weights.name, base_url=server.base_url, workdir=job, out=out,
                                     timeout=timeout, n_ctx=args.ctx)
                return run_baseline(task, model=weights.name, base_url=server.base_url, workdir=job, out=out,
                                    timeout=timeout, seed=SEED, max_tokens=args.max_tokens)

            flush(server.base_url)  # each arm starts from an empty cache
            with ThreadPoolExecutor(max_workers=args.jobs) as pool:
                for done, record in enumerate(pool.map(one, enumerate(tasks)), 1):
                    run.add(record)
                    verdict = "PASS" if record.passed else record.cause
                    print(f"[{key} {arm} {done}/{len(tasks)}] {record.task:<22} {verdict:<12} {record.wall_s:6.1f} s"
                          f"  {record.detail}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    try:
        tasks = select(load_tasks(), quick=args.quick, names=args.tasks)
    except TaskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.list:
        for task in tasks:
            print(f"{task.id:<24} {task.kind}")
        return 0
    with bench_dir() as scratch:
        if args.selfcheck:
            return run_selfcheck(tasks, scratch)
        try:
            preflight(scratch, tasks[0], args.ctx)
            run = Run(args, tasks, argv)
            keys = ["1.5b", "0.5b"] if args.model == "both" else [args.model]
            for key in keys:
                run_model(key, args, tasks, scratch, run)
        except OcodexError as exc:
            return report(exc, sys.stderr)
        except KeyboardInterrupt:
            print("interrupted; the results so far are kept", file=sys.stderr)
            return 130
        finally:
            if "run" in locals():
                print_report(run, args)
    return 0


def print_report(run: Run, args: argparse.Namespace) -> None:
    if not run.records:
        return
    sections = [f"command: {run.meta['command']}", f"ocodex: {run.meta['ocodex_commit']}"]
    for model in dict.fromkeys(r.model for r in run.records):
        sections.append(model_report(model, [r for r in run.records if r.model == model], n_ctx=args.ctx,
                                     seed=SEED, threads=args.threads))
    sections += [task_table(run.records), "failures:\n" + details(run.records),
                 f"results: {run.dir / 'results.json'}"]
    text = "\n\n".join(sections)
    (run.dir / "summary.txt").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    sys.exit(main())
