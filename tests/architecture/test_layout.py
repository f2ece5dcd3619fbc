"""The repository layout: `platform/` and `dashboards/` are import roots, never packages."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()


@pytest.mark.parametrize("folder", ["platform", "dashboards"])
def test_import_roots_hold_no_python_file_of_their_own(folder):
    root = ROOT / folder

    assert root.is_dir()
    assert not (root / "__init__.py").exists()
    assert sorted(path.name for path in root.glob("*.py")) == []
    assert sorted(path.name for path in root.glob("*.pyc")) == []


def test_import_platform_gives_the_standard_library_module():
    assert Path(platform.__file__).resolve().parent == STDLIB
    assert platform.system()


def test_import_platform_from_the_repository_root_gives_the_standard_library_module():
    # `python -c` from the root puts the root first on sys.path: the case that used to break.
    code = (
        "import json, platform, flask, click, sqlalchemy, offerlab, offerlab_dashboards; "
        "print(json.dumps([platform.__file__, platform.system(), offerlab.__file__, "
        "offerlab_dashboards.__file__]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr
    platform_file, system, offerlab_file, dashboards_file = json.loads(done.stdout)
    assert Path(platform_file).resolve().parent == STDLIB
    assert system == platform.system()
    assert Path(offerlab_file).resolve().is_relative_to(ROOT / "platform" / "offerlab")
    assert Path(dashboards_file).resolve().is_relative_to(ROOT / "dashboards")


def test_test_folders_are_not_packages():
    # pytest runs with --import-mode=importlib; an __init__.py would put the root on sys.path.
    assert sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("__init__.py")) == []
