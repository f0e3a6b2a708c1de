"""scripts/deploy.sh against a stand-in `docker` that records what it was asked to do.

Each test copies the script into a throwaway project directory, puts the stand-in first on a PATH that holds
no real Docker, and reads back the recorded calls: what an operator would see happen on the host.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAKE = Path(__file__).with_name("fake_docker.sh")
HEALTHY_DOCKER = {"FAKE_DOCKER_SERVER": "27.3.1", "FAKE_COMPOSE": "2.29.7"}


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    calls: list[str]
    project: Path

    def env_file(self) -> dict[str, str]:
        pairs = {}
        for line in (self.project / ".env").read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                pairs[key.strip()] = value
        return pairs

    def index_of(self, prefix: str) -> int:
        return next(i for i, call in enumerate(self.calls) if call.startswith(prefix))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "scripts").mkdir(parents=True)
    shutil.copy2(REPO / "scripts" / "deploy.sh", root / "scripts" / "deploy.sh")
    shutil.copy2(REPO / ".env.example", root / ".env.example")
    (root / "config.yaml").write_text("model_list: []\n")
    return root


def install_fakes(bin_dir: Path, tools: tuple[str, ...]) -> None:
    bin_dir.mkdir(exist_ok=True)
    for tool in tools:
        target = bin_dir / tool
        shutil.copy2(FAKE, target)
        target.chmod(target.stat().st_mode | stat.S_IXUSR)


def deploy(
    project: Path,
    scenario: dict[str, str],
    tools: tuple[str, ...] = ("docker", "curl"),
    with_env: bool = True,
    rerun: bool = False,
) -> Run:
    if with_env and not (project / ".env").exists():
        shutil.copy2(project / ".env.example", project / ".env")
    bin_dir = project.parent / "bin"
    install_fakes(bin_dir, tools)
    log = project.parent / "docker-calls.log"
    if not rerun:
        log.write_text("")
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(project.parent),
        "FAKE_DOCKER_LOG": str(log),
        "HEALTH_INTERVAL": "0",
        **scenario,
    }
    done = subprocess.run(
        ["bash", str(project / "scripts" / "deploy.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr, log.read_text().splitlines(), project)


def compose_calls(run: Run) -> list[str]:
    return [call.removeprefix("docker compose ") for call in run.calls if call.startswith("docker compose ")]


def test_deploy_without_docker_says_how_to_install_it(project: Path) -> None:
    run = deploy(project, HEALTHY_DOCKER, tools=("curl",))
    assert run.returncode != 0
    assert "Docker is not installed" in run.stderr
    assert "dnf install -y docker" in run.stderr


def test_deploy_with_a_stopped_docker_daemon_says_how_to_start_it(project: Path) -> None:
    run = deploy(project, {"FAKE_DOCKER_SERVER": "", "FAKE_COMPOSE": "2.29.7"})
    assert run.returncode != 0
    assert "daemon does not answer" in run.stderr
    assert "systemctl enable --now docker" in run.stderr


@pytest.mark.parametrize(
    ("scenario", "tools", "message"),
    [
        (
            {"FAKE_DOCKER_SERVER": "19.03.15", "FAKE_COMPOSE": "2.29.7"},
            ("docker",),
            "Docker 19.03.15 is too old",
        ),
        (
            {"FAKE_DOCKER_SERVER": "27.3.1", "FAKE_COMPOSE": ""},
            ("docker",),
            "Docker Compose is not installed",
        ),
        (
            {"FAKE_DOCKER_SERVER": "27.3.1", "FAKE_COMPOSE": "", "FAKE_STANDALONE": "1.29.2"},
            ("docker", "docker-compose"),
            "Docker Compose 1.29.2 is too old",
        ),
    ],
    ids=["old-docker", "no-compose", "compose-v1"],
)
def test_deploy_refuses_docker_or_compose_it_cannot_work_with(
    project: Path, scenario: dict[str, str], tools: tuple[str, ...], message: str
) -> None:
    run = deploy(project, scenario, tools=tools)
    assert run.returncode != 0
    assert message in run.stderr
    assert not any(" build" in call for call in run.calls)


def test_deploy_uses_standalone_docker_compose_v2_when_the_plugin_is_missing(project: Path) -> None:
    scenario = {"FAKE_DOCKER_SERVER": "24.0.5", "FAKE_COMPOSE": "", "FAKE_STANDALONE": "v2.24.0"}
    run = deploy(project, scenario, tools=("docker", "docker-compose", "curl"))
    assert run.returncode == 0, run.stderr
    assert "docker-compose build --pull litellm" in run.calls
    assert "docker-compose up -d --remove-orphans litellm" in run.calls


def test_deploy_without_env_file_tells_to_copy_the_example_and_builds_nothing(project: Path) -> None:
    run = deploy(project, HEALTHY_DOCKER, with_env=False)
    assert run.returncode != 0
    assert ".env is missing" in run.stderr
    assert "cp .env.example .env" in run.stderr
    assert compose_calls(run) == ["version --short"]
    assert not (project / ".env").exists()


def test_deploy_builds_checks_with_doctor_in_the_image_then_starts_and_waits_for_health(
    project: Path,
) -> None:
    run = deploy(project, {**HEALTHY_DOCKER, "FAKE_HEALTH": "starting starting healthy"})
    assert run.returncode == 0, run.stderr
    build = run.index_of("docker compose build --pull litellm")
    doctor = run.index_of(
        "docker compose run --rm --no-deps litellm bedrock-proxy doctor --config /app/config.yaml"
    )
    up = run.index_of("docker compose up -d --remove-orphans litellm")
    assert build < doctor < up
    assert sum(call.startswith("docker inspect") for call in run.calls) == 3
    assert "curl -sS --max-time 10 http://localhost:4002/health" in run.calls
    assert "docker compose logs -f litellm" in run.stdout


def test_deploy_generates_the_master_key_once_and_keeps_it_when_rerun(project: Path) -> None:
    first = deploy(project, HEALTHY_DOCKER)
    assert first.returncode == 0, first.stderr
    key = first.env_file()["LITELLM_MASTER_KEY"]
    assert key.startswith("sk-") and len(key) == 3 + 48
    assert first.stdout.count(key) == 1
    assert stat.S_IMODE((project / ".env").stat().st_mode) == 0o600

    second = deploy(project, HEALTHY_DOCKER, rerun=True)
    assert second.returncode == 0, second.stderr
    assert second.env_file()["LITELLM_MASTER_KEY"] == key
    assert key not in second.stdout
    assert sum(call == "docker compose up -d --remove-orphans litellm" for call in second.calls) == 2


def test_deploy_keeps_an_operator_chosen_master_key(project: Path) -> None:
    text = (
        (project / ".env.example")
        .read_text()
        .replace("LITELLM_MASTER_KEY=\n", "LITELLM_MASTER_KEY=sk-mine\n")
    )
    (project / ".env").write_text(text)
    run = deploy(project, HEALTHY_DOCKER)
    assert run.returncode == 0, run.stderr
    assert run.env_file()["LITELLM_MASTER_KEY"] == "sk-mine"
    assert "Generated a master key" not in run.stdout


def test_deploy_leaves_the_running_gateway_alone_when_doctor_finds_blocking_problems(project: Path) -> None:
    run = deploy(project, {**HEALTHY_DOCKER, "FAKE_DOCTOR_RC": "1"})
    assert run.returncode != 0
    assert "doctor found problems" in run.stderr
    assert not any(call.startswith("docker compose up") for call in run.calls)


def test_deploy_shows_the_gateway_logs_when_the_start_is_unhealthy(project: Path) -> None:
    run = deploy(project, {**HEALTHY_DOCKER, "FAKE_HEALTH": "starting unhealthy"})
    assert run.returncode != 0
    assert "The gateway is unhealthy" in run.stderr
    assert "config error: boom" in run.stderr
    assert "docker compose logs --tail 50 litellm" in run.calls
    assert not any(call.startswith("curl") for call in run.calls)


def test_deploy_gives_up_after_the_health_timeout(project: Path) -> None:
    run = deploy(project, {**HEALTHY_DOCKER, "FAKE_HEALTH": "starting", "HEALTH_TIMEOUT": "0"})
    assert run.returncode != 0
    assert "did not become healthy within 0s" in run.stderr
    assert "docker compose logs --tail 50 litellm" in run.calls


def test_deploy_starts_profile_services_before_doctor_and_generates_the_database_password(
    project: Path,
) -> None:
    text = (
        (project / ".env.example")
        .read_text()
        .replace("COMPOSE_PROFILES=\n", "COMPOSE_PROFILES=redis,postgres\n")
    )
    (project / ".env").write_text(text)
    run = deploy(project, {**HEALTHY_DOCKER, "FAKE_SERVICES": "litellm redis postgres"})
    assert run.returncode == 0, run.stderr
    assert run.index_of("docker compose up -d redis postgres") < run.index_of("docker compose run --rm")
    values = run.env_file()
    assert len(values["POSTGRES_PASSWORD"]) == 32
    assert values["DATABASE_URL"] == (
        f"postgresql://bedrock_proxy:{values['POSTGRES_PASSWORD']}@postgres:5432/bedrock_proxy"
    )


def test_deploy_script_is_executable_for_the_readme_command() -> None:
    assert os.access(REPO / "scripts" / "deploy.sh", os.X_OK)
