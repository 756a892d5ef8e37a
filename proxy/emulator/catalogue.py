"""The piece catalogue: which files a folder serves under which PieceCIDs, and the demo manifest.

One reader of the demo manifest (``resources/demo/manifest.json``) for everyone — the emulator, the player's demo
list, ``resources/make_demo.py`` and the benchmarks — so the file's format is decided in one place. A PieceCID
costs a full CommP pass over the file, so it comes from the manifest or a small cache whenever they still match.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from proxy.cid import CidError, parse_piece_cid
from proxy.commp import commp_of_file
from proxy.sniff import SNIFF_BYTES, sniff_content_type

log = logging.getLogger(__name__)

#: A cache of computed PieceCIDs written next to served files (or in the user cache when the folder is read-only),
#: so start-up does not recompute CommP for files it has seen.
COMMP_CACHE_NAME = ".pieceplayer-commp.json"
#: The demo folder's manifest (``resources/demo/manifest.json``) also names each file's PieceCID.
DEMO_MANIFEST_NAME = "manifest.json"
_HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class ManifestEntry:
    """One file of a demo folder, as its manifest describes it (or as little as the file name tells)."""

    file: str
    title: str
    piece_cid: str | None = None
    size: int | None = None
    duration_s: float | None = None
    #: The file's SHA-256 when the manifest was written: a changed file's PieceCID is computed again.
    sha256: str | None = None


class ManifestError(ValueError):
    """A demo manifest exists but cannot be read; the message names the file and what is wrong."""


def read_manifest(directory: Path) -> list[ManifestEntry] | None:
    """The manifest's entries in order (the first is the default piece), or None when the folder has none."""
    manifest = directory / DEMO_MANIFEST_NAME
    if not manifest.exists():
        return None
    try:
        return [
            ManifestEntry(
                file=str(e["file"]),
                title=str(e.get("title") or e["file"]),
                piece_cid=e.get("piece_cid"),
                size=e.get("size"),
                duration_s=e.get("duration_s"),
                sha256=e.get("sha256"),
            )
            for e in json.loads(manifest.read_text())["pieces"]
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ManifestError(f"the demo manifest {manifest} is not readable: {exc}") from exc


@dataclass(frozen=True)
class ServedPiece:
    """One file the emulator serves, under both its PieceCIDs."""

    path: Path
    size: int
    v1: str
    v2: str
    content_type: str
    data_set_id: int


def load_pieces(directory: Path) -> dict[str, ServedPiece]:
    """Every regular file in ``directory`` under its v1 and v2 PieceCIDs.

    A PieceCID comes from the demo manifest when the file still has the size and SHA-256 recorded there, else
    from the CommP cache when name, size and modification time still match, else it is computed (and cached).
    """
    if not directory.is_dir():
        raise FileNotFoundError(f"the emulator serves a folder, and {directory} is not one")
    manifest = _manifest_entries(directory)
    cache = _load_commp_cache(directory)
    pieces: dict[str, ServedPiece] = {}
    updated = False
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.name == DEMO_MANIFEST_NAME:
            continue
        stat = path.stat()
        key = _fingerprint(path)
        v2 = _manifest_cid(manifest.get(path.name), path, stat.st_size) or cache.get(key)
        if v2 is None:
            log.info("computing the PieceCID of %s (%d bytes)…", path.name, stat.st_size)
            v2 = commp_of_file(path).v2()
            cache[key] = v2
            updated = True
        cid = parse_piece_cid(v2)
        with open(path, "rb") as handle:
            content_type = sniff_content_type(handle.read(SNIFF_BYTES))
        served = ServedPiece(path, stat.st_size, cid.v1(), v2, content_type, 1000 + len(pieces) // 2)
        pieces[served.v2] = pieces[served.v1] = served
    if updated:
        _save_commp_cache(directory, cache)
    return pieces


def remember_piece_cid(path: Path, v2: str) -> None:
    """Record a PieceCID computed elsewhere (``make_demo.py --large``), so serving its folder starts at once."""
    cache = _load_commp_cache(path.parent)
    cache[_fingerprint(path)] = v2
    _save_commp_cache(path.parent, cache)


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"


def _manifest_entries(directory: Path) -> dict[str, ManifestEntry]:
    try:
        entries = read_manifest(directory) or []
    except ManifestError as exc:
        log.warning("ignoring it: %s", exc)
        return {}
    return {entry.file: entry for entry in entries}


def _manifest_cid(entry: ManifestEntry | None, path: Path, size: int) -> str | None:
    """The manifest's CID for this file, if the file is still the one the manifest describes."""
    if entry is None or entry.size != size:
        return None
    try:
        cid = parse_piece_cid(str(entry.piece_cid))
    except CidError:
        return None
    if cid.payload_size != size:
        return None
    expected = entry.sha256
    if expected is not None and sha256_of_file(path) != expected:
        log.info("%s changed since the manifest was written; its PieceCID is computed again", path.name)
        return None
    return cid.v2()


def sha256_of_file(path: Path) -> str:
    """The hex SHA-256 a demo manifest records for a file (``make_demo.py`` writes it, the catalogue checks it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _commp_cache_path(directory: Path) -> Path:
    local = directory / COMMP_CACHE_NAME
    if _writable(directory):
        return local
    from proxy.config import default_cache_dir

    digest = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:16]
    return default_cache_dir() / "emulator" / f"{digest}.json"


def _writable(directory: Path) -> bool:
    probe = directory / f".probe-{secrets.token_hex(4)}"
    try:
        probe.touch()
        probe.unlink()
        return True
    except OSError:
        return False


def _load_commp_cache(directory: Path) -> dict[str, str]:
    with contextlib.suppress(OSError, ValueError):
        known = json.loads(_commp_cache_path(directory).read_text())
        if isinstance(known, dict):
            return {str(k): str(v) for k, v in known.items()}
    return {}


def _save_commp_cache(directory: Path, known: dict[str, str]) -> None:
    path = _commp_cache_path(directory)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(known, indent=1, sort_keys=True))
    except OSError as exc:
        log.warning("could not cache PieceCIDs in %s: %s", path, exc)
