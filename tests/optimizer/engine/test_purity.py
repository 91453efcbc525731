"""The engine stays pure: no Django, no app models, only the allowed third-party packages."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[3] / "optimizer" / "engine"
FORBIDDEN = ("django", "retailers", "customers", "campaigns", "optimizer.models", "rest_framework")
ALLOWED_THIRD_PARTY = {
    "numpy",
    "pandas",
    "sklearn",
    "scipy",
    "pulp",
    "highspy",
    "threadpoolctl",
    "joblib",
    "implicit",
}


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_engine_imports_no_django_and_no_app_code():
    files = sorted(ENGINE.rglob("*.py"))  # subpackages (allocation, promotions) too
    assert files, f"no engine modules found under {ENGINE}"
    bad = [
        f"{path.relative_to(ENGINE)}: {name}"
        for path in files
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
        or not (
            name.split(".")[0] in sys.stdlib_module_names
            or name.split(".")[0] in ALLOWED_THIRD_PARTY
            or name == "optimizer.engine"
            or name.startswith("optimizer.engine.")
            or name == "__future__"
        )
    ]
    assert not bad, f"impure imports in optimizer/engine: {bad}"


def test_optimizer_package_init_is_empty():
    assert (ENGINE.parent / "__init__.py").read_text().strip() == ""
