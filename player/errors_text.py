"""Every error a person can meet, in three plain sentences: what happened, why, what to do.

The proxy, aiohttp, Qt and FFmpeg each describe a failure in their own terms ("ssl:default [Name or service not
known]", "(Non-base32 digit found)", "Resource error"). This module is the one place that turns those words into
a :class:`Problem` a person can act on; the raw words stay with it as ``detail``, shown one click away under
"Details" and written to the log. Kinds are recognised by the words the lower layers are known to use, most
specific first; anything unrecognised keeps its own sentence and still gets a "what to do".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    #: A short name for the kind of failure (tests and the log use it).
    kind: str
    #: What happened, as a title.
    what: str
    #: Why, in one sentence.
    why: str
    #: What the person can do about it.
    todo: str
    #: The raw words of the layer that failed (shown under "Details").
    detail: str = ""

    def sentence(self) -> str:
        """One line for the status bar."""
        return f"{self.what}. {self.todo}"


def _tr(text: str) -> str:
    return QCoreApplication.translate("ErrorsText", text)


def _kinds() -> list[tuple[str, tuple[str, ...], str, str, str]]:
    """(kind, words that reveal it, what, why, what to do), most specific first."""
    t = _tr
    return [
        (
            "ipfs_cid",
            ("ipfs cid", "ipld cid", "raw-block cid", "dag-pb", "cidv0"),
            t("This is an IPFS CID, not a PieceCID"),
            t("IPFS CIDs name files inside IPFS; PiecePlayer fetches whole Filecoin pieces, named by PieceCIDs."),
            t("Ask whoever shared it for the PieceCID: it starts with bafkzcib… (or baga6ea4seaq… for the old form)."),
        ),
        (
            "malformed_cid",
            (
                "non-base32",
                "cannot appear in a cid",
                "is not a cid",
                "too short to be a piece cid",
                "too long to be a",
                "cut short",
                "not a piece cid",
                "not minimally encoded",
                "unsupported cid version",
                "digest",
            ),
            t("This is not a valid PieceCID"),
            t("Part of it is missing or mistyped, so it does not decode to a piece."),
            t("Copy the whole PieceCID again (it starts with bafkzcib…) and paste it without extra characters."),
        ),
        (
            "quota",
            ("quota", " 402"),
            t("The Filecoin CDN will not serve this piece right now"),
            t("The data owner's CDN allowance (egress quota) is used up, so FilBeam refuses more downloads."),
            t("Ask the data owner to top up their FilBeam quota, or choose a storage provider in Settings."),
        ),
        (
            "no_cdn",
            ("withcdn=false", "without the cdn option"),
            t("This piece is not on the Filecoin CDN"),
            t("Its owner stored it without the CDN option, so FilBeam does not serve it."),
            t("Choose “Storage provider” in Settings and give the provider that stores it."),
        ),
        (
            "dns",
            (
                "name or service not known",
                "temporary failure in name resolution",
                "nodename nor servname",
                "getaddrinfo",
                "no address associated",
                "name resolution",
            ),
            t("The server's name could not be found"),
            t(
                "The computer could not look the address up: the network or its name service (DNS) is not answering, "
                "or the address is misspelt."
            ),
            t("Check the internet connection and try again; if other sites work, check the address in Settings."),
        ),
        (
            "offline",
            (
                "network is unreachable",
                "cannot connect to host",
                "connection refused",
                "no route to host",
                "connect call failed",
                "server disconnected",
                "connection reset",
            ),
            t("No connection to the server"),
            t("The network is down, or the server is not accepting connections."),
            t("Check the internet connection and try again in a moment."),
        ),
        (
            "timeout",
            ("timed out", "timeouterror", "did not answer in", "timeout"),
            t("The server took too long to answer"),
            t("The connection is very slow, or the server is overloaded."),
            t("Try again in a moment; if it keeps happening, try another source in Settings."),
        ),
        (
            "tls",
            ("ssl", "certificate", "tls"),
            t("The secure connection to the server failed"),
            t("The server's certificate could not be checked, so nothing was downloaded from it."),
            t("Check the computer's date and time; if they are right, the server is misconfigured."),
        ),
        (
            "no_source",
            ("no upstream is configured", "no upstream can serve"),
            t("PiecePlayer does not know where to fetch this piece"),
            t("No Filecoin CDN payer, storage provider or URL is set up for pieces like this one."),
            t("Open Settings and choose where videos come from, or paste the piece's full URL."),
        ),
        (
            "not_found",
            (
                " 404",
                "not found",
                "does not hold",
                "does not know this piece",
                "unknown piece",
                "no such piece",
                "indexed",
            ),
            t("This piece was not found"),
            t("None of the sources asked has a piece with this PieceCID (yet)."),
            t("Check the PieceCID; if it was stored moments ago, try again in a few minutes."),
        ),
        (
            "codec",
            (
                "not audio or video this player can decode",
                "unsupported",
                "could not open codec",
                "invalid data",
                "format not supported",
                "no decoder",
            ),
            t("This piece cannot be played"),
            t("Its bytes arrive, but they are not audio or video in a format this player can decode."),
            t("Save the piece and open it in a player with more codecs (mpv or VLC), or ask for an MP4 or WebM."),
        ),
    ]


def explain(sentence: str, detail: str = "") -> Problem:
    """The :class:`Problem` behind a lower layer's ``sentence`` and ``detail``; logs the raw words."""
    raw = "\n".join(part for part in (sentence.strip(), detail.strip()) if part)
    log.info("error shown to the user: %s", raw.replace("\n", " | "))
    lowered = raw.lower()
    for kind, words, what, why, todo in _kinds():
        if any(word in lowered for word in words):
            return Problem(kind, what, why, todo, raw)
    first = sentence.strip() or _tr("Something went wrong")
    return Problem(
        "other",
        first.rstrip("."),
        _tr("PiecePlayer could not finish what was asked."),
        _tr("Try again; if it keeps happening, the details below help whoever looks into it."),
        raw,
    )


def cid_hint(error: str) -> str:
    """The CID bar's one line for text that is not playable: the kind's what + todo, the raw reason after."""
    problem = explain(error)
    if problem.kind == "other":
        return _tr("Not playable: {reason}").format(reason=error)
    return _tr("Not playable: {what}. {todo}").format(what=problem.what, todo=problem.todo)
