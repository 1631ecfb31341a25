"""Sandbox benchmark: what finding nested protected directories and starting a confined command cost.

Run: `.venv/bin/python benchmarks/sandbox.py [--files N] [--runs R]`. Builds a workspace of N files
(default 50,000: 2,500 directories of 20 files, with 25 nested `.git` directories), then prints
- the walk for protected paths (`ocodex.sandbox.protected.scan`): the first one (nothing cached in
  ocodex; the kernel's dentry cache is warm, as it is right after a checkout) and the median of the
  next R (only a `stat` per directory whose mtime is unchanged);
- the median wall time of `true` run through `run_command` in read-only mode (no walk), in
  workspace-write mode (walk included; /tmp excluded so the figure is about the workspace), and
  unsandboxed, so the sandbox's own cost can be read off.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from ocodex.sandbox import SandboxPolicy, check_available, run_command
from ocodex.sandbox.protected import clear_cache, scan
from ocodex.tools.env import tool_env


def build(root: Path, files: int) -> int:
    per_dir = 20
    dirs = max(files // per_dir, 1)
    nested = 0
    for d in range(dirs):
        directory = root / f"pkg{d // 100}" / f"mod{d}"
        directory.mkdir(parents=True)
        for f in range(per_dir):
            (directory / f"file{f}.py").write_bytes(b"")
        if d % 100 == 7:
            (directory / ".git" / "hooks").mkdir(parents=True)
            nested += 1
    return nested


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ocodex-bench-sandbox-") as tmp:
        root = Path(tmp) / "ws"
        nested = build(root, args.files)
        clear_cache()
        start = time.perf_counter()
        found = scan([root])
        first = (time.perf_counter() - start) * 1000
        assert len(found.existing) == nested, (len(found.existing), nested)
        warm = median_ms(lambda: scan([root]), args.runs)
        print(f"workspace: {args.files:,} files, {args.files // 20:,} directories, {nested} nested .git")
        print(f"protected-path walk: first {first:.1f} ms, then median {warm:.1f} ms (of {args.runs})")
        policies = {
            "read-only": SandboxPolicy("read-only", root),
            "workspace-write": SandboxPolicy("workspace-write", root, include_tmp=False),
            "danger-full-access": SandboxPolicy("danger-full-access", root),
        }
        for name, policy in policies.items():
            check_available(policy)
            env = tool_env(policy=policy)
            ms = median_ms(lambda p=policy, e=env: run_command(["true"], cwd=root, policy=p, timeout_s=30, env=e),
                           args.runs)
            print(f"`true` under {name}: median {ms:.1f} ms")


if __name__ == "__main__":
    main()
