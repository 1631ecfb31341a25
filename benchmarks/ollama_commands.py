"""Management-command benchmark: how long `models`, `ps`, `show`, `doctor` and `bench --runs 1 --warm`
take against the fake server, i.e. ocodex's own overhead (the fake answers in microseconds).

Run: `.venv/bin/python benchmarks/ollama_commands.py [--runs N]`. Prints median wall time and peak RSS of
each command next to `python -c pass`, the interpreter's floor, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from _fakes import FakeOllama
from startup import measure

COMMANDS = (["models"], ["models", "--json"], ["ps"], ["show", "gpt-oss:20b"], ["doctor"],
            ["bench", "--runs", "1", "--warm"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with FakeOllama(models=["gpt-oss:20b", "qwen3:8b"]) as fake, tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEX_", "OCODEX_", "OLLAMA_"))}
        env.update(OCODEX_HOME=home, CODEX_OSS_BASE_URL=fake.base_url, OCODEX_HOST_MEMORY_GIB="16", NO_COLOR="1",
                   OCODEX_RESIDENT="0")
        floor, floor_rss = measure([sys.executable, "-c", "pass"], cwd=home, env=env, runs=args.runs)
        print(f"{'python -c pass':<32} {floor * 1000:7.1f} ms {floor_rss:6.1f} MiB")
        for words in COMMANDS:
            wall, rss = measure([sys.executable, "-m", "ocodex", *words], cwd=home, env=env, runs=args.runs)
            print(f"{'ocodex ' + ' '.join(words):<32} {wall * 1000:7.1f} ms {rss:6.1f} MiB  "
                  f"({wall / floor:.1f}x floor)")


if __name__ == "__main__":
    main()
