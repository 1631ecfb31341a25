"""Remote-server benchmark: what TLS, auth, failover, the Responses wire and WAN latency cost one `exec --oss` run.

Run: `.venv/bin/python benchmarks/remote.py [--runs N] [--case variants|latency|all]` (needs trustme, a test
dependency). Everything is on 127.0.0.1: the fake Ollama server, and in front of it a TLS reverse proxy with
Basic auth made from a throwaway CA. `variants` prints the median wall time of each variant and its cost over
the direct plain-HTTP run measured in the same session.

`latency` (benchmarks/latency.py) puts a loopback proxy adding 50 ms each way in front of the same server and
runs ocodex and Codex CLI 0.169 (`codex exec --oss --local-provider ollama`, installed by the benchmark into
.cache/npm with npm, never committed) against it, cold (a fresh home every run) and warm, printing time to
first token and total time, the requests each run makes, and the one-shot `exec --json` wall time with no
added latency against Codex's.
"""

from __future__ import annotations

import argparse
import os
import socket
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path

from _fakes import AuthProxy, FakeResponses
from startup import measure


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    import trustme

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--case", choices=("variants", "latency", "all"), default="all")
    args = parser.parse_args()
    if args.case in ("latency", "all"):
        from latency import run_latency

        run_latency(runs=min(args.runs, 5) if args.case == "all" else args.runs)
    if args.case == "latency":
        return
    runs = args.runs
    ca = trustme.CA()
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    with tempfile.TemporaryDirectory() as tmp, FakeResponses(models=["gpt-oss:20b"]) as fake, \
            AuthProxy(fake.root, ssl_context=server_ctx, basic=("bench", "bench-password")) as proxy:
        ca_file = Path(tmp, "ca.pem")
        ca.cert_pem.write_to_path(str(ca_file))
        repo = Path(tmp, "repo")
        repo.mkdir()
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        base_env = {**os.environ, "OCODEX_HOME": str(Path(tmp, "home")), "OCODEX_HOST_MEMORY_GIB": "16",
                    "OCODEX_RESIDENT": "0"}
        exec_argv = [sys.executable, "-m", "ocodex", "exec", "--oss", "-m", "gpt-oss:20b", "--json"]
        tls_url = proxy.base_url.replace("https://", "https://bench:bench-password@")
        down = f"http://127.0.0.1:{closed_port()}/v1"
        cases = {
            "plain HTTP, direct": (exec_argv, {"CODEX_OSS_BASE_URL": fake.base_url}),
            "wire_api=responses": ([*exec_argv, "-c", 'model_providers.oss.wire_api="responses"'],
                                   {"CODEX_OSS_BASE_URL": fake.base_url}),
            "HTTPS + Basic auth via proxy": ([*exec_argv, "-c", f'model_providers.oss.ca_cert="{ca_file}"'],
                                             {"CODEX_OSS_BASE_URL": tls_url}),
            "failover from a refused URL": ([*exec_argv, "-c", f'model_providers.oss.base_urls=["{fake.base_url}"]'],
                                            {"CODEX_OSS_BASE_URL": down}),
        }
        results = {}
        for name, (argv, extra) in cases.items():
            results[name] = measure([*argv, "say hi"], cwd=str(repo), env={**base_env, **extra}, runs=runs)[0]
    base = results["plain HTTP, direct"]
    print(f"{'variant':32} {'median ms':>10} {'+ms vs direct':>14}")
    for name, wall in results.items():
        print(f"{name:32} {wall * 1000:10.1f} {(wall - base) * 1000:14.1f}")


if __name__ == "__main__":
    main()
