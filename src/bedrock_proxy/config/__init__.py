"""The LiteLLM-style config.yaml, read into typed objects: load_config(path) -> Config.

Other packages import from here only: Config, Deployment, Settings, ApiKey, CacheParams, ConfigIssue,
ConfigError, load_config, load_config_text, config_from_dict, inspect_config, format_report, demo_config.
"""

from bedrock_proxy.config.demo import demo_config
from bedrock_proxy.config.issues import ConfigError, ConfigIssue
from bedrock_proxy.config.loader import (
    config_from_dict,
    inspect_config,
    inspect_text,
    load_config,
    load_config_text,
    load_or_report,
)
from bedrock_proxy.config.report import format_report
from bedrock_proxy.config.schema import (
    ROUTING_STRATEGIES,
    SUPPORTED_CALLBACKS,
    ApiKey,
    CacheParams,
    Config,
    Deployment,
    Settings,
)

__all__ = [
    "ROUTING_STRATEGIES",
    "SUPPORTED_CALLBACKS",
    "ApiKey",
    "CacheParams",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "Deployment",
    "Settings",
    "config_from_dict",
    "demo_config",
    "format_report",
    "inspect_config",
    "inspect_text",
    "load_config",
    "load_config_text",
    "load_or_report",
]
