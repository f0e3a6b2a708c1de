"""Load a LiteLLM-style config.yaml into a typed Config, reporting every problem by the key that caused it.

`load_*` raise ConfigError when there is any error (the server must not start on a config it would
misread); `inspect_*` never raise and return the Config with all its issues, for check-config.

environment_variables: each value is put into the environment at load unless that variable is already set
(the real environment wins, so `docker run -e` or .env can override the file), and `os.environ/VAR`
references anywhere else in the file see those values too.
"""

from __future__ import annotations

import os
import re
import sys
from collections import ChainMap
from collections.abc import Mapping, MutableMapping
from typing import Any

from bedrock_proxy.config.coerce import as_mapping, describe, did_you_mean, suggest
from bedrock_proxy.config.deployments import LITELLM_PARAMS, read_model_list
from bedrock_proxy.config.envrefs import resolve_env_refs
from bedrock_proxy.config.issues import ConfigError, ConfigIssue, IssueLog, child
from bedrock_proxy.config.parsers import Context
from bedrock_proxy.config.refs import NameRef
from bedrock_proxy.config.report import format_report
from bedrock_proxy.config.schema import Config, Deployment, Settings
from bedrock_proxy.config.sections import SECTIONS, SettingsReader
from bedrock_proxy.config.windows import check_fallback_window, group_windows
from bedrock_proxy.config.yamlsource import parse_yaml

TOP_LEVEL = ("model_list", "litellm_settings", "router_settings", "general_settings", "environment_variables")
# LiteLLM top-level sections this gateway does not read: saying so beats ignoring them silently.
_UNSUPPORTED_TOP_LEVEL = {
    "include": "error",  # would add models: ignoring it would silently drop them
    "guardrails": "warning",
    "mcp_servers": "warning",
    "credential_list": "warning",
    "files_settings": "warning",
    "assistant_settings": "warning",
    "finetune_settings": "warning",
    "vector_store_registry": "warning",
    "search_tools": "warning",
    "callback_settings": "warning",
}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def load_config(path: str | os.PathLike[str], environ: Mapping[str, str] = os.environ) -> Config:
    """The config at `path`; raises ConfigError listing every error (warnings stay in Config.issues)."""
    return _raise_or_apply(inspect_config(path, environ), environ)


def load_config_text(text: str, environ: Mapping[str, str] = os.environ, source: str = "<string>") -> Config:
    return _raise_or_apply(inspect_text(text, environ, source), environ)


def config_from_dict(data: Any, environ: Mapping[str, str] = os.environ, source: str = "<dict>") -> Config:
    return _raise_or_apply(build_config(data, environ, source), environ)


def inspect_config(path: str | os.PathLike[str], environ: Mapping[str, str] = os.environ) -> Config:
    """Like load_config but never raises for what is in (or missing from) the file."""
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return Config(
            source=source, issues=[ConfigIssue("error", "<file>", f"cannot read {source}: {reason}")]
        )
    except UnicodeDecodeError as exc:
        return Config(
            source=source, issues=[ConfigIssue("error", "<file>", f"{source} is not UTF-8 text: {exc}")]
        )
    return inspect_text(text, environ, source)


def inspect_text(text: str, environ: Mapping[str, str] = os.environ, source: str = "<string>") -> Config:
    parsed = parse_yaml(text)
    if parsed.issues and parsed.data is None:
        return Config(source=source, issues=list(parsed.issues))
    return build_config(parsed.data, environ, source, parsed.lines, parsed.issues)


def build_config(
    data: Any,
    environ: Mapping[str, str] = os.environ,
    source: str = "<dict>",
    lines: Mapping[str, int] | None = None,
    found: list[ConfigIssue] | None = None,
) -> Config:
    """The Config and every issue; never raises for content problems."""
    log = IssueLog(lines)
    log.issues.extend(found or [])
    if data is None:
        log.error("<file>", "the config is empty: it needs at least a model_list")
        return Config(source=source, issues=log.issues)
    if not isinstance(data, dict):
        log.error(
            "<file>",
            f"expected a mapping of sections (model_list, litellm_settings, ...), got {describe(data)}",
        )
        return Config(source=source, issues=log.issues)
    data = {str(key): value for key, value in data.items()}
    own = _read_environment_variables(data.get("environment_variables"), environ, log)
    effective: Mapping[str, str] = ChainMap(dict(environ), own)  # the real environment wins
    ctx = Context(log, effective)
    resolved = {
        key: resolve_env_refs(value, key, effective, log, ctx.env_sources)
        for key, value in data.items()
        if key != "environment_variables"
    }
    deployments = read_model_list(resolved.get("model_list"), ctx) if "model_list" in data else []
    if "model_list" not in data:
        log.error(
            "model_list",
            "missing: add a model_list with at least one model (model_name + litellm_params.model)",
        )
    reader = SettingsReader(ctx, LITELLM_PARAMS)
    for key, value in resolved.items():
        if key in SECTIONS:
            reader.read_section(key, value)
        elif key in _UNSUPPORTED_TOP_LEVEL:
            level = _UNSUPPORTED_TOP_LEVEL[key]
            message = f"the LiteLLM section {key} is not supported by this gateway"
            if level == "error":
                log.error(key, f"{message}: copy the included model_list entries into this file")
            else:
                log.warning(key, f"{message}, ignored")
        elif key != "model_list":
            log.warning(key, f"unknown top-level section, ignored{did_you_mean(key, TOP_LEVEL, 0.6)}")
    settings, _ = reader.build()
    _check_names(ctx.refs, deployments, settings, log, ctx.unusable_names)
    return Config(deployments, settings, log.issues, source, dict(own))


def _read_environment_variables(value: Any, environ: Mapping[str, str], log: IssueLog) -> dict[str, str]:
    body = as_mapping(value, "environment_variables", log, what="a mapping of NAME: value")
    if not isinstance(body, dict):
        return {}
    own: dict[str, str] = {}
    for name, item in body.items():
        name = str(name)
        path = child("environment_variables", name)
        if not _ENV_NAME.match(name):
            log.error(path, "is not a valid environment variable name (letters, digits and _ only)")
            continue
        item = resolve_env_refs(item, path, environ, log)
        if item is None:
            continue
        if isinstance(item, bool):
            text = "true" if item else "false"
        elif isinstance(item, str | int | float):
            text = str(item)
        else:
            log.error(path, f"expected text or a number, got {describe(item)}")
            continue
        if name in environ and environ[name] != text:
            log.warning(path, f"{name} is already set in the environment, whose value is used instead")
        own[name] = text
    return own


def _check_names(
    refs: list[NameRef], deployments: list[Deployment], settings: Settings, log: IssueLog, unusable: set[str]
) -> None:
    """Every model name a setting mentions must exist; aliases are replaced by the names they stand for.

    Names whose model_list entries were already reported as broken are not reported again here.
    """
    modes = {deployment.model_name: deployment.mode for deployment in deployments}
    aliases = settings.model_group_alias
    for alias in aliases:
        if alias in modes:
            log.warning(
                f"router_settings.model_group_alias.{alias}",
                f"{alias!r} is also a model_name: requests for it go to {aliases[alias]!r} and the "
                f"model_list entries named {alias!r} are never used",
            )
    known = list(modes) + [alias for alias in aliases if alias not in modes]
    windows = group_windows(deployments)
    for ref in refs:
        valid = modes if ref.role == "alias target" else known
        if ref.name not in valid and ref.name in unusable:
            continue
        if ref.name not in valid:
            closest = suggest(ref.name, valid, 0.6)
            hint = f" (did you mean {closest!r}?)" if closest else f"; model names: {', '.join(modes)}"
            log.error(ref.path, f"{ref.role} {ref.name!r} is not a model_name in model_list{hint}")
            continue
        if ref.role != "fallback target" or ref.source is None:
            continue
        source, target = aliases.get(ref.source, ref.source), aliases.get(ref.name, ref.name)
        if source == target:
            log.warning(ref.path, f"{ref.source!r} falls back to itself, ignored")
        elif source in modes and modes[source] != modes[target]:
            log.error(
                ref.path,
                f"{ref.source!r} is {_a(modes[source])} model but its fallback {ref.name!r} is "
                f"{_a(modes[target])} model: a request for one cannot be served by the other",
            )
        else:
            check_fallback_window(ref, source, target, windows, log)
    for kind in ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks"):
        setattr(settings, kind, _normalise_table(getattr(settings, kind), aliases, modes))
    settings.default_fallbacks = [
        aliases.get(name, name) for name in settings.default_fallbacks if aliases.get(name, name) in modes
    ]
    settings.model_group_alias = {alias: target for alias, target in aliases.items() if target in modes}


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _normalise_table(
    table: dict[str, list[str]], aliases: Mapping[str, str], modes: Mapping[str, str]
) -> dict[str, list[str]]:
    normalised: dict[str, list[str]] = {}
    for source, targets in table.items():
        source = aliases.get(source, source)
        if source not in modes:
            continue
        merged = normalised.setdefault(source, [])
        for target in targets:
            target = aliases.get(target, target)
            if (
                target in modes
                and target != source
                and modes[target] == modes[source]
                and target not in merged
            ):
                merged.append(target)
    return {source: targets for source, targets in normalised.items() if targets}


def _raise_or_apply(config: Config, environ: Mapping[str, str]) -> Config:
    if any(issue.level == "error" for issue in config.issues):
        raise ConfigError(config.issues, config.source)
    apply_environment_variables(config, environ)
    return config


def apply_environment_variables(config: Config, environ: Mapping[str, str]) -> None:
    """The config's `environment_variables:` section into `environ`, where the environment does not set them
    already (the real environment wins)."""
    if isinstance(environ, MutableMapping):
        for name, value in config.environment_variables.items():
            environ.setdefault(name, value)


def load_or_report(path: str, command: str, advice: str) -> Config | None:
    """For commands: the config, or None after printing its errors (or that the file is missing) to stderr."""
    try:
        return load_config(path)
    except ConfigError as error:
        print(format_report(error.issues), file=sys.stderr)
        print(f"{command}: {path} has errors; {advice}", file=sys.stderr)
    except FileNotFoundError:
        print(f"{command}: config file {path} not found.", file=sys.stderr)
    return None
