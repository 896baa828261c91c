"""Kubernetes manifests: rendered with kustomize, validated offline, held to the rules."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from bridge.cli.settings_options import CARRIER, env_name, provider_models
from bridge.config import BridgeSettings
from bridge.names import COMMANDS_CONSUMER, COMMANDS_STREAM
from bridge.runtime import shutdown_budget

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.32"
# Custom resources: their schemas are not part of kubernetes-validate.
CRD_GROUPS = {"monitoring.coreos.com", "keda.sh"}
DEFAULT_KEY_RATE_LIMIT = 120  # requests/minute of the default API tier
TARGETS = ["base", "overlays/dev", "overlays/prod"]
KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(
    KUBECTL is None, reason="kubectl not on PATH: cannot render the kustomizations"
)

Obj = dict[str, Any]


@functools.cache
def render(target: str) -> tuple[Obj, ...]:
    """`kubectl kustomize deploy/k8s/<target>` as a tuple of objects (rendered once per run)."""
    assert KUBECTL is not None
    out = subprocess.run(
        [KUBECTL, "kustomize", str(K8S / target)], check=True, capture_output=True, text=True
    ).stdout
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


def raw_base() -> list[Obj]:
    """The base's resource files read with PyYAML alone: what CI can check without kubectl."""
    kustomization = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
    docs: list[Obj] = []
    for name in kustomization["resources"]:
        docs.extend(d for d in yaml.safe_load_all((K8S / "base" / name).read_text()) if d)
    return docs


def one(objs: tuple[Obj, ...] | list[Obj], kind: str, name: str | None = None) -> Obj:
    found = [o for o in objs if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def kinds(objs: tuple[Obj, ...]) -> set[str]:
    return {o["kind"] for o in objs}


def bridge_container(objs: tuple[Obj, ...] | list[Obj]) -> Obj:
    containers = one(objs, "Deployment", "storybridge")["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "storybridge")


def config(objs: tuple[Obj, ...]) -> dict[str, str]:
    # The settings (storybridge-config-<hash>); prod also renders the dashboard's ConfigMap.
    maps = [
        o
        for o in objs
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("storybridge-config")
    ]
    assert len(maps) == 1
    return dict(maps[0]["data"])


def workloads(objs: tuple[Obj, ...] | list[Obj]) -> list[Obj]:
    return [o for o in objs if o["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}]


def settings_env_names() -> set[str]:
    """Every environment name the bridge reads: BridgeSettings' and each installed provider's own
    settings', by the rule `storybridge run --help` shows them with (a contract name, or the
    prefix plus the field)."""
    names = {
        env_name(BridgeSettings, name, field)
        for name, field in BridgeSettings.model_fields.items()
        if name != CARRIER  # options given for providers: not a variable anyone sets
    }
    for model in provider_models().values():
        names |= {env_name(model, name, field) for name, field in model.model_fields.items()}
    return names


# --- schema validation ----------------------------------------------------------------------------


@needs_kubectl
@pytest.mark.parametrize("target", TARGETS)
def test_every_rendered_object_is_valid_kubernetes(target: str) -> None:
    """Each built-in object passes the Kubernetes OpenAPI schema, strictly (no unknown fields)."""
    checked = 0
    for obj in render(target):
        if obj["apiVersion"].split("/")[0] in CRD_GROUPS:
            continue  # ServiceMonitor, ScaledObject: not in kubernetes-validate's schemas
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        checked += 1
    assert checked >= 6


# --- security -------------------------------------------------------------------------------------


def _assert_hardened(workload: Obj) -> None:
    pod = workload["spec"]["template"]["spec"]
    name = workload["metadata"]["name"]
    psc = pod["securityContext"]
    assert psc["runAsNonRoot"] is True, name
    assert psc["runAsUser"] == 10001, name
    assert psc["seccompProfile"]["type"] == "RuntimeDefault", name
    assert pod["automountServiceAccountToken"] is False, name
    for container in pod["containers"] + pod.get("initContainers", []):
        sc = container["securityContext"]
        where = f"{name}/{container['name']}"
        assert sc["runAsNonRoot"] is True, where
        assert sc["runAsUser"] == 10001, where
        assert sc["readOnlyRootFilesystem"] is True, where
        assert sc["allowPrivilegeEscalation"] is False, where
        assert sc["capabilities"]["drop"] == ["ALL"], where
        assert sc["seccompProfile"]["type"] == "RuntimeDefault", where
        assert "requests" in container["resources"] and "limits" in container["resources"], where


@needs_kubectl
@pytest.mark.parametrize("target", TARGETS)
def test_every_container_is_non_root_read_only_and_capability_free(target: str) -> None:
    """Pod and container security contexts hold on every workload of every overlay."""
    found = workloads(render(target))
    assert found
    for workload in found:
        _assert_hardened(workload)


def test_base_files_are_hardened_without_kubectl() -> None:
    """The same rules on the base files read by PyYAML alone (for machines without kubectl)."""
    found = workloads(raw_base())
    assert [w["metadata"]["name"] for w in found] == ["storybridge"]
    _assert_hardened(found[0])


def test_read_only_root_has_writable_tmp_and_data_dir() -> None:
    """/tmp and the data dir are emptyDir mounts, and the data dir is the one the settings name."""
    docs = raw_base()
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    empty = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    mounts = {m["mountPath"]: m["name"] for m in bridge_container(docs)["volumeMounts"]}
    kustomization = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
    literals = dict(s.split("=", 1) for s in kustomization["configMapGenerator"][0]["literals"])
    assert mounts["/tmp"] in empty
    assert mounts[literals["STORYBRIDGE_DATA_DIR"]] in empty


@needs_kubectl
@pytest.mark.parametrize("target", TARGETS)
def test_service_account_mounts_no_token(target: str) -> None:
    """The bridge never calls the Kubernetes API, so its ServiceAccount carries no token."""
    assert (
        one(render(target), "ServiceAccount", "storybridge")["automountServiceAccountToken"]
        is False
    )


# --- the bridge Deployment ------------------------------------------------------------------------


def test_probes_use_healthz_and_readyz_on_the_named_http_port() -> None:
    """Liveness asks /healthz, readiness /readyz, both on port `http` = 8080."""
    container = bridge_container(raw_base())
    assert {"name": "http", "containerPort": 8080, "protocol": "TCP"} in container["ports"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


@needs_kubectl
@pytest.mark.parametrize("target", ["base", "overlays/prod"])
def test_api_key_comes_from_the_secret(target: str) -> None:
    """SLEEPERHIT_API_KEY is read from Secret storybridge-api-key, key api-key, and is required."""
    env = {e["name"]: e for e in bridge_container(render(target)).get("env", [])}
    ref = env["SLEEPERHIT_API_KEY"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "storybridge-api-key", "key": "api-key", "optional": False}
    assert "SLEEPERHIT_API_KEY" not in config(render(target))


@needs_kubectl
@pytest.mark.parametrize("target", TARGETS)
def test_termination_grace_covers_the_shutdown_drain(target: str) -> None:
    """SIGKILL comes after every shutdown step: the grace period is at least the sum of the
    bounded steps of Bridge.stop() for the settings this overlay configures."""
    objs = render(target)
    pod = one(objs, "Deployment", "storybridge")["spec"]["template"]["spec"]
    drain = config(objs).get("STORYBRIDGE_SHUTDOWN_GRACE_SECONDS")
    settings = (
        BridgeSettings() if drain is None else BridgeSettings(shutdown_grace_seconds=float(drain))
    )
    assert pod["terminationGracePeriodSeconds"] >= shutdown_budget(settings)


def test_the_base_grace_period_fits_the_default_shutdown_steps() -> None:
    """Without kubectl too: the base Deployment's grace period exceeds the default budget, and the
    budget is the grace period plus the fixed steps (so raising one setting raises the sum)."""
    pod = one(raw_base(), "Deployment", "storybridge")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= shutdown_budget(BridgeSettings())
    assert (
        shutdown_budget(BridgeSettings(shutdown_grace_seconds=50))
        - shutdown_budget(BridgeSettings())
        == 30
    )


@needs_kubectl
@pytest.mark.parametrize("target", TARGETS)
def test_config_map_names_only_real_settings(target: str) -> None:
    """Every ConfigMap key is an environment name bridge.config.BridgeSettings reads (no typos)."""
    unknown = set(config(render(target))) - settings_env_names()
    assert not unknown


@needs_kubectl
@pytest.mark.parametrize(
    ("target", "replicas"), [("base", 2), ("overlays/dev", 1), ("overlays/prod", 2)]
)
def test_replicas_and_rate_budget_fit_one_api_key(target: str, replicas: int) -> None:
    """Replicas x per-replica rate limit stays within one key's default-tier budget."""
    objs = render(target)
    assert one(objs, "Deployment", "storybridge")["spec"]["replicas"] == replicas
    scaled = [o for o in objs if o["kind"] == "ScaledObject"]
    most = scaled[0]["spec"]["maxReplicaCount"] if scaled else replicas
    rate = int(config(objs)["STORYBRIDGE_RATE_LIMIT_PER_MINUTE"])
    assert most * rate <= DEFAULT_KEY_RATE_LIMIT


# --- availability and network ---------------------------------------------------------------------


def _pod_labels(objs: tuple[Obj, ...]) -> dict[str, str]:
    labels = one(objs, "Deployment", "storybridge")["spec"]["template"]["metadata"]["labels"]
    return dict(labels)


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


@needs_kubectl
@pytest.mark.parametrize("target", ["base", "overlays/prod"])
def test_disruption_budget_keeps_one_bridge(target: str) -> None:
    """The PDB keeps minAvailable 1 of exactly the bridge pods."""
    objs = render(target)
    pdb = one(objs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert _selects(pdb["spec"]["selector"]["matchLabels"], _pod_labels(objs))


@needs_kubectl
@pytest.mark.parametrize("target", TARGETS)
def test_network_policy_admits_8080_and_egress_dns_nats_https(target: str) -> None:
    """Ingress only on 8080; egress only DNS (UDP+TCP 53), NATS 4222, HTTPS 443, and OTLP/HTTP 4318
    exactly when tracing is on."""
    objs = render(target)
    policy = one(objs, "NetworkPolicy", "storybridge")["spec"]
    assert _selects(policy["podSelector"]["matchLabels"], _pod_labels(objs))
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    ingress = {(p["port"], p["protocol"]) for rule in policy["ingress"] for p in rule["ports"]}
    egress = {(p["port"], p["protocol"]) for rule in policy["egress"] for p in rule["ports"]}
    assert ingress == {(8080, "TCP")}
    otlp = {(4318, "TCP")} if config(objs).get("STORYBRIDGE_TRACING") == "true" else set()
    assert egress == {(53, "UDP"), (53, "TCP"), (4222, "TCP"), (443, "TCP")} | otlp


@needs_kubectl
@pytest.mark.parametrize("target", TARGETS)
def test_service_exposes_http_of_the_bridge_pods(target: str) -> None:
    """The Service forwards 8080 to the `http` port of the bridge pods only."""
    objs = render(target)
    service = one(objs, "Service", "storybridge")["spec"]
    assert service["ports"] == [
        {"name": "http", "port": 8080, "protocol": "TCP", "targetPort": "http"}
    ]
    assert _selects(service["selector"], _pod_labels(objs))


# --- overlays ------------------------------------------------------------------------------------


@needs_kubectl
def test_dev_runs_the_sandbox_against_a_jetstream_nats() -> None:
    """dev: `run --sandbox`, no Secret, no PDB, and a one-node JetStream NATS on a PVC."""
    objs = render("overlays/dev")
    container = bridge_container(objs)
    assert container["args"] == ["run", "--sandbox"]
    assert not any("secretKeyRef" in e.get("valueFrom", {}) for e in container.get("env", []))
    assert "PodDisruptionBudget" not in kinds(objs)
    assert config(objs)["STORYBRIDGE_NATS_URL"] == "nats://nats:4222"
    nats = one(objs, "StatefulSet", "nats")
    server = nats["spec"]["template"]["spec"]["containers"][0]
    assert server["image"] == "nats:2.10-alpine"
    assert server["args"][:3] == ["-js", "-sd", "/data"]
    assert nats["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    ports = {p["port"] for p in one(objs, "Service", "nats")["spec"]["ports"]}
    assert 4222 in ports


@needs_kubectl
def test_prod_scales_on_the_commands_consumer_backlog() -> None:
    """prod: KEDA's nats-jetstream trigger watches the commands stream's durable consumer."""
    objs = render("overlays/prod")
    trigger = one(objs, "ScaledObject")["spec"]["triggers"][0]
    assert trigger["type"] == "nats-jetstream"
    assert trigger["metadata"]["stream"] == COMMANDS_STREAM
    assert trigger["metadata"]["consumer"] == COMMANDS_CONSUMER
    assert int(trigger["metadata"]["lagThreshold"]) > 0
    assert one(objs, "ScaledObject")["spec"]["scaleTargetRef"]["name"] == "storybridge"


@needs_kubectl
def test_prod_scrapes_metrics_and_uses_an_external_nats() -> None:
    """prod: a ServiceMonitor on port http /metrics, and a NATS URL outside the namespace."""
    objs = render("overlays/prod")
    monitor = one(objs, "ServiceMonitor")["spec"]
    assert monitor["endpoints"][0]["port"] == "http"
    assert monitor["endpoints"][0]["path"] == "/metrics"
    service_labels = one(objs, "Service", "storybridge")["metadata"]["labels"]
    assert _selects(monitor["selector"]["matchLabels"], service_labels)
    assert config(objs)["STORYBRIDGE_NATS_URL"] != "nats://nats:4222"
    assert "StatefulSet" not in kinds(objs)


@needs_kubectl
def test_prod_ships_the_alert_rules_and_the_dashboard() -> None:
    """prod: the PrometheusRule of deploy/k8s/components/alerts and the dashboard ConfigMap,
    labelled for Grafana's sidecar, its JSON the component's file unchanged."""
    objs = render("overlays/prod")
    rule = one(objs, "PrometheusRule", "storybridge")
    alerts = [r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]]
    assert "StorybridgeCircuitOpen" in alerts
    board = one(objs, "ConfigMap", "storybridge-dashboard")
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = (K8S / "components" / "grafana-dashboard" / "storybridge.json").read_text()
    assert board["data"]["storybridge.json"] == shipped


@needs_kubectl
def test_prod_runs_r3_streams_with_nats_credentials_and_ca_from_secrets() -> None:
    """prod: 3 replicas per stream, the .creds file and CA read from mounted Secrets, and
    tracing's collector reachable (4318) because the tracing component is on."""
    objs = render("overlays/prod")
    settings = config(objs)
    assert settings["STORYBRIDGE_STREAM_REPLICAS"] == "3"
    spec = one(objs, "Deployment", "storybridge")["spec"]["template"]["spec"]
    mounts = {m["name"]: m["mountPath"] for m in bridge_container(objs)["volumeMounts"]}
    secrets = {v["name"]: v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
    assert secrets == {"nats-creds": "storybridge-nats-creds", "nats-tls": "storybridge-nats-tls"}
    assert settings["STORYBRIDGE_NATS_CREDS"].startswith(mounts["nats-creds"] + "/")
    assert settings["STORYBRIDGE_NATS_TLS_CA"].startswith(mounts["nats-tls"] + "/")
    env = {e["name"]: e.get("value") for e in bridge_container(objs)["env"]}
    assert (
        settings["STORYBRIDGE_TRACING"] == "true" and ":4318" in env["OTEL_EXPORTER_OTLP_ENDPOINT"]
    )


def test_readme_documents_every_setting() -> None:
    """The README's settings table has a row for every environment name BridgeSettings reads."""
    text = (ROOT / "README.md").read_text()
    rows = {line.split("`")[1] for line in text.splitlines() if line.startswith("| `")}
    assert settings_env_names() - rows == set()
