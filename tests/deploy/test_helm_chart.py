"""The Helm chart under deploy/helm/bedrock-proxy: linted and rendered by Helm itself, every manifest checked
against pinned Kubernetes schemas, and the rendered pod run as a real gateway process.

Helm is not packaged for Debian bookworm, so Helm's own Go code is used as a library (PyPI's helm-python-sdk:
`helm lint` and `helm template` without a cluster); PyPI's kubernetes-validate holds the Kubernetes JSON
schemas, strict (an unknown field is an error).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.compose import through_entrypoint as entrypoint
from tests.support.processes import (
    EXAMPLE_KEY_PAIR,
    clean_env,
    emulator_process,
    free_port,
    stop,
    wait_until_up,
)

from bedrock_proxy.config import load_config
from bedrock_proxy.server.app import ROUTES

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "bedrock-proxy"
ENTRYPOINT = REPO / "deploy" / "container-entrypoint.sh"
# The oldest Kubernetes the chart declares (Chart.yaml kubeVersion) and the newest schemas pinned here.
KUBERNETES_VERSIONS = ["1.25.0", "1.37.0"]
SECRET = {
    "LITELLM_MASTER_KEY": "sk-chart-test",
    "LANGFUSE_PUBLIC_KEY": "pk-lf-test",
    "LANGFUSE_SECRET_KEY": "sk-lf-test",
    "DATABASE_URL": "postgresql://gw:secret@ledger.example.internal:5432/gw",
}
SINGLE_POD = {"autoscaling": {"enabled": False}, "replicaCount": 1}
MANY_HOSTS = {
    "redis": {"host": "cache.example.internal", "port": 6380},
    "database": {"fromSecret": True},
    "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/gw"}},
    "image": {"repository": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/bedrock-proxy", "tag": "0.1.0"},
}
VALUE_SETS = {"defaults": {}, "single-pod": SINGLE_POD, "many-hosts": MANY_HOSTS}


def helm() -> Any:
    try:
        import helm_python
    except ImportError:
        pytest.fail("Helm's library is not installed; install it with: pip install helm-python-sdk")
    return helm_python


def render(values: dict[str, Any] | None = None) -> tuple[dict[tuple[str, str], dict[str, Any]], str]:
    """`helm template bedrock-proxy deploy/helm/bedrock-proxy`: manifests by (kind, name), and NOTES.txt."""
    with helm().Chart.load(CHART) as chart:
        rendered = chart.render(values or {}, name="bedrock-proxy", namespace="gateway", is_install=True)
    manifests: dict[tuple[str, str], dict[str, Any]] = {}
    notes = ""
    for path, text in rendered.items():
        if path.endswith("NOTES.txt"):
            notes = text
            continue
        for document in yaml.safe_load_all(text):
            if document:
                manifests[(document["kind"], document["metadata"]["name"])] = document
    return manifests, notes


def only(manifests: dict[tuple[str, str], dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [manifest for (each, _), manifest in manifests.items() if each == kind]
    assert len(found) == 1, f"{len(found)} {kind} manifests"
    return found[0]


def gateway_container(manifests: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    containers = only(manifests, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert [container["name"] for container in containers] == ["gateway"]
    return containers[0]


def pod_environment(container: dict[str, Any], secret: dict[str, str]) -> dict[str, str]:
    """The environment Kubernetes gives the container: envFrom first, then env (which wins), with the
    Secret's values; a reference to a missing key fails as the kubelet would refuse to start the pod."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(secret)
        assert set(source) == {"secretRef"}
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        ref = item["valueFrom"]["secretKeyRef"]
        assert not ref.get("optional"), f"{item['name']} must not be optional"
        if ref["key"] not in secret:
            raise LookupError(f"couldn't find key {ref['key']} in Secret {ref['name']}")
        env[item["name"]] = secret[ref["key"]]
    return env


def through_entrypoint(env: dict[str, str]) -> dict[str, str]:
    return entrypoint(env)[0]


def configured(manifests: dict[tuple[str, str], dict[str, Any]], tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(only(manifests, "ConfigMap")["data"]["config.yaml"])
    return path


def test_helm_lint_finds_nothing_wrong_even_in_strict_mode() -> None:
    for name, values in VALUE_SETS.items():
        report = helm().lint(CHART, values, strict=True, kube_version="v1.30.0")
        problems = [message for message in report["messages"] if message["severity"] >= 2]
        assert report["errors"] == [] and problems == [], (name, report)


def test_helm_lint_catches_a_broken_template_so_the_lint_can_fail(tmp_path: Path) -> None:
    """Guards the guard: the same lint on a copy of the chart with one template broken."""
    copy = tmp_path / "bedrock-proxy"
    shutil.copytree(CHART, copy)
    (copy / "templates" / "service.yaml").write_text(
        "apiVersion: v1\nkind: Service\n{{ .Values.nope.port }\n"
    )
    report = helm().lint(copy, strict=True)
    assert report["errors"] or any(message["severity"] >= 3 for message in report["messages"])


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_rendered_manifest_is_valid_kubernetes(value_set: str, version: str) -> None:
    import kubernetes_validate  # type: ignore[import-untyped]

    manifests, _ = render(VALUE_SETS[value_set])
    assert manifests
    for (kind, name), manifest in manifests.items():
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{kind}/{name} is not valid Kubernetes {version}: {str(error).splitlines()[0]}")


def test_the_schema_check_catches_a_misspelt_field_so_it_can_fail() -> None:
    import kubernetes_validate

    manifests, _ = render()
    deployment = only(manifests, "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def test_the_defaults_render_the_objects_the_many_hosts_topology_needs() -> None:
    manifests, _ = render()
    kinds = sorted(kind for kind, _ in manifests)
    assert kinds == [
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    ]


def test_the_pod_runs_as_the_images_non_root_user_with_a_read_only_root() -> None:
    manifests, _ = render()
    uid, gid = re.search(r"^USER (\d+):(\d+)$", (REPO / "Dockerfile").read_text(), re.MULTILINE).groups()  # type: ignore[union-attr]
    pod = only(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (int(uid), int(gid))
    container = gateway_container(manifests)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
    assert {"/app/config.yaml", "/app/data", "/tmp"} <= mounts
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    # Enough time for the gateway's own drain (30 s requests + 20 s trace flush), as in docker-compose.yml.
    assert pod["terminationGracePeriodSeconds"] >= 50


def test_probes_use_the_gateways_liveness_and_readiness_routes_on_its_port() -> None:
    manifests, _ = render()
    container = gateway_container(manifests)
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/liveliness"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/readiness"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert ("GET", container[probe]["httpGet"]["path"]) in ROUTES
        assert container[probe]["httpGet"]["port"] == "http"
    (port,) = container["ports"]
    env = pod_environment(container, SECRET)
    assert port["name"] == "http" and str(port["containerPort"]) == env["PORT"]


def test_service_pdb_and_hpa_point_at_the_gateway_pods() -> None:
    manifests, _ = render()
    deployment = only(manifests, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = only(manifests, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    pdb = only(manifests, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"]["minAvailable"] == 1
    hpa = only(manifests, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert hpa["spec"]["minReplicas"] >= 2 > pdb["spec"]["minAvailable"]
    assert "replicas" not in deployment["spec"], "with an HPA the Deployment must not fight it over the count"


def test_one_pod_gets_no_disruption_budget_that_would_block_node_drains() -> None:
    manifests, notes = render(SINGLE_POD)
    assert ("PodDisruptionBudget", "bedrock-proxy") not in manifests
    scaling_from_one = render({"autoscaling": {"minReplicas": 1}})[0]
    assert ("PodDisruptionBudget", "bedrock-proxy") not in scaling_from_one
    assert ("HorizontalPodAutoscaler", "bedrock-proxy") not in manifests
    assert only(manifests, "Deployment")["spec"]["replicas"] == 1
    assert "WARNING" not in notes


def test_the_master_key_is_required_from_the_secret_so_pods_never_make_their_own() -> None:
    manifests, _ = render()
    container = gateway_container(manifests)
    assert container["envFrom"] == [{"secretRef": {"name": "bedrock-proxy"}}]
    without_key = {name: value for name, value in SECRET.items() if name != "LITELLM_MASTER_KEY"}
    with pytest.raises(LookupError, match="LITELLM_MASTER_KEY"):
        pod_environment(container, without_key)
    assert through_entrypoint(pod_environment(container, SECRET))["LITELLM_MASTER_KEY"] == "sk-chart-test"


def test_the_config_map_is_a_config_the_gateway_accepts_and_reads_its_secrets_from_the_environment(
    tmp_path: Path,
) -> None:
    manifests, _ = render()
    env = through_entrypoint(pod_environment(gateway_container(manifests), SECRET))
    config = load_config(configured(manifests, tmp_path), {**env, "BEDROCK_PROXY_ENV_FILE": "none"})
    assert config.settings.master_key == "sk-chart-test"
    assert {"claude-3-haiku", "claude-3-5-sonnet"} <= {
        deployment.model_name for deployment in config.deployments
    }


def test_a_new_config_rolls_the_pods() -> None:
    before = only(render()[0], "Deployment")["spec"]["template"]["metadata"]["annotations"]
    changed = render({"config": "model_list: []\n"})[0]
    after = only(changed, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert before["checksum/config"] != after["checksum/config"]


def test_many_hosts_values_give_every_pod_the_shared_redis_and_postgres(tmp_path: Path) -> None:
    manifests, notes = render(MANY_HOSTS)
    env = through_entrypoint(pod_environment(gateway_container(manifests), SECRET))
    config_env = {**env, "BEDROCK_PROXY_ENV_FILE": "none"}
    settings = load_config(configured(manifests, tmp_path), config_env).settings
    assert (settings.redis_host, settings.redis_port) == ("cache.example.internal", 6380)
    assert settings.database_url == SECRET["DATABASE_URL"]
    without_url = {name: value for name, value in SECRET.items() if name != "DATABASE_URL"}
    with pytest.raises(LookupError, match="DATABASE_URL"):
        pod_environment(gateway_container(manifests), without_url)
    account = only(manifests, "ServiceAccount")
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/gw"
    }
    assert only(manifests, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "bedrock-proxy"
    assert (
        gateway_container(manifests)["image"]
        == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/bedrock-proxy:0.1.0"
    )
    assert "WARNING" not in notes


def test_the_notes_warn_when_several_pods_would_each_keep_their_own_limits_and_ledger() -> None:
    _, notes = render()
    assert "no redis.host" in notes and "database.fromSecret=false" in notes
    assert "kubectl -n gateway create secret generic bedrock-proxy --from-env-file=.env" in notes


def test_without_postgres_each_pod_keeps_its_ledger_on_its_own_writable_volume(tmp_path: Path) -> None:
    manifests, _ = render(SINGLE_POD)
    no_database = {name: value for name, value in SECRET.items() if name != "DATABASE_URL"}
    env = through_entrypoint(pod_environment(gateway_container(manifests), no_database))
    assert env["DATABASE_URL"] == "sqlite:////app/data/bedrock-proxy.db"
    volumes = {
        volume["name"]: volume
        for volume in only(manifests, "Deployment")["spec"]["template"]["spec"]["volumes"]
    }
    data_mount = next(
        m for m in gateway_container(manifests)["volumeMounts"] if m["mountPath"] == "/app/data"
    )
    assert "emptyDir" in volumes[data_mount["name"]]


@pytest.fixture
def emulator() -> Iterator[str]:
    with emulator_process() as url:
        yield url


def request(url: str, key: str | None = None, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=20) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_rendered_pod_runs_as_a_gateway_that_answers_its_probes_and_clients(
    tmp_path: Path, emulator: str
) -> None:
    """The Deployment's environment and the ConfigMap's config.yaml, started the way the image starts
    (entrypoint, then `serve` with CONFIG_PATH, PORT and NUM_WORKERS), against the Bedrock emulator; the two
    paths that stand for the image's (/app/config.yaml, /app/data) point into tmp_path."""
    port = free_port()
    manifests, _ = render({**SINGLE_POD, "gateway": {"port": port}})
    container = gateway_container(manifests)
    no_database = {name: value for name, value in SECRET.items() if name != "DATABASE_URL"}
    env = pod_environment(container, no_database)
    env["CONFIG_PATH"] = str(configured(manifests, tmp_path))
    env["EMBEDDED_DATABASE_URL"] = env["EMBEDDED_DATABASE_URL"].replace("/app/data", str(tmp_path))
    env = clean_env({**env, **EXAMPLE_KEY_PAIR, "AWS_BEDROCK_RUNTIME_ENDPOINT": emulator})
    serve = (
        f'exec "{sys.executable}" -m bedrock_proxy serve --config "$CONFIG_PATH" --host 127.0.0.1 '
        '--port "$PORT" --num-workers "$NUM_WORKERS"'
    )
    gateway = subprocess.Popen(
        [str(ENTRYPOINT), "sh", "-c", serve], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + container["readinessProbe"]["httpGet"]["path"], gateway, timeout=30)
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert request(base + container[probe]["httpGet"]["path"])[0] == 200, probe
        chat = {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "Bonjour"}]}
        status, answer = request(f"{base}/v1/chat/completions", SECRET["LITELLM_MASTER_KEY"], chat)
        assert status == 200, answer
        assert "Bonjour" in answer["choices"][0]["message"]["content"]
        assert request(f"{base}/v1/chat/completions", "sk-not-the-key", chat)[0] == 401
    finally:
        stop(gateway)


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"redis": {"hots": "cache.internal"}}, "hots"),
        ({"gateway": {"port": "4002"}}, "/gateway/port"),
        ({"probes": {"readiness": {"path": "health/readiness"}}}, "/probes/readiness/path"),
        ({"database": {"fromSecret": "yes"}}, "/database/fromSecret"),
    ],
)
def test_a_misspelt_or_mistyped_value_is_refused_naming_it(values: dict[str, Any], named: str) -> None:
    """values.schema.json: Helm refuses the install instead of silently ignoring the value."""
    with pytest.raises(helm().HelmValuesError, match=re.escape(named)):
        render(values)


def documented_helm_install() -> list[str]:
    """The `helm install` command of docs/deploy.md, split as the shell would."""
    text = (REPO / "docs" / "deploy.md").read_text()
    command = re.search(r"^helm install .*?(?<!\\)\n", text, flags=re.MULTILINE | re.DOTALL)
    assert command, "docs/deploy.md has no helm install command"
    return shlex.split(command.group(0).replace("\\\n", " "))


def test_the_documented_helm_install_renders_valid_manifests_with_the_repositorys_config() -> None:
    import kubernetes_validate

    words = documented_helm_install()
    assert words[:4] == ["helm", "install", "bedrock-proxy", "deploy/helm/bedrock-proxy"]
    values: dict[str, Any] = {}
    for option, argument in zip(words[4::2], words[5::2], strict=True):
        if option == "--set-file":
            name, path = argument.split("=", 1)
            values[name] = (REPO / path).read_text()
        else:
            assert option == "--set", option
            parsed = helm().parse_set_string(argument)
            for key, value in parsed.items():
                values[key] = {**values.get(key, {}), **value} if isinstance(value, dict) else value
    manifests, notes = render(values)
    for manifest in manifests.values():
        kubernetes_validate.validate(manifest, KUBERNETES_VERSIONS[-1], strict=True)
    mounted = only(manifests, "ConfigMap")["data"]["config.yaml"]
    assert mounted.strip() == (REPO / "config.yaml").read_text().strip()
    env = {item["name"]: item for item in gateway_container(manifests)["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "DATABASE_URL"
    assert "REDIS_HOST" in env
    assert "WARNING" not in notes
