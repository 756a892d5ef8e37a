"""The emulator's knobs: everything a test, a benchmark or ``POST /_emulator/knobs`` may turn at run time.

One object, checked whole on every change, so a bad value is refused in words and changes nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from proxy.emulator.curio import CURIO_CONCURRENCY
from proxy.emulator.filbeam import DEFAULT_OBJECT_CAP

MODES = ("filbeam", "curio")
#: When the emulated CDN edge holds a piece: after the first GET, after the first complete 200, never, always.
EDGE_FILL_MODES = ("first-request", "complete", "never", "always")


@dataclass
class Knobs:
    """Everything a test or benchmark may turn. Fractions are probabilities per request."""

    mode: str = "filbeam"
    latency_ms: float = 50.0  # time to first byte (headers) of every answer
    bandwidth: int | None = None  # bytes/s per connection
    total_bandwidth: int | None = None  # bytes/s across all connections
    edge_fill: str = "first-request"
    miss_content_length: bool = False  # send Content-Length on a CDN miss (FilBeam's is UNVERIFIED)
    # faults
    drop_after: int | None = None  # close the connection after this many body bytes
    error_rate: float = 0.0
    error_status: int = 502
    quota_rate: float = 0.0  # answer 402 "CDN egress quota exhausted"
    not_found_rate: float = 0.0  # answer 404 "not indexed yet"
    ignore_range: bool = False  # 200 with the whole body, always
    wrong_content_range: bool = False  # announce start+1…end+1 while sending start…end
    wrong_total: bool = False  # announce a total one byte larger than the piece
    short_body: bool = False  # announce the full length, send half, close
    etag_change: bool = False  # a different ETag on every answer
    stall_ms: float = 0.0  # extra wait before the first byte
    seed: int | None = None
    # FilBeam and Curio as they really run (proxy.emulator.filbeam, proxy.emulator.curio)
    providers: int = 1  # providers per piece behind the CDN: a random pick per request, an edge entry each
    object_cap: int | None = DEFAULT_OBJECT_CAP  # pieces larger than this are never cached at the edge
    fill_cancelled_on_disconnect: bool = False  # a client leaving a miss early cancels the edge fill
    max_concurrent: int | None = CURIO_CONCURRENCY  # curio mode: more requests in flight get a 429

    def __post_init__(self) -> None:
        self._check()

    def update(self, **changes: object) -> None:
        """Change knobs by name; an unknown name or value raises ValueError and changes nothing."""
        names = {f.name for f in fields(self)}
        for name in changes:
            if name not in names:
                raise ValueError(f"unknown emulator knob {name!r} (known: {', '.join(sorted(names))})")
        before = asdict(self)
        for name, value in changes.items():
            setattr(self, name, value)
        try:
            self._check()
        except ValueError:
            for name, value in before.items():
                setattr(self, name, value)
            raise

    def _check(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"emulator mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.edge_fill not in EDGE_FILL_MODES:
            raise ValueError(f"edge_fill must be one of {', '.join(EDGE_FILL_MODES)}, not {self.edge_fill!r}")
        for name in ("error_rate", "quota_rate", "not_found_rate"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(f"{name} is a fraction between 0 and 1, not {value!r}")
        if not isinstance(self.error_status, int) or not 400 <= self.error_status <= 599:
            raise ValueError(f"error_status must be an HTTP error status (400–599), not {self.error_status!r}")
        for name in ("bandwidth", "total_bandwidth", "drop_after", "object_cap", "max_concurrent"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < (0 if name == "drop_after" else 1)):
                raise ValueError(f"{name} must be a positive whole number of bytes or None, not {value!r}")
        if not isinstance(self.providers, int) or self.providers < 1:
            raise ValueError(f"providers must be a whole number of at least 1, not {self.providers!r}")
        for name in ("latency_ms", "stall_ms"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a non-negative number of milliseconds, not {value!r}")
