"""Settings: upstreams (FilBeam network and payer, custom templates), cache, slice size, demo latency.

Every field is checked as it is typed and the reason is shown in words; OK stays disabled until all are valid,
so nothing half-valid is ever saved.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from player.settings import NETWORKS, SLICE_SIZES, Settings
from player.units import format_bytes
from proxy.api import GiB, template_source

_PAYER_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")


def check_payer(text: str) -> str | None:
    if text and not _PAYER_RE.match(text):
        return "A payer address is 0x followed by 40 hexadecimal digits"
    return None


def check_templates(lines: list[str]) -> str | None:
    for number, line in enumerate(lines, 1):
        try:
            template_source(line)
        except ValueError as exc:
            return f"Upstream line {number}: {exc}"
    return None


class SettingsDialog(QDialog):
    clearCacheRequested = Signal()

    def __init__(self, settings: Settings, cache_used: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("PiecePlayer settings")
        self.setMinimumWidth(560)
        self.settings = settings

        self.network = QComboBox()
        for name in NETWORKS:
            self.network.addItem(name.capitalize(), name)
        self.network.setCurrentIndex(max(0, self.network.findData(settings.network)))
        self.payer = QLineEdit(settings.payer, placeholderText="0x… (the wallet that pays for FilBeam egress)")
        self.templates = QPlainTextEdit("\n".join(settings.templates))
        self.templates.setPlaceholderText("One URL per line containing {cid}, e.g. https://sp.example/piece/{cid}")
        self.templates.setFixedHeight(72)
        upstream = QFormLayout()
        upstream.addRow("FilBeam network", self.network)
        upstream.addRow("Payer address", self.payer)
        upstream.addRow("Other upstreams", self.templates)
        hint = QLabel("Tried in order: FilBeam (when a payer is set), then these URLs.")
        hint.setObjectName("hint")
        upstream.addRow("", hint)

        self.cache_dir = QLineEdit(str(settings.cache_dir))
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._choose_dir)
        folder = QHBoxLayout()
        folder.addWidget(self.cache_dir, 1)
        folder.addWidget(browse)
        self.cache_size = QDoubleSpinBox(suffix=" GiB", decimals=2, minimum=0.25, maximum=4096, singleStep=0.5)
        self.cache_size.setValue(settings.cache_size / GiB)
        self.slice_size = QComboBox()
        for size in SLICE_SIZES:
            self.slice_size.addItem(format_bytes(size), size)
        self.slice_size.setCurrentIndex(max(0, self.slice_size.findData(settings.slice_size)))
        self.slice_size.setToolTip("Unit of caching and of upstream requests; 1 MiB suits most video")
        used = f"{format_bytes(cache_used)} used" if cache_used is not None else ""
        self.cache_used = QLabel(used)
        self.cache_used.setObjectName("hint")
        clear = QPushButton("Clear cache")
        clear.setToolTip("Delete every cached slice now (pieces being played fetch again what they need)")
        clear.clicked.connect(self._clear)
        clear_row = QHBoxLayout()
        clear_row.addWidget(clear)
        clear_row.addWidget(self.cache_used, 1)
        self.hover_prefetch = QCheckBox("Prefetch where the pointer rests on the seek bar")
        self.hover_prefetch.setChecked(settings.hover_prefetch)
        self.hover_prefetch.setToolTip(
            "Seeks there start from cache. Costs up to a few MiB of egress per hover on a paid upstream."
        )
        cache = QFormLayout()
        cache.addRow("Location", folder)
        cache.addRow("Size on disk", self.cache_size)
        cache.addRow("Slice size", self.slice_size)
        cache.addRow("", clear_row)
        cache.addRow("", self.hover_prefetch)

        self.latency = QSpinBox(suffix=" ms", minimum=0, maximum=5000, singleStep=25)
        self.latency.setValue(round(settings.demo_latency_ms))
        self.latency.setToolTip("Time to first byte of the emulated CDN that serves the demo pieces")
        demo = QFormLayout()
        demo.addRow("Demo CDN latency", self.latency)

        self.problem = QLabel()
        self.problem.setTextFormat(Qt.TextFormat.PlainText)  # it echoes what was typed
        self.problem.setObjectName("formError")
        self.problem.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        for button in self.buttons.buttons():
            button.setIcon(QIcon())  # some platform themes add icons that clash with the dark theme
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        for title, form in (("Upstream", upstream), ("Cache", cache), ("Demo", demo)):
            box = QGroupBox(title)
            box.setLayout(form)
            layout.addWidget(box)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)

        for signal in (self.payer.textChanged, self.templates.textChanged, self.cache_dir.textChanged):
            signal.connect(self._check)
        self._check()

    def template_lines(self) -> list[str]:
        return [line.strip() for line in self.templates.toPlainText().splitlines() if line.strip()]

    def _problem(self) -> str | None:
        return (
            check_payer(self.payer.text().strip())
            or check_templates(self.template_lines())
            or (None if self.cache_dir.text().strip() else "Choose a cache folder")
        )

    def _check(self) -> None:
        problem = self._problem()
        self.problem.setText(problem or "")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(problem is None)

    def _choose_dir(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Cache folder", self.cache_dir.text())
        if chosen:
            self.cache_dir.setText(chosen)

    def _clear(self) -> None:
        self.clearCacheRequested.emit()
        self.cache_used.setText("Cache cleared")

    def changes(self) -> set[str]:
        """Which groups differ from the saved settings: ``sources``, ``cache``, ``latency``, ``prefetch``."""
        s = self.settings
        changed = set()
        if (self.network.currentData(), self.payer.text().strip(), self.template_lines()) != (
            s.network,
            s.payer,
            s.templates,
        ):
            changed.add("sources")
        cache = (
            Path(self.cache_dir.text().strip()),
            round(self.cache_size.value() * GiB),
            self.slice_size.currentData(),
        )
        if cache != (s.cache_dir, s.cache_size, s.slice_size):
            changed.add("cache")
        if self.latency.value() != round(s.demo_latency_ms):
            changed.add("latency")
        if self.hover_prefetch.isChecked() != s.hover_prefetch:
            changed.add("prefetch")
        return changed

    def save(self) -> None:
        s = self.settings
        s.network = self.network.currentData()
        s.payer = self.payer.text().strip()
        s.templates = self.template_lines()
        s.cache_dir = Path(self.cache_dir.text().strip()).expanduser()
        s.cache_size = round(self.cache_size.value() * GiB)
        s.slice_size = int(self.slice_size.currentData())
        s.demo_latency_ms = float(self.latency.value())
        s.hover_prefetch = self.hover_prefetch.isChecked()
        s.sync()
