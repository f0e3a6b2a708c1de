"""The environment the container gets on the seed's manual path: `cp .env.example .env`, fill the three lines
the seed asks for, `docker-compose up -d`. Shared by the replay test and the real image build test."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
# "Remplissez les valeurs requises" in the seed: the only lines it tells users to fill in .env.
SEED_FILLED = {
    "LANGFUSE_PUBLIC_KEY": "pk-lf-xxxxxxxx",
    "LANGFUSE_SECRET_KEY": "sk-lf-xxxxxxxx",
    "LANGFUSE_HOST": "http://localhost:3000",
}
_DEFAULTED = re.compile(r"\$\{(\w+):-([^}]*)\}")


def seed_dotenv() -> dict[str, str]:
    """.env.example's uncommented assignments, with the seed's lines filled in (what env_file passes)."""
    values = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
    return {**values, **SEED_FILLED}


def compose_environment(dotenv: dict[str, str]) -> dict[str, str]:
    """The gateway service's `environment:` of docker-compose.yml, `${VAR:-default}` resolved from .env."""
    service = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["litellm"]
    return {
        name: _DEFAULTED.sub(lambda match: dotenv.get(match[1]) or match[2], str(value))
        for name, value in service["environment"].items()
    }
