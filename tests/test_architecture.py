"""The shape of the code: no import cycles, and no lower layer importing a higher one.

Imports are read from the source, function-level imports included (they cycle at run time
all the same); imports under `if TYPE_CHECKING:` are left out (they are never run). The
layers are written down here, once, lowest first; docs/architecture.md explains them. A new
module must be given a layer, or this test fails.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "crosspost"

LAYERS: list[tuple[str, set[str]]] = [
    ("core", {"core", "core.problems", "core.errors", "core.envref", "core.media",
              "core.redact", "core.times", "core.cells", "core.paths", "core.states"}),
    ("adapters", {"adapters", "adapters.rules", "adapters.xlength", "adapters.base",
                  "adapters.xmedia", "adapters.graph", "adapters.x", "adapters.facebook",
                  "adapters.instagram", "adapters.fake"}),
    ("loading: the config", {"loading", "loading.yaml_words", "loading.yamlfile", "loading.fields",
                             "loading.alert_settings", "loading.state", "loading.config"}),
    ("loading: the posts", {"loading.posts"}),
    ("rendering", {"rendering", "rendering.render"}),
    ("checking", {"checking", "checking.accessibility", "scheduling.controls",
                  "checking.project"}),
    ("scheduling: the gate", {"scheduling", "scheduling.gate"}),
    ("scheduling: the ledger", {"scheduling.ledger", "scheduling.ledger_pg", "scheduling.stores",
                                "scheduling.revision"}),
    ("scheduling: plan and publish", {"scheduling.planner", "scheduling.publishing",
                                      "scheduling.alerts"}),
    ("scheduling: the daemon, and actions", {"scheduling.daemon", "actions"}),
    ("views", {"views", "views.text", "views.reports", "views.html"}),
    ("the web app's parts", {"web", "web.accounts", "web.store", "web.forms", "web.site",
                             "cli_options"}),
    ("the web app's pages", {"web.authors", "web.controls", "web.oidc"}),
    ("the web app", {"web.app", "web.user_cli", "ledger_cli"}),
    ("front ends and the plugin kit", {"web.server", "cli", "__main__", "testing"}),
]  # fmt: skip


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name:  # the package itself holds only the version
            out[name] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            type_only.update(id(n) for sub in node.body for n in ast.walk(sub))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in type_only or not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.Import):
            candidates = [a.name.removeprefix("crosspost.") for a in node.names]
        else:
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(
                    [*[b for b in base if b], *([node.module] if node.module else [])]
                )
            elif (node.module or "").startswith("crosspost"):
                target = (node.module or "").removeprefix("crosspost").lstrip(".")
            else:
                continue
            candidates = [target, *(f"{target}.{a.name}".lstrip(".") for a in node.names)]
        found.update(c for c in candidates if c in known and c != name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, set(modules)) for name, path in modules.items()}


def test_every_module_has_a_layer() -> None:
    placed = [m for _, members in LAYERS for m in members]
    assert len(placed) == len(set(placed)), "a module stands in two layers"
    missing = sorted(set(_modules()) - set(placed))
    assert not missing, f"give these modules a layer in LAYERS: {missing}"
    gone = sorted(set(placed) - set(_modules()))
    assert not gone, f"LAYERS names modules that no longer exist: {gone}"


def test_no_lower_layer_imports_a_higher_one() -> None:
    level = {m: i for i, (_, members) in enumerate(LAYERS) for m in members}
    wrong = [
        f"{m} ({LAYERS[level[m]][0]}) imports {d} ({LAYERS[level[d]][0]})"
        for m, deps in _graph().items()
        for d in sorted(deps)
        if m in level and d in level and level[d] > level[m]
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_the_checker_sees_function_level_imports() -> None:
    """Not vacuous: a function-level import is an edge (controls imports render inside
    post_approval_hash), a TYPE_CHECKING one is not (controls names Ledger only for types)."""
    graph = _graph()
    assert "rendering.render" in graph["scheduling.controls"]
    assert "scheduling.ledger" not in graph["scheduling.controls"]
    assert "cli" in graph["__main__"]
