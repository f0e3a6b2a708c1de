"""Builds the real image from the Dockerfile with podman and runs it the way docker-compose.yml does.

No Docker engine and no registry are reachable here, so the python:3.12-slim-bookworm base is replaced by a
stand-in made with debootstrap from the Debian mirror (Debian bookworm with its python3, 3.11, in /usr/bin),
passed through the Dockerfile's own PYTHON_IMAGE build argument. Everything else is the real thing: the build
context and .dockerignore, both stages, the apt-get and pip lines, the ENTRYPOINT, CMD, USER and HEALTHCHECK,
and the container settings of the `litellm` service (read-only root, tmpfs, no capabilities,
no-new-privileges, the gateway-data volume), with the seed's .env, against the Bedrock emulator.
The stand-in base is kept in podman's store between runs (the first run spends about a minute making it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from tests.deploy.seed_env import compose_environment, seed_dotenv
from tests.support.processes import EXAMPLE_KEY_PAIR, emulator_process, free_port

REPO = Path(__file__).resolve().parents[2]
BASE = "localhost/bedrock-proxy-test-base:bookworm"
IMAGE = "localhost/bedrock-proxy:test"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = "python3,python3-venv,python-is-python3,ca-certificates"

pytestmark = pytest.mark.timeout(300)


def podman_command() -> list[str]:
    for tool in ("podman", "runc", "debootstrap"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed; install with: apt-get install -y podman runc debootstrap")
    # runc, not crun: crun refuses hosts with hybrid cgroups (v1 + v2), like this sandbox.
    return ["podman", "--runtime", "runc"]


def run(command: list[str], env: dict[str, str] | None = None, timeout: float = 240) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    command = podman_command()
    conf = tmp_path_factory.mktemp("podman") / "containers.conf"
    # No default rlimits: raising them needs CAP_SYS_RESOURCE, which a sandboxed root may lack.
    conf.write_text("[containers]\ndefault_ulimits = []\n")
    os.environ["CONTAINERS_CONF"] = str(conf)
    try:
        yield command
    finally:
        del os.environ["CONTAINERS_CONF"]


@pytest.fixture(scope="module")
def image(podman: list[str]) -> str:
    if subprocess.run([*podman, "image", "exists", BASE], check=False).returncode != 0:
        with tempfile.TemporaryDirectory(prefix="base-") as root:
            run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={BASE_PACKAGES}",
                    "bookworm",
                    root,
                    DEBIAN_MIRROR,
                ]
            )
            tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
            imported = subprocess.run(
                [*podman, "import", "-", BASE], stdin=tar.stdout, capture_output=True, check=False
            )
            tar.wait()
            assert imported.returncode == 0, imported.stderr
    run(
        [
            *podman, "build", "--format", "docker", "--network", "host",
            # this machine's CA bundle, for pip and apt behind its proxy (a build mount is not in the image)
            "-v", "/etc/ssl/certs:/etc/ssl/certs:ro",
            "--build-arg", f"PYTHON_IMAGE={BASE}", "-t", IMAGE, str(REPO),
        ]
    )  # fmt: skip
    return IMAGE


def compose_run_options() -> list[str]:
    """docker-compose.yml's container settings of the gateway, as podman run options."""
    service = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["litellm"]
    options = ["--read-only"] if service.get("read_only") else []
    options += [f"--tmpfs={path}" for path in service.get("tmpfs", [])]
    options += [f"--cap-drop={cap}" for cap in service.get("cap_drop", [])]
    options += [f"--security-opt={option.replace(':true', '')}" for option in service.get("security_opt", [])]
    return options


def get(url: str, key: str | None = None, body: dict | None = None) -> int:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def wait_ready(url: str, podman: list[str], container: str) -> None:
    deadline = time.monotonic() + 60
    while get(f"{url}/health/readiness") != 200:
        state = run([*podman, "inspect", "--format", "{{.State.Status}}", container]).strip()
        if state != "running" or time.monotonic() > deadline:
            logs = subprocess.run([*podman, "logs", container], capture_output=True, text=True, check=False)
            pytest.fail(f"the container is {state}, not ready:\n{logs.stdout}{logs.stderr}")
        time.sleep(0.3)


def test_the_built_image_runs_the_seeds_compose_path_as_its_user_and_answers_with_the_generated_key(
    image: str, podman: list[str], tmp_path: Path
) -> None:
    port = free_port()
    dotenv = seed_dotenv()
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in dotenv.items()))
    container, volume = f"bedrock-proxy-test-{port}", f"bedrock-proxy-test-data-{port}"
    chat = {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "Bonjour"}]}
    with emulator_process() as emulator:
        overrides = {
            **compose_environment(dotenv),
            "PORT": str(port),
            **EXAMPLE_KEY_PAIR,
            "AWS_BEDROCK_RUNTIME_ENDPOINT": emulator,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        try:
            run(
                [
                    *podman, "run", "-d", "--name", container, "--network", "host",
                    "--env-file", str(env_file),
                    *(f"--env={name}={value}" for name, value in overrides.items()),
                    "-v", f"{volume}:/app/data", *compose_run_options(), image,
                ]
            )  # fmt: skip
            url = f"http://127.0.0.1:{port}"
            wait_ready(url, podman, container)
            key = run([*podman, "exec", container, "cat", "/app/data/master-key"]).strip()
            assert re.fullmatch(r"sk-[0-9a-f]{32}", key)
            assert get(f"{url}/v1/chat/completions", key, chat) == 200
            assert get(f"{url}/v1/chat/completions", None, chat) == 401
            assert run([*podman, "exec", container, "id", "-u"]).strip() == "10001"
            # the seed's check from inside the container: curl is there and reaches the gateway
            inside = run([*podman, "exec", container, "curl", "-sS", f"{url}/health"])
            assert json.loads(inside) == {"status": "healthy"}
            run([*podman, "healthcheck", "run", container])

            run([*podman, "stop", "--time", "60", container], timeout=90)
            assert run([*podman, "inspect", "--format", "{{.State.ExitCode}}", container]).strip() == "0"
            run([*podman, "start", container])
            wait_ready(url, podman, container)
            assert get(f"{url}/v1/chat/completions", key, chat) == 200  # the same key, kept on the volume
            logs = subprocess.run([*podman, "logs", container], capture_output=True, text=True, check=False)
            assert (logs.stdout + logs.stderr).count(key) == 1, "the key is shown once, on first start"
        finally:
            subprocess.run([*podman, "rm", "-f", "-t", "0", container], capture_output=True, check=False)
            subprocess.run([*podman, "volume", "rm", "-f", volume], capture_output=True, check=False)
