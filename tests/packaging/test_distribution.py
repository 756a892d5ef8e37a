"""Every package of the app is in the distribution: ``pyproject.toml`` names packages one by one, so a new
subpackage left off the list works from the source tree (and in the editable install the suite uses) but is missing
from a wheel — a user's ``pip install`` would fail at import. This caught ``proxy.emulator`` when it became a
package."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_in_the_tree_is_listed_for_the_distribution() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    in_tree = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("proxy", "player")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert in_tree - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
