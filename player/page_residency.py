"""Which parts of a file are in the page cache now (Linux ``mincore``), as byte ranges.

Why: the launch read-ahead list (``launch_readahead``) names the parts of each library a launch uses. Reading a
whole library ahead would be wasteful: the OpenGL driver pulls in libLLVM (~100 MB), of which a launch touches
a small part. Python has no ``mincore``, so this maps the file read-only through libc (``ctypes``), asks which
pages are resident, and unmaps it; the file's bytes are never read.
"""

from __future__ import annotations

import ctypes
import mmap
import os

_PAGE = mmap.PAGESIZE
_MAP_FAILED = ctypes.c_void_p(-1).value


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    return libc


def resident_pages(path: str) -> list[bool]:
    """One flag per page of the file at ``path``: is it in the page cache? (Empty for an empty file.)"""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return []
        libc = _libc()
        address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if address in (None, _MAP_FAILED):
            raise OSError(ctypes.get_errno(), f"mmap {path}")
        try:
            pages = (size + _PAGE - 1) // _PAGE
            flags = (ctypes.c_ubyte * pages)()
            if libc.mincore(address, size, flags) != 0:
                raise OSError(ctypes.get_errno(), f"mincore {path}")
            return [bool(flag & 1) for flag in flags]
        finally:
            libc.munmap(address, size)
    finally:
        os.close(fd)


def resident_ranges(path: str, merge_gap: int = 0) -> list[tuple[int, int]]:
    """``[(start, length), …]`` in bytes of the file's resident parts, joining ranges at most ``merge_gap`` apart.
    Empty when nothing is resident or the file cannot be mapped."""
    try:
        flags = resident_pages(path)
    except OSError:
        return []
    ranges: list[list[int]] = []
    gap_pages = merge_gap // _PAGE
    for page, resident in enumerate(flags):
        if not resident:
            continue
        if ranges and page - ranges[-1][1] <= gap_pages:
            ranges[-1][1] = page + 1
        else:
            ranges.append([page, page + 1])
    return [(first * _PAGE, (end - first) * _PAGE) for first, end in ranges]
