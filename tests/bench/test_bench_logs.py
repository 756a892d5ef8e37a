"""The benchmark's log summaries name each kind of problem once, with what varies between occurrences blanked."""

from __future__ import annotations

from pathlib import Path

from bench.logs import LogWatch, complaints, summary

NGINX_LINES = [
    '2026/11/26 15:08:57 [crit] 2840#2840: *231 open() "/tmp/x/cache/2/31/ba34e8829b869826cd08bbe93e9b7312" failed '
    '(24: Too many open files) while sending to client, client: 127.0.0.1, server: , request: "GET /piece/b HTTP/1.1"',
    '2026/11/26 15:08:58 [crit] 2840#2840: *227 open() "/tmp/x/cache/a/7e/42535398f4a0e8e4177e3f59066c37ea" failed '
    '(24: Too many open files) while sending to client, client: 127.0.0.1, server: , request: "GET /piece/b HTTP/1.1"',
    "2026/11/26 15:08:59 [notice] 2839#2839: signal process started",
]
PYTHON_LINES = [
    "2026-11-26 14:11:36,506 ERROR Error handling request from 127.0.0.1",
    "Traceback (most recent call last):",
    '  File "/work/proxy/emulator.py", line 404, in _send_piece',
    "aiohttp.client_exceptions.ClientConnectionResetError: Cannot write to closing transport",
    "2026-11-26 14:11:37,001 INFO proxy listening on http://127.0.0.1:1234/token",
]


def test_nginx_errors_are_grouped_and_notices_ignored() -> None:
    found = complaints(NGINX_LINES)
    assert found == {"open() … failed (24: Too many open files) while sending to client": 2}


def test_python_errors_and_exception_lines_count_but_info_does_not() -> None:
    found = complaints(PYTHON_LINES)
    assert found["Error handling request from 127.0.0.1"] == 1
    assert found["aiohttp.client_exceptions.ClientConnectionResetError: Cannot write to closing transport"] == 1
    assert sum(found.values()) == 2
    assert summary("the origin", found).startswith("the origin logged 2 problem lines: 1× “")
    assert summary("nobody", complaints(["2026-11-26 14:11:37,001 INFO fine"])) is None


def test_log_watch_returns_only_new_lines(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("one\n")
    watch = LogWatch()
    assert watch.new_lines([log, tmp_path / "missing.log"]) == ["one"]
    with log.open("a") as handle:
        handle.write("two\n")
    assert watch.new_lines([log]) == ["two"]
