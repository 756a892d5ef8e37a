"""Translatable: the English source catalogue holds every marked string, and a compiled catalogue for another
language changes the words the menus show."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QApplication

from player.menus import menu_titles
from player.translation import install_translation

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "resources" / "i18n" / "pieceplayer_en.ts"
TOOLS = Path(sys.executable).parent


def _messages(ts: Path) -> set[tuple[str, str]]:
    root = ElementTree.parse(ts).getroot()
    return {
        (context.findtext("name") or "", message.findtext("source") or "")
        for context in root.iter("context")
        for message in context.iter("message")
    }


def test_the_english_catalogue_holds_every_marked_string(tmp_path: Path) -> None:
    sources = sorted(str(p) for p in (ROOT / "player").rglob("*.py"))
    fresh = tmp_path / "fresh.ts"
    subprocess.run([str(TOOLS / "pyside6-lupdate"), *sources, "-ts", str(fresh)], check=True, capture_output=True)
    assert _messages(fresh) == _messages(CATALOGUE), "run the README's pyside6-lupdate line to refresh it"
    assert ("Menus", "&File") in _messages(CATALOGUE)
    assert all(context for context, _ in _messages(CATALOGUE))  # every string has its context (none is lost)


def test_a_compiled_catalogue_translates_the_menus(qapp: QApplication, tmp_path: Path) -> None:
    ts = tmp_path / "pieceplayer_fr.ts"
    ts.write_text(
        '<?xml version="1.0" encoding="utf-8"?><!DOCTYPE TS><TS version="2.1" language="fr">'
        "<context><name>Menus</name><message><source>&amp;File</source>"
        "<translation>&amp;Fichier</translation></message></context></TS>",
        encoding="utf-8",
    )
    subprocess.run([str(TOOLS / "pyside6-lrelease"), str(ts)], check=True, capture_output=True)
    translator = install_translation(qapp, tmp_path, QLocale("fr_FR"))
    assert translator is not None
    try:
        assert menu_titles()["file"] == "&Fichier"
        assert menu_titles()["help"] == "&Help"  # untranslated words stay English
    finally:
        qapp.removeTranslator(translator)
    assert install_translation(qapp, tmp_path, QLocale("de_DE")) is None
