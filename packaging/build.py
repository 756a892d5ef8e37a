"""Build the app for users: ``python packaging/build.py`` (``./dev build`` installs what it needs first).

Makes, in ``dist/``:
  * ``PiecePlayer/``: the one-folder app (PyInstaller with ``build.spec``), started by ``PiecePlayer/PiecePlayer``;
  * ``pieceplayer_<version>_amd64.deb``: that folder in ``/opt/pieceplayer``, ``/usr/bin/pieceplayer``, the menu
    entry (also the ``pieceplayer://`` link handler) and the icons;
  * ``PiecePlayer-<version>-linux-x86_64.tar.gz``: the folder with ``install.sh`` for other distributions.

Before packaging, the folder is checked: every library its binaries link to must be in it or come from a
package the .deb depends on, and the C library it needs must not be newer than the one the .deb asks for. So a
.deb that installs is a .deb that starts (the fresh-machine check proves it on an empty Debian).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
APP = "PiecePlayer"
PACKAGE = "pieceplayer"
#: Where the .deb puts the app folder.
INSTALL_DIR = f"/opt/{PACKAGE}"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
#: The C library and the dynamic loader come from libc6 (always installed; its version is checked separately).
_LIBC_NAMES = re.compile(r"(ld-linux.*|lib(c|m|dl|pthread|rt|resolv|util|anl)\.so\.\d+)$")


class BuildError(Exception):
    """A step failed; the message says which and what to do."""


def project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def deb_name(version: str) -> str:
    return f"{PACKAGE}_{version}_amd64.deb"


def tarball_name(version: str) -> str:
    return f"{APP}-{version}-linux-x86_64.tar.gz"


# --- the folder app ----------------------------------------------------------------------------------------------


def build_bundle(dist: Path, work: Path) -> Path:
    """Run PyInstaller on ``build.spec``; returns ``dist/PiecePlayer``."""
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level=WARN"]
    command += ["--distpath", str(dist), "--workpath", str(work), str(ROOT / "build.spec")]
    if subprocess.run(command, cwd=ROOT).returncode != 0:
        raise BuildError("PyInstaller failed (its messages are above)")
    return dist / APP


def elf_files(folder: Path) -> list[Path]:
    """The ELF binaries in ``folder`` (not the links to them)."""
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                if handle.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def strip_debug_info(folder: Path) -> int:
    """Drop the debugging sections some binaries carry (a locally built Python has ~25 MB); returns bytes saved.

    ``--strip-debug`` leaves symbols and the dynamic section alone, so it cannot break loading; binaries without
    debugging sections (the patched libraries of wheels among them) are not touched at all.
    """
    saved = 0
    for path in elf_files(folder):
        sections = subprocess.run(["readelf", "-S", "-W", str(path)], capture_output=True, text=True).stdout
        if ".debug_info" not in sections:
            continue
        before = path.stat().st_size
        subprocess.run(["strip", "--strip-debug", str(path)], check=True)
        saved += before - path.stat().st_size
    return saved


# --- what the folder needs from the system -----------------------------------------------------------------------


def needed_libraries(path: Path) -> list[str]:
    out = subprocess.run(["objdump", "-p", str(path)], capture_output=True, text=True, check=True).stdout
    return [line.split()[1] for line in out.splitlines() if line.strip().startswith("NEEDED")]


def glibc_needed(folder: Path) -> tuple[int, ...]:
    """The newest ``GLIBC_x.y`` symbol version any binary in ``folder`` asks for."""
    newest: tuple[int, ...] = (2, 0)
    for path in elf_files(folder):
        out = subprocess.run(["objdump", "-T", str(path)], capture_output=True, text=True).stdout
        for version in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", out):
            newest = max(newest, tuple(int(part) for part in version.split(".")))
    return newest


def system_libraries(folder: Path) -> dict[str, list[str]]:
    """Libraries the folder's binaries link to that the folder does not hold: name → the binaries that need it."""
    present = {path.name for path in folder.rglob("*")}
    missing: dict[str, list[str]] = {}
    for path in elf_files(folder):
        for name in needed_libraries(path):
            if name not in present:
                missing.setdefault(name, []).append(str(path.relative_to(folder)))
    return missing


def _installed_libraries() -> dict[str, str]:
    """soname → path, for this machine's 64-bit libraries (``ldconfig -p``)."""
    out = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    found: dict[str, str] = {}
    for line in out.splitlines():
        match = re.match(r"\s*(\S+) \((.*)\) => (\S+)", line)
        if match and "x86-64" in match.group(2):
            found.setdefault(match.group(1), match.group(3))
    return found


def _owning_package(path: str) -> str | None:
    candidates = {path, str(Path(path).resolve())}
    candidates |= {c.removeprefix("/usr") for c in list(candidates)} | {"/usr" + c for c in list(candidates)}
    for candidate in sorted(candidates):
        result = subprocess.run(["dpkg-query", "-S", candidate], capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.split(":", 1)[0].strip()
    return None


def read_control(template: Path | None = None) -> dict[str, str]:
    """The fields of ``packaging/deb/control.in`` (the description's continuation lines are kept with it)."""
    fields: dict[str, str] = {}
    key = ""
    for line in (template or PACKAGING / "deb" / "control.in").read_text(encoding="utf-8").splitlines():
        if line.startswith(" ") and key:
            fields[key] += "\n" + line
        elif ":" in line:
            key, value = line.split(":", 1)
            fields[key] = value.strip()
    return fields


def depends_packages(depends: str) -> dict[str, str]:
    """``libc6 (>= 2.36), libgl1`` → {"libc6": ">= 2.36", "libgl1": ""} (first of any alternatives)."""
    packages = {}
    for item in depends.split(","):
        first = item.split("|")[0].strip()
        match = re.fullmatch(r"([a-z0-9][a-z0-9+.-]+)(?:\s*\(([^)]*)\))?", first)
        if not match:
            raise BuildError(f"cannot read the dependency {first!r} in packaging/deb/control.in")
        packages[match.group(1)] = (match.group(2) or "").strip()
    return packages


def audit(folder: Path, depends: str) -> list[str]:
    """What the .deb would fail to provide, in words (an empty list when nothing)."""
    declared = depends_packages(depends)
    installed = _installed_libraries()
    problems = []
    for name, users in sorted(system_libraries(folder).items()):
        if _LIBC_NAMES.fullmatch(name):
            continue
        where = f"{name} (needed by {users[0]}{f' and {len(users) - 1} more' if len(users) > 1 else ''})"
        if name not in installed:
            problems.append(f"{where} is neither in the bundle nor installed here: install it and build again")
            continue
        package = _owning_package(installed[name])
        if package is None:
            problems.append(f"{where} comes from {installed[name]}, which no Debian package provides")
        elif package not in declared:
            problems.append(f"{where} comes from the package {package}: add it to Depends in packaging/deb/control.in")
    glibc = glibc_needed(folder)
    libc = re.fullmatch(r">=\s*([\d.]+)", declared.get("libc6", ""))
    if libc is None or tuple(int(p) for p in libc.group(1).split(".")) < glibc:
        wanted = ".".join(map(str, glibc))
        problems.append(f"the bundle needs glibc {wanted}: Depends must say libc6 (>= {wanted})")
    return problems


# --- packages ----------------------------------------------------------------------------------------------------


def _desktop_integration(target: Path, exec_line: str | None = None) -> None:
    """``target/share``-style tree: applications/pieceplayer.desktop and icons/hicolor/…"""
    applications = target / "applications"
    applications.mkdir(parents=True, exist_ok=True)
    desktop = (PACKAGING / "pieceplayer.desktop").read_text(encoding="utf-8")
    if exec_line is not None:
        desktop = re.sub(r"(?m)^Exec=.*$", lambda _m: exec_line, desktop)
    (applications / f"{PACKAGE}.desktop").write_text(desktop, encoding="utf-8")
    icons = ROOT / "resources" / "icons"
    for size in ICON_SIZES:
        folder = target / "icons" / "hicolor" / f"{size}x{size}" / "apps"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(icons / "app" / f"pieceplayer-{size}.png", folder / f"{PACKAGE}.png")
    scalable = target / "icons" / "hicolor" / "scalable" / "apps"
    scalable.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(icons / "pieceplayer.svg", scalable / f"{PACKAGE}.svg")


def _folder_kib(folder: Path) -> int:
    total = sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() or p.is_symlink())
    return -(-total // 1024)


def make_deb(bundle: Path, version: str, out_dir: Path, work: Path) -> Path:
    """The .deb: the folder in /opt/pieceplayer, a /usr/bin/pieceplayer link, menu entry, icons, copyright."""
    staging = work / "deb"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(bundle, staging / INSTALL_DIR.lstrip("/"), symlinks=True)
    (staging / "usr" / "bin").mkdir(parents=True)
    (staging / "usr" / "bin" / PACKAGE).symlink_to(f"{INSTALL_DIR}/{APP}")
    _desktop_integration(staging / "usr" / "share")
    doc = staging / "usr" / "share" / "doc" / PACKAGE
    doc.mkdir(parents=True)
    shutil.copyfile(PACKAGING / "deb" / "copyright", doc / "copyright")
    control = (PACKAGING / "deb" / "control.in").read_text(encoding="utf-8")
    control = control.replace("@VERSION@", version).replace("@INSTALLED_SIZE@", str(_folder_kib(staging)))
    (staging / "DEBIAN").mkdir()
    (staging / "DEBIAN" / "control").write_text(control, encoding="utf-8")
    (staging / "DEBIAN" / "md5sums").write_text(_md5sums(staging), encoding="utf-8")
    for path in [staging, *staging.rglob("*")]:  # a umask of 077 must not make the package unreadable
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or path.stat().st_mode & 0o100 else 0o644)
    out = out_dir / deb_name(version)
    command = ["dpkg-deb", "--root-owner-group", "-Zxz", "-z6", "--build", str(staging), str(out)]
    if subprocess.run(command, stdout=subprocess.DEVNULL).returncode != 0:
        raise BuildError("dpkg-deb failed (its message is above)")
    return out


def _md5sums(staging: Path) -> str:
    """DEBIAN/md5sums, so ``dpkg --verify pieceplayer`` can tell an intact installation from a damaged one."""
    lines = []
    for path in sorted(staging.rglob("*")):
        if path.is_file() and not path.is_symlink() and path.relative_to(staging).parts[0] != "DEBIAN":
            lines.append(f"{hashlib.md5(path.read_bytes()).hexdigest()}  {path.relative_to(staging).as_posix()}\n")
    return "".join(lines)


def make_tarball(bundle: Path, version: str, out_dir: Path, work: Path) -> Path:
    """The archive for other distributions: the folder, install.sh, the menu entry and the icons."""
    top = f"{APP}-{version}-linux-x86_64"
    staging = work / "tar" / top
    shutil.rmtree(staging.parent, ignore_errors=True)
    shutil.copytree(bundle, staging / APP, symlinks=True)
    _desktop_integration(staging / "share")
    shutil.copyfile(PACKAGING / "install.sh", staging / "install.sh")
    (staging / "install.sh").chmod(0o755)

    def as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    out = out_dir / tarball_name(version)
    with tarfile.open(out, "w:gz", compresslevel=6) as archive:
        archive.add(staging, arcname=top, filter=as_root)
    return out


def validate_desktop_file() -> None:
    """``desktop-file-validate`` when it is installed (``./dev build`` installs it)."""
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        print("build: desktop-file-validate is not installed; the .desktop file is not validated", file=sys.stderr)
        return
    result = subprocess.run([tool, str(PACKAGING / "pieceplayer.desktop")], capture_output=True, text=True)
    if result.returncode != 0 or result.stdout.strip():
        raise BuildError(f"packaging/pieceplayer.desktop does not validate:\n{result.stdout}{result.stderr}")


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build dist/PiecePlayer, the .deb and the .tar.gz.")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder (default dist/)")
    parser.add_argument("--work", type=Path, default=ROOT / "build", help="PyInstaller's work folder (build/)")
    parser.add_argument("--reuse-bundle", action="store_true", help="package the existing dist/PiecePlayer")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        print("build: the .deb and .tar.gz are Linux packages; on this system run: pyinstaller build.spec")
        return 2
    version = project_version()
    try:
        validate_desktop_file()
        started = time.monotonic()
        bundle = args.dist / APP
        if not args.reuse_bundle:
            bundle = build_bundle(args.dist, args.work)
        saved = strip_debug_info(bundle)
        built = time.monotonic()
        problems = audit(bundle, read_control()["Depends"])
        if problems:
            raise BuildError("the .deb would not provide what the app needs:\n  " + "\n  ".join(problems))
        deb = make_deb(bundle, version, args.dist, args.work)
        tarball = make_tarball(bundle, version, args.dist, args.work)
    except BuildError as exc:
        print(f"build: {exc}", file=sys.stderr)
        return 1
    size = _folder_kib(bundle) * 1024
    print(f"build: {bundle} {_megabytes(size)} (debugging sections stripped: {_megabytes(saved)})")
    print(f"build: {deb} {_megabytes(deb.stat().st_size)}")
    print(f"build: {tarball} {_megabytes(tarball.stat().st_size)}")
    print(f"build: PyInstaller {built - started:.0f} s, packages {time.monotonic() - built:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
