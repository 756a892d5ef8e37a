"""Slices on disk, unit by unit: written atomically in the background, read back checked, damaged files caught
and dropped, the byte cap kept by evicting the least recently used, and what a previous run left found again.

The end-to-end checks (a full disk, a read-only folder, damage while the proxy runs) are in ``test_faults`` and
``test_cache``; here the store is driven alone, on real files in a temporary folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.disk import DiskSliceStore
from proxy.events import EventBus, SliceRejected
from proxy.slice_checks import SAVED_NAME, boot_id

SLICE = 64 * 1024


def store_in(folder: Path, cap: int = 8 * SLICE, lost: list | None = None) -> tuple[DiskSliceStore, list]:
    """A store of 64 KiB slices under ``folder`` and the events it publishes (``lost`` collects on_lost calls)."""
    events: list = []
    bus = EventBus()
    bus.subscribe(events.append)
    on_lost = (lambda key, index: lost.append((key, index))) if lost is not None else None
    return DiskSliceStore(folder, SLICE, cap, bus, 16 * SLICE, on_lost=on_lost), events


def slice_bytes(index: int) -> bytes:
    return bytes([index % 251]) * SLICE


def slice_files(folder: Path) -> list[Path]:
    """The slice files under ``folder`` (not the checks a store saves beside them)."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != SAVED_NAME)


async def test_a_written_slice_reads_back_whole_and_in_part_and_is_found_again_after_a_restart(tmp_path: Path) -> None:
    store, _ = store_in(tmp_path)
    assert store.write("piece", 3, slice_bytes(3))
    assert store.read("piece", 3, SLICE) == slice_bytes(3)  # readable at once, from the writer's queue
    await store.flush()
    assert store.read_range("piece", 3, SLICE, 10, 20) == slice_bytes(3)[10:20]
    assert store.has("piece", 3) and store.indexes("piece") == {3} and store.used == SLICE
    [file] = slice_files(tmp_path)
    assert file.name.startswith("00000003.")  # the index, then the checksum in the name
    await store.close()
    again, _ = store_in(tmp_path)
    assert again.indexes("piece") == {3} and again.read("piece", 3, SLICE) == slice_bytes(3)
    await again.close()


async def test_a_damaged_or_short_slice_file_is_never_served_and_is_dropped_with_its_reason(tmp_path: Path) -> None:
    lost: list = []
    store, events = store_in(tmp_path, lost=lost)
    for index in (0, 1):
        store.write("piece", index, slice_bytes(index))
    await store.flush()
    first, second = slice_files(tmp_path)
    damaged = bytearray(first.read_bytes())
    damaged[100] ^= 0xFF
    first.write_bytes(bytes(damaged))
    second.write_bytes(second.read_bytes()[:-1])
    assert store.read("piece", 0, SLICE) is None and store.read("piece", 1, SLICE) is None
    reasons = [e.reason for e in events if isinstance(e, SliceRejected)]
    assert reasons == ["checksum mismatch (the file was damaged)", f"{SLICE - 1} bytes on disk, {SLICE} expected"]
    assert lost == [("piece", 0), ("piece", 1)] and slice_files(tmp_path) == [] and store.used == 0
    await store.close()


async def test_the_byte_cap_evicts_the_least_recently_read_slice_first(tmp_path: Path) -> None:
    lost: list = []
    store, _ = store_in(tmp_path, cap=3 * SLICE, lost=lost)
    for index in range(3):
        store.write("piece", index, slice_bytes(index))
    await store.flush()
    assert store.read("piece", 0, SLICE) is not None  # slice 0 is now the most recently used
    store.write("piece", 3, slice_bytes(3))
    await store.flush()
    assert store.indexes("piece") == {0, 2, 3} and lost == [("piece", 1)]
    assert store.used == 3 * SLICE and len(slice_files(tmp_path)) == 3
    await store.close()


async def test_leftover_temporary_files_are_swept_and_a_purged_piece_leaves_no_file(tmp_path: Path) -> None:
    store, _ = store_in(tmp_path)
    store.write("a", 0, slice_bytes(0))
    store.write("b", 0, slice_bytes(1))
    await store.flush()
    await store.close()
    piece_folder = slice_files(tmp_path)[0].parent
    leftover = piece_folder / "00000009.deadbeef.tmp"
    leftover.write_bytes(b"half a slice")
    again, _ = store_in(tmp_path)
    assert not leftover.exists()
    again.purge_piece("a")
    assert again.indexes("a") == set() and again.indexes("b") == {0}
    assert [p.parent.name for p in slice_files(tmp_path)] == ["b"]
    await again.close()
    assert not (tmp_path / str(SLICE) / "a").exists()  # nor the checks it had saved, even after the store closed


async def test_a_checked_slice_file_is_handed_out_for_sending_and_a_damaged_or_queued_one_is_not(
    tmp_path: Path,
) -> None:
    """What ``sendfile`` sends is what a read would have served: only a file that passed its check, exactly the
    span asked for; a slice still queued for the writer is not a file yet, and a damaged file is dropped."""
    lost: list = []
    store, events = store_in(tmp_path, lost=lost)
    store.write("piece", 0, slice_bytes(0))
    store.write("piece", 1, slice_bytes(1))
    assert store.open_file("piece", 0, SLICE, 0, SLICE) is None  # queued: the caller reads it from memory
    await store.flush()
    part = store.open_file("piece", 1, SLICE, 100, 1000)
    assert part is not None and (part.offset, len(part)) == (100, 900)
    try:
        assert part.read(10_000) == slice_bytes(1)[100:1000] and part.read_at(990, 10) == slice_bytes(1)[990:1000]
    finally:
        part.close()
    assert part.file.closed
    first = slice_files(tmp_path)[0]
    damaged = bytearray(first.read_bytes())
    damaged[-1] ^= 0x01
    first.write_bytes(bytes(damaged))
    assert store.open_file("piece", 0, SLICE, 0, SLICE) is None
    assert [e.reason for e in events if isinstance(e, SliceRejected)] == ["checksum mismatch (the file was damaged)"]
    assert lost == [("piece", 0)] and store.indexes("piece") == {1}
    await store.close()


async def test_a_later_run_of_the_same_boot_takes_checked_files_as_checked_until_they_change(tmp_path: Path) -> None:
    """A warm re-open in a new process read every slice file again before sending it (~1 ms per MiB, on the first
    frame's path). Within one boot a file's bytes change only with its stamp, so a later run takes a file checked
    (or written) by an earlier one as checked — and checks it again the moment it changed, or after a restart."""
    if boot_id() is None:
        pytest.skip("this system does not say which boot it is in: each run checks every file, as before")
    store, _ = store_in(tmp_path)
    for index in range(3):
        store.write("piece", index, slice_bytes(index))
    await store.flush()
    await store.close()
    saved = tmp_path / str(SLICE) / "piece" / SAVED_NAME
    assert saved.read_text().splitlines()[0] == boot_id()

    again, events = store_in(tmp_path)
    assert all(again.checks.is_good(("piece", index)) for index in range(3))  # before any read
    assert again.read("piece", 0, SLICE) == slice_bytes(0)
    second = slice_files(tmp_path)[1]
    damaged = bytearray(second.read_bytes())
    damaged[5] ^= 0x01
    second.write_bytes(bytes(damaged))  # its stamp moves: checked again, and caught
    assert again.read("piece", 1, SLICE) is None
    assert [e.reason for e in events if isinstance(e, SliceRejected)] == ["checksum mismatch (the file was damaged)"]
    await again.close()
    assert len(saved.read_text().splitlines()) == 1 + 2  # the boot, then the two files left

    lines = saved.read_text().splitlines()
    saved.write_text("\n".join(["another-boot", *lines[1:]]) + "\n")
    rebooted, _ = store_in(tmp_path)
    assert not any(rebooted.checks.is_good(("piece", index)) for index in (0, 2))  # a restart: all checked again
    assert rebooted.read("piece", 2, SLICE) == slice_bytes(2) and rebooted.checks.is_good(("piece", 2))
    await rebooted.close()
