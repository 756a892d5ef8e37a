"""The hashing process's first steps, in a module that imports nothing heavy.

A "spawn" worker imports the module of its initializer before it runs it. Kept here, next to nothing, the
worker lowers its priority before it imports the hashing code (numpy, ~140 ms of CPU); in ``proxy.verify`` it
imported all of that at full priority first, beside the player's first frame.
"""

from __future__ import annotations

import os
import threading
import time

#: Hashing yields the CPU to playback and serving.
HASHING_NICENESS = 10


def init_hashing_worker(parent: int) -> None:
    """Low priority; no hold on the parent's stdout/stderr; and gone within a second of the parent.

    A pool worker outlives a parent that was killed (its task queue never reports end-of-file, because the
    worker holds both ends), and it would keep the parent's output pipes open, so whoever waits for the parent's
    output would wait forever.
    """
    if hasattr(os, "nice"):
        os.nice(HASHING_NICENESS)
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        os.dup2(devnull, fd)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True, name="parent-watch").start()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)
