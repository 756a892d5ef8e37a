"""An audio output the FFmpeg backend can let go of without waiting for Python.

Why not ``QAudioOutput()``: an object created from Python is a shiboken wrapper whose virtual methods first
look for a Python override, which needs the GIL. The FFmpeg backend's audio renderer lives on its own thread and
is connected to the output's signals; when it is destroyed (on stop, on a new source) Qt calls the output's
``disconnectNotify`` from that thread, which then waits for the GIL — while the GUI thread, holding the GIL
inside ``QMediaPlayer.stop()``, waits for the renderer's connection lock. We saw that deadlock in about one close
in ten. An output instantiated by Qt itself (here through QML's ``AudioOutput`` type, which is QAudioOutput) has
no Python overrides to look up, so nothing on that path needs the GIL.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QUrl
from PySide6.QtMultimedia import QAudioOutput
from PySide6.QtQml import QQmlComponent, QQmlEngine

log = logging.getLogger(__name__)

_QML = b"import QtMultimedia\nAudioOutput {}\n"


def native_audio_output(parent: QObject) -> QAudioOutput:
    """A QAudioOutput made by Qt, owned by ``parent`` (falls back to a Python-made one if QML is unavailable)."""
    engine = QQmlEngine(parent)
    component = QQmlComponent(engine)
    component.setData(_QML, QUrl())
    output = component.create()
    if not isinstance(output, QAudioOutput):
        log.warning("QML AudioOutput unavailable (%s); using QAudioOutput()", component.errorString().strip())
        return QAudioOutput(parent)
    output.setParent(parent)
    return output
