"""A local FilBeam-compatible origin (or Curio storage provider) with latency, bandwidth caps and faults.

Nobody can reach Filecoin from a test machine, and a first-time user should see PiecePlayer work before they own
a payer address, so this serves the files of a folder under their real PieceCIDs, answering as the real services
do (``shared/research/filbeam.md`` §2 and §4):

* ``filbeam`` mode: the first GET of a piece is a CDN cache miss — a **200 with the whole piece from byte 0**
  whatever ``Range`` says, without ``Content-Length`` (FilBeam streams it through a TransformStream); later GETs
  are cache hits with true 206 answers. A HEAD never matches the cached GET, so it always gets the miss headers.
  ``ETag: "<cid>"``, one-year ``Cache-Control``, ``X-Data-Set-ID``, and the worker's own words for its 401, 402,
  404 and 502 answers (``filbeam/worker`` ``piece-retriever/lib/{request,store}.js``, ``bin/piece-retriever.js``).
* ``curio`` mode: a storage provider's ``/piece/{cid}`` with Range support exactly as Go's ``http.ServeContent``
  gives it (``src/net/http/fs.go``: single, suffix, multipart, 416, ``If-Range``, ``If-None-Match``…), including
  Go's quirks, because a proxy must survive the real server, not an idealised one.

Knobs (flags, and the :class:`Knobs` object tests and benchmarks change at run time): time to first byte,
bandwidth per connection and in total, faults, and the edge as FilBeam really runs it — several providers per
piece picked at random with an edge entry each, a 512 MB object cap, fills cancelled by a client that leaves —
and Curio's 429 above 256 requests in flight. Counters (requests, bytes sent per
piece, a request log) are how tests and benchmarks measure egress. ``GET /_emulator/stats`` and
``POST /_emulator/knobs`` expose both to other processes.

The parts, one idea each: :mod:`~proxy.emulator.catalogue` (which files under which PieceCIDs, and the one demo
manifest reader), :mod:`~proxy.emulator.knobs`, :mod:`~proxy.emulator.filbeam` (edge cache, providers, object
cap), :mod:`~proxy.emulator.curio` (Go's ranges and Curio's limit), :mod:`~proxy.emulator.faults` (fault dice,
throttling, dropped connections), :mod:`~proxy.emulator.counters`, :mod:`~proxy.emulator.origin` (the server that
wires them) and :mod:`~proxy.emulator.cli`. Callers import from the package: ``from proxy.emulator import
Emulator, Knobs``; each name's module is imported on first use (``proxy.lazy_exports``).
"""

from typing import TYPE_CHECKING

from proxy.lazy_exports import lazy_exports

_HOMES = {
    **dict.fromkeys(
        (
            "COMMP_CACHE_NAME",
            "DEMO_MANIFEST_NAME",
            "ManifestEntry",
            "ManifestError",
            "ServedPiece",
            "load_pieces",
            "read_manifest",
            "remember_piece_cid",
            "sha256_of_file",
        ),
        "proxy.emulator.catalogue",
    ),
    **dict.fromkeys(("build_parser", "main"), "proxy.emulator.cli"),
    **dict.fromkeys(("Counters", "LoggedRequest", "PieceCounters"), "proxy.emulator.counters"),
    **dict.fromkeys(
        ("CURIO_TOO_MANY", "GoRangeError", "go_check_preconditions", "go_if_range_holds", "go_parse_range"),
        "proxy.emulator.curio",
    ),
    **dict.fromkeys(("EDGE_FILL_MODES", "MODES", "Knobs"), "proxy.emulator.knobs"),
    "Emulator": "proxy.emulator.origin",
}
# The player's launch reads the demo manifest (the catalogue) but runs the server only for the demo.
__getattr__, __dir__ = lazy_exports(globals(), _HOMES)

if TYPE_CHECKING:
    from proxy.emulator.catalogue import (
        COMMP_CACHE_NAME,
        DEMO_MANIFEST_NAME,
        ManifestEntry,
        ManifestError,
        ServedPiece,
        load_pieces,
        read_manifest,
        remember_piece_cid,
        sha256_of_file,
    )
    from proxy.emulator.cli import build_parser, main
    from proxy.emulator.counters import Counters, LoggedRequest, PieceCounters
    from proxy.emulator.curio import (
        CURIO_TOO_MANY,
        GoRangeError,
        go_check_preconditions,
        go_if_range_holds,
        go_parse_range,
    )
    from proxy.emulator.knobs import EDGE_FILL_MODES, MODES, Knobs
    from proxy.emulator.origin import Emulator

__all__ = [
    "COMMP_CACHE_NAME",
    "CURIO_TOO_MANY",
    "DEMO_MANIFEST_NAME",
    "EDGE_FILL_MODES",
    "MODES",
    "Counters",
    "Emulator",
    "GoRangeError",
    "Knobs",
    "LoggedRequest",
    "ManifestEntry",
    "ManifestError",
    "PieceCounters",
    "ServedPiece",
    "build_parser",
    "go_check_preconditions",
    "go_if_range_holds",
    "go_parse_range",
    "load_pieces",
    "main",
    "read_manifest",
    "remember_piece_cid",
    "sha256_of_file",
]
