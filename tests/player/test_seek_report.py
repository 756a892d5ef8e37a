"""The shareable seek report: ``pieceplayer --self-test --report FILE`` as CI would run it (a subprocess, real media
through the real proxy), and the panel's waterfall, verdict and "Copy summary" on a seek the real player made."""

from __future__ import annotations

import json
import re
from pathlib import Path

from PySide6.QtGui import QGuiApplication

from player.panel.seek_anatomy_view import SeekAnatomyView
from player.report_export import collect
from tests.player.test_player_cli import pieceplayer
from tests.player.test_seek_anatomy import anatomy_media, run  # noqa: F401 — fixtures


async def test_self_test_writes_the_report_it_names_in_its_json(media_dir: Path, tmp_path: Path) -> None:
    report = tmp_path / "seeks.html"
    status, summary, err = await pieceplayer(
        tmp_path, "--self-test", "--demo-dir", str(media_dir), "--seeks", "8,2", "--report", str(report)
    )
    assert status == 0, f"{summary}\n{err[-2000:]}"
    assert summary["report"] == str(report.resolve())
    html = report.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "</html>" in html
    assert "seek to 8.0 s" in html and "seek to 2.0 s" in html
    assert html.count("<svg") >= 4  # the seek chart, three waterfalls (open + 2 seeks), the byte map
    for phase in ("demux", "decode from keyframe"):
        assert phase in html
    assert "Qt" in html and "libavcodec" in html
    har = json.loads(re.search(r"<script type='application/json' id='har'>(.*?)</script>", html, re.S).group(1))
    assert har["log"]["entries"], "the request log travels with the report"


def test_the_panel_shows_the_selected_seek_and_copies_the_summary(run, qtbot) -> None:  # noqa: F811
    player = run()
    player.open("gop250.mp4")
    player.cache_whole()
    player.seek(8.0)
    explained = player.controller.anatomy.seeks[-1]
    view = SeekAnatomyView(lambda: collect(player.controller))
    qtbot.addWidget(view)
    view.show_seek(explained)
    view.set_hint(player.controller.anatomy.hint())
    assert view.verdict.text() == explained.verdict and "frames from the keyframe at 0.0 s" in explained.verdict
    assert view.waterfall.sizeHint().height() > 16 * (len(explained.timeline.spans) - 1)
    text = view.copy_summary()
    assert QGuiApplication.clipboard().text() == text
    assert "keyframes every 8.3 s" in text and explained.verdict in text
