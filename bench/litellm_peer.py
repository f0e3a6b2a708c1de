"""The LiteLLM proxy as a peer, in its own virtualenv (bench/.venv-litellm, not committed), pointed at the
same emulators with the same config. Pinned: 1.108.7 (the 1.110 proxy extra needs an unpublished package;
1.82.7 and 1.82.8 were compromised releases and must never be installed)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.processes import GATEWAY_CORE, REPO_ROOT, Server, clean_env, free_port, running

PIN = "litellm[proxy]==1.108.7"
VERSION = "1.108.7"
FORBIDDEN = ("1.82.7", "1.82.8")
VENV = REPO_ROOT / "bench" / ".venv-litellm"
INSTALL_TIMEOUT = 900


class PeerUnavailable(Exception):
    """The peer cannot be measured here; the message is the reason the report prints."""


def _python() -> Path:
    return VENV / "bin" / "python"


def installed_version() -> str | None:
    if not _python().exists():
        return None
    done = subprocess.run(
        [str(_python()), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.strip() or None if done.returncode == 0 else None


def ensure_installed(log: Path) -> str:
    """Create the venv and install the pin if needed; returns the installed version."""
    assert VERSION not in FORBIDDEN
    version = installed_version()
    if version == VERSION:
        return version
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        with log.open("ab") as out:
            if not _python().exists():
                subprocess.run(
                    [sys.executable, "-m", "venv", str(VENV)], check=True, stdout=out, stderr=out, timeout=120
                )
            subprocess.run(
                [str(_python()), "-m", "pip", "install", "--disable-pip-version-check", "-q", PIN],
                check=True,
                stdout=out,
                stderr=out,
                timeout=INSTALL_TIMEOUT,
            )
    except subprocess.TimeoutExpired:
        raise PeerUnavailable(f"pip install '{PIN}' took more than {INSTALL_TIMEOUT} s") from None
    except subprocess.CalledProcessError as exc:
        tail = log.read_text(errors="replace").splitlines()[-5:]
        raise PeerUnavailable(f"pip install '{PIN}' failed ({exc.returncode}): {' | '.join(tail)}") from None
    version = installed_version()
    if version != VERSION:
        raise PeerUnavailable(f"installed litellm is {version!r}, expected {VERSION}")
    return version


@contextlib.contextmanager
def litellm_proxy(config_path: Path, logs: Path, name: str = "litellm") -> Iterator[Server]:
    """`litellm --config F --num_workers 1`, alone on core 0 like our gateway."""
    port = free_port()
    command = [
        str(VENV / "bin" / "litellm"),
        "--config",
        str(config_path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
    ]
    env = clean_env(
        {
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_LOG": "ERROR",
            "LITELLM_TELEMETRY": "False",
            "AWS_REGION_NAME": "eu-west-1",
        }
    )
    env.pop("PYTHONPATH", None)
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(
                running(
                    name,
                    command,
                    core=GATEWAY_CORE,
                    port=port,
                    health_path="/health/liveliness",
                    env=env,
                    logs=logs,
                    timeout=180,
                )
            )
        except RuntimeError as exc:
            raise PeerUnavailable(f"the LiteLLM proxy did not start: {str(exc)[-600:]}") from None
        yield server
