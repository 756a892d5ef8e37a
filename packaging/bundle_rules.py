"""What the frozen app leaves out: Python modules never imported, and Qt files the player cannot reach.

Why a module of its own: ``build.spec`` applies these rules, and ``tests/packaging/test_packaging.py`` checks them
without running PyInstaller (which takes minutes). A rule that drops something the player needs shows up in CI's frozen
self-test.
"""

from __future__ import annotations

import posixpath
import re
import subprocess
from collections.abc import Callable

#: PySide6 modules the player never imports (their hooks would otherwise bring their Qt libraries and plugins).
UNUSED_QT_MODULES = (
    "Qt3DAnimation", "Qt3DCore", "Qt3DExtras", "Qt3DInput", "Qt3DLogic", "Qt3DRender", "QtAxContainer", "QtBluetooth",
    "QtCanvasPainter", "QtCharts", "QtConcurrent", "QtDataVisualization", "QtDBus", "QtDesigner", "QtGraphs",
    "QtGraphsWidgets", "QtHelp", "QtHttpServer", "QtLocation", "QtNetworkAuth", "QtNfc",
    "QtPdf", "QtPdfWidgets", "QtPositioning", "QtPrintSupport", "QtQuick", "QtQuick3D", "QtQuickControls2",
    "QtQuickTest", "QtQuickWidgets", "QtRemoteObjects", "QtScxml", "QtSensors", "QtSerialBus", "QtSerialPort",
    "QtSpatialAudio", "QtSql", "QtStateMachine", "QtTest", "QtTextToSpeech", "QtUiTools", "QtWebChannel",
    "QtWebEngineCore", "QtWebEngineQuick", "QtWebEngineWidgets", "QtWebSockets", "QtWebView", "QtXml",
)  # fmt: skip
#: Those, other GUI toolkits, optional extras of pyqtgraph, and modules only tests or a terminal use.
EXCLUDED_MODULES = [
    *(f"PySide6.{name}" for name in UNUSED_QT_MODULES),
    "PySide6.scripts",
    "PyQt5",
    "PyQt6",
    "PySide2",
    "tkinter",
    "matplotlib",
    "scipy",
    "OpenGL",
    "IPython",
    "jupyter_rfb",
    "pyqtgraph.opengl",
    "pyqtgraph.examples",
    "pyqtgraph.jupyter",
    "pytest",
    "hypothesis",
    "pydoc_data",
    "readline",
    "curses",
]

#: Where the PySide6 wheels keep QML modules, plugins and translations: ``PySide6/Qt/…`` on Linux and macOS,
#: ``PySide6/…`` on Windows.
_QT_DIR = re.compile(r"PySide6/(?:Qt/)?(qml|plugins|translations)/(.*)")

#: QML modules the player loads: ``import QtMultimedia`` (for ``AudioOutput``), which depends on QtQuick, which
#: imports QtQml (with its Models and WorkerScript parts). Paths are below the ``qml`` folder.
KEPT_QML = re.compile(r"(QtMultimedia/[^/]+|QtQuick/[^/]+|QtQml/[^/]+|QtQml/(Models|WorkerScript)/[^/]+)")

#: Qt plugins the player never loads (paths below the ``plugins`` folder): the families of unused Qt modules and,
#: by their Linux names, embedded-device platforms and input, the GTK theme (it brings GTK, Cairo and Pango; the
#: player draws its own dark theme and Qt's own file dialog works), Wayland *compositor* parts, and image formats
#: it never shows.
DROPPED_PLUGINS = re.compile(
    r"(assetimporters|canbus|designer|egldeviceintegrations|generic|geometryloaders|geoservices|networkinformation|"
    r"position|qmltooling|renderers|renderplugins|sceneparsers|scxmldatamodel|sensors|sqldrivers|texttospeech|"
    r"webview|vectorimageformats)/"
    r"|platforms/libq(eglfs|linuxfb|minimalegl|vnc|vkkhrdisplay)\.so"
    r"|platformthemes/libqgtk3\.so"
    r"|platforminputcontexts/libqtvirtualkeyboardplugin\.so"
    r"|imageformats/libq(pdf|tiff|webp|tga|wbmp|icns)\.so"
    r"|wayland-graphics-integration-client/lib(?!qt-plugin-wayland-egl)"
    r"|wayland-shell-integration/lib(?!xdg-shell)"
)

#: Qt libraries of modules the player does not use (libQt6X.so.6, Qt6X.dll, QtX.framework/…); a plugin or QML
#: module that needed one is dropped above.
DROPPED_QT_LIBS = re.compile(
    r"(?:.*/)?(?:lib)?Qt6?(WebEngine|WebChannel|WebSockets|WebView|3D|Quick3D|Designer|Charts|DataVisualization|"
    r"Graphs|Pdf|Location|Positioning|Sensors|Bluetooth|Nfc|Serial|RemoteObjects|Scxml|StateMachine|TextToSpeech|"
    r"VirtualKeyboard|HttpServer|Help|Lottie|Labs|QuickControls2|QuickDialogs2|QuickTemplates2|QuickTimeline|"
    r"QuickParticles|QuickEffects|QuickVectorImage|SpatialAudio|Sql|Test|UiTools|CanvasPainter|QmlCompiler)"
    r"[^/]*(\.so[.\d]*|\.dll|\.framework/.*)"
)

#: Libraries every Linux system has in a version at least as new as the build machine's. A bundled older
#: libstdc++ would be loaded before the system's and break the system's newer OpenGL drivers, which need it.
SYSTEM_LIBS = re.compile(r"lib(stdc\+\+\.so\.6|gcc_s\.so\.1)$")


def keep_entry(dest: str) -> bool:
    """Whether a file of the analysis (by its path inside the bundle) belongs in the app."""
    path = dest.replace("\\", "/")
    qt = _QT_DIR.match(path)
    if qt and qt.group(1) == "qml":
        return bool(KEPT_QML.fullmatch(qt.group(2)))
    if qt and qt.group(1) == "plugins" and DROPPED_PLUGINS.match(qt.group(2)):
        return False
    if qt and qt.group(1) == "translations":
        return False  # the interface is English only
    if DROPPED_QT_LIBS.fullmatch(path):
        return False
    return not SYSTEM_LIBS.match(_name(path))


def is_library(dest: str) -> bool:
    """A shared library that is in the bundle only because something links to it (not a plugin or module).

    Plugins (Qt's, QML's) and Python extension modules are loaded by name at run time, so they are the roots;
    the Python library itself is loaded by the bootloader.
    """
    path = dest.replace("\\", "/")
    name = _name(path)
    if "PySide6/Qt/plugins/" in path or "PySide6/Qt/qml/" in path or name.startswith("libpython"):
        return False
    return name.startswith("lib") and ".so" in name


def linked_entries(entries: list[tuple], needed: Callable[[str], list[str]]) -> list[tuple]:
    """``entries`` (PyInstaller TOC rows: dest, source, kind) without the libraries that nothing left links to.

    After the path rules drop plugins and QML modules, the libraries only they needed (GTK for the GTK theme,
    NSS for nothing the player uses…) would stay behind; this keeps the libraries reachable through ``needed``
    (a file's DT_NEEDED names) from the roots, and every non-library entry as it is.
    """
    libraries: dict[str, list[tuple]] = {}
    for entry in entries:
        if is_library(entry[0]):
            libraries.setdefault(_name(entry[0]), []).append(entry)
    reached: set[str] = set()
    names = [name for entry in entries if not is_library(entry[0]) for name in _links(entry, needed)]
    while names:
        name = names.pop()
        if name in libraries and name not in reached:
            reached.add(name)
            names.extend(linked for entry in libraries[name] for linked in _links(entry, needed))
    return [entry for entry in entries if not is_library(entry[0]) or _name(entry[0]) in reached]


def without_dangling_links(entries: list[tuple], kept: list[tuple]) -> list[tuple]:
    """``entries`` without the symbolic links (PyInstaller adds some at the top) whose target is not in ``kept``."""
    present = {posixpath.normpath(entry[0].replace("\\", "/")) for entry in kept}

    def target(entry: tuple) -> str:
        dest, source, _kind = (part.replace("\\", "/") for part in entry)
        return posixpath.normpath(posixpath.join(posixpath.dirname(dest), source))

    return [entry for entry in entries if entry[2] != "SYMLINK" or target(entry) in present]


def _name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _links(entry: tuple, needed: Callable[[str], list[str]]) -> list[str]:
    """What a TOC row makes the loader look for: a symbolic link its target, a binary its DT_NEEDED names."""
    _dest, source, kind = entry
    return [_name(source)] if kind == "SYMLINK" else needed(source)


def elf_needed(path: str) -> list[str]:
    """The DT_NEEDED names of an ELF file (``objdump``, which PyInstaller needs on Linux anyway)."""
    try:
        out = subprocess.run(["objdump", "-p", path], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return [line.split()[1] for line in out.splitlines() if line.strip().startswith("NEEDED")]
