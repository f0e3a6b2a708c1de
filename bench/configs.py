"""The one config.yaml both gateways read (LiteLLM's format is ours): one model per upstream behaviour,
each deployment pointed at its own emulator with `aws_bedrock_runtime_endpoint`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.payloads import CHAT_MODEL_ID, EMBED_MODEL_ID

MASTER_KEY = "sk-bench-7f3c9a1e5b2d4c6f8a0b"
LANGFUSE_PUBLIC_KEY = "pk-lf-bench"
LANGFUSE_SECRET_KEY = "sk-lf-bench"


@dataclass(frozen=True)
class Upstreams:
    """Base URLs of the emulators: zero delay, 50 ms answers, paced streams, 20 ms embeddings."""

    fast: str
    slow: str
    stream: str
    embed: str


MODELS = {
    "bench-fast": ("fast", CHAT_MODEL_ID),
    "bench-slow": ("slow", CHAT_MODEL_ID),
    "bench-stream": ("stream", CHAT_MODEL_ID),
    "bench-embed": ("embed", EMBED_MODEL_ID),
}


def config_dict(upstreams: Upstreams, *, observability: bool = False) -> dict:
    models = [
        {
            "model_name": name,
            "litellm_params": {
                "model": f"bedrock/{model_id}",
                "aws_region_name": "eu-west-1",
                "aws_bedrock_runtime_endpoint": getattr(upstreams, upstream),
            },
        }
        for name, (upstream, model_id) in MODELS.items()
    ]
    config: dict = {
        "model_list": models,
        "general_settings": {
            "master_key": MASTER_KEY,
            # LiteLLM only (ours warns and ignores it): the key above is strong, this keeps LiteLLM quiet
            "dangerously_permit_weak_or_unset_master_key": True,
        },
        "litellm_settings": {"drop_params": True},
    }
    if observability:
        config["litellm_settings"]["success_callback"] = ["langfuse", "prometheus"]
    return config


def write_config(path: Path, upstreams: Upstreams, *, observability: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config_dict(upstreams, observability=observability), sort_keys=False))
    return path


def langfuse_env(host: str) -> dict[str, str]:
    return {
        "LANGFUSE_PUBLIC_KEY": LANGFUSE_PUBLIC_KEY,
        "LANGFUSE_SECRET_KEY": LANGFUSE_SECRET_KEY,
        "LANGFUSE_HOST": host,
    }
