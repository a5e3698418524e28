"""The import graph of ``src/goodbadgreedy`` has no cycle, and its layers point downwards.

Policy (each clause is tested below):

1. **Edges.** Every import statement anywhere in a module is an edge from that module: at module
   level and inside functions, methods, classes, ``if``/``try`` blocks (``TYPE_CHECKING`` too).
   A lazy import still runs, so it can close a cycle like any other.

   * ``import a.b.c`` is an edge to ``a.b.c``;
   * ``from a.b import c`` is an edge to ``a.b.c`` where ``c`` is a submodule (a ``.py`` file or
     a package), else to ``a.b``;
   * relative imports (``from . import x``, ``from ..y import z``) are resolved against the
     importing module's package;
   * an edge to ``pkg.sub`` implies one to ``pkg`` (its ``__init__.py`` runs first), except where
     the importer itself lives inside ``pkg``: Python has started ``pkg/__init__.py`` before any of
     its submodules, so that edge holds for every submodule and says nothing about the importer
     (an explicit ``from pkg import name`` of a non-module name *is* counted);
   * only modules of the package are nodes; a namespace package (``generation/`` has no
     ``__init__.py``) runs no code and is none; an import of a missing module is an error.

2. **No cycle.** The graph is acyclic; a failure prints one cycle, each edge with its
   ``file:line`` (and whether the import sits inside a function).

3. **Layers**, top to bottom; a module imports its own layer or lower ones, never a higher one
   (:data:`LAYERS`; every module must be placed in one):

   * stage: what a pipeline stage or a CLI calls (``generation.run``, ``reranking``, ``analysis``,
     ``table1``, ``plots``, ``html_report``, ``lineage``, ``audit``, ``cli``, ``data``,
     ``params_file``);
   * benchmarks: the registry and the benchmark modules;
   * judge: client, parsers, win rates and ``judge.check`` (the judge-based benchmarks' ``check``
     calls it, so it sits below them, not at stage level);
   * generation and execution: the backends, the engine, models, the sample cache; the sandbox;
   * stats;
   * foundation: ``errors``, ``io``, ``tables``, ``prompts``, ``check_table``, ``validation``,
     ``checksums``, ``plan``, ``stages``, ``stage_log``.

   A helper two layers need lives below both (``prompts.Prompt``, ``check_table``,
   ``generation.sample_cache``, ``generation.backend_base``), never in one of them.

4. **Named rules** (the layers imply most; they are spelled out because each broke once):
   nothing in ``stats``, ``io``, ``tables``, ``errors`` imports ``generation``, ``judge``,
   ``benchmarks`` or ``reranking``; ``generation`` imports neither ``judge`` nor ``reranking``; only the
   backend factory (``generation.backends``) imports ``generation.vllm_backend``, and no backend
   (nor anything below the stage layer) imports the factory.

5. **The registry stays lazy**: ``benchmarks/__init__.py`` imports the benchmark modules (and
   polars) only inside functions (by name, from its one list ``MODULES``), eagerly only the light
   ``benchmarks.spec``; ``tests/test_benchmarks_registry.py`` checks the same at run time.

6. **The test can fail**: the same graph builder and cycle finder, run on small packages written
   to ``tmp_path``, report a cycle closed by a function-level import and by a ``from pkg import
   submodule`` edge, and one closed only through an implied ``__init__``.

7. **A job imports only the heavy packages it needs** (#16: every job paid torch's and
   great-expectations' import). Heavy: :data:`WATCHED` (torch, transformers, vllm,
   great_expectations, scipy, matplotlib). What each ``scripts/*.py`` job needs is
   :data:`JOB_NEEDS`: torch/transformers (vllm on that backend) where a model runs (prepare_model,
   generate, a score job of a :data:`~goodbadgreedy.reranking.MODEL_SCORER_TYPES` scorer),
   great_expectations where a validated table is published (``lineage.publish_table``), scipy
   where the statistics run, matplotlib where a figure is drawn. great_expectations and
   transformers import scipy themselves, so a job that needs them may have it (:data:`IMPLIED`).
   Every script has an entry, and every rule's script and log folder are found in ``rules/``.

   * statically, in a fresh interpreter: the import statements at the top of each script's
     ``main`` (those it runs unconditionally) import nothing heavy it does not need (a
     conditional import, like the score job's torch, is left to the run-time check);
   * at run time, on the real smoke run (slow; the ``smoke`` fixture): every job's log has the
     cost line of ``goodbadgreedy.stage_log`` (start-up, main, heavy packages imported), and no
     job imported a heavy package it does not need; the check jobs did import
     great_expectations and the generate jobs torch (the check reads what was really imported);
   * the checks can fail: a script whose ``main`` imports the engine (torch) and a check job's
     log that names torch are both reported.

8. **One model load per job at most**: ``generation.model.load_model`` logs one line per load;
   in the smoke run's logs no job has more than one, and every generate job has exactly one (the
   count sees real loads: the ``hf`` backend loads its model once, in ``build_backend``, and the
   engine reuses it for every prompt). Negative control: a log with two loads is reported.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PACKAGE = "goodbadgreedy"


@dataclass(frozen=True)
class Edge:
    """Where an import statement is: the file, its line, and whether it sits inside a function."""

    path: Path
    line: int
    lazy: bool

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" + (" (inside a function)" if self.lazy else "")


Graph = dict[str, dict[str, Edge]]


def modules_of(src: Path, package: str) -> dict[str, Path]:
    """``{dotted name: file}`` of every module of ``package`` under ``src`` (``__init__.py`` names its package)."""
    out = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(tree: ast.AST) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """``(node, inside_a_function)`` of every import statement of a module, nested ones too, in line order."""
    found, todo = [], [(tree, False)]
    while todo:
        node, lazy = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append((node, lazy))
        inner = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        todo.extend((child, inner) for child in ast.iter_child_nodes(node))
    return sorted(found, key=lambda f: (f[0].lineno, f[0].col_offset))


def import_graph(src: Path, package: str) -> Graph:
    """The import graph of ``package`` under ``src`` by the module docstring's clause 1.

    Returns:
        ``{module: {imported module: first Edge}}``, a key for every module.

    Raises:
        AssertionError: an import names a module of ``package`` that does not exist.
    """
    mods = modules_of(src, package)
    graph: Graph = {m: {} for m in mods}
    missing = []

    def is_namespace(name: str) -> bool:
        return (src / Path(*name.split("."))).is_dir()

    def add(importer: str, target: str, edge: Edge) -> None:
        if target not in mods:
            if not is_namespace(target):
                missing.append(f"{edge}: {target}")
            return
        parts = target.split(".")
        for i in range(len(parts), 0, -1):  # the target, then the packages whose __init__ runs first
            name = ".".join(parts[:i])
            inside = importer == name or importer.startswith(name + ".")
            if name in mods and (i == len(parts) and name != importer or not inside):
                graph[importer].setdefault(name, edge)

    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        here = name.split(".") if is_pkg else name.split(".")[:-1]  # the package relative imports start from
        for node, lazy in _imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            edge = Edge(path, node.lineno, lazy)
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == package:
                        add(name, alias.name, edge)
                continue
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module.split(".")[0] != package:
                continue
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                add(name, sub if sub in mods or is_namespace(sub) else module, edge)
    assert not missing, "imports of modules that do not exist:\n" + "\n".join(missing)
    return graph


def find_cycle(graph: Graph) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or None when it is acyclic (iterative DFS)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in sorted(graph):
        if root in state:
            continue
        path = [root]
        stack = [iter(sorted(graph[root]))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def describe(graph: Graph, cycle: list[str]) -> str:
    """A cycle, one edge a line with the import statement's place."""
    return "\n".join(f"  {a} -> {b}   [{graph[a][b]}]" for a, b in pairwise(cycle))


def importers(graph: Graph, target: str) -> set[str]:
    """The modules with an edge to ``target``."""
    return {m for m, out in graph.items() if target in out}


@pytest.fixture(scope="module")
def graph() -> Graph:
    return import_graph(SRC, PACKAGE)


# --- 2. no cycle ------------------------------------------------------------------------------

def test_package_has_no_import_cycle(graph):
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle in src/goodbadgreedy:\n" + describe(graph, cycle)


def test_graph_sees_lazy_and_submodule_imports_of_the_real_package(graph):
    """Sanity of clause 1 on the real code: the registry's lazy imports and ``from pkg import sub``."""
    g = "goodbadgreedy."
    assert not graph[g + "benchmarks"][g + "benchmarks.spec"].lazy  # the light spec class, eagerly
    assert graph[g + "benchmarks.mixeval"][g + "judge.check"].lazy
    assert g + "judge.parsing" in graph[g + "benchmarks.mixeval"]  # from goodbadgreedy.judge import parsing
    assert g + "judge" in graph[g + "benchmarks.mixeval"]  # ... which runs judge/__init__.py
    assert g + "benchmarks" not in graph[g + "benchmarks.mixeval"]  # its own package: clause 1, last but one
    assert g + "generation" not in graph[g + "generation.run"]  # a namespace package is no node


# --- 3. layers --------------------------------------------------------------------------------

#: Layers, top to bottom: (name, module prefixes relative to the package; "" is the package itself).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("stage", ("generation.run", "reranking", "analysis", "table1", "plots", "html_report", "lineage", "audit",
               "cli", "data", "params_file")),
    ("benchmarks", ("benchmarks",)),
    ("judge", ("judge",)),
    ("generation, execution", ("generation", "execution")),
    ("stats", ("stats",)),
    ("foundation", ("", "errors", "io", "tables", "prompts", "check_table", "validation", "checksums", "plan",
                    "provenance", "stages", "stage_log")),
]


def layer_of(module: str) -> int | None:
    """Index in :data:`LAYERS` of the longest prefix matching ``module`` (None: unplaced)."""
    rel = module[len(PACKAGE) + 1:] if module != PACKAGE else ""
    best: tuple[int, int] | None = None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if rel == p or (p and rel.startswith(p + ".")):
                if best is None or len(p) > best[0]:
                    best = (len(p), i)
    return None if best is None else best[1]


def test_every_module_has_a_layer(graph):
    unplaced = sorted(m for m in graph if layer_of(m) is None)
    assert not unplaced, f"place these modules in a layer of tests/test_imports.py:LAYERS: {unplaced}"


def test_imports_point_down_the_layers(graph):
    up = [f"  {a} ({LAYERS[layer_of(a)][0]}) -> {b} ({LAYERS[layer_of(b)][0]})   [{e}]"
          for a, out in sorted(graph.items()) for b, e in sorted(out.items()) if layer_of(b) < layer_of(a)]
    assert not up, "imports of a higher layer:\n" + "\n".join(up)


# --- 4. named rules ---------------------------------------------------------------------------

def _edges_from_to(graph: Graph, sources: tuple[str, ...], targets: tuple[str, ...]) -> list[str]:
    def under(m: str, prefixes: tuple[str, ...]) -> bool:
        return any(m == f"{PACKAGE}.{p}" or m.startswith(f"{PACKAGE}.{p}.") for p in prefixes)

    return [f"{a} -> {b} [{e}]" for a, out in sorted(graph.items()) if under(a, sources)
            for b, e in sorted(out.items()) if under(b, targets)]


@pytest.mark.parametrize("sources, targets", [
    (("stats", "io", "tables", "errors"), ("generation", "judge", "benchmarks", "reranking")),
    (("generation",), ("judge", "reranking")),
])
def test_lower_modules_do_not_import_higher_ones(graph, sources, targets):
    assert not _edges_from_to(graph, sources, targets)


def test_generation_below_the_stage_imports_no_benchmark(graph):
    """The backends get :class:`~goodbadgreedy.prompts.Prompt` from ``prompts``, not the benchmarks package."""
    bad = [
        e
        for e in _edges_from_to(graph, ("generation",), ("benchmarks",))
        if not e.startswith(f"{PACKAGE}.generation.run ")
    ]
    assert not bad


def test_only_the_backend_factory_imports_the_vllm_backend(graph):
    assert importers(graph, f"{PACKAGE}.generation.vllm_backend") == {f"{PACKAGE}.generation.backends"}


def test_no_backend_imports_the_factory(graph):
    users = importers(graph, f"{PACKAGE}.generation.backends")
    assert all(LAYERS[layer_of(m)][0] == "stage" for m in users), users
    for backend in ("engine", "vllm_backend", "openai_backend", "model", "backend_base"):
        assert f"{PACKAGE}.generation.backends" not in graph[f"{PACKAGE}.generation.{backend}"]


# --- 5. the registry stays lazy ---------------------------------------------------------------

def test_registry_imports_benchmark_modules_and_polars_only_lazily():
    path = SRC / PACKAGE / "benchmarks" / "__init__.py"
    eager = []
    for node, lazy in _imports(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        if isinstance(node, ast.ImportFrom) and node.module == f"{PACKAGE}.benchmarks":
            names = [f"{node.module}.{a.name}" for a in node.names]
        light = (f"{PACKAGE}.benchmarks.spec", f"{PACKAGE}.benchmarks.specs")  # specs: no polars (clause 5)
        if not lazy and any(n == "polars" or (n.startswith(f"{PACKAGE}.benchmarks.") and n not in light)
                            for n in names):
            eager.append(f"{path}:{node.lineno}")
    assert not eager


# --- 1 and 6: the builder on synthetic packages (the test can fail) ---------------------------

def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "src" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "src"


def test_cycle_through_a_lazy_import_and_a_from_pkg_import_submodule_edge(tmp_path):
    """a -> b only as ``from pkg import b``; b -> a only inside a function: both needed to see it."""
    src = _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg import b\n",
        "pkg/b.py": "import os\n\n\ndef f():\n    from .a import thing\n    return thing\n",
    })
    graph = import_graph(src, "pkg")
    assert graph["pkg.a"].keys() == {"pkg.b"}  # not pkg: pkg.b is a submodule, pkg is a's own package
    assert graph["pkg.b"]["pkg.a"].lazy and graph["pkg.b"]["pkg.a"].line == 5
    cycle = find_cycle(graph)
    assert cycle in (["pkg.a", "pkg.b", "pkg.a"], ["pkg.b", "pkg.a", "pkg.b"])
    message = describe(graph, cycle)
    assert "pkg.b -> pkg.a" in message and "b.py:5 (inside a function)" in message
    assert "pkg.a -> pkg.b" in message and "a.py:1]" in message
    with pytest.raises(AssertionError, match="import cycle"):
        test_package_has_no_import_cycle(graph)


def test_cycle_closed_only_through_an_implied_package_init(tmp_path):
    """x imports pkg.sub.leaf, so pkg/sub/__init__.py runs, and it (lazily) imports x."""
    src = _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/x.py": "import pkg.sub.leaf\n",
        "pkg/sub/__init__.py": "def load():\n    from ..x import y\n",
        "pkg/sub/leaf.py": "from pkg.sub.other import z\nfrom . import other\n",
        "pkg/sub/other.py": "",
    })
    graph = import_graph(src, "pkg")
    assert graph["pkg.x"].keys() == {"pkg.sub.leaf", "pkg.sub"}
    assert graph["pkg.sub.leaf"].keys() == {"pkg.sub.other"}  # pkg.sub is leaf's own package: no edge
    assert find_cycle(graph) in (["pkg.sub", "pkg.x", "pkg.sub"], ["pkg.x", "pkg.sub", "pkg.x"])


def test_edge_rules_and_no_false_cycle(tmp_path):
    """Module-level, class-level, TYPE_CHECKING and try imports; names vs submodules; relative levels."""
    src = _write(tmp_path, {
        "pkg/__init__.py": "from .core import VERSION\n",
        "pkg/core.py": "VERSION = 1\n",
        "pkg/util.py": "import json\nfrom pkg import VERSION\n",  # a name of pkg/__init__: an edge to pkg
        "pkg/ns/deep.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.core import VERSION\n",
        "pkg/app/__init__.py": "",
        "pkg/app/main.py": ("from .. import util\nfrom ..ns import deep\n"
                            "try:\n    import pkg.app.extra as extra\nexcept ImportError:\n    extra = None\n"
                            "class C:\n    from pkg.core import VERSION\n"),
        "pkg/app/extra.py": "from . import main\n",  # main -> extra is a try-import, extra -> main closes it
    })
    graph = import_graph(src, "pkg")
    assert graph["pkg"].keys() == {"pkg.core"}
    assert graph["pkg.util"].keys() == {"pkg"}
    assert graph["pkg.ns.deep"].keys() == {"pkg.core"}  # pkg.ns: a namespace package, no node
    assert graph["pkg.app.main"].keys() == {"pkg.util", "pkg.ns.deep", "pkg.app.extra", "pkg.core"}
    assert not graph["pkg.app.main"]["pkg.core"].lazy  # a class body is no function
    assert find_cycle(graph) in (["pkg.app.extra", "pkg.app.main", "pkg.app.extra"],
                                 ["pkg.app.main", "pkg.app.extra", "pkg.app.main"])
    (src / "pkg" / "app" / "extra.py").write_text("")
    assert find_cycle(import_graph(src, "pkg")) is None


def test_import_of_a_missing_module_is_an_error(tmp_path):
    src = _write(tmp_path, {"pkg/__init__.py": "", "pkg/a.py": "def f():\n    from pkg.gone import x\n"})
    with pytest.raises(AssertionError, match=r"a.py:2 \(inside a function\): pkg.gone"):
        import_graph(src, "pkg")


# --- 7. a job imports only the heavy packages it needs -----------------------------------------

#: The heavy packages (a second or more each on two cores; scipy, matplotlib a few tenths).
WATCHED = ("torch", "transformers", "vllm", "great_expectations", "scipy", "matplotlib")
#: What each job (``scripts/<name>.py``) needs of :data:`WATCHED` (clause 7).
JOB_NEEDS: dict[str, set[str]] = {
    "normalize": {"great_expectations"},
    "prepare_model": {"torch", "transformers"},
    "select_items": {"great_expectations"},
    "generate": {"torch", "transformers", "vllm", "great_expectations"},
    "merge_generations": {"great_expectations"},
    "check": {"great_expectations"},
    "score": {"great_expectations"},  # + torch, transformers for a model scorer: job_needs
    "aggregate": set(),
    "stats_tables": {"scipy"},
    "sweep_table": set(),
    "best_of_n": {"scipy"},
    "make_plots": {"matplotlib"},
    "sweep_plot": {"matplotlib"},
    "best_of_n_plot": {"matplotlib"},
    "make_report": set(),
}
#: Packages a needed one imports by itself.
IMPLIED = {"great_expectations": {"scipy"}, "transformers": {"scipy"}}


def job_needs(script: str, scorer_type: str | None = None) -> set[str]:
    """The heavy packages job ``script`` may import: its needs and what they imply."""
    from goodbadgreedy.reranking import MODEL_SCORER_TYPES

    needs = set(JOB_NEEDS[script])
    if script == "score" and scorer_type in MODEL_SCORER_TYPES:
        needs |= {"torch", "transformers"}
    return needs.union(*(IMPLIED.get(n, set()) for n in needs))


def rules_of_scripts(rules: Path = REPO / "rules") -> dict[str, tuple[str, str]]:
    """``{rule: (script name, log folder or file name)}`` of every rule that runs a script."""
    out = {}
    for path in sorted(rules.glob("*.smk")):
        for m in re.finditer(r"(?ms)^[ \t]*rule (\w+):(.*?)(?=^[ \t]*rule |\Z)", path.read_text()):
            script = re.search(r'"\.\./scripts/(\w+)\.py"', m.group(2))
            log = re.search(r'"logs/(?:\{PLAN\.profile\}/)?(\w+)', m.group(2))
            if script:
                assert log, f"rule {m.group(1)} ({path}) runs a script but has no log"
                out[m.group(1)] = (script.group(1), log.group(1))
    return out


def main_top_imports(source: str) -> list[str]:
    """The import statements directly in ``main``'s body (run unconditionally), as source."""
    main = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "main")
    return [ast.unparse(n) for n in main.body if isinstance(n, (ast.Import, ast.ImportFrom))]


def heavy_closure(statements: list[str]) -> set[str]:
    """The :data:`WATCHED` packages that running ``statements`` imports, in a fresh interpreter."""
    code = "\n".join([*statements, "import json, sys",
                      f"print(json.dumps(sorted(set({list(WATCHED)!r}) & set(sys.modules))))"])
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return set(json.loads(proc.stdout.splitlines()[-1]))


def test_every_script_has_its_needs_and_every_rule_a_script_and_log():
    rules = rules_of_scripts()
    scripts = {p.stem for p in (REPO / "scripts").glob("*.py")}
    assert scripts == set(JOB_NEEDS), "place the new script in tests/test_imports.py:JOB_NEEDS"
    assert {s for s, _ in rules.values()} == scripts
    assert rules["generate_shard"] == ("generate", "generate_shard") and rules["plots"] == ("make_plots", "plots")


@pytest.mark.parametrize("script", sorted(JOB_NEEDS))
def test_a_scripts_main_imports_nothing_heavy_it_does_not_need(script):
    """Clause 7, statically: the closure of the imports at the top of ``main``."""
    statements = main_top_imports((REPO / "scripts" / f"{script}.py").read_text())
    assert statements, f"scripts/{script}.py: main imports nothing at its top"
    extra = heavy_closure(statements) - job_needs(script)
    assert not extra, f"scripts/{script}.py imports {sorted(extra)}, which the job does not need"


def test_the_static_check_reports_a_heavy_import():
    """Negative control: a check job whose main imports the engine pulls in torch; a conditional
    import is not among the top imports (the run-time check covers it)."""
    source = ("def main(sm):\n    from goodbadgreedy.generation.engine import generate\n"
              "    if sm:\n        import matplotlib\n")
    statements = main_top_imports(source)
    assert statements == ["from goodbadgreedy.generation.engine import generate"]
    assert "torch" in heavy_closure(statements) - job_needs("check")


COST_LINE = re.compile(r"job cost: start-up .*; imported: (.*)$", re.M)


def log_violations(logs: Path, scorer_types: dict[str, str]) -> dict[str, set[str]]:
    """``{log: heavy packages the job imported without needing them}`` for every job log under
    ``logs``; a log without the cost line maps to ``{"<no cost line>"}``, one of an unknown rule
    to ``{"<unknown rule>"}``.

    Args:
        logs: the ``logs`` folder of a run.
        scorer_types: ``{scorer name: type}`` (params.yaml's ``scorers``).
    """
    by_folder = {log: script for script, log in rules_of_scripts().values()}
    out = {}
    for path in sorted(logs.rglob("*.log")):
        rel = path.relative_to(logs).with_suffix("").parts
        folder = rel[0] if rel[0] in by_folder else (rel[1] if len(rel) > 1 else "")
        if folder not in by_folder:
            out[str(path)] = {"<unknown rule>"}
            continue
        found = COST_LINE.findall(path.read_text())
        if not found:
            out[str(path)] = {"<no cost line>"}
            continue
        imported = set(found[-1].split(", ")) & set(WATCHED)
        script = by_folder[folder]
        extra = imported - job_needs(script, scorer_types.get(rel[-1]) if script == "score" else None)
        if extra:
            out[str(path)] = extra
    return out


def imported_by(logs: Path, folder: str) -> list[set[str]]:
    """The heavy packages each job with logs under ``logs/<profile>/<folder>`` imported."""
    return [set(COST_LINE.findall(p.read_text())[-1].split(", ")) for p in sorted(logs.glob(f"*/{folder}/**/*.log"))]


def test_log_check_reports_a_job_that_imported_what_it_does_not_need(tmp_path):
    """Negative control of the run-time check: a check job that imported torch, a score job of
    self_consistency that imported torch (a logprob one may), a log without the cost line."""
    line = "2026-01-01 00:00:00,000 goodbadgreedy.stage_log INFO job cost: start-up 0.10 s, main 1.00 s, " \
           "1.10 s since process start; imported: {}\n"
    files = {"p/check/m/gsm8k/sample.log": "torch, great_expectations, scipy, pandas",
             "p/score/m/gsm8k/sample/self_consistency.log": "great_expectations, torch",
             "p/score/m/gsm8k/sample/logprob.log": "torch, transformers, great_expectations, scipy",
             "p/select_items/gsm8k.log": "great_expectations, scipy, pandas, numpy, polars",
             "normalize/gsm8k.log": None}
    for rel, imported in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("started\n" + (line.format(imported) if imported else ""))
    got = log_violations(tmp_path, {"self_consistency": "self_consistency", "logprob": "logprob"})
    assert got == {str(tmp_path / "p/check/m/gsm8k/sample.log"): {"torch"},
                   str(tmp_path / "p/score/m/gsm8k/sample/self_consistency.log"): {"torch"},
                   str(tmp_path / "normalize/gsm8k.log"): {"<no cost line>"}}


@pytest.mark.slow
def test_no_job_of_the_smoke_run_imported_a_heavy_package_it_does_not_need(smoke):
    """Clause 7 at run time, on the logs of the smoke run's real jobs."""
    from goodbadgreedy.reranking import scorer_type

    clone = smoke[0]
    scorers = yaml.safe_load((clone.root / "params.yaml").read_text())["scorers"]
    types = {name: scorer_type(name, spec or {}) for name, spec in scorers.items()}
    logs = clone.root / "logs"
    assert not log_violations(logs, types)
    checks, generates = imported_by(logs, "check"), imported_by(logs, "generate")
    assert checks and all("great_expectations" in i and "torch" not in i for i in checks)
    assert generates and all({"torch", "transformers", "great_expectations"} <= i for i in generates)


# --- 8. one model load per job at most ---------------------------------------------------------

MODEL_LOADED = re.compile(r"goodbadgreedy\.generation\.model INFO model loaded: ", re.M)


def model_loads(logs: Path) -> dict[str, int]:
    """``{log: number of model loads}`` of every job log under ``logs``."""
    return {str(p): len(MODEL_LOADED.findall(p.read_text())) for p in sorted(logs.rglob("*.log"))}


def test_model_load_count_sees_every_load(tmp_path):
    """Negative control of clause 8: two loads in one log are counted as two."""
    line = "2026-01-01 00:00:00,000 goodbadgreedy.generation.model INFO model loaded: /m (float32, cpu) in 1.00 s\n"
    (tmp_path / "p" / "generate").mkdir(parents=True)
    (tmp_path / "p" / "generate" / "a.log").write_text(line + "generating\n" + line)
    (tmp_path / "p" / "check.log").write_text("no model\n")
    assert model_loads(tmp_path) == {str(tmp_path / "p" / "check.log"): 0, str(tmp_path / "p/generate/a.log"): 2}


@pytest.mark.slow
def test_no_job_of_the_smoke_run_loads_a_model_twice(smoke):
    """Clause 8 on the smoke run's real jobs."""
    loads = model_loads(smoke[0].root / "logs")
    assert loads and max(loads.values()) <= 1, {k: n for k, n in loads.items() if n > 1}
    generate = {k: n for k, n in loads.items() if "/generate/" in k}
    assert generate and set(generate.values()) == {1}, generate
