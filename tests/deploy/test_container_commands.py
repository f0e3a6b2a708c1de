"""The image's install and start commands, run the way the image runs them, without a container engine.

test_image_build.py builds and runs the real image where podman is installed; this test needs no engine, so
it runs everywhere. It replays the Dockerfile itself: it reads the build stage's RUN lines and the runtime's
USER, ENV, ENTRYPOINT, CMD and HEALTHCHECK, runs the same command lines in a throwaway root (paths under
/opt/venv and /app moved into it), and starts the gateway as the image's unprivileged uid in a directory it
cannot write to, with the environment of the seed's manual Compose path, against the Bedrock emulator.
It needs PyPI (the install line resolves the runtime dependencies, like `docker build` does).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tests.deploy.seed_env import compose_environment, seed_dotenv
from tests.support.processes import EXAMPLE_KEY_PAIR, emulator_process

REPO = Path(__file__).resolve().parents[2]
# Any user can run this interpreter, like the image's /usr/local/bin/python (ours may live under /root).
SYSTEM_PYTHON = "/usr/bin/python3"
MINIMAL_CONFIG = """\
model_list:
  - model_name: claude-3-haiku
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
"""

pytestmark = pytest.mark.timeout(240)


@dataclass
class Stage:
    name: str
    workdir: str = "/"
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse_dockerfile(path: Path) -> dict[str, Stage]:
    """Stages by name, each with its instructions (continuation lines joined, comments dropped)."""
    logical, pending = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            current = Stage(name=args.split()[-1])
            stages[current.name] = current
        elif current is not None:
            current.instructions.append((keyword, args.strip()))
            if keyword == "WORKDIR":
                current.workdir = args.strip()
    return stages


def env_assignments(args: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in shlex.split(args))


def network_settings() -> dict[str, str]:
    """The package index settings and proxies of this machine, which `docker build` would use as well."""
    return {
        name: value
        for name, value in os.environ.items()
        if name.startswith("PIP_")
        or name.lower().endswith("_proxy")
        or name in ("SSL_CERT_FILE", "SSL_CERT_DIR")
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def liveliness(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/liveliness", timeout=2) as answer:
            return answer.status
    except (urllib.error.URLError, OSError):
        return None


@dataclass
class Image:
    """The Dockerfile replayed under `root`: what the build produced and how the runtime stage starts it."""

    root: Path
    runtime: Stage
    user: tuple[int, int]

    def path(self, in_image: str) -> str:
        return str(self.root) + in_image

    def rewrite(self, text: str) -> str:
        return text.replace("/opt/venv", self.path("/opt/venv")).replace("/app/", self.path("/app/"))

    def environment(self, **overrides: str) -> dict[str, str]:
        env = {"PATH": "/usr/bin:/bin", "HOME": self.path("/app")}
        for args in self.runtime.all("ENV"):
            for key, value in env_assignments(args).items():
                env[key] = self.rewrite(value.replace("$PATH", env["PATH"]))
        env.update(overrides)
        return env

    def as_image_user(self) -> list[str]:
        if os.geteuid() != 0:
            return []
        uid, gid = self.user
        return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]

    def command(self, keyword: str) -> list[str]:
        (args,) = self.runtime.all(keyword)
        if keyword == "HEALTHCHECK":
            args = args.split(" CMD ", 1)[1]
        return [self.rewrite(part) for part in json.loads(args)]

    def start_command(self) -> list[str]:
        """What `docker run` executes: ENTRYPOINT, then CMD as its arguments."""
        return self.command("ENTRYPOINT") + self.command("CMD")


def copy_into(stage: Stage, args: str, context: Path, root: Path) -> None:
    *sources, target = args.split()
    destination = (
        root / stage.workdir.lstrip("/") / target if not target.startswith("/") else root / target[1:]
    )
    for source in sources:
        origin = context / source
        if origin.is_dir():
            shutil.copytree(origin, destination, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            destination.mkdir(parents=True, exist_ok=True) if target.endswith("/") else None
            shutil.copy2(origin, destination / source if target.endswith("/") else destination)


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    if not Path(SYSTEM_PYTHON).exists():
        pytest.fail(f"{SYSTEM_PYTHON} is required (apt-get install -y python3 python3-venv)")
    stages = parse_dockerfile(REPO / "Dockerfile")
    build, runtime = stages["build"], stages["runtime"]
    root = Path(tempfile.mkdtemp(prefix="image-"))
    root.chmod(0o755)
    try:
        image = Image(root, runtime, user=(0, 0))
        (root / build.workdir.lstrip("/")).mkdir(parents=True)
        for keyword, args in build.instructions:
            if keyword == "COPY":
                copy_into(build, args, REPO, root)
            elif keyword == "RUN":
                line = re.sub(r"^python ", f"{SYSTEM_PYTHON} ", image.rewrite(args))
                env = {"HOME": str(root), **image.environment(), **network_settings()}
                for env_args in build.all("ENV"):
                    env.update(env_assignments(env_args))
                done = subprocess.run(
                    ["sh", "-c", line],
                    cwd=root / build.workdir.lstrip("/"),
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                assert done.returncode == 0, f"build step failed: RUN {args}\n{done.stdout}\n{done.stderr}"
        for keyword, args in runtime.instructions:
            if keyword == "COPY" and not args.startswith("--from"):
                source, target = args.split()
                if source == "config.yaml":
                    continue  # written below: the repository's config.yaml, or a minimal one until it lands
                Path(image.path(target)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / source, image.path(target))
        uid, gid = (int(part) for part in runtime.all("USER")[0].split(":"))
        image.user = (uid, gid)
        config = Path(image.path("/app/config.yaml"))
        config.parent.mkdir(parents=True, exist_ok=True)
        repo_config = REPO / "config.yaml"
        config.write_text(repo_config.read_text() if repo_config.exists() else MINIMAL_CONFIG)
        for path in [root, *root.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o444 | (0o111 if path.is_dir() else 0))
        data = Path(image.path("/app/data"))  # the runtime RUN line: the one directory the user owns
        data.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(data, uid, gid)
        yield image
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_image_install_line_puts_the_bedrock_proxy_command_in_the_venv(image: Image) -> None:
    command = Path(image.path("/opt/venv/bin/bedrock-proxy"))
    assert command.exists() and os.access(command, os.X_OK)
    done = subprocess.run(
        [*image.as_image_user(), str(command), "--help"],
        env=image.environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "serve" in done.stdout and "doctor" in done.stdout


def request(url: str, key: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_image_starts_on_the_seeds_manual_compose_path_serves_the_emulator_and_drains_on_sigterm(
    image: Image,
) -> None:
    """`cp .env.example .env`, only the seed's Langfuse lines filled, `docker-compose up -d`: the entrypoint
    makes the master key deploy.sh would have written, the gateway becomes ready and answers with it."""
    port = free_port()
    dotenv = seed_dotenv()
    assert dotenv["LITELLM_MASTER_KEY"] == ""  # the case this test is about
    in_container = {**dotenv, **compose_environment(dotenv), "PORT": str(port), **EXAMPLE_KEY_PAIR}
    with emulator_process() as emulator:
        env = image.environment(
            **{name: image.rewrite(value) for name, value in in_container.items()},
            AWS_BEDROCK_RUNTIME_ENDPOINT=emulator,
            AWS_EC2_METADATA_DISABLED="true",
        )
        gateway = subprocess.Popen(
            [*image.as_image_user(), *image.start_command()],
            cwd=image.path("/app"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while liveliness(port) != 200:
                assert gateway.poll() is None, f"the gateway exited: {gateway.stdout.read()}"  # type: ignore[union-attr]
                if time.monotonic() > deadline:
                    gateway.kill()
                    pytest.fail(f"no /health/liveliness answer within 30 s:\n{gateway.communicate()[0]}")
                time.sleep(0.1)
            assert request(f"{base}/health/readiness")[0] == 200
            key_file = Path(env["GENERATED_MASTER_KEY_FILE"])
            key = key_file.read_text().strip()
            assert re.fullmatch(r"sk-[0-9a-f]{32}", key), key
            assert key_file.stat().st_mode & 0o077 == 0, "the generated key is readable by other users"
            chat = {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "Bonjour"}]}
            status, answer = request(f"{base}/v1/chat/completions", key, chat)
            assert status == 200, answer
            assert "Bonjour" in answer["choices"][0]["message"]["content"]
            assert request(f"{base}/v1/chat/completions", None, chat)[0] == 401
            check = subprocess.run(
                [*image.as_image_user(), *image.command("HEALTHCHECK")],
                env=env,
                capture_output=True,
                check=False,
            )
            assert check.returncode == 0, check.stderr

            gateway.send_signal(signal.SIGTERM)
            assert gateway.wait(timeout=35) == 0
            logs = gateway.stdout.read()  # type: ignore[union-attr]
            assert logs.count(key) == 1, "the generated key is shown exactly once, on first start"
            stopped = subprocess.run(
                [*image.as_image_user(), *image.command("HEALTHCHECK")],
                env=env,
                capture_output=True,
                check=False,
            )
            assert stopped.returncode == 1
        finally:
            if gateway.poll() is None:
                gateway.kill()
                gateway.wait()
