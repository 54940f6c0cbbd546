"""The layers: computation never imports click, rich, the views or the CLI;
views never import click or the CLI; and no module imports itself back
through others (no import cycles)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "stepprop"
MODULES = sorted(p for p in PACKAGE.rglob("*.py"))
PRESENTATION = {"cli.py", "_entry.py", "api.py", "__main__.py", "__init__.py"}  # the CLI, and the library's facade


def layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    if rel.parts[0] == "views":
        return "views"
    if rel.as_posix() in PRESENTATION:
        return "facade"
    return "computation"


def imports(path: Path) -> set[str]:
    """Every module a file imports (anywhere in it), as dotted names relative to
    the package for its own modules (``views.text``) and absolute otherwise."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = path.relative_to(PACKAGE).with_suffix("").parts
    package = list(here if path.name == "__init__.py" else here[:-1])
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.add(node.module or "")
                continue
            base = package[: len(package) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
            found.add("stepprop." + target if target else "stepprop")
            for alias in node.names:
                found.add(f"stepprop.{target}.{alias.name}" if target else f"stepprop.{alias.name}")
    return found


FORBIDDEN = {
    "computation": ("click", "rich", "stepprop.views", "stepprop.cli", "stepprop.api"),
    "views": ("click", "stepprop.cli", "stepprop.api"),
    "facade": (),
}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_each_layer_imports_only_what_is_below_it(path):
    for name in imports(path):
        for bad in FORBIDDEN[layer(path)]:
            assert name != bad and not name.startswith(bad + "."), (path.name, name)


def test_every_module_is_in_a_layer():
    kinds = {layer(p) for p in MODULES}
    assert kinds == {"computation", "views", "facade"}
    computation = {p.relative_to(PACKAGE).as_posix() for p in MODULES if layer(p) == "computation"}
    # the modules the issue names, among all the others
    assert {"training.py", "verification.py", "torchcheck.py", "init.py", "engine.py", "ops.py"} <= computation


def test_no_import_cycles():
    names = {}
    for p in MODULES:
        rel = p.relative_to(PACKAGE).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        names["stepprop" + "".join("." + x for x in parts)] = p
    edges = {m: {n for n in imports(p) if n in names and n not in (m, "stepprop")} for m, p in names.items()}
    # an iterative depth-first search for a cycle
    state: dict[str, int] = {}
    for start in edges:
        if state.get(start):
            continue
        stack = [(start, iter(sorted(edges[start])))]
        state[start] = 1
        path = [start]
        while stack:
            node, children = stack[-1]
            nxt = next(children, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(nxt) :] + [nxt]))
            elif not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, iter(sorted(edges[nxt]))))
                path.append(nxt)
