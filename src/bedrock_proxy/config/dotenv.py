"""`.env` beside the config (or in the working directory), read the way Docker Compose reads it.

The seed and .env.example tell users to put their keys in `.env`; Compose passes that file to the container,
but `bedrock-proxy serve` on a host (systemd, a notebook server) would otherwise never see it. Variables
already in the environment win over the file, as they do for Compose, so `docker run -e` and systemd's
`Environment=` still override it.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path

FILE_NAME = ".env"
ENV_FILE_VAR = "BEDROCK_PROXY_ENV_FILE"  # a path to read instead, or "none" to read no file


@dataclass(frozen=True, slots=True)
class DotenvResult:
    path: Path | None  # the file read, None when there is none
    applied: tuple[str, ...] = ()  # variables taken from the file
    overridden: tuple[str, ...] = ()  # variables in the file that the environment already set
    problems: tuple[str, ...] = ()  # lines that are not KEY=VALUE, as "line N: why"


def find_dotenv(config_path: str | os.PathLike[str] | None, chosen: str | None = None) -> Path | None:
    """`chosen` (--env-file or BEDROCK_PROXY_ENV_FILE; "none" for no file), else the `.env` in the config
    file's directory, else in the working directory, else None."""
    if chosen:
        return None if chosen.strip().lower() == "none" else Path(chosen)
    folders = []
    if config_path is not None:
        folders.append(Path(config_path).resolve().parent)
    folders.append(Path.cwd())
    for folder in folders:
        candidate = folder / FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def parse_dotenv(text: str) -> tuple[dict[str, str], list[str]]:
    """KEY=VALUE lines; `#` comments, blank lines and an `export ` prefix are allowed; single-quoted values
    are literal, double-quoted ones understand \\n, \\t, \\" and \\\\; an unquoted value ends at ` #`."""
    values: dict[str, str] = {}
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not name or not (name.replace("_", "a").isalnum() and not name[0].isdigit()):
            problems.append(f"line {number}: expected NAME=value, got {raw.strip()[:40]!r}")
            continue
        values[name] = _value(value.strip())
    return values, problems


def _value(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1]
    if len(value) >= 2 and value[0] == value[-1] == '"':
        inner = value[1:-1]
        escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
        out, chars = [], iter(inner)
        for char in chars:
            if char == "\\":
                following = next(chars, "")
                out.append(escapes.get(following, "\\" + following))
            else:
                out.append(char)
        return "".join(out)
    comment = value.find(" #")
    return (value[:comment] if comment >= 0 else value).rstrip()


def apply_dotenv(
    config_path: str | os.PathLike[str] | None,
    environ: MutableMapping[str, str] | None = None,
    env_file: str | None = None,
) -> DotenvResult:
    """Set each variable of the `.env` found for `config_path` that `environ` (os.environ) does not set."""
    environ = os.environ if environ is None else environ
    path = find_dotenv(config_path, env_file or environ.get(ENV_FILE_VAR))
    if path is None:
        return DotenvResult(None)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return DotenvResult(path, problems=(f"cannot read it: {exc}",))
    values, problems = parse_dotenv(text)
    applied, overridden = [], []
    for name, value in values.items():
        if name in environ:
            overridden.append(name)
        else:
            environ[name] = value
            applied.append(name)
    return DotenvResult(path, tuple(applied), tuple(overridden), tuple(problems))


def describe(result: DotenvResult) -> str | None:
    """One line for the start-up output, or None when no file was found."""
    if result.path is None:
        return None
    parts = [f"read {len(result.applied)} variable(s) from {result.path}"]
    if result.overridden:
        parts.append(f"the environment's own value wins for {', '.join(result.overridden)}")
    if result.problems:
        parts.append(f"ignored {'; '.join(result.problems)}")
    return "; ".join(parts)
