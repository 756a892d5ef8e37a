"""Where pieces can come from: FilBeam for one payer, a storage provider's ``/piece/`` endpoint, or any URL template.

Facts (``shared/research/filbeam.md``): FilBeam serves ``https://{payer}.filbeam.io/{v2 cid}``
(``.calibration.filbeam.io`` on calibration), payer in lowercase, no ``/piece/`` prefix, and needs the v2 CID; a
Curio provider serves ``{serviceURL}/piece/{cid}`` with full Range support and takes v1 or v2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from proxy.cid import PieceCid
from proxy.upstream_errors import UpstreamError

FILBEAM_DOMAINS = {"mainnet": "filbeam.io", "calibration": "calibration.filbeam.io"}
_PAYER_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")


@dataclass(frozen=True)
class Source:
    """One place to fetch pieces from. ``template`` contains ``{cid}``."""

    name: str
    kind: str  # "filbeam" | "provider" | "template"
    template: str

    def url(self, piece: PieceCid) -> str:
        if self.kind == "filbeam" and piece.height is None:
            raise UpstreamError(
                400,
                "FilBeam needs the v2 piece CID (bafkzcib…), which carries the size; this is a v1 CID",
                source=self.name,
            )
        cid = piece.v2() if piece.height is not None else piece.v1()
        return self.template.replace("{cid}", quote(cid, safe=""))


def filbeam_source(payer: str, network: str = "mainnet") -> Source:
    """The FilBeam CDN for one payer wallet: ``https://{payer}.filbeam.io/{cid}`` (lowercase payer)."""
    if not _PAYER_RE.match(payer):
        raise ValueError(f"a FilBeam payer is a 0x-prefixed 40-hex-digit wallet address, not {payer!r}")
    if network not in FILBEAM_DOMAINS:
        raise ValueError(f"network must be one of {', '.join(FILBEAM_DOMAINS)}, not {network!r}")
    return Source(f"FilBeam ({network})", "filbeam", f"https://{payer.lower()}.{FILBEAM_DOMAINS[network]}/{{cid}}")


def provider_source(service_url: str) -> Source:
    """A storage provider's piece endpoint: ``{serviceURL}/piece/{cid}``, with the slash FilBeam adds too."""
    if not service_url.startswith(("http://", "https://")):
        raise ValueError(f"a provider service URL starts with http:// or https://, not {service_url!r}")
    base = service_url.rstrip("/")
    host = re.sub(r"^https?://", "", base).split("/")[0]
    return Source(f"provider {host}", "provider", f"{base}/piece/{{cid}}")


def template_source(template: str) -> Source:
    if "{cid}" not in template:
        raise ValueError(f"an upstream template must contain {{cid}}: {template!r}")
    if not template.startswith(("http://", "https://")):
        raise ValueError(f"an upstream template must be an http(s) URL: {template!r}")
    host = re.sub(r"^https?://", "", template).split("/")[0]
    return Source(f"upstream {host}", "template", template)
