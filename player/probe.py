"""Why playback failed, in words: ask the address the player used.

QMediaPlayer only reports a generic error ("Resource error", "Could not open file"). The proxy knows the real
cause and answers it as JSON ``{"error", "detail"}`` — the upstream refused the piece, the CID is not indexed
yet, the quota is exhausted. When the bytes do arrive, the piece is simply not something the player can decode,
and the message says so with the type the proxy sniffed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import aiohttp

from player.units import format_bytes
from proxy.api import wait_for_certificates

_BODY_LIMIT = 4096
_TOTAL_RE = re.compile(r"/(\d+)\s*$")


@dataclass(frozen=True)
class Explanation:
    #: One sentence for the status bar.
    sentence: str
    #: The upstream's own words, when the proxy passed them on.
    detail: str = ""

    def __str__(self) -> str:
        return self.sentence if not self.detail else f"{self.sentence} ({self.detail})"


async def explain_failure(url: str, qt_error: str, timeout_s: float = 20.0) -> Explanation:
    """Why ``url`` did not play, in words; never raises."""
    wait_for_certificates()  # aiohttp's own TLS context, used here, may have its CA bundle still loading
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session,
            session.get(url, headers={"Range": "bytes=0-0"}) as response,
        ):
            if response.status >= 400:
                body = await response.content.read(_BODY_LIMIT)
                return _error_sentence(response.status, response.reason or "", body)
            content_type = response.headers.get("Content-Type", "unknown type").split(";")[0]
            total = _TOTAL_RE.search(response.headers.get("Content-Range", ""))
            size = f", {format_bytes(int(total.group(1)))}" if total else ""
            return Explanation(
                f"The piece downloads ({content_type}{size}) but is not audio or video this player can decode",
                f"Qt says: {qt_error}",
            )
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return Explanation(qt_error, f"{url.split('/')[2]} did not answer: {exc or type(exc).__name__}")


def _error_sentence(status: int, reason: str, body: bytes) -> Explanation:
    try:
        document = json.loads(body)
        error, detail = str(document.get("error", "")).strip(), str(document.get("detail", "")).strip()
    except (ValueError, AttributeError):
        error, detail = "", body.decode("utf-8", "replace").strip()[:200]
    if not error:
        return Explanation(f"The server answered {status} {reason}".strip(), detail)
    return Explanation(error, detail)
