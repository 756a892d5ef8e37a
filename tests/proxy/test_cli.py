"""The command-line contracts other tools rely on (DESIGN.md): first stdout line is the base URL; clean exit."""

from __future__ import annotations

import ast
import asyncio
import signal
import sys
from pathlib import Path

import pytest

from tests.conftest import piece_of

ROOT = Path(__file__).resolve().parents[2]


async def start(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    first_line = await asyncio.wait_for(process.stdout.readline(), 30)
    return process, first_line.decode().strip()


async def stop(process: asyncio.subprocess.Process) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode, stderr.decode()


async def test_proxy_cli_prints_base_url_first_serves_and_exits_cleanly(emulator, http, tmp_path):
    cid, data = piece_of(emulator, "random-2MiB.bin")
    process, base = await start(
        "-m", "proxy", "--upstream", emulator.base_url + "/{cid}", "--cache-dir", str(tmp_path), "--cache-size", "64M"
    )
    try:
        assert base.startswith("http://127.0.0.1:") and not base.endswith("/")
        async with http.get(f"{base}/piece/{cid}", headers={"Range": "bytes=100-199"}) as response:
            assert (response.status, await response.read()) == (206, data[100:200])
        async with http.get(f"{base}/stats") as response:
            assert (await response.json())["bytes_served"] == 100
    finally:
        code, stderr = await stop(process)
    assert code == 0, stderr
    assert "Traceback" not in stderr


async def test_proxy_cli_no_token_and_bad_arguments(emulator, tmp_path):
    process, base = await start("-m", "proxy", "--upstream", emulator.base_url + "/{cid}", "--cache-dir",
                                str(tmp_path), "--no-token")  # fmt: skip
    code, _ = await stop(process)
    assert base.count("/") == 2 and code == 0  # http://127.0.0.1:PORT, no token segment
    bad = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", "--upstream", "http://example/no-placeholder", cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await bad.communicate()
    assert bad.returncode == 2 and b"must contain {cid}" in stderr


async def test_emulator_cli_prints_base_url_first(media_dir):
    process, base = await start("-m", "proxy.emulator", "--dir", str(media_dir), "--latency-ms", "0")
    code, stderr = await stop(process)
    assert base.startswith("http://127.0.0.1:")
    assert code == 0 and "random-2MiB.bin" in stderr


@pytest.mark.parametrize("path", sorted((ROOT / "proxy").glob("*.py")), ids=lambda p: p.name)
def test_proxy_package_never_imports_qt_or_the_player(path):
    forbidden = ("PySide6", "shiboken6", "qasync", "pyqtgraph", "player")
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        assert not [n for n in names if n.split(".")[0] in forbidden], f"{path.name} imports {names}"
