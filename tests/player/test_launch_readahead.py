"""A launch notes the files it used; the next launch has the kernel read them back before it needs them.

Real files, the real page cache (evicted with ``POSIX_FADV_DONTNEED``, seen with ``mincore``), a real forked
read-ahead child, and the real ``pieceplayer --self-test`` writing its list.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from player import launch_readahead
from player.page_residency import resident_pages, resident_ranges
from tests.player.test_player_cli import pieceplayer

pytestmark = pytest.mark.skipif(not launch_readahead.supported(), reason="posix_fadvise and fork are Linux's")

PAGE = os.sysconf("SC_PAGE_SIZE")


def _evicted_file(folder: Path, pages: int = 64) -> Path:
    """A file on disk whose pages are not in the page cache (written, flushed, then dropped)."""
    path = folder / "library.bin"
    path.write_bytes(os.urandom(pages * PAGE))
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    if any(resident_pages(str(path))):
        pytest.skip("this file system keeps every page in memory (tmpfs?): nothing to read ahead")
    return path


def _wait_resident(path: Path, timeout_s: float = 5.0) -> list[bool]:
    deadline = time.monotonic() + timeout_s
    while True:
        flags = resident_pages(str(path))
        if all(flags) or time.monotonic() > deadline:
            return flags
        time.sleep(0.02)


def test_resident_ranges_are_the_parts_of_a_file_that_were_read(tmp_path: Path) -> None:
    path = _evicted_file(tmp_path)
    assert resident_ranges(str(path)) == []
    with path.open("rb") as library:
        library.seek(40 * PAGE)
        library.read(PAGE)
    ranges = resident_ranges(str(path))
    assert ranges, "a page just read is in memory"
    assert any(start <= 40 * PAGE < start + length for start, length in ranges)
    assert sum(length for _, length in ranges) < 64 * PAGE  # the kernel reads around, not the whole file


def test_the_next_launch_has_the_listed_ranges_read_back_into_memory(tmp_path: Path) -> None:
    path = _evicted_file(tmp_path)
    cache_home = tmp_path / "cache"
    listing = Path(launch_readahead.list_path(launch_readahead.WINDOW, {"XDG_CACHE_HOME": str(cache_home)}))
    listing.parent.mkdir(parents=True)
    listing.write_text(f"{tmp_path / 'gone.so'}\t0+4096\n{path}\t0+{32 * PAGE}\n")
    # a fresh process, as a launch is: start() forks the reader and returns at once, its stdout not held open
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", "from player import launch_readahead as r; print(r.start(r.WINDOW))"],
        env={**os.environ, "XDG_CACHE_HOME": str(cache_home)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.stdout.strip() == "True", done.stderr
    assert time.monotonic() - started < 10
    flags = _wait_resident(path)
    assert all(flags[:32]), "the listed first half was read ahead"


def test_no_list_means_no_reader(tmp_path: Path) -> None:
    environ = {"XDG_CACHE_HOME": str(tmp_path)}
    assert not Path(launch_readahead.list_path(launch_readahead.HEADLESS, environ)).exists()
    done = subprocess.run(
        [sys.executable, "-c", "from player import launch_readahead as r; print(r.start(r.HEADLESS))"],
        env={**os.environ, **environ},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.stdout.strip() == "False", done.stderr


def test_a_list_names_ranges_or_whole_files() -> None:
    assert launch_readahead.parse_ranges("") == [(0, 0)]
    assert launch_readahead.parse_ranges("0+4096,8192+100") == [(0, 4096), (8192, 100)]
    assert launch_readahead.mode_for(["--self-test"]) == launch_readahead.HEADLESS
    assert launch_readahead.mode_for(["--self-test", "--window"]) == launch_readahead.WINDOW
    assert launch_readahead.mode_for(["bafk…"]) == launch_readahead.WINDOW


def _check_list(listing: Path) -> None:
    """The list names Qt's core library with its resident parts and the app's own bytecode, and reads back."""
    lines = listing.read_text().splitlines()
    names = [line.split("\t", 1)[0] for line in lines]
    qt_core = next((line for line in lines if line.split("\t", 1)[0].endswith("libQt6Core.so.6")), None)
    assert qt_core is not None, "Qt's core library is listed"
    assert launch_readahead.parse_ranges(qt_core.split("\t", 1)[1])[0][1] > 0, "with the parts of it in memory"
    assert any(Path(name).name.startswith("app.") and "player" in name for name in names), "the app's own bytecode"
    assert launch_readahead.read_ahead(str(listing)) >= len(lines) - sum(not Path(n).exists() for n in names)


async def test_a_self_test_launch_writes_the_list_its_next_launch_reads(media_dir: Path, tmp_path: Path) -> None:
    status, summary, err = await pieceplayer(tmp_path, "--self-test", "--demo-dir", str(media_dir), "--seeks", "2")
    assert status == 0, f"{summary}\n{err[-2000:]}"
    _check_list(
        Path(launch_readahead.list_path(launch_readahead.HEADLESS, {"XDG_CACHE_HOME": str(tmp_path / "cache")}))
    )
    status, summary, err = await pieceplayer(tmp_path, "--self-test", "--demo-dir", str(media_dir), "--seeks", "2")
    assert status == 0, f"the launch that reads the list ahead plays as well: {summary}\n{err[-2000:]}"
