"""The layers read one way: no import runs back up a layer, and no module imports itself round
a circle (docs/layout.md). Read from the source with ``ast``, so a new import is checked
without running anything."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOT = ROOT / "bot"

# A layer, and the prefixes it must never import (what sits above it, or beside it at the edge).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "bot.metastudio": (
        "bot.stopflow",
        "bot.slack",
        "bot.app",
        "bot.sandbox",
        "bot.config",
        "slack_",
    ),
    "bot.stopflow": ("bot.slack", "bot.app", "bot.sandbox", "slack_bolt"),
    "bot.slack": ("bot.app", "bot.sandbox", "bot.doctor", "bot.__main__"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


NAMES = {module_name(path) for path in BOT.rglob("*.py")}


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (a function's import counts)."""
    found: set[str] = set()
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    )
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            # ``from bot.metastudio import signing`` imports the module, not the package's names
            submodules = {f"{base}.{alias.name}" for alias in node.names}
            found.update(submodules & NAMES)
            if not submodules <= NAMES:
                found.add(base)
    return found


MODULES = {module_name(path): path for path in BOT.rglob("*.py")}  # every module of bot/
GRAPH = {
    name: {imported for imported in imports_of(path) if imported in MODULES and imported != name}
    for name, path in MODULES.items()
}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_import_runs_back_up_a_layer(layer: str) -> None:
    wrong = [
        f"{name} imports {imported}"
        for name, path in sorted(MODULES.items())
        if name == layer or name.startswith(layer + ".")
        for imported in sorted(imports_of(path))
        if imported.startswith(FORBIDDEN[layer])
    ]
    assert wrong == []


def test_no_import_circles() -> None:
    """Depth-first search for a back edge; a package's ``__init__`` importing its own modules
    is not a circle unless one of them imports the package back."""
    done: set[str] = set()
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return None
        path.append(name)
        for imported in sorted(GRAPH[name]):
            circle = visit(imported)
            if circle is not None:
                return circle
        path.pop()
        done.add(name)
        return None

    for name in sorted(GRAPH):
        assert visit(name) is None
