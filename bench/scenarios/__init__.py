"""The scenarios of issue 8, in the order of its table: key → ``async def run(ctx) -> ScenarioResult``."""

from bench.scenarios import (
    concurrency,
    corpus,
    egress,
    filbeam,
    frames,
    latency,
    media_aware,
    moov_sweep,
    throughput,
    window,
)

SCENARIOS = {
    "cold_start": latency.cold_start,
    "player": frames.player,
    "media": media_aware.media_aware,
    "moov_sweep": moov_sweep.moov_sweep,
    "window": window.window_first_frame,
    "corpus": corpus.corpus_first_frame,
    "seek_uncached": latency.seek_uncached,
    "seek_cached": latency.seek_cached,
    "sequential": throughput.sequential,
    "concurrency": concurrency.many_viewers,
    "leave_after_1mib": egress.leave_after_1mib,
    "watch_session": egress.watch_session,
    "filbeam": filbeam.filbeam_cold,
}
