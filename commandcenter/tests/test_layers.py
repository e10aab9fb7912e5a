"""The layer guard: no runtime module imports a package above its own (docs/architecture.md, "Layers").

Parses every module with `ast`, so it sees imports inside functions as well as at module level, and
needs no Django. Tests, migrations and the maintainer tools/benchmarks may import anything.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# top to bottom: a package may import packages in the layers below its own, never above
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"commandcenter"}),  # project wiring: settings, URLs, ASGI, Celery app, launcher, demo
    frozenset({"workers"}),  # stream sessions, pipeline stages, recordings
    frozenset({"alerts", "watchlists", "venues", "accounts", "retention", "oversight"}),  # the apps
    frozenset({"core"}),  # shared bases: API/admin bases, roles, permissions, security, Redis keys, jobs
    frozenset({"audit"}),  # the access log every layer above writes to
    frozenset({"vision"}),  # Django-free models and maths
)
# arrows allowed between apps of the same layer (an app not listed here imports no other app)
SIDEWAYS = frozenset(
    {
        ("alerts", "venues"),  # an alert is raised on a camera, in a zone
        ("alerts", "watchlists"),  # a face-match alert names its subject and template
        ("accounts", "venues"),  # a user's venue scope and language live on venues.OperatorScope
        ("retention", "alerts"),  # retention imports what it deletes
        ("retention", "watchlists"),
        ("oversight", "venues"),  # a deployment names venues and cameras, and reads the user's venue scope
        ("oversight", "watchlists"),  # ... and the watchlists matching may use
        ("oversight", "alerts"),  # it counts, purges, exports and searches face-match alerts
    }
)
UNLAYERED = frozenset(
    {"tools", "bench", "tests"}
)  # tooling and test support: import anything, imported by no runtime code
TEST_ONLY_LIBRARIES = frozenset({"pytest", "playwright", "schemathesis", "hypothesis"})
# import cycles between runtime modules that are known and left for now (a new one fails the test)
KNOWN_CYCLES = frozenset(
    {
        # FaceNet's embedder reuses the dlib chip of embedders.py, whose registry builds it lazily
        frozenset({"vision.faces.embedders", "vision.faces.facenet"}),
    }
)


def _layer_of() -> dict[str, int]:
    return {package: depth for depth, layer in enumerate(LAYERS) for package in layer}


def _runtime_modules() -> Iterator[Path]:
    for package in sorted(_layer_of()):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if "tests" in parts or "migrations" in parts:
                continue
            yield path


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _imported_modules(path: Path, known: set[str]) -> set[str]:
    """Runtime modules this one imports (`from a import b` counts `a.b` when that is a module), any depth."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(name for name in names if name in known)
    return found


def import_cycles() -> set[frozenset[str]]:
    """Groups of runtime modules that import each other, directly or round a loop (Tarjan's SCC)."""
    paths = {_module_name(path): path for path in _runtime_modules()}
    graph = {name: _imported_modules(path, set(paths)) - {name} for name, path in paths.items()}
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: set[frozenset[str]] = set()

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        for target in graph[node]:
            if target not in order:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], order[target])
        if low[node] == order[node]:
            group = {stack.pop()}
            while node not in group:
                group.add(stack.pop())
            if len(group) > 1:
                cycles.add(frozenset(group))

    for name in sorted(graph):
        if name not in order:
            visit(name)
    return cycles


def _imported_packages(path: Path) -> Iterator[tuple[int, str]]:
    """(line, top-level package) of every absolute import in the module, at any depth."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def _test_modules() -> Iterator[Path]:
    yield from sorted(ROOT.glob("*/tests/**/*.py"))
    yield from sorted((ROOT / "tests").rglob("*.py"))


def _imports_a_test_module(path: Path) -> list[str]:
    """Imports of another test module (`x.tests.test_y`, or `test_y` from a tests package) in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found += [
            f"{path.relative_to(ROOT)}:{node.lineno} imports {n}" for n in names if n.split(".")[-1].startswith("test_")
        ]
    return found


def _allowed(source: str, target: str, layer: dict[str, int]) -> bool:
    if target == source or (target not in layer and target not in UNLAYERED):
        return True  # the package itself, the standard library or a third-party package
    if target in UNLAYERED:
        return False
    if layer[target] > layer[source]:
        return True
    return (source, target) in SIDEWAYS


def layer_violations() -> list[str]:
    """Every import in runtime code that points up a layer, sideways without leave, or into tooling."""
    layer = _layer_of()
    found = []
    for path in _runtime_modules():
        source = path.relative_to(ROOT).parts[0]
        for line, target in _imported_packages(path):
            if not _allowed(source, target, layer):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {target} ({source} may not)")
    return found


def test_every_top_level_package_has_a_layer():
    # given the packages of the repository
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    # then each is placed in a layer or declared tooling, so a new app cannot skip the guard
    assert packages - set(_layer_of()) - UNLAYERED == set()


def test_no_runtime_module_imports_upward_or_sideways():
    # when every import of the runtime packages is checked against the layer order
    violations = layer_violations()
    # then none points up (or sideways between apps without a declared reason)
    assert violations == []


def test_test_modules_import_support_never_other_tests():
    # when every test and test-support module is read
    found = [hit for path in _test_modules() for hit in _imports_a_test_module(path)]
    # then shared helpers come from support modules (tests/support/, an app's *_support.py), not from a test
    assert found == []


def test_runtime_packages_hold_no_test_tooling():
    # when the runtime packages' imports are listed
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {package}"
        for path in _runtime_modules()
        for line, package in _imported_packages(path)
        if package in TEST_ONLY_LIBRARIES
    ]
    # then none pulls in a test library: test servers and fixtures live in tests/support/, dev tools in tools/
    assert found == []


def test_no_new_import_cycles():
    # when the runtime modules' imports (in functions too) are searched for loops
    cycles = import_cycles()
    # then none is new: e.g. alerts.services, alerts.dispatch and alerts.tasks no longer import each other
    assert cycles - KNOWN_CYCLES == set()


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [
        ("workers", "alerts", True),
        ("alerts", "workers", False),
        ("core", "venues", False),
        ("audit", "core", False),
        ("vision", "django", True),
        ("alerts", "watchlists", True),
        ("watchlists", "alerts", False),
        ("venues", "tools", False),
    ],
)
def test_the_rule_itself(source, target, allowed):
    # given an arrow between two packages, then the guard judges it by the documented order
    assert _allowed(source, target, _layer_of()) is allowed


def test_the_guard_sees_imports_inside_functions(tmp_path):
    # given a module that hides an import in a function body
    module = tmp_path / "hidden.py"
    module.write_text("def run():\n    from workers.tasks import job\n    return job\n")
    # when its imports are listed, then the hidden one is among them with its line
    assert list(_imported_packages(module)) == [(2, "workers")]
