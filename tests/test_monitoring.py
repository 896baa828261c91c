"""The dashboard and the alert rules: Grafana's JSON model, every PromQL expression on metrics a live
bridge exports, a runbook section per alert, and promtool's check and unit tests of every alert."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPONENTS = ROOT / "deploy" / "k8s" / "components"
DASHBOARD = COMPONENTS / "grafana-dashboard" / "storybridge.json"
ALERTS = COMPONENTS / "alerts"
RULES = ALERTS / "storybridge.rules.yml"
RULE_TESTS = ALERTS / "storybridge.rules.test.yml"
PROMETHEUS_RULE = ALERTS / "prometheusrule.yaml"
RUNBOOK = ROOT / "docs" / "RUNBOOK.md"
DEPLOYMENT = ROOT / "deploy" / "k8s" / "base" / "deployment.yaml"
PDB = ROOT / "deploy" / "k8s" / "base" / "pdb.yaml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not on PATH (Debian package `prometheus`; .ci/run installs it)",
)

ROW_CONCERNS = (
    "Commands by outcome",
    "Parked commands",
    "Dead letters",
    "Circuits",
    "Watches by state",
    "Poll budget",
    "Credits",
    "Event delay",
)

# PromQL words that are not metric names: aggregations, functions, operators, modifiers.
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}
_KEYWORDS |= {"and", "or", "unless", "inf", "nan"}
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are not a function call, a
    keyword, a label in a matcher or grouping, a string or a duration."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings (label values, regexes)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in _IDENT.finditer(text):
        word = match.group(0)
        rest = text[match.end() :].lstrip()
        if rest.startswith("(") or word.lower() in _KEYWORDS:
            continue  # a function or aggregation, or an operator word
        if text[match.start() - 1 : match.start()].isdigit():
            continue  # the unit of a number like 5m or 1e3
        names.add(word)
    return names


def dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def alert_names() -> set[str]:
    return {r["alert"] for r in rules()}


# --- the metrics a live bridge exports ------------------------------------------------------------
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
}


def exported_names(exposition: str) -> set[str]:
    """Every sample name a scrape of this exposition can hold, from its `# TYPE` lines (a
    labelled metric with no sample yet is declared all the same)."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if not line.startswith("# TYPE "):
            continue
        _, _, name, kind = line.split(" ", 3)
        base = name.removesuffix("_total") if kind == "counter" else name
        names.add(name)
        names.update(base + suffix for suffix in _SUFFIXES.get(kind, ()))
    return names


@pytest.fixture
def live_exposition(bridge_process: Any) -> str:
    bridge = bridge_process()
    return _scrape(f"http://127.0.0.1:{bridge.http_port}/metrics")


@pytest.fixture
def live_metrics(live_exposition: str) -> set[str]:
    return exported_names(live_exposition)


def _scrape(url: str) -> str:
    return httpx.get(url, timeout=5).text


def test_metric_names_are_read_from_promql() -> None:
    """The extractor sees metrics, not functions, labels, strings or durations."""
    expr = (
        'histogram_quantile(0.95, sum by (le, command) (rate(a_bucket{x="y",le="30.0"}[5m]))) '
        "/ on() max(b) and absent(c_total) or 1 - d offset 5m > (14.4 * 0.05)"
    )
    assert metric_names(expr) == {"a_bucket", "b", "c_total", "d"}


def test_every_dashboard_and_alert_expression_names_only_exported_metrics(
    live_metrics: set[str],
) -> None:
    """Each PromQL of the dashboard and the rules reads metrics a running bridge serves."""
    exprs = dashboard_exprs() + [r["expr"] for r in rules()]
    used = set().union(*(metric_names(e) for e in exprs))
    assert used, "no metric found: the extractor is broken"
    assert all(name.startswith("storybridge_") for name in used), used
    assert used - live_metrics == set()


class TestDashboard:
    def test_it_is_a_grafana_json_model_with_unique_panel_ids(self) -> None:
        """schemaVersion, a uid, a datasource variable, and no panel id twice."""
        model = dashboard()
        assert isinstance(model["schemaVersion"], int) and model["schemaVersion"] >= 36
        assert model["uid"] == "storybridge" and model["title"]
        variables = [(v["name"], v["type"]) for v in model["templating"]["list"]]
        assert variables == [("datasource", "datasource"), ("namespace", "query"), ("job", "query")]
        ids = [p["id"] for p in model["panels"]]
        assert len(ids) == len(set(ids))

    def test_one_row_per_concern_and_every_panel_queries_prometheus(self) -> None:
        model = dashboard()
        rows = [p["title"] for p in model["panels"] if p["type"] == "row"]
        for concern in ROW_CONCERNS:
            assert any(row.startswith(concern) for row in rows), concern
        for panel in model["panels"]:
            if panel["type"] == "row":
                continue
            assert panel["targets"], panel["title"]
            assert panel["datasource"]["uid"] == "${datasource}"

    def test_every_series_is_of_the_deployment_chosen(self) -> None:
        """One Prometheus may scrape staging and prod: every metric of every panel is selected
        by the namespace and job variables, never merged across deployments."""
        for expr in dashboard_exprs():
            names = re.findall(r"\b(storybridge_[A-Za-z0-9_]+)(\{[^}]*\})?", expr)
            assert names, expr
            for name, labels in names:
                assert labels.startswith('{namespace=~"$namespace",job=~"$job"'), (name, expr)

    def test_panels_do_not_overlap(self) -> None:
        cells: set[tuple[int, int]] = set()
        for panel in dashboard()["panels"]:
            g = panel["gridPos"]
            mine = {
                (x, y)
                for x in range(g["x"], g["x"] + g["w"])
                for y in range(g["y"], g["y"] + g["h"])
            }
            assert g["x"] + g["w"] <= 24 and not mine & cells, panel["title"]
            cells |= mine


class TestAlertRules:
    def test_the_prometheus_rule_carries_the_plain_rule_file_verbatim(self) -> None:
        crd = yaml.safe_load(PROMETHEUS_RULE.read_text())
        assert crd["kind"] == "PrometheusRule"
        assert crd["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]

    def test_every_concern_of_the_issue_has_an_alert(self) -> None:
        expected = {
            "StorybridgeCircuitOpen",
            "StorybridgeDeadLettersGrowing",
            "StorybridgeCommandsParkedTooLong",
            "StorybridgeIntakeLag",
            "StorybridgeWatchesStalled",
            "StorybridgeWatchesGone",
            "StorybridgeEventDelayBudgetBurnFast",
            "StorybridgeEventDelayBudgetBurnSlow",
            "StorybridgeCreditsLow",
            "StorybridgeShardsUnowned",
            "StorybridgePublishFailures",
            "StorybridgeReplicasBelowPDB",
            # Not in the issue: a replica cut off from NATS exports NaN, not stale numbers, so
            # the others cannot page on its behalf; this one does.
            "StorybridgeFleetReportStale",
        }
        assert alert_names() == expected

    def test_every_alert_links_its_runbook_section(self) -> None:
        """runbook_url ends in an anchor of a heading of docs/RUNBOOK.md (GitHub's anchors)."""
        anchors = {
            re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            for line in RUNBOOK.read_text().splitlines()
            if line.startswith("## ")
        }
        for rule in rules():
            url = rule["annotations"]["runbook_url"]
            assert "/docs/RUNBOOK.md#" in url, rule["alert"]
            assert url.rsplit("#", 1)[1] in anchors, rule["alert"]
            assert rule["labels"]["severity"] in {"warning", "critical"}
            assert rule["annotations"]["summary"] and rule["annotations"]["description"]

    def test_the_replicas_alert_fires_below_what_the_disruption_budget_needs(self) -> None:
        """minAvailable + 1 alive lets a drain take one; fewer pages (one of two left is not
        fine), and the Deployment runs at least that many."""
        pdb = yaml.safe_load(PDB.read_text())
        needed = pdb["spec"]["minAvailable"] + 1
        deployment = yaml.safe_load(DEPLOYMENT.read_text())
        assert deployment["spec"]["replicas"] >= needed
        rule = next(r for r in rules() if r["alert"] == "StorybridgeReplicasBelowPDB")
        assert f"< {needed}" in rule["expr"]

    def test_alerts_keep_deployments_apart(self) -> None:
        """Every aggregation drops only the replica (instance, pod): two deployments scraped by
        one Prometheus never merge, and an alert carries the namespace and job that fired."""
        for rule in rules():
            expr = rule["expr"]
            for agg in re.findall(r"\b(?:max|min|sum)\b\s*(\w*\s*\([^)]*\))?\s*\(", expr):
                assert agg.startswith("without (instance, pod"), (rule["alert"], expr)

    def test_every_alert_has_a_unit_test_that_fires_and_one_that_stays_quiet(self) -> None:
        fired: set[str] = set()
        quiet: set[str] = set()
        for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
            for check in case["alert_rule_test"]:
                (fired if check["exp_alerts"] else quiet).add(check["alertname"])
        assert fired == alert_names()
        assert quiet == alert_names()

    @needs_promtool
    def test_promtool_checks_the_rules(self) -> None:
        assert PROMTOOL is not None
        done = subprocess.run(
            [PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr

    @needs_promtool
    def test_promtool_unit_tests_of_every_alert_pass(self) -> None:
        assert PROMTOOL is not None
        done = subprocess.run(
            [PROMTOOL, "test", "rules", RULE_TESTS.name],
            cwd=ALERTS,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_promtool_accepts_the_live_exposition(live_exposition: str) -> None:
    """`promtool check metrics` on a running bridge's /metrics: names, units, help texts."""
    assert PROMTOOL is not None
    done = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=live_exposition, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_readme_documents_every_exported_metric(live_exposition: str) -> None:
    """Each storybridge_* metric a bridge serves has a row in the README's metrics table."""
    readme = (ROOT / "README.md").read_text()
    declared = {
        line.split(" ")[2]
        for line in live_exposition.splitlines()
        if line.startswith("# TYPE storybridge_")
        and not line.split(" ")[2].endswith("_created")  # a counter's start time, not a metric
    }
    assert declared
    assert {name for name in declared if f"`{name}" not in readme} == set()


def test_the_label_values_alerts_and_panels_filter_on_are_values_the_bridge_writes() -> None:
    """A matcher on a value the bridge never writes selects nothing, silently: every `le`, the
    `resource`, `basis` and `state` values and the event-type regex are checked against the code
    that writes them."""
    from typing import get_args

    from bridge.ops.metrics import EVENT_DELAY_BUCKETS
    from bridge.providers.story.watch.provider import StoryProvider
    from bridge.providers.syllaby.watch.provider import SyllabyProvider
    from bridge.watch.delay import Basis

    providers = (StoryProvider, SyllabyProvider)
    written = {
        "le": {str(float(b)) for b in EVENT_DELAY_BUCKETS} | {"+Inf"},
        "resource": {r for p in providers for r in p.resources},
        "basis": set(get_args(Basis)),
        "state": {"active", "stalled", "done"},
    }
    gone_types = [f"{p.type_prefix}.watch.gone" for p in providers]
    matcher = re.compile(r'(\w+)\s*(=|!=|=~)\s*"((?:[^"\\]|\\.)*)"')
    seen: set[str] = set()
    for expr in dashboard_exprs() + [r["expr"] for r in rules()]:
        for label, op, value in matcher.findall(expr):
            if label in written and op in {"=", "!="}:
                assert value in written[label], (label, value, expr)
                seen.add(label)
            elif label == "type" and op == "=~":
                pattern = re.compile(value.encode().decode("unicode_escape"))
                assert all(pattern.fullmatch(t) for t in gone_types), (value, gone_types)
                seen.add(label)
    assert seen == {"le", "resource", "basis", "state", "type"}
