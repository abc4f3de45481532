"""The dependency direction and the house's shape, checked on the source itself.

drivers/ and sync/ are imported in a fresh interpreter (what really loads); every .py file
under edge/, sync/ and drivers/ is also parsed with `ast` and each import of a project module
resolved to the module it names (what the source says, lazy imports in functions included).
Direction checks count every import; the circle checks leave out imports under
`if TYPE_CHECKING:`, which never run and are how a type is named without a circle.

Inside edge/, a module imports modules of its own layer and of the layers below, never
above; EDGE_LAYERS is the table of layers.

The tests have a direction too: a test module (tests/**/test_*.py) is a leaf that nothing
imports, and tests/support/ (what test modules share) imports nothing else of tests/.
Every .py file under tests/ and bench/ is parsed the same way to check it.
"""

import ast
import functools
import itertools
import re
import subprocess
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

import pytest

EDGE_LAYERS = (  # highest first; a room is its package and everything under it
    ("faces", ("edge.http", "edge.cli", "edge.hub")),
    ("services", ("edge.printing", "edge.kitchen", "edge.devices", "edge.replication")),
    ("domain", ("edge.orders", "edge.access", "edge.config")),
    ("leaves", ("edge.runtime", "edge")),  # `edge` alone: edge/__init__.py (the version)
)
COMPOSITION_ROOT = "edge.app"  # may import anything; of the others, only faces import it
FORBIDDEN = {"drivers": ("edge", "sync"), "sync": ("edge", "drivers")}
PACKAGES = ("edge", "sync", "drivers")
SIZED = ("edge", "sync", "drivers", "bench", "tests")
MAX_LINES = 500
MAX_EDGE_ENTRIES = 12  # at edge/'s top level, besides __init__.py
SYNC_UNKNOWNS = {"order", "orders", "catalog", "catalogs", "catalogue", "business"}
NOT_AN_ORDER = re.compile(  # SQL's ORDER BY, and an order that is a sequence ("in that order")
    r"\bORDER BY\b|\b(?:in|that|no|any|its|their|same|reverse|VALUES|sorted)\s+order\b"
)
WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")  # snake_case and CamelCase split in words

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Import:
    """One import of a project module, as the source writes it."""

    importer: str
    imported: str
    line: int
    typing_only: bool

    def __str__(self) -> str:
        return f"{self.importer} (line {self.line}) imports {self.imported}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def python_files(*tops: str) -> list[Path]:
    return sorted(
        path
        for top in tops
        for path in (ROOT / top).rglob("*.py")
        if "__pycache__" not in path.parts
    )


@functools.cache
def modules() -> dict[str, Path]:
    """Every module of edge, sync and drivers, by dotted name."""
    return {module_name(path): path for path in python_files(*PACKAGES)}


def owner(name: str) -> str | None:
    """The project module that `name` (a module, or a name inside one) belongs to."""
    parts = name.split(".")
    while parts and parts[0] in PACKAGES:
        if ".".join(parts) in modules():
            return ".".join(parts)
        parts.pop()
    return None


def typing_only_nodes(tree: ast.Module) -> set[int]:
    """ids of the nodes under `if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        test = getattr(node, "test", None)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in {
            getattr(test, "id", None),
            getattr(test, "attr", None),
        }:
            found |= {id(inner) for stmt in node.body for inner in ast.walk(stmt)}
    return found


def imported_names(node: ast.AST, package: str) -> list[str]:
    """The names an import statement imports, relative ones resolved from `package` (the
    package of the module the statement is in); none when `node` is no import."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*anchor, *([base] if base else [])])
    return [f"{base}.{alias.name}" for alias in node.names]


@functools.cache
def imports_of(module: str) -> tuple[Import, ...]:
    path = modules()[module]
    tree = ast.parse(path.read_text(), filename=str(path))
    typing_only = typing_only_nodes(tree)
    package = package_of(module)
    found = []
    for node in ast.walk(tree):
        for name in imported_names(node, package):
            imported = owner(name)
            if imported is not None and imported != module:
                found.append(Import(module, imported, node.lineno, id(node) in typing_only))
    return tuple(dict.fromkeys(found))  # `from m import a, b` is one import of m


def package_of(module: str) -> str:
    return module if modules()[module].name == "__init__.py" else module.rpartition(".")[0]


def all_imports() -> list[Import]:
    return [imp for module in sorted(modules()) for imp in imports_of(module)]


def edge_layer(module: str) -> int | None:
    """The rank of `module`'s layer in EDGE_LAYERS (0 is the highest), None if it has none."""
    for rank, (_, rooms) in enumerate(EDGE_LAYERS):
        for room in rooms:
            if module == room or (room != "edge" and module.startswith(room + ".")):
                return rank
    return None


def circles(edges: dict[str, dict[str, Import]]) -> list[list[str]]:
    """One shortest circle through each strongly connected part of the graph with a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    parts: list[set[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for after in sorted(edges.get(node, ())):
            if after not in index:
                visit(after)
                low[node] = min(low[node], low[after])
            elif after in on_stack:
                low[node] = min(low[node], index[after])
        if low[node] == index[node]:
            part = set()
            while (member := stack.pop()) != node:
                on_stack.discard(member)
                part.add(member)
            on_stack.discard(node)
            part.add(node)
            if len(part) > 1:
                parts.append(part)

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(edges) + 100))
    for node in sorted(edges):
        if node not in index:
            visit(node)
    found = []
    for part in parts:
        start = min(part)
        paths = {start: [start]}
        queue = [start]
        while queue:  # breadth first, inside the part, back to `start`
            node = queue.pop(0)
            if start in edges.get(node, ()):
                found.append([*paths[node], start])
                break
            for after in sorted(edges.get(node, {}).keys() & part):
                if after not in paths:
                    paths[after] = [*paths[node], after]
                    queue.append(after)
    return sorted(found)


def import_graph(node_of) -> dict[str, dict[str, Import]]:
    """node -> node it imports -> the first import that says so (imports that run only)."""
    edges: dict[str, dict[str, Import]] = {}
    for imp in all_imports():
        a, b = node_of(imp.importer), node_of(imp.imported)
        if not imp.typing_only and a != b:
            edges.setdefault(a, {}).setdefault(b, imp)
    return edges


def explain(edges: dict[str, dict[str, Import]], circle: list[str]) -> str:
    steps = [f"  {edges[a][b]}" for a, b in itertools.pairwise(circle)]
    return " -> ".join(circle) + ":\n" + "\n".join(steps)


# -- the checks --------------------------------------------------------------------------


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_nothing_above_or_beside_it(package):
    probe = (
        "import importlib, pkgutil, sys\n"
        f"pkg = importlib.import_module({package!r})\n"
        "for mod in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "    importlib.import_module(mod.name)\n"
        "print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(result.stdout.split())
    assert package in loaded
    wrong = loaded & set(FORBIDDEN[package])
    assert not wrong, f"{package} imported {wrong}"


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_the_source_of_a_package_imports_nothing_above_or_beside_it(package):
    wrong = [
        str(imp)
        for imp in all_imports()
        if imp.importer.split(".")[0] == package
        and imp.imported.split(".")[0] in FORBIDDEN[package]
    ]
    assert not wrong, "\n".join(wrong)


def test_every_module_of_edge_has_a_layer():
    unplaced = [
        module
        for module in sorted(modules())
        if module.split(".")[0] == "edge" and module != COMPOSITION_ROOT
        if edge_layer(module) is None
    ]
    assert not unplaced, f"put these rooms in EDGE_LAYERS: {unplaced}"


def test_a_layer_of_edge_never_imports_a_higher_one():
    wrong = []
    for imp in all_imports():
        if imp.importer.split(".")[0] != "edge" or imp.importer == COMPOSITION_ROOT:
            continue
        importer = edge_layer(imp.importer)
        if imp.imported == COMPOSITION_ROOT:
            if importer != 0:
                wrong.append(f"{imp}: only faces start the composition root")
            continue
        imported = edge_layer(imp.imported)
        if importer is not None and imported is not None and imported < importer:
            upward = f"{EDGE_LAYERS[importer][0]} -> {EDGE_LAYERS[imported][0]}"
            wrong.append(f"{imp}: {upward}")
    assert not wrong, "\n".join(wrong)


def test_no_import_circle_between_modules():
    edges = import_graph(lambda module: module)
    found = circles(edges)
    assert not found, "\n".join(explain(edges, circle) for circle in found)


def test_no_import_circle_between_packages():
    """A package is its subtree: its own modules and its subpackages are parts of it (the
    commands of edge.cli and its demo/, edge.http's plumbing and its api/), so circles are
    sought at each depth between packages neither of which holds the other."""
    deepest = max(len(package_of(module).split(".")) for module in modules())
    found = []
    for depth in range(1, deepest + 1):

        def subtree(module: str, depth: int = depth) -> str:
            return ".".join(package_of(module).split(".")[:depth])

        edges = {
            a: {b: imp for b, imp in after.items() if not _nested(a, b)}
            for a, after in import_graph(subtree).items()
        }
        found += [explain(edges, circle) for circle in circles(edges)]
    assert not found, "\n".join(dict.fromkeys(found))


def _nested(a: str, b: str) -> bool:
    return a.startswith(b + ".") or b.startswith(a + ".")


def test_sync_knows_nothing_of_orders_catalogs_or_business_days():
    hits = []
    for path in python_files("sync"):
        with tokenize.open(path) as source:
            tokens = list(tokenize.generate_tokens(source.readline))
        for token in tokens:
            if token.type not in (tokenize.NAME, tokenize.STRING, tokenize.COMMENT):
                continue
            text = NOT_AN_ORDER.sub(lambda m: re.sub(r"\S", " ", m.group()), token.string)
            for word in WORD.finditer(text):
                if word.group().lower() in SYNC_UNKNOWNS:
                    row = token.start[0] + text.count("\n", 0, word.start())
                    hits.append(f"{path.relative_to(ROOT)}:{row}: {word.group()}")
    assert not hits, "\n".join(dict.fromkeys(hits))


def test_no_module_is_over_500_lines():
    long = {
        str(path.relative_to(ROOT)): lines
        for path in python_files(*SIZED)
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"over {MAX_LINES} lines: {long}"


def test_edge_has_at_most_a_dozen_entries_at_its_top_level():
    entries = sorted(
        path.name
        for path in (ROOT / "edge").iterdir()
        if path.name not in ("__init__.py", "__pycache__")
    )
    assert len(entries) <= MAX_EDGE_ENTRIES, f"{len(entries)} entries in edge/: {entries}"


# -- the tests' own direction ------------------------------------------------------------

SUITE = "tests"
SUPPORT = "tests.support"
SUITE_IMPORTERS = ("tests", "bench")  # bench/ runs on tests/support/ too


@functools.cache
def suite_modules() -> dict[str, Path]:
    """Every module under tests/, by dotted name."""
    return {module_name(path): path for path in python_files(SUITE)}


def is_test_module(module: str) -> bool:
    return module.rpartition(".")[2].startswith("test_")


def suite_module_of(name: str) -> str | None:
    """The module under tests/ that `name` (a module, or a name inside one) belongs to."""
    parts = name.split(".")
    while parts and parts[0] == SUITE:
        if ".".join(parts) in suite_modules():
            return ".".join(parts)
        parts.pop()
    return None


@functools.cache
def suite_imports() -> tuple[Import, ...]:
    """Every import of a module under tests/ by a module under tests/ or bench/."""
    found = []
    for path in python_files(*SUITE_IMPORTERS):
        module = module_name(path)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        tree = ast.parse(path.read_text(), filename=str(path))
        typing_only = typing_only_nodes(tree)
        for node in ast.walk(tree):
            for name in imported_names(node, package):
                imported = suite_module_of(name)
                if imported is not None and imported != module:
                    found.append(Import(module, imported, node.lineno, id(node) in typing_only))
    return tuple(dict.fromkeys(found))


def test_no_test_module_is_imported_by_another_module():
    wrong = [
        f"{imp}: move what they share into tests/support/ (or a conftest.py for fixtures)"
        for imp in suite_imports()
        if is_test_module(imp.imported)
    ]
    assert not wrong, "\n".join(wrong)


def test_tests_support_imports_only_tests_support():
    """So never a test module (nor a conftest.py, nor anything else of tests/)."""
    wrong = [
        str(imp)
        for imp in suite_imports()
        if (imp.importer == SUPPORT or imp.importer.startswith(SUPPORT + "."))
        and (is_test_module(imp.imported) or not imp.imported.startswith(SUPPORT + "."))
        and imp.imported not in (SUITE, SUPPORT)  # the packages themselves hold nothing
    ]
    assert not wrong, "tests/support/ imports only tests/support/:\n" + "\n".join(wrong)
