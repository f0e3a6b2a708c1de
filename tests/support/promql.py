"""The PromQL of deploy/grafana/bedrock-proxy.json and deploy/prometheus/alerts.yml, and the metric and label
names each expression reads: enough of PromQL's grammar to tell a metric name from a function, an
aggregation, a keyword, a label or a number."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy" / "grafana" / "bedrock-proxy.json"
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"

# Grafana's variables, as Prometheus would see them once Grafana has put values in
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "6h", "$__interval": "1m", "$model_group": ".*"}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}")
_MATCHER_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
_RANGE = re.compile(r"\[[^\]]*\]")
_OFFSET = re.compile(r"\boffset\s+-?(?:\d+[a-z]+)+")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_NUMBER = re.compile(
    r"(?<![a-zA-Z0-9_:])(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
)
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
             "group_right", "inf", "nan", "atan2"}  # fmt: skip


@dataclass
class Expression:
    where: str  # which panel, variable or alert
    expr: str
    metrics: set[str] = field(default_factory=set)
    matcher_labels: dict[str, set[str]] = field(default_factory=dict)  # metric -> labels its matchers name
    grouping_labels: set[str] = field(default_factory=set)  # by (...), on (...), ...


def substitute(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def parse(where: str, expr: str) -> Expression:
    """The metric names an expression selects, the labels its matchers name (per metric) and the labels it
    groups by."""
    out = Expression(where, expr)
    text = _STRING.sub('""', substitute(expr))
    for match in _SELECTOR.finditer(text):
        metric, matchers = match.group(1), match.group(2)
        labels = set(_MATCHER_LABEL.findall(matchers)) - {"__name__"}
        out.matcher_labels.setdefault(metric or "", set()).update(labels)
    text = _SELECTOR.sub(lambda m: f" {m.group(1) or ''} ", text)
    text = _RANGE.sub(" ", text)
    text = _OFFSET.sub(" ", text)
    for match in _GROUPING.finditer(text):
        out.grouping_labels.update(label.strip() for label in match.group(1).split(",") if label.strip())
    text = _GROUPING.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    for match in _IDENT.finditer(text):
        name = match.group(0)
        if name.lower() in _KEYWORDS or text[match.end() :].lstrip().startswith("("):
            continue  # a keyword, or a function / aggregation called
        out.metrics.add(name)
    return out


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels") or [])  # a collapsed row keeps its panels inside


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_panels() -> list[dict[str, Any]]:
    return list(_panels(dashboard()["panels"]))


def dashboard_expressions() -> list[Expression]:
    out = []
    for panel in dashboard_panels():
        for target in panel.get("targets") or []:
            out.append(parse(f"panel {panel['title']!r} {target['refId']}", target["expr"]))
    for variable in dashboard()["templating"]["list"]:
        query = variable.get("query")
        if variable["type"] == "query":
            text = query["query"] if isinstance(query, dict) else query
            match = re.fullmatch(r"label_values\(\s*(.+?)\s*,\s*([a-zA-Z_]\w*)\s*\)", text)
            assert match, f"variable {variable['name']}: {text!r} is not label_values(metric, label)"
            expression = parse(f"variable {variable['name']}", match.group(1))
            expression.grouping_labels.add(match.group(2))
            out.append(expression)
    return out


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def alert_expressions() -> list[Expression]:
    return [parse(f"alert {rule['alert']}", rule["expr"]) for rule in alert_rules()]
