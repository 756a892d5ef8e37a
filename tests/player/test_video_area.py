"""The video area makes its video surface when the window is first shown, whichever page is showing then.

QVideoWidget makes its native video window (and, on a display, its graphics context) the first time it is shown;
left to the first open, that took 110–250 ms between ``play()`` and the first frame (issue 19). These tests
check what the user sees stays as it was: the card that was showing still shows, and the surface exists.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMainWindow

from player.video_area import VideoArea

_CREATED = Qt.WidgetAttribute.WA_WState_Created


def _window_with(area: VideoArea) -> QMainWindow:
    window = QMainWindow()
    window.setCentralWidget(area)
    return window


def test_the_video_surface_is_made_as_the_window_is_shown_and_the_card_stays(qapp: QApplication) -> None:
    area = VideoArea()
    area.show_message("Nothing playing yet", "Paste a PieceCID above.")
    window = _window_with(area)
    assert not area.video.testAttribute(_CREATED)  # nothing made before the window is shown
    window.show()
    qapp.processEvents()
    try:
        assert area.video.testAttribute(_CREATED)
        assert area.currentWidget() is area.card and area.card.title.text() == "Nothing playing yet"
        assert not area.video.isVisible()
        area.show_video()
        assert area.video.isVisible()
    finally:
        window.close()


def test_a_video_page_shown_from_the_start_stays_shown(qapp: QApplication) -> None:
    area = VideoArea()
    area.show_video()
    window = _window_with(area)
    window.show()
    qapp.processEvents()
    try:
        assert area.currentWidget() is area.video and area.video.isVisible()
        assert area.video.testAttribute(_CREATED)
    finally:
        window.close()
