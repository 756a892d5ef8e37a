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

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication

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
    """A sentence marked with QT_TRANSLATE_NOOP in the table, translated now."""
    return QCoreApplication.translate("ErrorsText", text)


#: (kind, words that reveal it, what, why, what to do), most specific first. The sentences are marked for
#: translation here and translated when shown.
_KINDS: list[tuple[str, tuple[str, ...], str, str, str]] = [
    (
        "ipfs_cid",
        ("ipfs cid", "ipld cid", "raw-block cid", "dag-pb", "cidv0"),
        QT_TRANSLATE_NOOP("ErrorsText", "This is an IPFS CID, not a PieceCID"),
        QT_TRANSLATE_NOOP(
            "ErrorsText",
            "IPFS CIDs name files inside IPFS; PiecePlayer fetches whole Filecoin pieces, named by PieceCIDs.",
        ),
        QT_TRANSLATE_NOOP(
            "ErrorsText",
            "Ask whoever shared it for the PieceCID: it starts with bafkzcib… (or baga6ea4seaq… for the old form).",
        ),
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
        QT_TRANSLATE_NOOP("ErrorsText", "This is not a valid PieceCID"),
        QT_TRANSLATE_NOOP("ErrorsText", "Part of it is missing or mistyped, so it does not decode to a piece."),
        QT_TRANSLATE_NOOP(
            "ErrorsText",
            "Copy the whole PieceCID again (it starts with bafkzcib…) and paste it without extra characters.",
        ),
    ),
    (
        "quota",
        ("quota", " 402"),
        QT_TRANSLATE_NOOP("ErrorsText", "The Filecoin CDN will not serve this piece right now"),
        QT_TRANSLATE_NOOP(
            "ErrorsText", "The data owner's CDN allowance (egress quota) is used up, so FilBeam refuses more downloads."
        ),
        QT_TRANSLATE_NOOP(
            "ErrorsText", "Ask the data owner to top up their FilBeam quota, or choose a storage provider in Settings."
        ),
    ),
    (
        "no_cdn",
        ("withcdn=false", "without the cdn option"),
        QT_TRANSLATE_NOOP("ErrorsText", "This piece is not on the Filecoin CDN"),
        QT_TRANSLATE_NOOP("ErrorsText", "Its owner stored it without the CDN option, so FilBeam does not serve it."),
        QT_TRANSLATE_NOOP("ErrorsText", "Choose “Storage provider” in Settings and give the provider that stores it."),
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
        QT_TRANSLATE_NOOP("ErrorsText", "The server's name could not be found"),
        QT_TRANSLATE_NOOP(
            "ErrorsText",
            "The computer could not look the address up: the network or its name service (DNS) is not answering, "
            "or the address is misspelt.",
        ),
        QT_TRANSLATE_NOOP(
            "ErrorsText",
            "Check the internet connection and try again; if other sites work, check the address in Settings.",
        ),
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
        QT_TRANSLATE_NOOP("ErrorsText", "No connection to the server"),
        QT_TRANSLATE_NOOP("ErrorsText", "The network is down, or the server is not accepting connections."),
        QT_TRANSLATE_NOOP("ErrorsText", "Check the internet connection and try again in a moment."),
    ),
    (
        "timeout",
        ("timed out", "timeouterror", "did not answer in", "timeout"),
        QT_TRANSLATE_NOOP("ErrorsText", "The server took too long to answer"),
        QT_TRANSLATE_NOOP("ErrorsText", "The connection is very slow, or the server is overloaded."),
        QT_TRANSLATE_NOOP(
            "ErrorsText", "Try again in a moment; if it keeps happening, try another source in Settings."
        ),
    ),
    (
        "tls",
        ("ssl", "certificate", "tls"),
        QT_TRANSLATE_NOOP("ErrorsText", "The secure connection to the server failed"),
        QT_TRANSLATE_NOOP(
            "ErrorsText", "The server's certificate could not be checked, so nothing was downloaded from it."
        ),
        QT_TRANSLATE_NOOP(
            "ErrorsText", "Check the computer's date and time; if they are right, the server is misconfigured."
        ),
    ),
    (
        "no_source",
        ("no upstream is configured", "no upstream can serve"),
        QT_TRANSLATE_NOOP("ErrorsText", "PiecePlayer does not know where to fetch this piece"),
        QT_TRANSLATE_NOOP(
            "ErrorsText", "No Filecoin CDN payer, storage provider or URL is set up for pieces like this one."
        ),
        QT_TRANSLATE_NOOP(
            "ErrorsText", "Open Settings and choose where videos come from, or paste the piece's full URL."
        ),
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
        QT_TRANSLATE_NOOP("ErrorsText", "This piece was not found"),
        QT_TRANSLATE_NOOP("ErrorsText", "None of the sources asked has a piece with this PieceCID (yet)."),
        QT_TRANSLATE_NOOP(
            "ErrorsText", "Check the PieceCID; if it was stored moments ago, try again in a few minutes."
        ),
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
        QT_TRANSLATE_NOOP("ErrorsText", "This piece cannot be played"),
        QT_TRANSLATE_NOOP(
            "ErrorsText", "Its bytes arrive, but they are not audio or video in a format this player can decode."
        ),
        QT_TRANSLATE_NOOP(
            "ErrorsText",
            "Save the piece and open it in a player with more codecs (mpv or VLC), or ask for an MP4 or WebM.",
        ),
    ),
]


def explain(sentence: str, detail: str = "") -> Problem:
    """The :class:`Problem` behind a lower layer's ``sentence`` and ``detail``; logs the raw words."""
    raw = "\n".join(part for part in (sentence.strip(), detail.strip()) if part)
    log.info("error shown to the user: %s", raw.replace("\n", " | "))
    lowered = raw.lower()
    for kind, words, what, why, todo in _KINDS:
        if any(word in lowered for word in words):
            return Problem(kind, _tr(what), _tr(why), _tr(todo), raw)
    first = sentence.strip() or QCoreApplication.translate("ErrorsText", "Something went wrong")
    return Problem(
        "other",
        first.rstrip("."),
        QCoreApplication.translate("ErrorsText", "PiecePlayer could not finish what was asked."),
        QCoreApplication.translate(
            "ErrorsText", "Try again; if it keeps happening, the details below help whoever looks into it."
        ),
        raw,
    )


def cid_hint(error: str) -> str:
    """The CID bar's one line for text that is not playable: the kind's what + todo, the raw reason after."""
    problem = explain(error)
    if problem.kind == "other":
        return QCoreApplication.translate("ErrorsText", "Not playable: {reason}").format(reason=error)
    return QCoreApplication.translate("ErrorsText", "Not playable: {what}. {todo}").format(
        what=problem.what, todo=problem.todo
    )
