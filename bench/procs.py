"""Child processes: start one, learn its URL from its first stdout line, measure its memory, stop it cleanly.

Every contender runs as its own process so its memory can be read from ``/proc/<pid>/status`` (``VmRSS`` now,
``VmHWM`` the peak) without the benchmark's own allocations mixed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 120.0  # the emulator computes a 1 GiB piece's CID on first sight
PORT_TIMEOUT_S = 10.0


class ChildProcess:
    """A subprocess whose stderr goes to a log file; ``url`` is its first stdout line when it prints one."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.url = ""
        self._process: asyncio.subprocess.Process | None = None
        self._log = None

    @property
    def exit_code(self) -> int | None:
        """None while it runs (or before it started); its exit status once it has ended (−N: killed by signal N)."""
        return self._process.returncode if self._process is not None else None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    async def start(self, *, prints_url: bool = True) -> str:
        self._log = self.log_path.open("ab")  # closed in stop(); opening a local file does not block for long
        self._process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdout=asyncio.subprocess.PIPE if prints_url else asyncio.subprocess.DEVNULL,
            stderr=self._log,
            stdin=asyncio.subprocess.DEVNULL,
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(self.env or {})},
        )
        if prints_url:
            assert self._process.stdout is not None
            try:
                line = await asyncio.wait_for(self._process.stdout.readline(), START_TIMEOUT_S)
            except TimeoutError:
                line = b""
            self.url = line.decode().strip()
            if not self.url.startswith("http"):
                await self.stop()
                raise RuntimeError(f"{self.name} did not print its URL; see {self.log_path}:\n{self.log_tail()}")
        return self.url

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def compile_project() -> None:
    """Byte-compile the app's own modules before measuring, as a user's copy has them.

    Why: an installed or frozen app carries its bytecode, and a source checkout writes it on its first run; but
    where ``PYTHONDONTWRITEBYTECODE`` is set (this project's machines) every launch compiled ~150 modules from
    source, 0.15–0.25 s of each launch figure that no user pays. Incremental: files already compiled are skipped.
    """
    import compileall

    for package in ("player", "proxy", "bench"):
        compileall.compile_dir(REPO_ROOT / package, quiet=1, workers=0)


def python_module(module: str, *args: str) -> list[str]:
    """argv running ``python -m module`` with the interpreter running the benchmark."""
    return [sys.executable, "-m", module, *args]


def python_script(path: Path, *args: str) -> list[str]:
    return [sys.executable, str(path), *args]


def free_port() -> int:
    """A loopback port the OS says is free (for servers, like nginx, that cannot report a port 0 choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + PORT_TIMEOUT_S
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {PORT_TIMEOUT_S:.0f} s") from None
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (nginx: master and workers), from ``/proc/<pid>/task/*/children``."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError, ValueError):
                todo.extend(int(child) for child in (task / "children").read_text().split())
    return tree


def serving_cpu_s(pids: list[int]) -> float:
    """Seconds of CPU the processes answering a contender's clients have used so far: every thread of each tree,
    from ``schedstat`` (nanoseconds; ``utime``'s 10 ms ticks are too coarse for a cached read of a small piece).

    Left out: Python ``multiprocessing`` children — PiecePlayer's CommP hashing process checks a piece once,
    whenever it completes, which is not a cost of serving its bytes again (nginx checks nothing).
    """
    total_ns = 0
    for pid in (p for root in pids for p in process_tree(root)):
        with contextlib.suppress(OSError):
            if b"multiprocessing" in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
        for task in Path(f"/proc/{pid}/task").glob("*"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                total_ns += int((task / "schedstat").read_text().split()[0])
    return total_ns / 1e9


def memory_kib(pid: int, field: str) -> int:
    """``VmRSS`` / ``VmHWM`` of one process in KiB (0 if it has gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def tree_rss_bytes(pids: list[int]) -> int:
    return sum(memory_kib(p, "VmRSS") for root in pids for p in process_tree(root)) * 1024


class RssSampler:
    """Samples the summed RSS of some process trees on a thread (the event loop may be saturated) and keeps
    the peak; ``VmHWM`` is folded in at the end so a spike between samples is not missed."""

    def __init__(self, pids: list[int], interval: float = 0.02) -> None:
        self.pids = pids
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        hwm = sum(memory_kib(p, "VmHWM") for root in self.pids for p in process_tree(root)) * 1024
        self.peak = max(self.peak, hwm)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_bytes(self.pids))
            self._stop.wait(self.interval)
