"""The packaging's cheap invariants, without running PyInstaller (CI builds the app and checks it for real).

What the bundle leaves out, the menu entry, the .deb's fields and layout, the user install script, and the audit
that keeps the .deb's Depends honest — each on real files with the real tools (dpkg-deb, desktop-file-validate)
where this machine has them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))

import build  # noqa: E402
from bundle_rules import (  # noqa: E402
    EXCLUDED_MODULES,
    UNUSED_QT_MODULES,
    keep_entry,
    linked_entries,
    without_dangling_links,
)

import player  # noqa: E402

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is a Debian tool")


def test_the_version_is_the_one_of_pyproject() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert build.project_version() == player.__version__ == version
    assert build.deb_name(version) == f"pieceplayer_{version}_amd64.deb"
    assert build.tarball_name(version) == f"PiecePlayer-{version}-linux-x86_64.tar.gz"


def test_the_spec_applies_the_rules_and_names_the_app() -> None:
    spec = (ROOT / "build.spec").read_text()
    for name in ("EXCLUDED_MODULES", "keep_entry", "linked_entries", "without_dangling_links"):
        assert re.search(rf"\b{name}\(|excludes={name}", spec), name
    assert 'NAME = "PiecePlayer"' in spec and "exclude_binaries=True" in spec  # one folder, not one file
    assert "console=not (IS_WIN or IS_MAC)" in spec  # windowed where a console window would show


def test_webengine_and_other_unused_qt_modules_are_excluded() -> None:
    for module in ("QtWebEngineCore", "QtWebEngineWidgets", "QtWebEngineQuick", "Qt3DCore", "QtDesigner", "QtCharts"):
        assert f"PySide6.{module}" in EXCLUDED_MODULES


def test_no_excluded_qt_module_is_imported_by_the_player() -> None:
    """An import added later to a module the spec leaves out would only fail in the built app: fail here."""
    imported = set()
    for path in [*(ROOT / "player").rglob("*.py"), *(ROOT / "proxy").rglob("*.py")]:
        imported |= set(re.findall(r"^\s*(?:from|import) PySide6\.(\w+)", path.read_text(), re.MULTILINE))
    assert imported, "the scan found no PySide6 import at all"
    assert not imported & set(UNUSED_QT_MODULES)


@pytest.mark.parametrize(
    ("dest", "kept"),
    [
        ("PySide6/Qt/qml/QtMultimedia/libquickmultimediaplugin.so", True),
        ("PySide6/Qt/qml/QtMultimedia/qmldir", True),
        ("PySide6/Qt/qml/QtQuick/libqtquick2plugin.so", True),
        ("PySide6/Qt/qml/QtQml/WorkerScript/qmldir", True),
        ("PySide6/Qt/qml/QtQuick/Controls/qmldir", False),
        ("PySide6/Qt/qml/QtWebEngine/qmldir", False),
        ("PySide6/Qt/qml/QtQuick3D/qmldir", False),
        ("PySide6/Qt/lib/libQt6WebEngineCore.so.6", False),
        ("PySide6/Qt/lib/libQt6Quick3D.so.6", False),
        ("PySide6/Qt/lib/libQt6Multimedia.so.6", True),
        ("PySide6/Qt/lib/libQt6Quick.so.6", True),
        ("PySide6/Qt/plugins/platforms/libqxcb.so", True),
        ("PySide6/Qt/plugins/platforms/libqwayland.so", True),
        ("PySide6/Qt/plugins/platforms/libqoffscreen.so", True),
        ("PySide6/Qt/plugins/platforms/libqeglfs.so", False),
        ("PySide6/Qt/plugins/multimedia/libffmpegmediaplugin.so", True),
        ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", False),
        ("PySide6/Qt/plugins/wayland-shell-integration/libxdg-shell.so", True),
        ("PySide6/Qt/plugins/wayland-shell-integration/libivi-shell.so", False),
        ("PySide6/Qt/plugins/iconengines/libqsvgicon.so", True),
        ("PySide6/Qt/translations/qtbase_de.qm", False),
        ("libstdc++.so.6", False),
        ("libxcb-cursor.so.0", True),
        ("resources/demo/manifest.json", True),
        ("PySide6/qml/QtWebEngine/qtwebenginequickplugin.dll", False),  # the Windows wheel's layout
        ("PySide6/qml/QtMultimedia/quickmultimediaplugin.dll", True),
        ("PySide6/Qt6WebEngineCore.dll", False),
        ("PySide6/Qt6Multimedia.dll", True),
        ("PySide6/Qt/lib/QtWebEngineCore.framework/Versions/A/QtWebEngineCore", False),  # macOS
        ("PySide6/Qt/lib/QtQuick.framework/Versions/A/QtQuick", True),
    ],
)
def test_the_bundle_keeps_what_the_player_loads(dest: str, kept: bool) -> None:
    assert keep_entry(dest) is kept


def test_libraries_nothing_links_to_are_dropped() -> None:
    links = {
        "/src/QtGui.abi3.so": ["libQt6Gui.so.6"],
        "/src/libQt6Gui.so.6": ["libpng16.so.16", "libc.so.6"],
        "/src/libqgtk3.so": ["libgtk-3.so.0"],
        "/src/libpng16.so.16": [],
        "/src/libgtk-3.so.0": [],
        "/src/libnss3.so": [],
    }
    entries = [
        ("PySide6/QtGui.abi3.so", "/src/QtGui.abi3.so", "EXTENSION"),
        ("PySide6/Qt/lib/libQt6Gui.so.6", "/src/libQt6Gui.so.6", "BINARY"),
        ("libQt6Gui.so.6", "PySide6/Qt/lib/libQt6Gui.so.6", "SYMLINK"),
        ("libpng16.so.16", "/src/libpng16.so.16", "BINARY"),
        ("libgtk-3.so.0", "/src/libgtk-3.so.0", "BINARY"),  # only the dropped GTK theme needed it
        ("libnss3.so", "/src/libnss3.so", "BINARY"),
    ]
    kept = {entry[0] for entry in linked_entries(entries, lambda source: links.get(source, []))}
    assert kept == {"PySide6/QtGui.abi3.so", "PySide6/Qt/lib/libQt6Gui.so.6", "libQt6Gui.so.6", "libpng16.so.16"}


def test_links_to_dropped_files_are_dropped() -> None:
    kept = [("PySide6/Qt/lib/libQt6Gui.so.6", "/src/a", "BINARY")]
    links = [
        ("libQt6Gui.so.6", "PySide6/Qt/lib/libQt6Gui.so.6", "SYMLINK"),
        ("libQt6QuickTest.so.6", "PySide6/Qt/lib/libQt6QuickTest.so.6", "SYMLINK"),
    ]
    assert without_dangling_links(links, kept + links) == links[:1]


def test_the_desktop_entry_opens_pieceplayer_links() -> None:
    text = (ROOT / "packaging" / "pieceplayer.desktop").read_text()
    assert "MimeType=x-scheme-handler/pieceplayer;" in text.splitlines()
    assert re.search(r"(?m)^Exec=pieceplayer %u$", text)
    assert re.search(r"(?m)^Icon=pieceplayer$", text)
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.skip("desktop-file-validate is not installed (./dev build installs it)")
    result = subprocess.run([tool, str(ROOT / "packaging" / "pieceplayer.desktop")], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_the_control_template_is_complete_and_its_depends_readable() -> None:
    fields = build.read_control()
    assert fields["Package"] == "pieceplayer" and fields["Architecture"] == "amd64"
    assert fields["Version"] == "@VERSION@" and fields["Installed-Size"] == "@INSTALLED_SIZE@"
    assert fields["Description"].count("\n") >= 1  # a synopsis and a long description
    depends = build.depends_packages(fields["Depends"])
    assert re.fullmatch(r">= \d+\.\d+", depends["libc6"])
    assert {"libgl1", "libegl1", "libxcb1"} <= depends.keys()
    with pytest.raises(build.BuildError, match="cannot read"):
        build.depends_packages("libgl1, Not A Package!")


def _fake_bundle(tmp_path: Path) -> Path:
    """A folder shaped like dist/PiecePlayer whose executable is a script that says its version."""
    bundle = tmp_path / "PiecePlayer"
    (bundle / "_internal").mkdir(parents=True)
    (bundle / "_internal" / "data.txt").write_text("x")
    app = bundle / "PiecePlayer"
    app.write_text('#!/bin/sh\necho "pieceplayer fake $*"\n')
    app.chmod(0o755)
    return bundle


@needs_dpkg
def test_the_deb_installs_the_folder_the_command_the_menu_entry_and_the_icons(tmp_path: Path) -> None:
    deb = build.make_deb(_fake_bundle(tmp_path), "1.2.3", tmp_path, tmp_path / "work")
    assert deb.name == "pieceplayer_1.2.3_amd64.deb"
    info = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True).stdout
    fields = dict(line.split(": ", 1) for line in info.splitlines() if ": " in line)
    assert fields["Version"] == "1.2.3" and fields["Package"] == "pieceplayer"
    assert int(fields["Installed-Size"]) > 0
    assert fields["Depends"] == build.read_control()["Depends"]
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^-rwxr-xr-x root/root .* \./opt/pieceplayer/PiecePlayer$", listing, re.MULTILINE)
    assert "./usr/bin/pieceplayer -> /opt/pieceplayer/PiecePlayer" in listing
    assert "./usr/share/applications/pieceplayer.desktop" in listing
    assert "./usr/share/doc/pieceplayer/copyright" in listing
    for size in build.ICON_SIZES:
        assert f"./usr/share/icons/hicolor/{size}x{size}/apps/pieceplayer.png" in listing
    assert "./usr/share/icons/hicolor/scalable/apps/pieceplayer.svg" in listing
    unpacked = tmp_path / "control"
    subprocess.run(["dpkg-deb", "-e", str(deb), str(unpacked)], check=True)
    sums = (unpacked / "md5sums").read_text().splitlines()
    assert any(line.endswith("  opt/pieceplayer/PiecePlayer") for line in sums)
    assert not any("usr/bin/pieceplayer" in line for line in sums)  # a link has no checksum


def test_the_archive_installs_for_one_user_and_uninstalls(tmp_path: Path) -> None:
    archive = build.make_tarball(_fake_bundle(tmp_path), "1.2.3", tmp_path, tmp_path / "work")
    with tarfile.open(archive) as tar:
        assert all(member.uid == 0 for member in tar.getmembers())
        # the "tar" filter (Python 3.11.4+; Debian 12 has 3.11.2) keeps the archive's modes and refuses links out
        tar.extractall(tmp_path / "unpacked", **({"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}))
    top = tmp_path / "unpacked" / "PiecePlayer-1.2.3-linux-x86_64"
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": os.environ["PATH"]}
    install = subprocess.run([str(top / "install.sh")], env=env, capture_output=True, text=True)
    assert install.returncode == 0, install.stderr
    app = home / ".local" / "share" / "pieceplayer" / "PiecePlayer"
    command = home / ".local" / "bin" / "pieceplayer"
    ran = subprocess.run([str(command), "pieceplayer://x"], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "pieceplayer fake pieceplayer://x"
    desktop = home / ".local" / "share" / "applications" / "pieceplayer.desktop"
    assert f'Exec="{app}" %u' in desktop.read_text().splitlines()
    assert (home / ".local/share/icons/hicolor/48x48/apps/pieceplayer.png").is_file()
    if shutil.which("desktop-file-validate"):
        assert subprocess.run(["desktop-file-validate", str(desktop)], capture_output=True).returncode == 0
    again = subprocess.run([str(top / "install.sh")], env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr  # an update over an installed copy
    removed = subprocess.run([str(top / "install.sh"), "--uninstall"], env=env, capture_output=True, text=True)
    assert removed.returncode == 0, removed.stderr
    assert not app.exists() and not command.exists() and not desktop.exists()
    assert not list(home.rglob("pieceplayer.png"))


@needs_dpkg
def test_the_audit_names_a_library_the_deb_would_not_bring(tmp_path: Path) -> None:
    """dpkg links to system libraries; a folder holding it must list their packages in Depends."""
    folder = tmp_path / "app"
    folder.mkdir()
    shutil.copy(shutil.which("dpkg") or "/usr/bin/dpkg", folder / "dpkg")
    problems = build.audit(folder, "libc6 (>= 2.0)")
    assert any("add it to Depends" in p for p in problems), problems
    assert any("needs glibc" in p for p in problems), problems
    packages = {re.search(r"the package (\S+):", p).group(1) for p in problems if "add it to Depends" in p}
    assert build.audit(folder, "libc6 (>= 9.0), " + ", ".join(sorted(packages))) == []
