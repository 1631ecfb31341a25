"""Helper threads never take the process's signals (ocodex.offmain), so Ctrl-C, SIGTERM and SIGHUP always reach
the main thread, and wake it from whatever it waits in.

Without this, a signal the kernel gave to the MCP loop thread only set Python's flag: the main thread, asleep in
an MCP call's result, went on sleeping until the call's own timeout (tests/test_mcp_exec.py's stop tests hung
that way under load, at random)."""

from __future__ import annotations

import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ocodex import offmain
from ocodex.mcp.config import server_from_table
from ocodex.mcp.manager import McpManager

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/task/*/status")
PROBE = Path(__file__).parent / "mcp_servers" / "probe.py"


def blocked(native_id: int) -> set[int]:
    """The signals thread `native_id` of this process blocks (its SigBlk)."""
    status = Path(f"/proc/self/task/{native_id}/status").read_text()
    mask = int(next(line for line in status.splitlines() if line.startswith("SigBlk:")).split()[1], 16)
    return {number for number in range(1, 65) if mask & (1 << (number - 1))}


def test_a_thread_started_through_offmain_blocks_them_from_birth_and_the_starter_does_not() -> None:
    seen: list[set[int]] = []
    thread = threading.Thread(target=lambda: seen.append(blocked(threading.get_native_id())))
    offmain.start(thread)
    thread.join()
    assert seen[0] >= offmain.SIGNALS
    assert not offmain.SIGNALS & blocked(threading.get_native_id())  # the main thread takes them as before


def test_pool_workers_block_them() -> None:
    with ThreadPoolExecutor(max_workers=2, initializer=offmain.block_here) as pool:
        masks = list(pool.map(lambda _: blocked(threading.get_native_id()), range(4)))
    assert all(mask >= offmain.SIGNALS for mask in masks)
    offmain.block_here()  # in the main thread: nothing
    assert not offmain.SIGNALS & blocked(threading.get_native_id())


def test_the_mcp_loop_thread_and_the_threads_it_starts_block_them() -> None:
    manager = McpManager()
    manager.start([server_from_table("probe", {"command": sys.executable, "args": [str(PROBE)]})])
    try:
        assert manager.wait()[0].started
        deadline = time.monotonic() + 10
        helpers = []
        while time.monotonic() < deadline:  # asyncio's child watcher thread appears with the server
            helpers = [t for t in threading.enumerate() if t is not threading.main_thread()
                       and (t.name == "ocodex-mcp" or t.name.startswith("waitpid"))]
            if any(t.name.startswith("waitpid") for t in helpers):
                break
            time.sleep(0.02)
        assert {t.name for t in helpers} >= {"ocodex-mcp"}
        for thread in helpers:
            assert thread.native_id is not None
            assert {signal.SIGINT, signal.SIGTERM, signal.SIGHUP} <= blocked(thread.native_id), thread.name
    finally:
        manager.close()
