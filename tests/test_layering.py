"""The code's direction, checked on the source (ARCHITECTURE.md): what import-linter's contracts
(pyproject.toml, `lint-imports` in `make lint` and `make test`) cannot say.

- A feature uses another feature only through its ``service`` module (and its ``models``, the
  tables a query joins): never its views, pages, schemas, helpers or private names.
- No imports inside functions, unless a comment (on the line or just above the block) says why.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHELL = ("app", "wechat")
FEATURES = ("reports", "shops", "services_nearby")
PUBLIC_FACES = ("service", "models")


def sources(*packages: str) -> list[Path]:
    """Every Python file of the packages."""
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py"))


def imported_modules(tree: ast.AST, path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import in a file, relative imports resolved."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base]) if base else ".".join(parts)
            found.append((node.lineno, base, [alias.name for alias in node.names]))
    return found


def cross_feature_violations(path: Path) -> list[str]:
    """Imports of another feature's modules other than its service and models."""
    own = path.relative_to(ROOT).parts[0]
    out = []
    for line, module, names in imported_modules(ast.parse(path.read_text()), path):
        top = module.split(".")[0]
        if top not in FEATURES or top == own:
            continue
        targets = [module] if module != top else [f"{top}.{n}" for n in names]
        for target in targets:
            parts = target.split(".")
            face = parts[1] if len(parts) > 1 else ""
            private = any(n.startswith("_") for n in names)
            if face not in PUBLIC_FACES or len(parts) > 2 or private:
                out.append(f"{path.relative_to(ROOT)}:{line}: {target} {names}")
    return out


def local_imports_without_reason(path: Path) -> list[str]:
    """Imports inside functions with no comment on the line or just above their block."""
    text = path.read_text()
    lines = text.splitlines()
    numbers = sorted(
        {
            sub.lineno
            for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            for sub in ast.walk(node)
            if isinstance(sub, ast.Import | ast.ImportFrom)
        }
    )
    explained: set[int] = set()
    out = []
    for n in numbers:
        line, above = lines[n - 1], lines[n - 2].strip() if n > 1 else ""
        in_block = n - 1 in explained or (above == "" and n - 2 in explained)
        if "#" in line or above.startswith("#") or in_block:
            explained.add(n)
        else:
            out.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    return out


def test_features_meet_only_through_service_modules():
    found = [v for p in sources(*FEATURES) for v in cross_feature_violations(p)]
    assert found == [], "\n".join(found)


def test_the_shell_imports_no_feature():
    found = []
    for path in sources(*SHELL):
        for line, module, _names in imported_modules(ast.parse(path.read_text()), path):
            if module.split(".")[0] in FEATURES:
                found.append(f"{path.relative_to(ROOT)}:{line}: {module}")
    assert found == [], "\n".join(found)


def test_no_unexplained_imports_inside_functions():
    found = [v for p in sources(*SHELL, *FEATURES) for v in local_imports_without_reason(p)]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n    import os\n", 1),
        ("def f():\n    import os  # only on Linux\n", 0),
        ("def f():\n    # loaded lazily: heavy\n    import os\n    import sys\n", 0),
        ("import os\n\ndef f():\n    return os\n", 0),
    ],
)
def test_the_local_import_check_itself(tmp_path, monkeypatch, source, expected):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    path = tmp_path / "pkg" / "mod.py"
    path.parent.mkdir()
    path.write_text(source)
    assert len(local_imports_without_reason(path)) == expected


def test_the_cross_feature_check_itself(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    path = tmp_path / "shops" / "mod.py"
    path.parent.mkdir()
    path.write_text(
        "from reports import service\nfrom reports.service import submit\n"
        "from reports.models import Report\nfrom reports.pages import cases\n"
        "from reports.service import _private\nimport reports.api\nfrom shops import pages\n"
    )
    found = cross_feature_violations(path)
    assert [v.split(":")[1] for v in found] == ["4", "5", "6"]
