"""Temporary: ``python -m proxy.emulator`` with aborted responses counted — used only while the emulator drops them.

The emulator adds a response's body bytes to its counters when ``_write_body`` returns; when the client resets
the connection mid-body, ``response.write`` raises, the count in flight is lost and the response is counted as
0 bytes (reported to the lead with a reproduction). Egress after a viewer leaves is exactly what some scenarios
measure, so :mod:`bench.origin` first checks the real emulator and starts this shim only if the check fails;
the run's notes say so. Delete this module once the emulator counts aborted responses.
"""

from __future__ import annotations

import asyncio
import sys

from proxy import emulator
from proxy.emulator import PieceCounters


class CountingEmulator(emulator.Emulator):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._partial: dict[int, int] = {}

    async def _pace_write(self, response, data, conn, total) -> int:
        sent = await super()._pace_write(response, data, conn, total)
        self._partial[id(response)] = self._partial.get(id(response), 0) + sent
        return sent

    async def _write_body(self, request, response, piece, parts, framing, knobs) -> int:
        try:
            return await super()._write_body(request, response, piece, parts, framing, knobs)
        except (ConnectionError, asyncio.CancelledError):
            lost = self._partial.get(id(response), 0)
            self.counters.bytes_sent += lost
            self.counters.by_piece.setdefault(piece.v2, PieceCounters()).bytes_sent += lost
            raise
        finally:
            self._partial.pop(id(response), None)


if __name__ == "__main__":
    emulator.Emulator = CountingEmulator  # the emulator's own command line, with the counting class
    sys.exit(emulator.main())
