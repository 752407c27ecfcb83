"""The package's structure: stages import one way (import-linter contracts in pyproject.toml), no import
cycle between modules, and no function-level imports but of the optional heavy dependencies."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# imported inside functions on purpose: heavy, and needed only on some paths (the hub; AlpacaEval's metrics)
LAZY_DEPENDENCIES = {"datasets", "alpaca_eval"}


def _modules() -> dict[str, Path]:
    modules = {}
    for package in ("harness", "baselines"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


def _imports(tree: ast.Module, module: str, modules: dict[str, Path]) -> list[tuple[ast.stmt, str]]:
    """(statement, imported module) for every import in the file, resolved to the longest known module."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{module}: relative import"
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in modules and "." in name:
                name = name.rpartition(".")[0]
            found.append((node, name))
    return found


def test_import_linter_contracts_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


def test_no_import_cycle_and_no_function_level_imports():
    modules = _modules()
    graph: dict[str, set[str]] = {}
    lazy = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text())
        top_level = {id(node) for node in tree.body}
        graph[module] = set()
        for node, name in _imports(tree, module, modules):
            if name in modules and name != module:
                graph[module].add(name)
            if id(node) not in top_level and name.split(".")[0] not in LAZY_DEPENDENCIES:
                lazy.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not lazy, "function-level imports:\n" + "\n".join(lazy)
    # depth-first search for a back edge
    state: dict[str, int] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycle = trail[trail.index(target):] + [target] if target in trail else [module, target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, trail + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
