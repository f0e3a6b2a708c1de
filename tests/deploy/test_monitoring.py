"""The Grafana dashboard and the Prometheus alert rules under deploy/: the rules pass `promtool check rules`
and fire as `promtool test rules` cases say; the dashboard imports (a datasource variable, panels with a
datasource and PromQL targets, unique ids) and its PromQL parses. That every metric they read exists on a
running gateway's /metrics: tests/e2e/test_monitoring_metrics.py."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from tests.support import promql

HERE = Path(__file__).resolve().parent
RULE_TESTS = HERE / "prometheus_alerts_test.yml"
PANEL_TYPES = {"row", "stat", "timeseries", "table", "state-timeline", "gauge", "bargauge", "heatmap"}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        message = "promtool is not installed; install it with: apt-get install -y prometheus"
        if os.environ.get("BEDROCK_PROXY_CI") or os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def run(*args: str) -> str:
    done = subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_alert_rules_pass_promtool_check_rules() -> None:
    out = run("check", "rules", str(promql.ALERTS))
    assert f"SUCCESS: {len(promql.alert_rules())} rules found" in out


def test_each_alert_fires_on_its_series_and_not_on_healthy_ones() -> None:
    tested = {
        case["alertname"]
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert tested == {rule["alert"] for rule in promql.alert_rules()}, "every alert has a case where it fires"
    assert "SUCCESS" in run("test", "rules", str(RULE_TESTS))


def test_every_alert_says_what_happened_and_how_bad() -> None:
    for rule in promql.alert_rules():
        assert rule["alert"].startswith("BedrockProxy"), rule
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_the_dashboard_has_a_prometheus_datasource_variable() -> None:
    variables = {v["name"]: v for v in promql.dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == "${datasource}", variable["name"]


def test_every_panel_reads_the_datasource_variable_with_promql_targets_and_a_unique_id() -> None:
    board = promql.dashboard()
    assert board["title"] and board["uid"] and isinstance(board["schemaVersion"], int)
    panels = promql.dashboard_panels()
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels:
        assert panel["type"] in PANEL_TYPES, panel["type"]
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel[
            "title"
        ]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel.get("description"), f"panel {panel['title']!r} says what it shows"
        targets = panel["targets"]
        assert targets, panel["title"]
        assert len({t["refId"] for t in targets}) == len(targets), panel["title"]
        for target in targets:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_no_two_panels_overlap() -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in promql.dashboard_panels():
        grid = panel["gridPos"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]


def test_the_dashboard_promql_parses(tmp_path: Path) -> None:
    """promtool parses every dashboard expression (Grafana's variables filled in) as a recording rule."""
    expressions = promql.dashboard_expressions()
    rules = [
        {"record": f"dashboard:expr_{i}", "expr": promql.substitute(e.expr)}
        for i, e in enumerate(expressions)
    ]
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    assert f"SUCCESS: {len(rules)} rules found" in run("check", "rules", str(path))


@pytest.mark.parametrize(
    ("expr", "metrics", "grouping", "matchers"),
    [
        (
            'sum by (model_group, status) (rate(bedrock_proxy_requests_total{model_group=~"$model_group"}'
            "[$__rate_interval]))",
            {"bedrock_proxy_requests_total"},
            {"model_group", "status"},
            {"bedrock_proxy_requests_total": {"model_group"}},
        ),
        (
            "histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m]))) > 1e-9 and on (a) absent(y)",
            {"x_bucket", "y"},
            {"le", "a"},
            {},
        ),
        (
            'sum(increase(z_total{outcome="dropped", sink!~"a|b"}[10m])) * 3600',
            {"z_total"},
            set(),
            {"z_total": {"outcome", "sink"}},
        ),
        ("max without (instance) (s) unless bool t offset 5m", {"s", "t"}, {"instance"}, {}),
    ],
)  # fmt: skip
def test_the_promql_reader_finds_metrics_not_functions_labels_or_numbers(
    expr: str, metrics: set[str], grouping: set[str], matchers: dict[str, set[str]]
) -> None:
    parsed = promql.parse("test", expr)
    assert parsed.metrics == metrics
    assert parsed.grouping_labels == grouping
    assert parsed.matcher_labels == matchers
