"""How big and how many: the full plan (for people, ~15 minutes) and the quick plan (CI, a few minutes).

The whole-file contender downloads the entire piece for every request, so on the 1 GiB piece it gets a budget:
a measure it would need more than ``wholefile_budget`` upstream bytes for is skipped with that reason, and it
takes at most ``wholefile_samples`` samples of any measure. That is the point it exists to make, not a flaw in
the measurement.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from bench.contenders import Contender
from bench.media import Piece
from bench.origin import Origin
from proxy.units import GiB, MiB


@dataclass(frozen=True)
class WatchPlan:
    """A viewer's session: play from the start, seek to random places, come back to some of them.

    Reading is paced (``pace`` bytes/s) after each first byte, like a player whose buffer is full and which
    takes bytes as it decodes them; the pace is several times below the origin's per-connection bandwidth, so a
    proxy's read-ahead has time to run as far ahead as it is allowed to.
    """

    play: int
    seeks: int
    per_seek: int
    reseeks: int
    pace: int


@dataclass(frozen=True)
class Plan:
    name: str
    piece_mib: int
    cold_repeats: int
    seek_probes: int
    throughput_repeats: int
    viewers: int
    viewer_seeks: int
    #: Seconds a viewer watches after each seek (uniformly drawn between the two).
    viewer_watch_s: tuple[float, float]
    concurrency_repeats: int
    leave_repeats: int
    watch: WatchPlan
    watch_repeats: int
    filbeam_repeats: int
    player_seeks: int
    player_repeats: int
    #: Repeats of the container-aware scenario: its warm re-open sits a few ms from its goal on a noisy VM (first
    #: frames of one build vary by ±5 ms), so its median takes more samples than the other player scenarios.
    media_repeats: int
    #: Warm re-opens per turn of the moov-at-end sweep, PiecePlayer and nginx alternated: the warm goal is a gap
    #: of a few ms between two ~30 ms figures, and nginx alone spreads 2× from run to run on a busy machine, so
    #: one warm sample per cold one cannot tell them apart.
    warm_repeats: int
    #: Sizes (MiB) of the moov-at-end sweep (issue 19); each is a real MP4, made once and cached.
    moov_sweep_mib: tuple[int, ...]
    #: Samples per corpus file and contender (issue 20's real-world files), and which files: None is every file
    #: the playability matrix expects to play.
    corpus_repeats: int
    corpus_files: tuple[str, ...] | None
    wholefile_budget: int
    wholefile_samples: int


FULL = Plan(
    name="full",
    piece_mib=1024,
    cold_repeats=5,
    seek_probes=12,
    throughput_repeats=3,
    viewers=50,
    viewer_seeks=6,
    viewer_watch_s=(1.0, 3.0),
    concurrency_repeats=3,
    leave_repeats=5,
    watch=WatchPlan(play=32 * MiB, seeks=10, per_seek=16 * MiB, reseeks=5, pace=16 * MiB),
    watch_repeats=3,
    filbeam_repeats=3,
    player_seeks=5,
    player_repeats=3,
    media_repeats=5,
    warm_repeats=3,
    moov_sweep_mib=(2, 20, 200, 1024),
    corpus_repeats=3,
    corpus_files=None,
    wholefile_budget=6 * GiB,
    wholefile_samples=3,
)

QUICK = Plan(
    name="quick",
    piece_mib=32,
    cold_repeats=2,
    seek_probes=3,
    throughput_repeats=2,
    viewers=50,
    viewer_seeks=2,
    viewer_watch_s=(0.3, 0.6),
    concurrency_repeats=1,
    leave_repeats=2,
    watch=WatchPlan(play=4 * MiB, seeks=4, per_seek=2 * MiB, reseeks=2, pace=32 * MiB),
    watch_repeats=1,
    filbeam_repeats=1,
    player_seeks=2,
    player_repeats=1,
    media_repeats=1,
    warm_repeats=1,
    moov_sweep_mib=(2, 20),
    corpus_repeats=1,
    corpus_files=("mp4-faststart-h264-aac.mp4", "vp9-opus.webm", "audio-mp3.mp3"),
    wholefile_budget=64 * GiB,
    wholefile_samples=3,
)


@dataclass
class RunContext:
    plan: Plan
    piece: Piece
    origin: Origin
    contenders: dict[str, Contender]
    work: Path
    rng: random.Random
    #: Contenders that cannot run here (name → reason), e.g. nginx not installed.
    unavailable: dict[str, str] = field(default_factory=dict)
    #: The same media with its ``moov`` at the end (issue 10's container-aware open).
    moov_at_end: Piece | None = None

    def active(self, *, exclude: tuple[str, ...] = ()) -> list[Contender]:
        return [c for name, c in self.contenders.items() if name not in self.unavailable and name not in exclude]

    def wholefile_skip(self, whole_downloads: int) -> str | None:
        """Why the whole-file contender sits out a measure needing ``whole_downloads`` full-piece fetches."""
        needed = whole_downloads * self.piece.size
        if needed <= self.plan.wholefile_budget:
            return None
        return (
            f"not run: needs {whole_downloads} whole-piece downloads ({needed / GiB:.1f} GiB of upstream) "
            f"per sample, over this plan's {self.plan.wholefile_budget / GiB:.0f} GiB budget"
        )
