"""What a self-test run's outcome means: the failure it raises, and the verdict in words over its summary.

``--self-test`` exits 0 only when frames (or, for audio-only media, sound) came and every seek landed near its
target; each way of failing has a sentence a user can act on (the codec Qt could not decode, a seek that landed
seconds late, a piece cut short where the seek asked).
"""

from __future__ import annotations

from PySide6.QtMultimedia import QMediaMetaData, QMediaPlayer

from player.seek_monitor import DEFAULT_TOLERANCE_MS


class SelfTestFailed(Exception):
    """A check failed; the message says which, in words."""


class Undecodable(SelfTestFailed):
    """The media played to its end without a frame or a sound: the message names the codec, no probe needed."""


def verdict(summary: dict) -> str | None:
    """Why a finished run still fails the contract: no frames, or a seek that did not land near its target."""
    if not summary["frames"] and not summary.get("audio_only"):
        return "no video frame was decoded"
    tolerance = f"±{DEFAULT_TOLERANCE_MS / 1000:g} s"
    late = [r for r in summary["seeks"] if r["latency_ms"] is None and "late_s" in r]
    if late:
        landed = ", ".join(f"{r['target_s']:g} s → {r['late_s']:g} s" for r in late)
        return f"seeks landed later than {tolerance} from their target: {landed} (the player skips to a later keyframe)"
    empty = [f"{r['target_s']:g}" for r in summary["seeks"] if r.get("nothing_there")]
    ends = [r["ends_early_s"] for r in summary["seeks"] if "ends_early_s" in r]
    if ends:
        return (
            f"nothing plays at {', '.join(empty)} s: the piece ends early, at {ends[0]:g} s "
            "(its data stops there: a cut or damaged upload)"
        )
    if empty:
        return (
            f"nothing plays at {', '.join(empty)} s although every byte of the piece is here: "
            "the piece is cut short or damaged there"
        )
    missed = [r["target_s"] for r in summary["seeks"] if r["latency_ms"] is None]
    if missed:
        targets = ", ".join(f"{t:g}" for t in missed)
        what = "no audio played" if summary.get("audio_only") else "no frame"
        return f"{what} within {tolerance} of the seek target(s) {targets} s"
    return None


def video_codec(player: QMediaPlayer) -> str:
    """The codec of the media's video as Qt names it ("AV1", "H264"…), or "" when Qt does not say."""
    name = player.metaData().stringValue(QMediaMetaData.Key.VideoCodec)
    if not name:
        tracks = player.videoTracks()
        name = tracks[0].stringValue(QMediaMetaData.Key.VideoCodec) if tracks else ""
    return "" if name == "Unspecified" else name


def undecodable(player: QMediaPlayer) -> str:
    """The sentence for media Qt loaded and played to its end without decoding anything."""
    if player.hasVideo():
        codec = video_codec(player)
        what = f"{codec} video" if codec else "its video"
        return f"this player cannot decode {what}: the media ended without a single frame shown"
    return "this player could not decode the audio: the media ended without playing any sound"
