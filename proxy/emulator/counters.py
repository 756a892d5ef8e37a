"""What the emulator counts: requests, bytes sent per piece, and a log of answers.

These counters are how tests and benchmarks measure egress — the bytes a real upstream would bill — and
``GET /_emulator/stats`` shows them to other processes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field

_LOG_LENGTH = 10_000


@dataclass
class PieceCounters:
    requests: int = 0
    bytes_sent: int = 0


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    piece: str
    range: str | None
    status: int
    bytes_sent: int
    complete: bool
    #: For a piece answer in filbeam mode: whether the emulated CDN edge held the piece (None otherwise).
    edge_hit: bool | None = None
    #: For a piece answer in filbeam mode: which of the piece's providers the worker picked (0-based).
    provider: int | None = None


@dataclass
class Counters:
    requests: int = 0
    head_requests: int = 0
    bytes_sent: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    by_piece: dict[str, PieceCounters] = field(default_factory=dict)
    log: deque[LoggedRequest] = field(default_factory=lambda: deque(maxlen=_LOG_LENGTH))

    def as_json(self) -> dict:
        return {
            "requests": self.requests,
            "head_requests": self.head_requests,
            "bytes_sent": self.bytes_sent,
            "by_status": {str(k): v for k, v in self.by_status.items()},
            "by_piece": {k: asdict(v) for k, v in self.by_piece.items()},
        }
