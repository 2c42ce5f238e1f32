"""The package layout holds: one import name, and dependencies that point one way.

The services keep their top-level folders but are installed only under ``signalbox``; the core
imports no service and no service imports another (docs/architecture.md, "Rooms").
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {
    "router": "router",
    "probe": "probe",
    "dashboard": "dashboard",
    "simulator": "simulator",
}
FOLDERS = {**SERVICES, "migrations": "migrations"}
ABOVE = "signalbox.cli"  # the composition layer: may import anything


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT)
    parts = list(rel.with_suffix("").parts)
    if parts[0] in FOLDERS:
        parts = ["signalbox", *parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> list[Path]:
    folders = ["signalbox", *FOLDERS.values()]
    return [p for folder in folders for p in (ROOT / folder).rglob("*.py")]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _room(module: str) -> str:
    """``core``, ``cli`` or the service's name."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in SERVICES:
        return parts[1]
    if module == ABOVE or module.startswith(ABOVE + "."):
        return "cli"
    return "core"


def test_every_package_on_disk_is_installed_and_only_under_signalbox() -> None:
    config = _pyproject()["tool"]["setuptools"]
    packages = set(config["packages"])
    assert all(p == "signalbox" or p.startswith("signalbox.") for p in packages)
    on_disk = {_module_name(init) for init in _sources() if init.name == "__init__.py"}
    on_disk = {m for m in on_disk if "." in m or m == "signalbox"}
    assert on_disk == packages, "pyproject.toml [tool.setuptools] packages is out of date"
    mapped = config["package-dir"]
    assert {k: v for k, v in mapped.items() if k != "signalbox"} == {
        f"signalbox.{name}": folder for name, folder in FOLDERS.items()
    }


def test_no_code_imports_a_service_by_its_bare_folder_name() -> None:
    names = "|".join(FOLDERS)
    # also in strings: code run by ``python -c`` hides there
    bare = re.compile(
        rf"(?<![\w.])from ({names})(\.\w+)* import|(?:^|[;\"'])\s*import ({names})\b", re.M
    )
    offenders = []
    for path in [*_sources(), *(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]:
        for name in _imports(path):
            if name.split(".")[0] in FOLDERS:
                offenders.append(f"{path.relative_to(ROOT)}: imports {name}")
        for match in bare.finditer(path.read_text()):
            offenders.append(f"{path.relative_to(ROOT)}: {match.group(0)!r}")
    assert not offenders


def test_the_core_imports_no_service_and_services_import_no_other_service() -> None:
    offenders = []
    for path in _sources():
        module = _module_name(path)
        room = _room(module)
        if room == "cli":
            continue
        for name in _imports(path):
            if not name.startswith("signalbox."):
                continue
            target = _room(name)
            if target == "cli" or (target != "core" and target != room):
                offenders.append(f"{module} ({room}) imports {name} ({target})")
    assert not offenders


def test_installing_signalbox_adds_no_top_level_service_package(tmp_path: Path) -> None:
    code = (
        "import importlib.util, sys\n"
        f"names = {sorted(FOLDERS)!r}\n"
        "found = [n for n in names if importlib.util.find_spec(n) is not None]\n"
        "import signalbox.router.app, signalbox.probe.service, signalbox.migrations\n"
        "print(found)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_every_section_the_code_cites_exists_in_the_architecture_document() -> None:
    document = (ROOT / "docs" / "architecture.md").read_text()
    sections = set(re.findall(r"^## (\d+)\. ", document, re.M))
    cited = set()
    for path in [*_sources(), *(ROOT / "tests").rglob("*.py")]:
        cited.update(re.findall(r"docs/architecture\.md §(\d+)", path.read_text()))
    assert cited and cited <= sections, cited - sections
    for path in [*_sources(), *(ROOT / "tests").rglob("*.py")]:
        old = "DESIGN" + " §"  # the design document outside the repository that code once cited
        assert old not in path.read_text(), f"{path}: cites a document not in the repository"
