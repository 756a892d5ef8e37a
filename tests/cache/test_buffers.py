"""Where bytes wait between upstream and readers: a wait taken must see the change that follows it."""

from __future__ import annotations

import asyncio

from proxy.cache.buffers import Fragment, SliceBuffer


async def test_a_wait_wrapped_in_a_task_sees_a_change_made_before_the_task_first_runs() -> None:
    """A reader races a fragment against the slice holding the same bytes by wrapping both waits in tasks
    (``reader._first_of``). The change that completes either can land before those tasks first run; the wait
    must still end. Before, it waited for the next change, which for a complete fragment never comes: a player's
    index request hung until FFmpeg gave up ("moov atom not found", 3 of 12 cold opens of a 200 MiB piece), and
    where the slice was fetched too, it waited for that fetch (the 1 GiB open's slow mode)."""
    fragment, buffer = Fragment(0, 9), SliceBuffer(0, 10)
    waits = [asyncio.ensure_future(fragment.grown()), asyncio.ensure_future(buffer.wait())]
    fragment.append(b"0123456789")
    buffer.append(memoryview(b"0123456789"))
    async with asyncio.timeout(1):
        await asyncio.gather(*waits)


async def test_a_finished_fragment_wakes_its_waiters() -> None:
    """A fragment that ends (kept as a slice, or failed) wakes readers waiting for more of its bytes: they look again
    (at the cache, or the slices) instead of waiting for bytes that will not come."""
    fragment = Fragment(0, 9)
    fragment.append(b"01234")
    waiting = asyncio.ensure_future(fragment.grown())
    await asyncio.sleep(0)
    fragment.finish()
    async with asyncio.timeout(1):
        await waiting
