"""The one error the media parsers raise: the bytes are not a container we can index, said in words.

Parsers never let ``struct.error``, ``IndexError`` or a numpy error escape on strange input; they check bounds
and raise :class:`ContainerError` with the fact a person needs (which box or element, at which byte, what was
wrong). The proxy treats it as "no index": it falls back to plain proxying.
"""

from __future__ import annotations


class ContainerError(ValueError):
    """Malformed, truncated or unsupported container data."""


class TruncatedError(ContainerError):
    """The bytes end before a structure does: given bytes up to offset ``needed`` (exclusive), it would fit.

    ``needed`` is an absolute offset in the piece, so a caller can fetch the missing bytes and try again.
    """

    def __init__(self, message: str, needed: int) -> None:
        super().__init__(message)
        self.needed = needed
