"""What the contenders and the origin complained about while a scenario ran, summarised for the table's notes.

A figure is only as good as the run behind it: an nginx that ran out of file descriptors, or a proxy that logged
tracebacks, should be visible next to its numbers, not buried in a temporary folder.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

_NGINX_LINE = re.compile(r"^\S+ \S+ \[(crit|error|alert|emerg)\] \d+#\d+: (?:\*\d+ )?(?P<text>.*?)(?:, client: .*)?$")
_PYTHON_LOG = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (?P<level>ERROR|WARNING|CRITICAL) (?P<text>.*)$")
_EXCEPTION = re.compile(r"^(?P<text>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)\b.*)$")
_QUOTED_PATH = re.compile(r'"/[^"]*"')
_HEX = re.compile(r"\b[0-9a-f]{12,}\b")
_BIG_NUMBER = re.compile(r"\b\d{4,}\b")
_MAX_KINDS = 3


class LogWatch:
    """New lines of some log files since the last look."""

    def __init__(self) -> None:
        self._offsets: dict[Path, int] = {}

    def new_lines(self, paths: list[Path]) -> list[str]:
        lines: list[str] = []
        for path in paths:
            try:
                with path.open("rb") as handle:
                    handle.seek(self._offsets.get(path, 0))
                    data = handle.read()
                    self._offsets[path] = handle.tell()
            except OSError:
                continue
            lines += data.decode(errors="replace").splitlines()
        return lines


def complaints(lines: list[str]) -> Counter:
    """Problem messages (errors, warnings, exceptions) with what varies between occurrences blanked out."""
    found: Counter = Counter()
    for line in lines:
        match = _NGINX_LINE.match(line) or _PYTHON_LOG.match(line) or _EXCEPTION.match(line)
        if match:
            text = _BIG_NUMBER.sub("N", _HEX.sub("…", _QUOTED_PATH.sub("…", match.group("text"))))
            found[text[:160]] += 1
    return found


def summary(who: str, found: Counter) -> str | None:
    """One sentence for the notes, or None when there was nothing to say."""
    if not found:
        return None
    kinds = "; ".join(f"{count}× “{text}”" for text, count in found.most_common(_MAX_KINDS))
    more = len(found) - _MAX_KINDS
    tail = f"; and {more} other kinds" if more > 0 else ""
    return f"{who} logged {sum(found.values())} problem lines: {kinds}{tail}"
