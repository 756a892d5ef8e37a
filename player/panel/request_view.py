"""The request log's widget: filter bar, table with a waterfall column, HAR/CSV export."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRectF,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

import player
from player.panel import palette
from player.panel.har import to_csv, to_har
from player.panel.request_log import COLUMNS, ENTRY_ROLE, PLAYER, SORT_ROLE, UPSTREAM, WATERFALL_COLUMN, RequestLogModel

_KINDS = (("All requests", None), ("Player → proxy", PLAYER), ("Proxy → upstream", UPSTREAM))
_WIDTHS = {"#": 34, "At": 46, "Who": 70, "Range": 100, "Status": 44, "Bytes": 62, "TTFB": 54, "Time": 66, "Cache": 84}
_Index = QModelIndex | QPersistentModelIndex


class RequestFilter(QSortFilterProxyModel):
    """Rows of one kind (or all) whose text contains the filter words."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.kind: str | None = None
        self.words: list[str] = []
        self.setSortRole(SORT_ROLE)

    def set_filter(self, kind: str | None, text: str) -> None:
        self.kind = kind
        self.words = text.lower().split()
        self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent: _Index) -> bool:
        model = self.sourceModel()
        entry = model.index(row, 0, parent).data(ENTRY_ROLE)
        if entry is None or (self.kind is not None and entry.kind != self.kind):
            return False
        if not self.words:
            return True
        text = (
            " ".join(str(model.index(row, column, parent).data() or "") for column in range(len(COLUMNS))).lower()
            + f" {entry.url.lower()} {(entry.error or '').lower()}"
        )
        return all(word in text for word in self.words)


class WaterfallDelegate(QStyledItemDelegate):
    """Each row's bar on the session's time line: waiting for the first byte (dim), then receiving (bright)."""

    def __init__(self, model: RequestLogModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        super().paint(painter, option, index)
        entry = index.data(ENTRY_ROLE)
        if entry is None:
            return
        start, end = self.model.span()
        rect = QRectF(option.rect).adjusted(4, 5, -4, -5)
        scale = rect.width() / (end - start)
        x0 = rect.left() + (entry.started - start) * scale
        total = entry.elapsed()
        wait = min(total, entry.ttfb) if entry.ttfb is not None else total
        color = palette.FETCHING if entry.kind == UPSTREAM else palette.ACCENT
        dim = color.darker(220)
        painter.save()
        painter.fillRect(QRectF(x0, rect.top(), max(1.5, wait * scale), rect.height()), dim)
        if total > wait:
            painter.fillRect(
                QRectF(x0 + wait * scale, rect.top(), max(1.5, (total - wait) * scale), rect.height()), color
            )
        painter.restore()


class RequestLogView(QWidget):
    """Table + filter + export. ``show_rows`` scrolls to and selects rows the seek chart asked for."""

    exported = Signal(str)
    #: "har" or "csv": the window asks where (its dialogs start in Downloads with a dated name, places.py).
    exportRequested = Signal(str)

    def __init__(self, model: RequestLogModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.filter = RequestFilter(self)
        self.filter.setSourceModel(model)

        self.kind = QComboBox()
        for label, kind in _KINDS:
            self.kind.addItem(label, kind)
        self.kind.setToolTip("Show player requests, upstream fetches, or both")
        self.search = QLineEdit(placeholderText="Filter: 206, miss, readahead, 0-…", clearButtonEnabled=True)
        self.search.setToolTip("Show rows containing all these words (any column, the URL or the error)")
        self.har_button = QToolButton(text="HAR…", toolTip="Export the log as HAR 1.2 (open it in browser dev tools)")
        self.csv_button = QToolButton(text="CSV…", toolTip="Export the log as CSV")
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.kind)
        bar.addWidget(self.search, 1)
        bar.addWidget(self.har_button)
        bar.addWidget(self.csv_button)

        self.table = QTableView()
        self.table.setModel(self.filter)
        self.table.setObjectName("requestTable")
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setItemDelegateForColumn(WATERFALL_COLUMN, WaterfallDelegate(model, self.table))
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        for column, name in enumerate(COLUMNS):
            if name in _WIDTHS:
                header.resizeSection(column, _WIDTHS[name])
        header.setMinimumSectionSize(36)
        header.setSectionResizeMode(WATERFALL_COLUMN, QHeaderView.ResizeMode.Stretch)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)

        self.kind.currentIndexChanged.connect(self._refilter)
        self.search.textChanged.connect(self._refilter)
        self.har_button.clicked.connect(lambda: self.exportRequested.emit("har"))
        self.csv_button.clicked.connect(lambda: self.exportRequested.emit("csv"))
        model.rowsInserted.connect(self._follow)
        self._ticker = QTimer(self, interval=250)
        self._ticker.timeout.connect(model.tick)
        self._ticker.start()

    def _refilter(self) -> None:
        self.filter.set_filter(self.kind.currentData(), self.search.text())

    def _follow(self) -> None:
        """Keep the newest row in view unless the user scrolled up to read."""
        scroll = self.table.verticalScrollBar()
        if scroll.value() >= scroll.maximum() - 2 * self.table.verticalHeader().defaultSectionSize():
            QTimer.singleShot(0, self.table, self.table.scrollToBottom)

    def show_rows(self, rows: list[int]) -> None:
        self.table.clearSelection()
        proxied = [self.filter.mapFromSource(self.model.index(row, 0)) for row in rows]
        proxied = [index for index in proxied if index.isValid()]
        if proxied:
            self.table.scrollTo(proxied[0], QAbstractItemView.ScrollHint.PositionAtTop)

    # --- export --------------------------------------------------------------------------------------------

    def export_har(self, path: Path) -> None:
        document = to_har(self.model.entries, player.__version__, self.model.source_label)
        path.write_text(json.dumps(document, indent=1))
        self.exported.emit(f"Saved {len(self.model.entries)} requests to {path}")

    def export_csv(self, path: Path) -> None:
        path.write_text(to_csv(self.model.entries, self.model.origin, self.model.source_label))
        self.exported.emit(f"Saved {len(self.model.entries)} requests to {path}")
