"""What the project's command-line programs share: logs on stderr, serving until SIGINT/SIGTERM, exit statuses.

``python -m proxy`` and ``python -m proxy.emulator`` (and the player, through :mod:`proxy.api`) keep one contract
(``shared/DESIGN.md``): the base URL is the first line on stdout, flushed; logs go to stderr; SIGINT and SIGTERM
end the program cleanly with status 0; a failure a user can fix is said in words with status 2, not a traceback.
Neutral ground: this module knows no part of the proxy, so the emulator may use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

#: Time, level, logger, message: the proxy's and the player's log lines.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_to_stderr(level: int, log_format: str = LOG_FORMAT) -> None:
    """Send the process's log records from ``level`` up to stderr (stdout is kept for the URL and JSON)."""
    logging.basicConfig(level=level, stream=sys.stderr, format=log_format)


async def serve_until_signalled(
    start: Callable[[], Awaitable[str]],
    stop: Callable[[], Awaitable[None]],
    started: Callable[[str], None] | None = None,
) -> None:
    """Start a server, print its base URL as the first line on stdout, run ``started`` with it, and serve until
    SIGINT or SIGTERM; then stop it. The signals are caught before the URL goes out: a caller may stop us right
    after reading it."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stopping.set)
    base_url = await start()
    print(base_url, flush=True)
    try:
        if started is not None:
            started(base_url)
        await stopping.wait()
    finally:
        await stop()


def exit_status(
    program: Coroutine[Any, Any, None], failures: tuple[type[Exception], ...], words: Callable[[Exception], str]
) -> int:
    """Run ``program`` to its end: 0. One of ``failures`` (what a user can fix: a port taken, a bad folder): its
    ``words`` on stderr and 2."""
    try:
        asyncio.run(program)
    except failures as exc:
        print(words(exc), file=sys.stderr)
        return 2
    return 0
