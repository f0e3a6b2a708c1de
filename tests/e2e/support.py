"""A real gateway process (output captured to a file), plain HTTP calls to it, and waiting helpers."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import clean_env, free_port

MASTER_KEY = "sk-e2e-master-0123456789"
LANGFUSE_PUBLIC_KEY = "pk-lf-e2e-public"
LANGFUSE_SECRET_KEY = "sk-lf-e2e-secret-9876"
CHAT_MODEL = "claude-3-haiku"
CHAT_MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
EMBED_MODEL = "titan-embed-text-v2"
EMBED_MODEL_ID = "amazon.titan-embed-text-v2:0"
REGION = "eu-west-1"


# the model_list entries of the two models on the emulator (chat and embeddings)
TWO_MODELS = f"""  - model_name: {CHAT_MODEL}
    litellm_params:
      model: bedrock/{CHAT_MODEL_ID}
      aws_region_name: {REGION}
  - model_name: {EMBED_MODEL}
    litellm_params:
      model: bedrock/{EMBED_MODEL_ID}
      aws_region_name: {REGION}
"""


def config_text(litellm_settings: str = "", extra_models: str = "") -> str:
    """Two models on the emulator (chat and embeddings), a master key, and the given litellm_settings."""
    return f"""model_list:
{TWO_MODELS}{extra_models}general_settings:
  master_key: {MASTER_KEY}
litellm_settings:
  num_retries: 0
{litellm_settings}"""


LANGFUSE_SETTINGS = """  success_callback: ["langfuse"]
  failure_callback: ["langfuse"]
"""


def langfuse_env(url: str, **extra: str) -> dict[str, str]:
    return {
        "LANGFUSE_PUBLIC_KEY": LANGFUSE_PUBLIC_KEY,
        "LANGFUSE_SECRET_KEY": LANGFUSE_SECRET_KEY,
        "LANGFUSE_HOST": url,
        "BEDROCK_PROXY_SINK_BACKOFF_MAX_SECONDS": "0.3",
        **extra,
    }


@dataclass
class Gateway:
    url: str
    process: subprocess.Popen
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as a container runtime sends, and the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@contextmanager
def gateway(
    config: str, tmp_path: Path, *, emulator_url: str, env: Mapping[str, str] | None = None
) -> Iterator[Gateway]:
    """`bedrock-proxy serve` as users run it, its output written to a file (a pipe could fill and block)."""
    port = free_port()
    config_path = tmp_path / f"config-{port}.yaml"
    config_path.write_text(config)
    log_path = tmp_path / f"gateway-{port}.log"
    extra = {
        "AWS_BEDROCK_RUNTIME_ENDPOINT": emulator_url,
        "DATABASE_URL": f"sqlite:///{tmp_path}/spend-{port}.db",  # never a ledger in the working tree
        **(env or {}),
    }
    address = ["--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "bedrock_proxy", "serve", "--config", str(config_path), *address],
            env=clean_env(extra),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    running = Gateway(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gateway exited with {process.returncode}:\n{running.output()}")
            try:
                with urllib.request.urlopen(f"{running.url}/health/readiness", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gateway did not start:\n{running.output()}")
            time.sleep(0.05)
        yield running
    finally:
        running.stop()


def langfuse_gateway(
    langfuse_url: str,
    tmp_path: Path,
    *,
    emulator_url: str,
    settings: str = LANGFUSE_SETTINGS,
    extra_models: str = "",
) -> AbstractContextManager[Gateway]:
    """The two models, exporting to the (fake) Langfuse at `langfuse_url` over OTLP; `settings` are the
    litellm_settings (Langfuse's callbacks at least)."""
    return gateway(
        config_text(settings, extra_models=extra_models),
        tmp_path,
        emulator_url=emulator_url,
        env=langfuse_env(langfuse_url),
    )


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    body: Any
    seconds: float


def post(
    url: str, body: dict, *, request_id: str | None = None, key: str = MASTER_KEY, timeout: float = 30
) -> Answer:
    """POST JSON; returns status, headers and the JSON (or SSE text) body whatever the status."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    if request_id:
        headers["x-request-id"] = request_id
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, response_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, response_headers, raw = error.code, error.headers, error.read()
    seconds = time.perf_counter() - started
    text = raw.decode()
    if response_headers.get("content-type", "").startswith("text/event-stream"):
        return Answer(status, response_headers, sse_events(text), seconds)
    return Answer(status, response_headers, json.loads(text) if text else None, seconds)


def sse_events(text: str) -> list[Any]:
    events = []
    for line in text.splitlines():
        if line.startswith("data: "):
            data = line[len("data: ") :]
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


def chat(base: str, request_id: str | None = None, **body: Any) -> Answer:
    body.setdefault("model", CHAT_MODEL)
    body.setdefault("messages", [{"role": "user", "content": "Bonjour, comment vas-tu?"}])
    return post(f"{base}/v1/chat/completions", body, request_id=request_id or new_id())


def new_id() -> str:
    return f"e2e-{uuid.uuid4().hex}"


def get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def metric_samples(base: str) -> list[tuple[str, dict[str, str], float]]:
    """GET /metrics parsed with the Prometheus client's own parser."""
    out = []
    for family in text_string_to_metric_families(get_text(f"{base}/metrics")):
        for sample in family.samples:
            out.append((sample.name, dict(sample.labels), sample.value))
    return out


def metric(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    return sum(
        value
        for sample_name, sample_labels, value in samples
        if sample_name == name and all(sample_labels.get(k) == v for k, v in labels.items())
    )


def sample(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    """The one sample of `name` with these labels; fails when there is none (a gauge never set)."""
    found = [
        value
        for sample_name, sample_labels, value in samples
        if sample_name == name and all(sample_labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) == 1, f"expected one {name} sample with {labels}, found {len(found)}"
    return found[0]


def eventually(condition: Callable[[], Any], timeout: float = 20.0, message: str = "") -> Any:
    """Poll until `condition()` is truthy (generous timeout: the machine is shared); returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or "condition not reached in time")
        time.sleep(0.05)


def drop_a_stream(base: str, request_id: str, *, chunks: int = 3) -> None:
    """Through the OpenAI SDK: a long streamed answer, left after `chunks` chunks (its usage never arrives,
    so the gateway charges an estimate and flags the record usage_estimated)."""
    import openai

    client = openai.OpenAI(base_url=f"{base}/v1", api_key=MASTER_KEY, max_retries=0, timeout=30)
    stream = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "Une longue histoire [[emu:gap=0.2,text=200]]"}],
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-request-id": request_id},
    )
    for read, _ in enumerate(stream, start=1):
        if read == chunks:
            break
    stream.close()
