"""The settings dialog's two pages: where videos come from in plain words, the cache in GB, and the rest under
Advanced; each choice decides the sources the proxy is given."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication, QDialogButtonBox

from player.settings import Settings
from player.settings_dialog import GB, SettingsDialog


def _dialog(tmp_path: Path, used: int | None = None) -> SettingsDialog:
    settings = Settings(tmp_path / "settings.ini")
    settings.cache_dir = tmp_path / "cache"
    return SettingsDialog(settings, used)


def test_the_simple_page_speaks_of_sources_and_gigabytes(qapp: QApplication, tmp_path: Path) -> None:
    dialog = _dialog(tmp_path, used=1_500_000_000)
    assert [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())] == ["Simple", "Advanced"]
    kinds = [dialog.source_kind.itemText(i) for i in range(dialog.source_kind.count())]
    assert kinds == ["Filecoin CDN (FilBeam)", "Storage provider", "Custom"]
    assert dialog.cache_used.text() == "1.50 GB used now" and dialog.cache_size.suffix() == " GB"
    cleared = []
    dialog.clearCacheRequested.connect(lambda: cleared.append(True))
    dialog.clear_button.click()
    assert cleared == [True] and dialog.cache_used.text() == "Cache cleared"
    advanced = dialog.tabs.widget(1)
    for widget in (dialog.slice_size, dialog.templates, dialog.hover_prefetch, dialog.cache_dir):
        assert advanced.isAncestorOf(widget) and widget.accessibleName() and widget.toolTip()


def test_a_storage_provider_is_checked_and_becomes_the_first_source(qapp: QApplication, tmp_path: Path) -> None:
    dialog = _dialog(tmp_path)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    dialog.source_kind.setCurrentIndex(dialog.source_kind.findData("provider"))
    assert dialog.source_pages.currentIndex() == 1
    assert "provider's address" in dialog.problem.text() and not ok.isEnabled()
    dialog.provider.setText("sp.example")
    assert "http://" in dialog.problem.text() and not ok.isEnabled()
    dialog.provider.setText("https://sp.example/")
    dialog.templates.setPlainText("https://mirror.example/{cid}")
    assert ok.isEnabled() and dialog.changes() == {"sources"}
    dialog.save()
    saved = Settings(dialog.settings.path)
    assert [s.template for s in saved.sources()] == [
        "https://sp.example/piece/{cid}",
        "https://mirror.example/{cid}",
    ]
    saved.source_kind = "custom"
    assert [s.template for s in saved.sources()] == ["https://mirror.example/{cid}"]


def test_an_unchanged_cache_size_is_not_a_change(qapp: QApplication, tmp_path: Path) -> None:
    dialog = _dialog(tmp_path)
    before = dialog.settings.cache_size
    assert dialog.changes() == set()
    dialog.save()
    assert dialog.settings.cache_size == before  # GB shown rounded; the bytes stay as they were
    dialog.cache_size.setValue(2.0)
    assert dialog.changes() == {"cache"}
    dialog.save()
    assert dialog.settings.cache_size == 2 * GB
