"""The proxy's public face for the player: what the GUI may use besides ``proxy.events`` and ``proxy.runner``.

The player runs the proxy and shows what it does; it should not depend on how the proxy does it. Everything it
needs — piece addresses, upstream sources, the cache's default sizes, the config a proxy starts from, the local
emulator for the demo and its manifest, byte units, the log lines the proxy's command line writes, the pure
functions over a piece's byte ↔ time map that an event carries — is named here, so the proxy's insides can move
(the cache into a package, sources into their own part) without touching the player. ``pyproject.toml`` holds
the contract: the player imports ``proxy.api``, ``proxy.events`` and ``proxy.runner`` and no other part of the
proxy.
"""

from typing import TYPE_CHECKING

from proxy.cache import DEFAULT_DISK_CAP, DEFAULT_MEMORY_CAP, DEFAULT_SLICE_SIZE
from proxy.cid import CidError, PieceCid, parse_piece_cid
from proxy.command_line import log_to_stderr
from proxy.config import APP_NAME, default_cache_dir
from proxy.emulator.catalogue import ManifestEntry, ManifestError, read_manifest
from proxy.http_library import wait_for_certificates
from proxy.lazy_exports import lazy_exports
from proxy.media.playable import keyframe_byte, playable_times, track_units
from proxy.media.tracks import TrackUnits
from proxy.server import ProxyConfig
from proxy.sources import Source, filbeam_source, provider_source, template_source
from proxy.units import GiB, MiB
from proxy.upstream_errors import UpstreamError

# The emulator's server and its knobs are imported when the demo first asks for them, not by every launch that
# imports this module.
__getattr__, __dir__ = lazy_exports(globals(), {"Emulator": "proxy.emulator.origin", "Knobs": "proxy.emulator.knobs"})

if TYPE_CHECKING:
    from proxy.emulator.knobs import Knobs
    from proxy.emulator.origin import Emulator

__all__ = [
    "APP_NAME",
    "DEFAULT_DISK_CAP",
    "DEFAULT_MEMORY_CAP",
    "DEFAULT_SLICE_SIZE",
    "CidError",
    "Emulator",
    "GiB",
    "Knobs",
    "ManifestEntry",
    "ManifestError",
    "MiB",
    "PieceCid",
    "ProxyConfig",
    "Source",
    "TrackUnits",
    "UpstreamError",
    "default_cache_dir",
    "filbeam_source",
    "keyframe_byte",
    "log_to_stderr",
    "parse_piece_cid",
    "playable_times",
    "provider_source",
    "read_manifest",
    "template_source",
    "track_units",
    "wait_for_certificates",
]
