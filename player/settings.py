"""What the player remembers between runs: upstream choices, cache, window, volume, recent pieces.

Stored with QSettings in an INI file under the platform's config folder (platformdirs), so it is a plain text
file a user can read, and tests can point it at a temporary path. Values are stored as JSON text: QSettings' INI
backend would turn a one-element list into a string and numbers into strings.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import platformdirs
from PySide6.QtCore import QByteArray, QSettings

from player.host import HostConfig
from proxy.api import (
    APP_NAME,
    DEFAULT_DISK_CAP,
    DEFAULT_SLICE_SIZE,
    Source,
    default_cache_dir,
    filbeam_source,
    provider_source,
    template_source,
)

log = logging.getLogger(__name__)

HISTORY_LENGTH = 20
#: Pieces whose audio and subtitle choice is remembered (the most recent ones).
TRACK_CHOICES_KEPT = 200
NETWORKS = ("mainnet", "calibration")
#: Where videos come from (the settings dialog's first choice): the Filecoin CDN, one storage provider, or URLs.
SOURCE_KINDS = ("filbeam", "provider", "custom")
SLICE_SIZES = (256 << 10, 512 << 10, 1 << 20, 2 << 20, 4 << 20)
DEFAULT_DEMO_LATENCY_MS = 50.0


def default_settings_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "settings.ini"


class _Value:
    """A typed setting: ``settings.volume`` reads and writes ``volume`` in the file."""

    def __init__(self, default: Any) -> None:
        self.default = default
        self.key = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = name

    def __get__(self, settings: Settings | None, owner: type) -> Any:
        if settings is None:
            return self
        raw = settings.store.value(self.key)
        if raw is None:
            return self.default
        try:
            value = json.loads(raw)
        except (TypeError, ValueError):
            log.warning("ignoring an unreadable setting %s=%r", self.key, raw)
            return self.default
        if self.default is not None and type(value) is not type(self.default):
            if isinstance(self.default, float) and isinstance(value, int):
                return float(value)
            return self.default
        return value

    def __set__(self, settings: Settings, value: Any) -> None:
        settings.store.setValue(self.key, json.dumps(value))


class _Bytes(_Value):
    """Opaque Qt state (window geometry, dock layout), stored as Qt keeps it rather than as JSON."""

    def __init__(self) -> None:
        super().__init__(None)

    def __get__(self, settings: Settings | None, owner: type) -> Any:
        if settings is None:
            return self
        value = settings.store.value(self.key)
        return value if isinstance(value, QByteArray) else None

    def __set__(self, settings: Settings, value: QByteArray) -> None:
        settings.store.setValue(self.key, value)


class Settings:
    source_kind = _Value("filbeam")
    provider_url = _Value("")
    network = _Value("mainnet")
    payer = _Value("")
    templates = _Value([])
    cache_dir_text = _Value("")
    cache_size = _Value(DEFAULT_DISK_CAP)
    slice_size = _Value(DEFAULT_SLICE_SIZE)
    demo_latency_ms = _Value(DEFAULT_DEMO_LATENCY_MS)
    hover_prefetch = _Value(True)
    history = _Value([])
    #: Per piece (keyed like ``history``): title, duration_ms, position_ms (``player/resume.py``).
    pieces = _Value({})
    speed = _Value(1.0)
    volume = _Value(0.8)
    muted = _Value(False)
    panel_visible = _Value(True)
    #: Per piece (the CID or URL as typed): {"audio": index, "subtitle": index or -1 for off}.
    track_choices = _Value({})
    geometry = _Bytes()
    window_state = _Bytes()

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_settings_path()
        self.store = QSettings(str(self.path), QSettings.Format.IniFormat)

    @property
    def cache_dir(self) -> Path:
        return Path(self.cache_dir_text) if self.cache_dir_text else default_cache_dir()

    @cache_dir.setter
    def cache_dir(self, path: Path | None) -> None:
        self.cache_dir_text = str(path) if path and Path(path) != default_cache_dir() else ""

    def remember(self, text: str) -> None:
        """Put a played CID or URL first in the history (once), keeping the last few."""
        history = [text, *(h for h in self.history if h != text)]
        self.history = history[:HISTORY_LENGTH]

    def tracks_for(self, piece: str) -> dict[str, int]:
        """The audio and subtitle tracks chosen for ``piece`` last time ({} when nothing was chosen)."""
        choice = self.track_choices.get(piece, {})
        return {k: v for k, v in choice.items() if k in ("audio", "subtitle") and isinstance(v, int)}

    def remember_tracks(self, piece: str, **choice: int) -> None:
        """Remember a choice for ``piece``; the piece moves to the newest end, the oldest fall off."""
        choices = dict(self.track_choices)
        merged = {**choices.pop(piece, {}), **choice}
        kept = list(choices.items())[-(TRACK_CHOICES_KEPT - 1) :]
        self.track_choices = {**dict(kept), piece: merged}

    def sources(self) -> list[Source]:
        """The configured upstreams in order: the chosen one (FilBeam for the payer, or the storage provider),
        then the URL templates (the only ones when the choice is "custom")."""
        sources: list[Source] = []
        try:
            if self.source_kind == "filbeam" and self.payer:
                sources.append(filbeam_source(self.payer, self.network))
            elif self.source_kind == "provider" and self.provider_url:
                sources.append(provider_source(self.provider_url))
        except ValueError as exc:
            log.warning("ignoring the %s setting: %s", self.source_kind, exc)
        for template in self.templates:
            try:
                sources.append(template_source(template))
            except ValueError as exc:
                log.warning("ignoring an upstream template: %s", exc)
        return sources

    def sync(self) -> None:
        self.store.sync()

    def host_config(self, demo_dir: Path | None, *, demo_first: bool, sources: list[Source]) -> HostConfig:
        """The proxy these settings ask for (``sources``: the command line's, then the configured ones)."""
        return HostConfig(
            cache_dir=self.cache_dir,
            sources=[*sources, *self.sources()],
            demo_dir=demo_dir,
            demo_first=demo_first,
            demo_latency_ms=self.demo_latency_ms,
            slice_size=self.slice_size,
            disk_cap=self.cache_size,
        )
