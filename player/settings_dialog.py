"""Settings in two pages: a simple one (where videos come from, how much disk the cache may use) and an
Advanced one (slice size, URL templates, prefetch, cache folder, the demo's latency).

The simple page speaks in the user's words: "Filecoin CDN (FilBeam)", "Storage provider", "Custom", sizes in GB
with what is used now. Every field is checked as it is typed and the reason is shown in words; OK stays disabled
until all are valid, so nothing half-valid is ever saved.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from player.settings import NETWORKS, SLICE_SIZES, SOURCE_KINDS, Settings
from player.units import format_bytes
from proxy.api import provider_source, template_source

_PAYER_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
#: Cache sizes are shown in decimal gigabytes, as disks are sold and file managers count.
GB = 10**9


def check_payer(text: str) -> str | None:
    if text and not _PAYER_RE.match(text):
        return QCoreApplication.translate("SettingsDialog", "A wallet address is 0x followed by 40 hexadecimal digits")
    return None


def check_templates(lines: list[str]) -> str | None:
    for number, line in enumerate(lines, 1):
        try:
            template_source(line)
        except ValueError as exc:
            return QCoreApplication.translate("SettingsDialog", "URL template line {number}: {reason}").format(
                number=number, reason=exc
            )
    return None


def check_provider(text: str) -> str | None:
    if not text:
        return QCoreApplication.translate("SettingsDialog", "Give the storage provider's address (https://…)")
    try:
        provider_source(text)
    except ValueError as exc:
        return QCoreApplication.translate("SettingsDialog", "Storage provider: {reason}").format(reason=exc)
    return None


def _hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("hint")
    label.setWordWrap(True)
    return label


def _page(form: QFormLayout) -> QWidget:
    """A settings page: its rows at the top, the spare height below them."""
    page = QWidget()
    column = QVBoxLayout(page)
    column.addLayout(form)
    column.addStretch(1)
    return page


def _named(widget: QWidget, name: str, tip: str) -> QWidget:
    """Screen readers read the name; the tooltip says what the field is for."""
    widget.setAccessibleName(name)
    widget.setToolTip(tip)
    return widget


class SettingsDialog(QDialog):
    clearCacheRequested = Signal()

    def __init__(self, settings: Settings, cache_used: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("PiecePlayer settings"))
        self.setMinimumWidth(600)
        self.settings = settings
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName(self.tr("Settings pages"))
        self.tabs.addTab(self._simple_page(cache_used), self.tr("Simple"))
        self.tabs.addTab(self._advanced_page(), self.tr("Advanced"))
        # A hidden page's layout is not asked for its height, so the dialog was sized for the Simple page only and
        # squeezed the Advanced one; the tabs are made as tall as the tallest page instead.
        tallest = max(self.tabs.widget(i).sizeHint().height() for i in range(self.tabs.count()))
        self.tabs.setMinimumHeight(tallest + self.tabs.tabBar().sizeHint().height() + 16)

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
        layout.addWidget(self.tabs)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)

        edits = (self.payer.textChanged, self.provider.textChanged, self.templates.textChanged)
        for signal in (*edits, self.cache_dir.textChanged, self.source_kind.currentIndexChanged):
            signal.connect(self._check)
        self._check()

    # --- pages ---------------------------------------------------------------------------------------------

    def _simple_page(self, cache_used: int | None) -> QWidget:
        s = self.settings
        self.source_kind = QComboBox()
        words = {
            "filbeam": self.tr("Filecoin CDN (FilBeam)"),
            "provider": self.tr("Storage provider"),
            "custom": self.tr("Custom"),
        }
        for kind in SOURCE_KINDS:
            self.source_kind.addItem(words[kind], kind)
        self.source_kind.setCurrentIndex(max(0, self.source_kind.findData(s.source_kind)))
        _named(self.source_kind, self.tr("Where videos come from"), self.tr("Where PiecePlayer downloads pieces"))

        self.payer = QLineEdit(s.payer, placeholderText="0x…")
        _named(self.payer, self.tr("Data owner's wallet"), self.tr("The wallet that pays for the CDN (0x…)"))
        filbeam = QFormLayout()
        filbeam.addRow(self.tr("Data owner's wallet"), self.payer)
        filbeam.addRow("", _hint(self.tr("Fast everywhere. Downloads are paid from this wallet's CDN allowance.")))
        self.provider = QLineEdit(s.provider_url, placeholderText="https://sp.example")
        _named(self.provider, self.tr("Storage provider address"), self.tr("The provider's web address"))
        provider = QFormLayout()
        provider.addRow(self.tr("Provider address"), self.provider)
        provider.addRow("", _hint(self.tr("Downloads straight from the provider that stores the pieces.")))
        custom = QVBoxLayout()
        custom.addWidget(_hint(self.tr("Pieces come from the URL templates on the Advanced page.")))
        self.source_pages = QStackedWidget()
        for form in (filbeam, provider, custom):
            page = QWidget()
            page.setLayout(form)
            self.source_pages.addWidget(page)
        self.source_kind.currentIndexChanged.connect(self.source_pages.setCurrentIndex)
        self.source_pages.setCurrentIndex(self.source_kind.currentIndex())

        self.cache_size = QDoubleSpinBox(suffix=" GB", decimals=1, minimum=0.3, maximum=4000, singleStep=1)
        self.cache_size.setValue(s.cache_size / GB)
        _named(self.cache_size, self.tr("Cache size"), self.tr("The most disk space kept for pieces seen before"))
        used = self.tr("{size} used now").format(size=_gb(cache_used)) if cache_used is not None else ""
        self.cache_used = QLabel(used)
        self.cache_used.setObjectName("hint")
        self.clear_button = QPushButton(self.tr("Clear cache"))
        _named(self.clear_button, self.tr("Clear cache"), self.tr("Delete every cached piece now"))
        self.clear_button.clicked.connect(self._clear)
        cache_row = QHBoxLayout()
        cache_row.addWidget(self.cache_size)
        cache_row.addWidget(self.cache_used, 1)
        cache_row.addWidget(self.clear_button)

        form = QFormLayout()
        form.addRow(self.tr("Where videos come from"), self.source_kind)
        form.addRow("", self.source_pages)
        form.addRow(self.tr("Cache on disk"), cache_row)
        return _page(form)

    def _advanced_page(self) -> QWidget:
        s = self.settings
        self.network = QComboBox()
        for name in NETWORKS:
            self.network.addItem(name.capitalize(), name)
        self.network.setCurrentIndex(max(0, self.network.findData(s.network)))
        _named(self.network, self.tr("FilBeam network"), self.tr("Mainnet for real data; Calibration for tests"))
        self.templates = QPlainTextEdit("\n".join(s.templates))
        self.templates.setPlaceholderText(self.tr("One URL per line with {cid} where the PieceCID goes"))
        self.templates.setMinimumHeight(72)
        self.templates.setMaximumHeight(120)
        self.templates.setTabChangesFocus(True)  # Tab moves on, as in every other field
        _named(self.templates, self.tr("URL templates"), self.tr("Tried after the choice on the Simple page"))
        self.slice_size = QComboBox()
        for size in SLICE_SIZES:
            self.slice_size.addItem(format_bytes(size), size)
        self.slice_size.setCurrentIndex(max(0, self.slice_size.findData(s.slice_size)))
        _named(self.slice_size, self.tr("Slice size"), self.tr("Unit of caching and of downloads; 1 MiB suits most"))
        self.hover_prefetch = QCheckBox(self.tr("Prefetch where the pointer rests on the seek bar"))
        self.hover_prefetch.setChecked(s.hover_prefetch)
        _named(
            self.hover_prefetch,
            self.tr("Prefetch on hover"),
            self.tr("Seeks there start from cache. Costs up to a few MiB of downloads per hover on a paid source."),
        )
        self.cache_dir = QLineEdit(str(s.cache_dir))
        _named(self.cache_dir, self.tr("Cache folder"), self.tr("Where cached pieces are kept"))
        browse = QPushButton(self.tr("Choose…"))
        _named(browse, self.tr("Choose the cache folder"), self.tr("Pick a folder"))
        browse.clicked.connect(self._choose_dir)
        folder = QHBoxLayout()
        folder.addWidget(self.cache_dir, 1)
        folder.addWidget(browse)
        self.latency = QSpinBox(suffix=" ms", minimum=0, maximum=5000, singleStep=25)
        self.latency.setValue(round(s.demo_latency_ms))
        _named(self.latency, self.tr("Demo latency"), self.tr("Time to first byte of the CDN that serves the demo"))
        form = QFormLayout()
        form.addRow(self.tr("FilBeam network"), self.network)
        form.addRow(self.tr("URL templates"), self.templates)
        form.addRow(self.tr("Slice size"), self.slice_size)
        form.addRow("", self.hover_prefetch)
        form.addRow(self.tr("Cache folder"), folder)
        form.addRow(self.tr("Demo latency"), self.latency)
        return _page(form)

    # --- checking ------------------------------------------------------------------------------------------

    def template_lines(self) -> list[str]:
        return [line.strip() for line in self.templates.toPlainText().splitlines() if line.strip()]

    def _problem(self) -> str | None:
        kind = self.source_kind.currentData()
        return (
            (check_payer(self.payer.text().strip()) if kind == "filbeam" else None)
            or (check_provider(self.provider.text().strip()) if kind == "provider" else None)
            or check_templates(self.template_lines())
            or (None if self.cache_dir.text().strip() else self.tr("Choose a cache folder"))
        )

    def _check(self) -> None:
        problem = self._problem()
        self.problem.setText(problem or "")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(problem is None)

    def _choose_dir(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, self.tr("Cache folder"), self.cache_dir.text())
        if chosen:
            self.cache_dir.setText(chosen)

    def _clear(self) -> None:
        self.clearCacheRequested.emit()
        self.cache_used.setText(self.tr("Cache cleared"))

    def _cache_size_changed(self) -> bool:
        return round(self.cache_size.value(), 1) != round(self.settings.cache_size / GB, 1)

    def changes(self) -> set[str]:
        """Which groups differ from the saved settings: ``sources``, ``cache``, ``latency``, ``prefetch``."""
        s = self.settings
        changed = set()
        chosen = (
            self.source_kind.currentData(),
            self.network.currentData(),
            self.payer.text().strip(),
            self.provider.text().strip(),
            self.template_lines(),
        )
        if chosen != (s.source_kind, s.network, s.payer, s.provider_url, s.templates):
            changed.add("sources")
        folder_or_slice = (Path(self.cache_dir.text().strip()), self.slice_size.currentData())
        if self._cache_size_changed() or folder_or_slice != (s.cache_dir, s.slice_size):
            changed.add("cache")
        if self.latency.value() != round(s.demo_latency_ms):
            changed.add("latency")
        if self.hover_prefetch.isChecked() != s.hover_prefetch:
            changed.add("prefetch")
        return changed

    def save(self) -> None:
        s = self.settings
        s.source_kind = self.source_kind.currentData()
        s.network = self.network.currentData()
        s.payer = self.payer.text().strip()
        s.provider_url = self.provider.text().strip()
        s.templates = self.template_lines()
        s.cache_dir = Path(self.cache_dir.text().strip()).expanduser()
        if self._cache_size_changed():
            s.cache_size = round(self.cache_size.value() * GB)
        s.slice_size = int(self.slice_size.currentData())
        s.demo_latency_ms = float(self.latency.value())
        s.hover_prefetch = self.hover_prefetch.isChecked()
        s.sync()


def _gb(n: int) -> str:
    return f"{n / GB:.2f} GB" if n >= GB // 100 else format_bytes(n)
