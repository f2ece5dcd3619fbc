"""Dependency rules: import-linter contracts, a pure domain core and a light SDK."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("flask", "sqlalchemy", "pydantic", "pydantic_settings", "alembic", "werkzeug")


def lint_imports(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["lint-imports", "--no-cache", "--no-logo", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_import_linter_contracts_are_kept():
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "importlinter"
    ]["contracts"]

    done = lint_imports()

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Contracts: {len(contracts)} kept, 0 broken." in done.stdout
    for contract in contracts:
        assert f"{contract['name']} KEPT" in done.stdout


def test_import_linter_sees_our_imports(tmp_path):
    # A contract the code is known to break must be reported as broken, or the kept ones mean
    # nothing (for instance a root package the linter silently failed to find).
    config = tmp_path / "contracts.toml"
    config.write_text(
        "[tool.importlinter]\n"
        'root_packages = ["offerlab", "offerlab_dashboards", "offerlab_sdk"]\n'
        "include_external_packages = true\n"
        "[[tool.importlinter.contracts]]\n"
        'name = "probe"\n'
        'type = "forbidden"\n'
        'source_modules = ["offerlab.storage"]\n'
        'forbidden_modules = ["sqlalchemy"]\n',
        encoding="utf-8",
    )

    done = lint_imports(str(config))

    assert done.returncode == 1, done.stdout + done.stderr
    assert "probe BROKEN" in done.stdout


def test_the_domain_core_and_the_sdk_spec_load_no_web_database_or_validation_library():
    code = f"""
import json, pkgutil, importlib, sys
import offerlab.domain
for module in pkgutil.walk_packages(offerlab.domain.__path__, "offerlab.domain."):
    importlib.import_module(module.name)
import offerlab.domain.stats, offerlab.domain.bandits
import offerlab_sdk.bucketing, offerlab_sdk.evaluate, offerlab_sdk.snapshot
heavy = {HEAVY!r}
loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
domain = sorted(m for m in sys.modules if m.startswith("offerlab.domain"))
print(json.dumps({{"loaded": loaded, "domain": domain}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stdout)
    assert modules["loaded"] == []
    assert {"offerlab.domain.stats", "offerlab.domain.bandits"} <= set(modules["domain"])


def test_the_domain_core_imports_nothing_from_the_outer_layers():
    # A textual check beside the linter, covering lazy imports inside functions too.
    outer = re.compile(
        r"^\s*(from|import)\s+(flask|sqlalchemy|pydantic|alembic|offerlab\.(storage|services|api|cli))\b",
        re.MULTILINE,
    )
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "platform" / "offerlab" / "domain").rglob("*.py")
        if outer.search(path.read_text(encoding="utf-8"))
    ]

    assert offenders == []


def test_the_sdk_depends_only_on_httpx_and_mmh3():
    project = tomllib.loads((ROOT / "sdk" / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"
    ]

    names = {Requirement(requirement).name.lower() for requirement in project["dependencies"]}

    assert names == {"httpx", "mmh3"}
    optional = {
        Requirement(requirement).name.lower()
        for extra in project.get("optional-dependencies", {}).values()
        for requirement in extra
    }
    assert not optional & {"offerlab", "flask", "sqlalchemy", "scipy", "numpy", "pydantic"}


def test_the_sdk_sources_import_only_the_standard_library_httpx_and_mmh3():
    allowed = set(sys.stdlib_module_names) | {"httpx", "mmh3", "offerlab_sdk"}
    imported: dict[str, set[str]] = {}
    pattern = re.compile(r"^\s*(?:from\s+(\w+)[\w.]*\s+import|import\s+(\w+))", re.MULTILINE)
    for path in (ROOT / "sdk" / "src" / "offerlab_sdk").rglob("*.py"):
        for match in pattern.finditer(path.read_text(encoding="utf-8")):
            name = match.group(1) or match.group(2)
            if name not in allowed:
                imported.setdefault(name, set()).add(path.name)

    assert imported == {}
