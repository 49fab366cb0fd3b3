"""nbchat's import graph, read from the source with ast (nothing is imported): no cycles between its modules, and
no module imports another module's underscore names (a name two modules need is public inside its package)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "nbchat"


def modules(root: Path = ROOT) -> dict[str, Path]:
    out = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports(root: Path = ROOT) -> tuple[dict[str, set[str]], list[str]]:
    """(module → the package's modules it imports, ["a imports _x from b", ...])."""
    mods = modules(root)
    edges: dict[str, set[str]] = {m: set() for m in mods}
    private: list[str] = []
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target.split(".")[0] != root.name:
                    continue
                for alias in node.names:
                    submodule = f"{target}.{alias.name}"
                    dest = submodule if submodule in mods else target
                    if dest in mods and dest != name:
                        edges[name].add(dest)
                    if alias.name.startswith("_") and not alias.name.startswith("__") and submodule not in mods:
                        private.append(f"{name} imports {alias.name} from {target}")
            elif isinstance(node, ast.Import):
                edges[name].update(a.name for a in node.names if a.name in mods and a.name != name)
    return edges, private


def cycles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan), i.e. the import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(frozenset(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_walk_sees_the_package() -> None:
    edges, _ = imports()
    assert {"nbchat._conversation", "nbchat._widget", "nbchat.compare._widget", "nbchat.backends"} <= set(edges)
    assert "nbchat._view" in edges["nbchat._widget"]
    assert "nbchat._view" in edges["nbchat.compare._widget"]


def test_the_checks_catch_a_cycle_and_a_private_import(tmp_path: Path) -> None:
    package = tmp_path / "nbchat"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from ._a import public\n")
    (package / "_a.py").write_text("from .sub._b import _hidden, shown\npublic = 1\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "_b.py").write_text("from .. import _a\nfrom nbchat import __version__\n_hidden = shown = 2\n")
    edges, private = imports(package)
    assert private == ["nbchat._a imports _hidden from nbchat.sub._b"]  # importing a module named _a is fine
    assert cycles(edges) == [frozenset({"nbchat._a", "nbchat.sub._b", "nbchat"})]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_another_modules_private_names() -> None:
    _, private = imports()
    assert private == []


def test_no_import_cycles() -> None:
    assert [sorted(c) for c in cycles(imports()[0])] == []
