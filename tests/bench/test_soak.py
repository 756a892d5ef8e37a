"""The real window survives 90 s of use: the windowed soak (``bench/soak.py``) as part of the suite.

It runs the app as a user would (``.venv/bin/pieceplayer`` under its own Xvfb and openbox, side panel visible)
playing the demo pieces and a 96 MiB piece from a second emulated origin, seeking by keys and by clicking the
seek slider, switching pieces by typing their CIDs, toggling the panel, resizing, and opening a CID that nobody
has and retrying it. Issue 16's goals are asserted as they are: no crash (nor an uncaught exception), RSS growth
after the warm-up ≤ 50 MiB, and every piece opened is seen playing.

The event-loop lag goal (p99 ≤ 50 ms) is the bench's (``python -m bench.soak`` fails on it); here the bound is
150 ms. On this project's 2-core machine shared with other work (load 3–8), runs of 45–90 s measured p99 of
26–84 ms, and their worst stalls showed the GUI thread using a few ms of CPU in a 100–250 ms wait: it was kept
from a core, not busy (the 10-minute bench run at load 1–3 gave 34.5 ms; see BENCHMARKS.md).
150 ms still catches a GUI thread that blocks on its own work (a repaint or a read that takes a frame's time).
The bound is on the app's p99 beyond that of an idle event loop run beside it (``bench/lag_peer.py``): a CI run
on a machine whose every tick was late (median 9 ms, against 1 ms here) measured 153 ms, the machine's lag and
not the app's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.procs import REPO_ROOT

SECONDS = 90
LAG_P99_BOUND_MS = 150.0


@pytest.mark.timeout(SECONDS + 420)  # the 96 MiB piece is encoded once per machine (about a minute)
def test_the_window_survives_ninety_seconds_of_use(tmp_path: Path) -> None:
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (./dev test installs it)")
    out = tmp_path / "soak.json"
    argv = [sys.executable, "-m", "bench.soak", "--seconds", str(SECONDS), "--out", str(out)]
    argv += ["--shots", str(tmp_path / "shots")]
    if os.environ.get("PIECEPLAYER_SOAK_DISPLAY"):  # a fixed display number, e.g. one reserved for this work
        argv += ["--display", os.environ["PIECEPLAYER_SOAK_DISPLAY"]]
    run = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=SECONDS + 400)
    assert run.returncode in (0, 1), f"the soak could not run:\n{run.stderr[-3000:]}"
    verdict = json.loads(out.read_text())
    shown = ("rss_mib", "fds", "loop_lag_ms", "load_average", "worst_lags", "actions", "notes")
    summary = json.dumps({k: verdict[k] for k in shown})

    assert not verdict["crashed"], f"the app crashed: {verdict['crash']}\n{summary}"
    assert verdict["tracebacks"] == 0, f"uncaught exception:\n{verdict['first_traceback']}\n{summary}"
    assert verdict["rss_mib"]["growth_after_warmup"] <= 50, summary
    assert verdict["loop_lag_ms"].get("peer_p99") is not None, summary  # the idle loop beside the app ran
    assert verdict["loop_lag_ms"]["p99_over_peer"] <= LAG_P99_BOUND_MS, summary
    actions = verdict["actions"]
    assert actions.get("seen_playing", 0) >= 2 and actions.get("seen_not_playing", 0) == 0, summary
    for done in ("key_seek", "piece_switch", "bad_cid", "retry"):
        assert actions.get(done, 0) >= 1, f"the soak never did {done}: {summary}"
    assert verdict["fds"]["end"] <= verdict["fds"]["at_warmup"] + 20, summary  # no descriptor leak after start-up
