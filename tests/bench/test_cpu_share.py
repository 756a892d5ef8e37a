"""The machine's busy and stolen CPU shares each bench scenario records beside its figures."""

from __future__ import annotations

import os
import sys
import time

import pytest

from bench import cpu_share


def test_shares_come_from_the_cpu_line_of_proc_stat() -> None:
    before = cpu_share.parse("cpu  100 0 50 800 10 0 0 40 0 0\ncpu0 50 0 25 400 5 0 0 20 0 0\nintr 1 2\n")
    after = cpu_share.parse("cpu  400 0 150 1100 10 0 0 340 0 0\ncpu0 200 0 75 550 5 0 0 170 0 0\nintr 1 2\n")
    assert before == cpu_share.CpuTimes(total=1000, idle=810, steal=40)
    # 1000 ticks passed: 300 idle, 300 stolen (steal counts as busy: the guest wanted the CPU and did not get it)
    assert cpu_share.share(before, after) == {"busy_pct": 70.0, "steal_pct": 30.0}


def test_no_share_without_two_readings_or_without_time_passing() -> None:
    times = cpu_share.parse("cpu  1 2 3 4 5 6 7 8\n")
    assert cpu_share.parse("intr 1 2\n") is None
    assert cpu_share.share(None, times) is None
    assert cpu_share.share(times, times) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/stat is Linux's")
def test_a_busy_loop_shows_as_a_busy_machine() -> None:
    before = cpu_share.read()
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        pass
    shares = cpu_share.share(before, cpu_share.read())
    assert shares is not None
    # one core of this machine's cores spun for the whole half second
    assert shares["busy_pct"] >= 100 / (2 * (os.cpu_count() or 1))
    assert 0 <= shares["steal_pct"] <= shares["busy_pct"] <= 100


def test_shares_read_as_words_for_the_report() -> None:
    assert cpu_share.words({"busy_pct": 47.3, "steal_pct": 0.2}) == "machine busy 47.3 %, CPU stolen by the host 0.2 %"
    assert cpu_share.words(None) == ""
