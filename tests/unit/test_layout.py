"""Every service has the same layout (README "The tree"), and its domain stays pure: what one learns in one service
carries over to the others, and the rules can be read and tested without a web app or a database."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "consent", "registry", "notify")
LAYOUT = ("app.py", "wsgi.py", "cli.py", "demo.py", "tables.py", "migrations", "access.py", "schemas.py", "api.py",
          "pages.py", "handlers.py", "privacy.py", "domain", "store.py", "service.py")
# What the domain may not reach: the web, the database, the environment.
IMPURE_MODULES = ("flask", "flask_smorest", "werkzeug", "sqlalchemy", "psycopg2", "pika", "requests")


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_common_layout(service):
    folder = ROOT / "services" / service
    missing = [name for name in LAYOUT if not (folder / name).exists()]
    assert not missing, f"services/{service} lacks {missing}"
    assert (folder / "domain" / "__init__.py").exists()


def _imports_and_environment(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") \
                and isinstance(node.value, ast.Name) and node.value.id == "os":
            yield f"os.{node.attr}"


@pytest.mark.parametrize("service", SERVICES)
def test_the_domain_imports_no_web_no_database_and_reads_no_environment(service):
    offenders = []
    for path in sorted((ROOT / "services" / service / "domain").rglob("*.py")):
        for name in _imports_and_environment(path):
            if name.split(".")[0] in IMPURE_MODULES or name.startswith("os."):
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert not offenders


def _role_checks(tree):
    """Role decisions made with literals: a `.role` compared with a string (or a tuple of strings), or a string in
    `roles_required`/`require_role`. Comparing with a name from access.py is the way."""
    def literal(node):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return any(literal(element) for element in node.elts)
        return isinstance(node, ast.Constant) and isinstance(node.value, str)

    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(isinstance(side, ast.Attribute) and side.attr == "role" for side in sides) \
                    and any(literal(side) for side in sides):
                yield node.lineno, ast.unparse(node)
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in ("roles_required", "require_role") and any(
                    isinstance(arg, ast.Constant) and isinstance(arg.value, str) for arg in node.args):
                yield node.lineno, ast.unparse(node)


@pytest.mark.parametrize("service", SERVICES)
def test_role_checks_go_through_access(service):
    """Within a service, access.py is the one place that says which role may do what: nothing else compares a
    role or names one in a role check."""
    offenders = []
    for path in sorted((ROOT / "services" / service).rglob("*.py")):
        if path.name == "access.py" or "migrations" in path.parts:
            continue
        for lineno, source in _role_checks(ast.parse(path.read_text(encoding="utf-8"))):
            offenders.append(f"{path.relative_to(ROOT)}:{lineno}: {source}")
    assert not offenders
