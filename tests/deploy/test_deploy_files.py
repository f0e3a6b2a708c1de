"""What the deployment files promise an operator: the seed's commands, secrets kept out, least privilege."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def env_example_names() -> set[str]:
    names = set()
    for line in (REPO / ".env.example").read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.add(match.group(1))
    return names


def test_compose_service_is_named_litellm_so_the_seed_commands_work() -> None:
    services = compose()["services"]
    assert "litellm" in services
    gateway = services["litellm"]
    assert gateway["build"]["context"] == "."
    assert gateway["restart"] in {"unless-stopped", "always"}


def test_compose_publishes_port_4002_and_mounts_the_config_read_only() -> None:
    gateway = compose()["services"]["litellm"]
    assert "${BIND_ADDRESS:-0.0.0.0}:${PORT:-4002}:${PORT:-4002}" in gateway["ports"]
    assert "./config.yaml:/app/config.yaml:ro" in gateway["volumes"]
    assert gateway["environment"]["CONFIG_PATH"] == "/app/config.yaml"


def test_compose_loads_env_and_passes_no_aws_keys_so_the_instance_profile_is_used() -> None:
    gateway = compose()["services"]["litellm"]
    assert gateway["env_file"] == [".env"]
    assert not any(
        name.startswith("AWS_ACCESS_KEY") or name.startswith("AWS_SECRET") for name in gateway["environment"]
    )
    assert "hop-limit 2" in (REPO / "docker-compose.yml").read_text()


def test_compose_rotates_logs_and_gives_the_gateway_time_to_drain() -> None:
    gateway = compose()["services"]["litellm"]
    assert gateway["logging"]["driver"] == "json-file"
    assert {"max-size", "max-file"} <= set(gateway["logging"]["options"])
    assert gateway["stop_grace_period"] == "60s"


def test_compose_keeps_the_sqlite_ledger_on_the_writable_volume_of_a_read_only_container() -> None:
    gateway = compose()["services"]["litellm"]
    assert gateway["read_only"] is True
    assert "gateway-data:/app/data" in gateway["volumes"]
    # An empty DATABASE_URL is chosen by the entrypoint (the postgres profile, else this file on the volume):
    # test_compose_profiles.py checks what the gateway ends up with, through the real Compose.
    assert gateway["environment"]["DATABASE_URL"] == "${DATABASE_URL:-}"
    assert gateway["environment"]["EMBEDDED_DATABASE_URL"] == "sqlite:////app/data/bedrock-proxy.db"


def test_redis_and_postgres_start_only_when_their_profile_is_asked_for() -> None:
    services = compose()["services"]
    assert services["redis"]["profiles"] == ["redis"]
    assert services["postgres"]["profiles"] == ["postgres"]
    assert "profiles" not in services["litellm"]


def test_env_example_holds_no_working_secret() -> None:
    for line in (REPO / ".env.example").read_text().splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        name, value = line.split("=", 1)
        if any(word in name for word in ("KEY", "SECRET", "PASSWORD", "TOKEN")):
            assert value == "", f"{name} must be empty in .env.example"


def test_env_example_documents_every_variable_the_issue_and_the_source_read() -> None:
    expected = {
        "LITELLM_MASTER_KEY",
        "LANGFUSE_PUBLIC_KEY",
        "LANGFUSE_SECRET_KEY",
        "LANGFUSE_HOST",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_BEDROCK_RUNTIME_ENDPOINT",
        "AWS_BEDROCK_ENDPOINT",
        "AWS_BEARER_TOKEN_BEDROCK",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "WEBHOOK_URL",
        "WEBHOOK_HEADERS",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "NUM_WORKERS",
        "PORT",
        "CONFIG_PATH",
        "REDIS_HOST",
        "REDIS_PORT",
        "REDIS_PASSWORD",
        "DATABASE_URL",
    }
    for path in (REPO / "src").rglob("*.py"):
        text = path.read_text()
        expected |= set(re.findall(r"environ(?:\.get)?\(\s*[\"']([A-Z][A-Z0-9_]+)[\"']", text))
        expected |= set(re.findall(r"environ\[\s*[\"']([A-Z][A-Z0-9_]+)[\"']\s*\]", text))
        expected |= set(re.findall(r"getenv\(\s*[\"']([A-Z][A-Z0-9_]+)[\"']", text))
    missing = sorted(expected - env_example_names())
    assert not missing, f".env.example does not document: {missing}"


def test_dockerignore_keeps_secrets_and_history_out_of_the_build_context() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    assert lines[lines.index("*") :]  # deny everything first, then allow what the Dockerfile copies
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert ".env" not in allowed and ".git" not in allowed
    dockerfile = (REPO / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (?!--from)(\S+)", dockerfile, flags=re.MULTILINE):
        assert source.rstrip("/") in allowed, f"Dockerfile copies {source} but .dockerignore excludes it"


def test_dockerfile_runs_as_non_root_with_a_liveness_healthcheck_and_workers_from_env() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert text.count("\nFROM ") + text.startswith("FROM ") >= 2
    assert re.search(r"^USER 10001:10001$", text, flags=re.MULTILINE)
    assert "HEALTHCHECK" in text and "bedrock-proxy-healthcheck" in text
    assert "/health/liveliness" in (REPO / "deploy" / "healthcheck.py").read_text()
    assert '--num-workers \\"$NUM_WORKERS\\"' in text


def policy() -> dict:
    return json.loads((REPO / "deploy" / "iam-policy.json").read_text())


def test_iam_policy_grants_only_bedrock_invoke_and_catalogue_reads() -> None:
    actions = {action for statement in policy()["Statement"] for action in statement["Action"]}
    assert actions == {
        "bedrock:InvokeModel",
        "bedrock:InvokeModelWithResponseStream",
        "bedrock:ListFoundationModels",
        "bedrock:GetFoundationModel",
        "bedrock:ListInferenceProfiles",
        "bedrock:GetInferenceProfile",
    }
    assert all(statement["Effect"] == "Allow" for statement in policy()["Statement"])


def test_iam_policy_limits_invocation_to_the_region_and_eu_profile_destinations() -> None:
    regions = set()
    for statement in policy()["Statement"]:
        resources = statement["Resource"]
        if resources == "*":
            assert statement["Condition"]["StringEquals"]["aws:RequestedRegion"] == "eu-west-1"
            continue
        for arn in resources:
            regions.add(arn.split(":")[3])
            if arn.split(":")[3] != "eu-west-1":
                assert "bedrock:InferenceProfileArn" in statement["Condition"]["StringLike"]
    assert regions == {"eu-west-1", "eu-central-1", "eu-west-3"}


UNIT = REPO / "deploy" / "bedrock-proxy.service"


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_systemd_unit_runs_the_venv_gateway_as_a_dedicated_user_and_restarts_on_failure() -> None:
    settings = unit_settings()
    assert settings["ExecStart"] == [
        "/opt/bedrock-proxy/venv/bin/bedrock-proxy serve --config /etc/bedrock-proxy/config.yaml "
        "--host 0.0.0.0 --port ${PORT} --num-workers ${NUM_WORKERS}"
    ]
    assert settings["User"] == ["bedrock-proxy"]
    assert settings["EnvironmentFile"] == ["/etc/bedrock-proxy/env"]
    assert settings["Restart"] == ["on-failure"]
    assert settings["KillSignal"] == ["SIGTERM"]
    for hardening in ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp"):
        assert hardening in settings


def test_systemd_unit_passes_systemd_analyze_verify() -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is not installed; install it with: apt-get install -y systemd")
    done = subprocess.run([analyze, "verify", str(UNIT)], capture_output=True, text=True, check=False)
    problems = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        # The venv exists only on an installed host.
        if line.strip() and "/opt/bedrock-proxy/venv/bin/bedrock-proxy is not executable" not in line
    ]
    assert not problems, "\n".join(problems)


def test_systemd_installer_installs_the_files_the_unit_reads() -> None:
    installer = (REPO / "deploy" / "install-systemd.sh").read_text()
    for path in ("/opt/bedrock-proxy", "/etc/bedrock-proxy", "/etc/systemd/system/bedrock-proxy.service"):
        assert path in installer
    assert 'pip" install --no-cache-dir --upgrade .' in installer


def test_no_profile_gated_service_requires_a_variable_that_would_stop_the_default_compose_up() -> None:
    """Compose resolves `${VAR:?message}` in every service before it applies profiles: one in the postgres
    service would stop a plain `docker compose up` for users who never asked for postgres."""
    services = compose()["services"]
    for name, service in services.items():
        if service.get("profiles"):
            assert not re.search(r"\$\{\w+:?\?", yaml.safe_dump(service)), name


def run_postgres_entrypoint(tmp_path: Path, password: str) -> subprocess.CompletedProcess[str]:
    """The postgres service's entrypoint + command as the container runs them ($$ is Compose's escape of $),
    with a stand-in for the image's docker-entrypoint.sh that prints what it was given."""
    service = compose()["services"]["postgres"]
    argv = [part.replace("$$", "$") for part in [*service["entrypoint"], *service["command"]]]
    stand_in = tmp_path / "docker-entrypoint.sh"
    stand_in.write_text('#!/bin/sh\necho "started: $*"\n')
    stand_in.chmod(0o755)
    env = {
        "PATH": f"{tmp_path}:/usr/bin:/bin",
        "POSTGRES_PASSWORD": password,
        "POSTGRES_USER": "bedrock_proxy",
        "POSTGRES_DB": "bedrock_proxy",
    }
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False)


def test_postgres_with_an_empty_password_stops_saying_what_to_put_in_env(tmp_path: Path) -> None:
    done = run_postgres_entrypoint(tmp_path, password="")
    assert done.returncode == 1 and "started" not in done.stdout
    assert "POSTGRES_PASSWORD=<password>" in done.stderr and "openssl rand -hex 16" in done.stderr
    assert "DATABASE_URL=postgresql://bedrock_proxy:<password>@postgres:5432/bedrock_proxy" in done.stderr


def test_postgres_with_a_password_starts_the_images_own_entrypoint_with_postgres(tmp_path: Path) -> None:
    done = run_postgres_entrypoint(tmp_path, password="s3cret")
    assert (done.returncode, done.stdout) == (0, "started: postgres\n"), done.stderr


DEPLOY_DOC = REPO / "docs" / "deploy.md"
# The seed's own troubleshooting commands: `docker-compose exec litellm env | grep LANGFUSE` and
# `docker-compose exec litellm curl -v $LANGFUSE_HOST/api/public/health`.
SEED_EXEC = {"env", "curl"}
# In the runtime image without installing anything: coreutils, sh, the venv's python and bedrock-proxy.
IN_EVERY_IMAGE = {"env", "sh", "cat", "id", "python", "bedrock-proxy"}


def test_deploy_doc_gives_the_grace_period_docker_compose_yml_sets() -> None:
    grace = compose()["services"]["litellm"]["stop_grace_period"]
    said = re.findall(r"Compose waits up to (\d+) s", DEPLOY_DOC.read_text())
    assert said == [grace.removesuffix("s")], f"docs/deploy.md says {said}, docker-compose.yml has {grace}"


def test_deploy_doc_says_limits_are_counted_in_redis_and_what_happens_without_it() -> None:
    """rpm/tpm, max_parallel_requests and cooldowns count in Redis (tests/router/test_shared_limits_e2e.py);
    without Redis a host's workers share them; the doc must not still say they are per process."""
    text = " ".join(DEPLOY_DOC.read_text().split())
    assert "do **not** use Redis yet" not in text
    assert "every cooldown is counted in Redis" in text
    assert "`NUM_WORKERS=2` never doubles a limit" in text
    assert "`router_settings.redis_fail_mode: closed` refuses requests with 503" in text


def test_every_command_the_docs_and_the_seed_exec_in_the_litellm_service_exists_in_the_image() -> None:
    """`docker compose exec litellm curl ...` only works if the runtime stage installs curl."""
    runtime = (REPO / "Dockerfile").read_text().split(" AS runtime", 1)[1]
    installed = set()
    for packages in re.findall(
        r"apt-get install[^\n]*?((?:\s+[a-z0-9][a-z0-9.+-]*)+)\s*(?:\\|&&|$)", runtime
    ):
        installed |= set(packages.split())
    documented = re.findall(
        r"docker[ -]compose exec litellm (?:sh -c ')?([a-z][\w-]*)", DEPLOY_DOC.read_text()
    )
    commands = SEED_EXEC | set(documented)
    missing = sorted(commands - IN_EVERY_IMAGE - installed)
    assert not missing, f"the image has no {missing}; install them in the Dockerfile's runtime stage"
