"""The layer rules of docs/architecture.md, checked on every import in src/ (lazy and TYPE_CHECKING ones too).

A unit is a package under bedrock_proxy/ (or a top-level module); bedrock/availability.py and
bedrock/capabilities.py are their own unit, `bedrock-data`, because errors.py and config/ read them while the
rest of bedrock/ is above both. Layers go bottom to top. The rules:
1. a unit imports only units of its own layer or of lower layers;
2. in a layer marked independent, no unit imports another (they meet only through what the wiring hands in);
3. no two units import each other, directly or round a longer loop (no cycles);
4. the emulator imports only bedrock-data: it stands in for AWS and must not share the gateway's code paths;
5. every unit is in a layer (a new package is placed on purpose, here and in docs/architecture.md).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "bedrock_proxy"
PACKAGE = "bedrock_proxy"


@dataclass(frozen=True)
class Layer:
    name: str
    units: frozenset[str]
    independent: bool = False


def layer(name: str, *units: str, independent: bool = False) -> Layer:
    return Layer(name, frozenset(units), independent)


# bottom to top: the list docs/architecture.md shows
LAYERS = (
    layer("data", "bedrock-data", "keys", "root"),
    layer("foundations", "errors", "config", independent=True),
    layer("types", "chat"),
    layer("provider", "bedrock"),
    layer("client-api", "openai", "anthropic"),
    layer("observability", "observability"),
    layer("control", "control"),
    layer("features", "cache", "spend", "alerting", "router", independent=True),
    layer("server", "server"),
    layer("wiring", "wiring"),
    layer("emulator", "emulator"),
    layer("entry", "cli", "__main__", "serve", "startup_report", "preflight", "doctor", "keys_cli"),
)
# modules that are a unit of their own, apart from their package
UNIT_OVERRIDES = {
    f"{PACKAGE}.bedrock.availability": "bedrock-data",
    f"{PACKAGE}.bedrock.capabilities": "bedrock-data",
}
# units allowed to import only these units (beyond themselves)
ONLY = {"emulator": frozenset({"bedrock-data"})}


def unit_of(module: str) -> str:
    for prefix, unit in UNIT_OVERRIDES.items():
        if module == prefix or module.startswith(prefix + "."):
            return unit
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "root"


def module_imports(src: Path, package: str = PACKAGE) -> dict[str, set[str]]:
    """module -> the package's modules it imports, for every .py file under `src`."""
    graph: dict[str, set[str]] = {}
    for path in sorted(src.rglob("*.py")):
        parts = [package, *path.relative_to(src).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        module = ".".join(parts)
        here = parts if is_package else parts[:-1]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here[: len(here) - node.level + 1]
                    target = ".".join([*base, node.module] if node.module else base)
                else:
                    target = node.module or ""
                targets.add(target)
                # `from pkg import mod` imports pkg.mod when mod is a module
                targets.update(f"{target}.{alias.name}" for alias in node.names)
        graph[module] = {t for t in targets if t == package or t.startswith(package + ".")}
    known = set(graph)
    return {m: {t for t in targets if t in known} for m, targets in graph.items()}


def unit_graph(graph: Mapping[str, Iterable[str]]) -> dict[str, dict[str, tuple[str, str]]]:
    """unit -> imported unit -> one (importer, imported) module pair that shows it."""
    units: dict[str, dict[str, tuple[str, str]]] = {}
    for module, targets in graph.items():
        source = unit_of(module)
        edges = units.setdefault(source, {})
        for target in sorted(targets):
            other = unit_of(target)
            if other != source:
                edges.setdefault(other, (module, target))
    return units


def cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one unit (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def violations(graph: Mapping[str, Iterable[str]], layers: Iterable[Layer] = LAYERS) -> list[str]:
    """Every broken rule, one sentence each (empty: the graph keeps to the layers)."""
    layers = list(layers)
    level = {unit: i for i, lay in enumerate(layers) for unit in lay.units}
    units = unit_graph(graph)
    problems = [
        f"{unit} ({sorted(graph_modules)[0]}) is in no layer: add it to LAYERS and docs/architecture.md"
        for unit, graph_modules in _modules_by_unit(graph).items()
        if unit not in level
    ]
    for source, targets in sorted(units.items()):
        for target, (importer, imported) in sorted(targets.items()):
            if source not in level or target not in level:
                continue
            where = f"{importer} imports {imported}"
            if source in ONLY and target not in ONLY[source]:
                allowed = ", ".join(sorted(ONLY[source]))
                problems.append(f"{source} may import only {allowed}: {where}")
            elif level[target] > level[source]:
                problems.append(
                    f"{source} ({layers[level[source]].name}) imports the higher layer "
                    f"{layers[level[target]].name}: {where}"
                )
            elif level[target] == level[source] and layers[level[source]].independent:
                problems.append(
                    f"{source} and {target} are independent ({layers[level[source]].name}): {where}"
                )
    for group in cycles({unit: set(targets) for unit, targets in units.items()}):
        problems.append(f"import cycle between {' <-> '.join(group)}")
    return problems


def _modules_by_unit(graph: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    by_unit: dict[str, set[str]] = {}
    for module in graph:
        by_unit.setdefault(unit_of(module), set()).add(module)
    return by_unit


# ---------------------------------------------------------------------------------------------- the tests


def test_the_source_keeps_to_its_layers() -> None:
    graph = module_imports(SRC)
    assert len(graph) > 100, "the import graph was read from src/bedrock_proxy"
    assert violations(graph) == []


def test_the_architecture_page_lists_the_same_layers() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text()
    listed = re.findall(r"^\s*\d+\. `([a-z-]+)`: (.+)$", page, re.M)
    assert [name for name, _ in listed] == [lay.name for lay in reversed(LAYERS)]
    for (_, units), lay in zip(listed, reversed(LAYERS), strict=True):
        assert set(re.findall(r"`([a-z_-]+)`", units)) == set(lay.units), lay.name


PLANTED = {  # a small gateway that keeps to the rules
    "bedrock_proxy.errors": {"bedrock_proxy.bedrock.availability"},
    "bedrock_proxy.bedrock.availability": set(),
    "bedrock_proxy.bedrock.transport": {"bedrock_proxy.errors"},
    "bedrock_proxy.observability.record": set(),
    "bedrock_proxy.router.router": {"bedrock_proxy.observability.record", "bedrock_proxy.errors"},
    "bedrock_proxy.spend.guard": {"bedrock_proxy.observability.record"},
    "bedrock_proxy.server.app": {"bedrock_proxy.router.router", "bedrock_proxy.bedrock.transport"},
    "bedrock_proxy.wiring": {"bedrock_proxy.server.app", "bedrock_proxy.spend.guard"},
    "bedrock_proxy.emulator.catalogue": {"bedrock_proxy.bedrock.availability"},
}


def planted(**extra: set[str]) -> dict[str, set[str]]:
    graph = {module: set(targets) for module, targets in PLANTED.items()}
    for module, targets in extra.items():
        graph.setdefault(module.replace("__", "."), set()).update(targets)
    return graph


def test_the_checker_passes_a_graph_that_keeps_the_rules() -> None:
    assert violations(planted()) == []


def test_the_checker_reports_a_lower_layer_importing_a_higher_one() -> None:
    found = violations(planted(bedrock_proxy__observability__record={"bedrock_proxy.server.app"}))
    assert "observability (observability) imports the higher layer server: " in found[0]
    assert any("import cycle between observability <-> router <-> server" in p for p in found)


def test_the_checker_reports_two_packages_that_import_each_other() -> None:
    found = violations(
        {
            "bedrock_proxy.spend.guard": {"bedrock_proxy.alerting.alerter"},
            "bedrock_proxy.alerting.alerter": {"bedrock_proxy.spend.guard"},
        },
        [layer("features", "spend", "alerting")],  # same layer, not independent: only the cycle is wrong
    )
    assert found == ["import cycle between alerting <-> spend"]


def test_the_checker_reports_a_sideways_import_between_independent_units() -> None:
    found = violations(planted(bedrock_proxy__spend__guard={"bedrock_proxy.router.router"}))
    assert found == [
        "spend and router are independent (features): "
        "bedrock_proxy.spend.guard imports bedrock_proxy.router.router"
    ]


def test_the_checker_reports_the_emulator_importing_the_gateway() -> None:
    found = violations(planted(bedrock_proxy__emulator__app={"bedrock_proxy.bedrock.transport"}))
    assert found == [
        "emulator may import only bedrock-data: "
        "bedrock_proxy.emulator.app imports bedrock_proxy.bedrock.transport"
    ]


def test_the_checker_reports_a_package_in_no_layer() -> None:
    found = violations(planted(bedrock_proxy__gadgets__thing=set()))
    assert found == [
        "gadgets (bedrock_proxy.gadgets.thing) is in no layer: add it to LAYERS and docs/architecture.md"
    ]


def test_imports_are_read_from_source_files_relative_ones_and_lazy_ones_too(tmp_path: Path) -> None:
    src = tmp_path / "bedrock_proxy"
    (src / "server").mkdir(parents=True)
    (src / "__init__.py").write_text("")
    (src / "errors.py").write_text("")
    (src / "server" / "__init__.py").write_text("")
    (src / "server" / "http.py").write_text("")
    (src / "server" / "app.py").write_text(
        "from . import http\nfrom ..errors import X\n\ndef later():\n    import bedrock_proxy.wiring\n"
    )
    (src / "wiring.py").write_text("import os\n")
    graph = module_imports(src)
    assert graph["bedrock_proxy.server.app"] == {
        "bedrock_proxy.server",
        "bedrock_proxy.server.http",
        "bedrock_proxy.errors",
        "bedrock_proxy.wiring",
    }
    assert "server (server) imports the higher layer wiring" in violations(graph)[0]
