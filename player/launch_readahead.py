"""Ask the kernel, first thing, to read the files the last launch read: a cold start's disk reads then overlap its work.

Why: a launch maps ~40 libraries (Qt, FFmpeg, ICU, the OpenGL driver: hundreds of MB, of which it touches a part)
and reads the bytecode of ~500 modules. With those files in the page cache the window launch took 620–690 ms on
the 2-core bench machine; with the cache dropped, 1050–1180 ms (three pairs). Cold, every first touch of a page
is a disk read that the main thread waits for, one at a time. Bench runs land in between, because the VM's host
trims the page cache, and so does a user's first launch after a boot or after a day of other work. The kernel can
read all of it at once, in the background, if asked: ``posix_fadvise(POSIX_FADV_WILLNEED)`` starts the reads and
returns. Firefox reads its main library ahead at startup for the same reason.

How: once a launch has shown its first frame, :func:`record_in_background` writes which files it uses and which
parts of them are in memory (``mincore``), in import order for the bytecode and load order for the libraries.
The next launch calls :func:`start` before its imports. That forks a short-lived child process, which gives the
kernel those ranges and exits. The launch goes on at once: the child shares no GIL and no loader lock with it, and
it touches nothing of Qt. A missing, stale or unreadable list does nothing: these are hints, never requirements.
Linux only (``posix_fadvise``, ``/proc/self/maps``, ``fork``); elsewhere both calls do nothing.
"""

from __future__ import annotations

import os
import sys

#: One list per kind of launch: the window maps the OpenGL driver, the headless self-test does not.
WINDOW, HEADLESS = "window", "headless"
#: Resident pages closer than this are read as one range (fewer ranges; the kernel reads ahead in such steps).
MERGE_GAP = 256 * 1024
#: Recording waits this long after the first frame, so the list does not compete with the launch it describes.
RECORD_DELAY_S = 2.0
_SKIPPED_MAPS = ("/dev/", "/proc/", "/sys/", "/memfd:", "/SYSV")


def supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "posix_fadvise") and hasattr(os, "fork")


def list_path(mode: str, environ: dict[str, str] | os._Environ = os.environ) -> str:
    """Where the list lives: the user's cache folder as platformdirs names it on Linux (not imported: too slow)."""
    cache_home = environ.get("XDG_CACHE_HOME", "").strip() or os.path.expanduser("~/.cache")
    return os.path.join(cache_home, "pieceplayer", f"launch-readahead-{mode}.txt")


def mode_for(argv: list[str]) -> str:
    return HEADLESS if "--self-test" in argv and "--window" not in argv else WINDOW


# --- reading ahead (the launch's first step) ------------------------------------------------------------------


def start(mode: str) -> bool:
    """Fork the child that reads the last launch's files ahead; False when there is no list or no way to."""
    path = list_path(mode)
    if not supported() or not os.path.isfile(path):
        return False
    try:
        child = os.fork()
    except OSError:
        return False
    if child == 0:  # the child forks again and leaves at once, so the launch never has a child to wait for
        try:
            if os.fork() == 0:
                _detach()
                read_ahead(path)
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    return True


def _detach() -> None:
    """Let go of the launch's standard streams: whoever reads them (a terminal, the bench) must not wait for us."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def read_ahead(path: str) -> int:
    """Give the kernel every range the list at ``path`` names; the number of ranges given."""
    given = 0
    with open(path, encoding="utf-8") as listing:
        for line in listing:
            name, _, ranges = line.rstrip("\n").partition("\t")
            try:
                fd = os.open(name, os.O_RDONLY)
            except OSError:
                continue
            try:
                for start, length in parse_ranges(ranges):
                    os.posix_fadvise(fd, start, length, os.POSIX_FADV_WILLNEED)
                    given += 1
            except (OSError, ValueError):
                pass
            finally:
                os.close(fd)
    return given


def parse_ranges(text: str) -> list[tuple[int, int]]:
    """``"0+4096,8192+100"`` → ``[(0, 4096), (8192, 100)]``; an empty text is the whole file (length 0)."""
    if not text:
        return [(0, 0)]
    return [(int(start), int(length)) for start, _, length in (part.partition("+") for part in text.split(","))]


# --- recording (after the first frame) ------------------------------------------------------------------------


def launch_files() -> list[str]:
    """The files this launch has used so far: module bytecode in import order, then mapped files in load order.
    Taken at the first frame (a few ms), so what the window builds later (the side panel's charts) is left out."""
    return module_files() + mapped_files() if supported() else []


def record_in_background(mode: str, delay_s: float = RECORD_DELAY_S) -> None:
    """Note this launch's files now (at its first frame), and write the list ``delay_s`` later on a thread."""
    if not supported():
        return
    import threading

    timer = threading.Timer(delay_s, record_quietly, args=(mode, launch_files()))
    timer.daemon = True
    timer.start()


def record_quietly(mode: str, files: list[str]) -> None:
    """Record the list for ``mode`` where it lives; a failure is logged, never raised (the list is only a hint)."""
    import logging

    if not supported():
        return
    try:
        record(list_path(mode), files)
    except OSError as exc:  # a full or read-only cache folder: the next launch is only as fast as before
        logging.getLogger(__name__).info("launch read-ahead list not written: %s", exc)


def record(path: str, files: list[str]) -> int:
    """Write ``files`` to the list at ``path`` (atomically), each with the parts of it in memory now; the number
    of files listed. Bytecode is small and read whole; a library is listed by its resident ranges only."""
    from player.page_residency import resident_ranges

    lines = []
    for name in files:
        if name.endswith((".pyc", ".py")):
            lines.append(f"{name}\t")
        elif ranges := resident_ranges(name, MERGE_GAP):
            lines.append(name + "\t" + ",".join(f"{start}+{length}" for start, length in ranges))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as listing:
        listing.write("\n".join(lines) + "\n")
    os.replace(temporary, path)
    return len(lines)


def module_files() -> list[str]:
    """The bytecode (or, without it, the source) each imported module was read from, in import order."""
    files: list[str] = []
    for module in list(sys.modules.values()):
        spec = getattr(module, "__spec__", None)
        for candidate in (getattr(spec, "cached", None), getattr(spec, "origin", None)):
            if isinstance(candidate, str) and candidate.endswith((".pyc", ".py")) and os.path.isfile(candidate):
                files.append(candidate)
                break
    return list(dict.fromkeys(files))


def mapped_files(maps_path: str = "/proc/self/maps") -> list[str]:
    """The files this process maps (libraries, extension modules), in the order they were loaded.

    ``mmap`` places each new mapping below the last, so a falling address is a later load: the lines, read
    bottom-up, give the loader's order closely enough for the reads ahead to come roughly when they are needed.
    """
    with open(maps_path, encoding="utf-8", errors="replace") as maps:
        names = [fields[5] for fields in (line.split(maxsplit=5) for line in maps) if len(fields) == 6]
    names = [name.strip() for name in reversed(names)]
    usable = [n for n in names if n.startswith("/") and not n.startswith(_SKIPPED_MAPS) and "(deleted)" not in n]
    return [name for name in dict.fromkeys(usable) if os.path.isfile(name)]
