"""The layout the folders promise: a Qt-free core in subpackages, no import circle, small modules and functions,
one word for each runtime."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import gpt2q_desktop

PACKAGE = Path(gpt2q_desktop.__file__).parent
CORE = PACKAGE / "core"
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 300, 60


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def _imports(name: str, path: Path) -> set[str]:
    """Every gpt2q_desktop module *name* imports, at any depth (lazy and type-checking imports included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m.startswith("gpt2q_desktop")}


def test_no_module_imports_itself_back_through_others() -> None:
    modules = dict(_modules())
    graph = {name: {m for m in _imports(name, path) if m in modules and m != name} for name, path in modules.items()}
    # A package's empty __init__ is not a dependency: an edge to a package is an edge to nothing.
    graph = {n: {m for m in deps if modules[m].name != "__init__.py"} for n, deps in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_core_is_a_few_subpackages_with_shared_modules_beside_them() -> None:
    subpackages = [p for p in CORE.iterdir() if (p / "__init__.py").is_file()]
    shared = [p for p in CORE.glob("*.py") if p.name != "__init__.py"]
    assert len(subpackages) >= 4, subpackages
    assert len(shared) <= 15, sorted(p.name for p in shared)


def test_package_inits_import_nothing_and_core_never_imports_qt() -> None:
    """The window paints before torch is imported: importing a package imports nothing of its own (core's sets
    the offline switches of the Hugging Face libraries, with ``os`` alone)."""
    for init in PACKAGE.rglob("__init__.py"):
        imported = _imports("", init) | {
            alias.name for node in ast.walk(ast.parse(init.read_text(encoding="utf-8")))
            if isinstance(node, ast.Import) for alias in node.names
        }  # fmt: skip
        assert imported <= {"os"}, (init, imported)
    for name, path in _modules():
        if name.startswith("gpt2q_desktop.core"):
            text = path.read_text(encoding="utf-8")
            assert "PySide6" not in text and "gpt2q_desktop.app" not in text, name


def test_no_module_or_function_is_too_long() -> None:
    long: list[str] = []
    for name, path in _modules():
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_MODULE_LINES:
            long.append(f"{name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {length} lines")
    assert not long, long


def test_the_runtime_is_named_by_its_enum_not_by_a_bare_word() -> None:
    """"torch" and "onnxruntime" as strings only in the enum and as keys of the JSON written and read (a dict's
    key, a subscript, the key of ``.get``)."""
    words = {"torch", "onnxruntime"}
    found: list[str] = []
    for name, path in _modules():
        if name == "gpt2q_desktop.core.runtimes":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        keys = {id(k) for node in ast.walk(tree) if isinstance(node, ast.Dict) for k in node.keys if k is not None}
        keys |= {id(n.slice) for n in ast.walk(tree) if isinstance(n, ast.Subscript)}  # reading a key
        keys |= {
            id(n.args[0]) for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "get" and n.args
        }  # fmt: skip
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in words and id(node) not in keys:
                found.append(f"{name}:{node.lineno}")
    assert not found, found
