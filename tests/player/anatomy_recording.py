"""Seeks recorded from real runs, as JSON: the measured seek, the piece's keyframes and the proxy's events.

``tests/player/test_seek_anatomy.py`` writes them when ``ANATOMY_RECORD_DIR`` is set (how
``tests/player/anatomy_events/`` was made); ``tests/player/test_seek_timeline.py`` replays them through the pure
model.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from player.anatomy.keyframes import MediaFacts
from player.anatomy.recorder import ExplainedSeek
from player.anatomy.timeline import SeekInput
from proxy import events as proxy_events


def _tuples(value: object) -> object:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def save(path: Path, explained: ExplainedSeek, media: MediaFacts) -> None:
    seek = explained.timeline.seek
    document = {
        "seek": {k: v for k, v in asdict(seek).items() if k != "events"},
        "media": asdict(media),
        "verdict": explained.verdict,
        "events": [{"type": type(e).__name__, **asdict(e)} for e in seek.events],
    }
    path.write_text(json.dumps(document, indent=0), encoding="utf-8")


def load(path: Path) -> tuple[SeekInput, MediaFacts, str]:
    document = json.loads(path.read_text(encoding="utf-8"))
    events = tuple(
        getattr(proxy_events, e.pop("type"))(**{k: _tuples(v) for k, v in e.items()}) for e in document["events"]
    )
    media = MediaFacts(**{k: _tuples(v) for k, v in document["media"].items()})
    return SeekInput(**document["seek"], events=events), media, document["verdict"]
