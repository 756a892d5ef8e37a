"""The user's language: a compiled catalogue ``resources/i18n/pieceplayer_<lang>.qm`` for the system locale.

Strings are marked with ``tr``/``QCoreApplication.translate`` and collected with ``pyside6-lupdate`` into the
English source catalogue ``resources/i18n/pieceplayer_en.ts`` (see the README); a translator copies it to
``pieceplayer_<lang>.ts``, translates it in Qt Linguist and compiles it with ``pyside6-lrelease``. Without a
catalogue for the locale the English source words are shown.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLocale, QTranslator

from player.resources import resource


def install_translation(
    app: QCoreApplication, folder: Path | None = None, locale: QLocale | None = None
) -> QTranslator | None:
    translator = QTranslator(app)
    if translator.load(locale or QLocale(), "pieceplayer", "_", str(folder or resource("i18n"))):
        app.installTranslator(translator)
        return translator
    return None
