"""`bedrock-proxy doctor` against the Bedrock emulator and the fake Langfuse server: what operators read."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bedrock_proxy.config import load_config
from bedrock_proxy.doctor import FAIL, OK, WARN, Check, run_doctor
from bedrock_proxy.emulator.options import EmulatorOptions
from bedrock_proxy.emulator.server import RunningEmulator, start_in_thread
from tests.cache.redis_server import tls_redis_server
from tests.fakes.langfuse_server import FakeLangfuse

EXAMPLE_KEYS = {
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
}
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
OPUS = "anthropic.claude-3-opus-20240229-v1:0"
SONNET_37 = "anthropic.claude-3-7-sonnet-20250219-v1:0"


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with start_in_thread(EmulatorOptions()) as running:
        yield running


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, emulator: RunningEmulator, tmp_path: Path) -> dict[str, str]:
    """Credentials the emulator accepts, every AWS endpoint on loopback, nothing read from this machine."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "LANGFUSE_", "REDIS_")) or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    values = {
        **EXAMPLE_KEYS,
        "AWS_REGION": "eu-west-1",
        "AWS_BEDROCK_RUNTIME_ENDPOINT": emulator.url,
        "AWS_BEDROCK_ENDPOINT": emulator.url,
        "AWS_ENDPOINT_URL_STS": emulator.url,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def model_entry(name: str, model_id: str, extra: str = "") -> str:
    return (
        f"  - model_name: {name}\n"
        f"    litellm_params:\n"
        f"      model: bedrock/{model_id}\n"
        f"      aws_region_name: eu-west-1\n{extra}"
    )


def doctor(tmp_path: Path, *entries: str, settings: str = "") -> list[Check]:
    path = tmp_path / "config.yaml"
    path.write_text("model_list:\n" + "".join(entries) + settings)
    return run_doctor(load_config(str(path)))


def row(checks: list[Check], subject: str) -> Check:
    return next(check for check in checks if check.subject == subject)


def test_doctor_passes_when_every_model_is_invocable_on_demand_or_via_a_profile(
    tmp_path: Path, aws_env: dict[str, str]
) -> None:
    checks = doctor(
        tmp_path,
        model_entry("claude-3-haiku", HAIKU),
        model_entry("eu-sonnet", "eu.anthropic.claude-3-5-sonnet-20240620-v1:0"),
        model_entry(
            "titan-embed-text-v2", "amazon.titan-embed-text-v2:0", "    model_info:\n      mode: embedding\n"
        ),
    )
    assert not any(check.blocking for check in checks), checks
    assert "environment keys" in row(checks, "AWS credentials").detail
    assert "identity unknown" in row(checks, "AWS credentials").detail  # the emulator has no STS
    assert "invocable on-demand" in row(checks, "model claude-3-haiku").detail
    assert "invocable via inference profile" in row(checks, "model eu-sonnet").detail
    assert row(checks, "model titan-embed-text-v2").status == OK


def test_doctor_names_the_inference_profile_to_use_for_a_model_that_is_not_on_demand(
    tmp_path: Path, aws_env: dict[str, str]
) -> None:
    checks = doctor(tmp_path, model_entry("claude-3-7-sonnet", SONNET_37))
    sonnet = row(checks, "model claude-3-7-sonnet")
    assert sonnet.status == FAIL
    assert "needs an inference profile" in sonnet.detail
    assert f"model: bedrock/eu.{SONNET_37}" in sonnet.fix


@pytest.mark.parametrize(
    "model_id",
    [f"eu.{OPUS}", "eu.anthropic.claude-3-5-sonnet-20241022-v2:0", OPUS],
    ids=["eu-opus", "eu-sonnet-v2", "raw-opus"],
)
def test_doctor_flags_a_model_the_eu_lacks_and_points_at_config_yamls_substitute(
    tmp_path: Path, aws_env: dict[str, str], model_id: str
) -> None:
    checks = doctor(tmp_path, model_entry("claude-3-opus", model_id))
    opus = row(checks, "model claude-3-opus")
    assert opus.status == FAIL
    assert "not offered in eu-west-1" in opus.detail
    assert "is not offered in the EU" in opus.fix
    assert "use model: bedrock/eu.anthropic.claude-3-5-sonnet-20240620-v1:0 instead" in opus.fix
    assert f"eu.{OPUS}" not in opus.fix.replace(model_id, "")


def test_doctor_says_a_model_is_not_offered_in_the_region(tmp_path: Path, aws_env: dict[str, str]) -> None:
    checks = doctor(tmp_path, model_entry("bogus", "acme.nothing-v1"))
    bogus = row(checks, "model bogus")
    assert bogus.status == FAIL
    assert "not offered in eu-west-1" in bogus.detail
    assert "list-foundation-models --region eu-west-1" in bogus.fix


@pytest.mark.parametrize(
    ("fault", "status", "detail", "fix"),
    [
        ("access-denied", FAIL, "model access not granted", "Model access"),
        ("throttling", WARN, "reachable and allowed, but ThrottlingException", ""),
    ],
)
def test_doctor_explains_what_bedrock_answered_to_the_probe(
    tmp_path: Path,
    aws_env: dict[str, str],
    emulator: RunningEmulator,
    fault: str,
    status: str,
    detail: str,
    fix: str,
) -> None:
    endpoint = f"      aws_bedrock_runtime_endpoint: {emulator.url}/_emu/fault={fault}\n"
    checks = doctor(tmp_path, model_entry("claude-3-haiku", HAIKU, endpoint))
    haiku = row(checks, "model claude-3-haiku")
    assert haiku.status == status
    assert detail in haiku.detail
    assert fix in haiku.fix


def test_doctor_without_any_credentials_blocks_and_explains_the_metadata_hop_limit(
    tmp_path: Path, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    checks = doctor(tmp_path, model_entry("claude-3-haiku", HAIKU))
    credentials = row(checks, "AWS credentials")
    assert credentials.status == FAIL
    assert "no AWS credentials" in credentials.detail
    assert "--http-put-response-hop-limit 2" in credentials.fix
    assert row(checks, "models").status == FAIL


def test_doctor_reports_an_unreachable_bedrock_endpoint(
    tmp_path: Path, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("AWS_BEDROCK_RUNTIME_ENDPOINT", dead)
    checks = doctor(tmp_path, model_entry("claude-3-haiku", HAIKU))
    haiku = row(checks, "model claude-3-haiku")
    assert haiku.status == FAIL
    assert f"{dead} unreachable" in haiku.detail


@pytest.fixture
def langfuse() -> Iterator[FakeLangfuse]:
    server = FakeLangfuse(public_key="pk-lf-good", secret_key="sk-lf-good")
    server.start()
    yield server
    server.stop()


LANGFUSE_ON = "litellm_settings:\n  success_callback: [langfuse]\n"


@pytest.mark.parametrize(
    ("keys", "status", "detail"),
    [
        (("pk-lf-good", "sk-lf-good"), OK, "reachable, keys accepted"),
        (("pk-lf-good", "sk-lf-wrong"), WARN, "rejects LANGFUSE_PUBLIC_KEY/SECRET_KEY (401)"),
    ],
    ids=["good-keys", "bad-keys"],
)
def test_doctor_checks_langfuse_health_and_keys(
    tmp_path: Path,
    aws_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    langfuse: FakeLangfuse,
    keys: tuple[str, str],
    status: str,
    detail: str,
) -> None:
    monkeypatch.setenv("LANGFUSE_HOST", langfuse.url)
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", keys[0])
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", keys[1])
    checks = doctor(tmp_path, model_entry("claude-3-haiku", HAIKU), settings=LANGFUSE_ON)
    check = row(checks, "Langfuse")
    assert check.status == status
    assert detail in check.detail and "4.0.0-fake" in check.detail
    assert keys[1] not in check.detail + check.fix


def test_doctor_warns_when_langfuse_is_down_without_blocking(
    tmp_path: Path, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANGFUSE_HOST", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-good")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-good")
    checks = doctor(tmp_path, model_entry("claude-3-haiku", HAIKU), settings=LANGFUSE_ON)
    check = row(checks, "Langfuse")
    assert check.status == WARN
    assert "unreachable" in check.detail
    assert "not localhost" in check.fix
    assert not any(c.blocking for c in checks)


class FakeRedis:
    """Answers PING with PONG on loopback, like the one Redis command the doctor sends."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                if b"PING" in conn.recv(512):
                    conn.sendall(b"+PONG\r\n")

    def close(self) -> None:
        self.sock.close()


def test_doctor_checks_the_configured_redis_and_blocks_when_it_is_unreachable(
    tmp_path: Path, aws_env: dict[str, str]
) -> None:
    redis = FakeRedis()
    try:
        up = doctor(
            tmp_path,
            model_entry("claude-3-haiku", HAIKU),
            settings=f"router_settings:\n  redis_host: 127.0.0.1\n  redis_port: {redis.port}\n",
        )
    finally:
        redis.close()
    assert row(up, "Redis").status == OK
    down = doctor(
        tmp_path,
        model_entry("claude-3-haiku", HAIKU),
        settings=f"router_settings:\n  redis_host: 127.0.0.1\n  redis_port: {closed_port()}\n",
    )
    assert row(down, "Redis").status == FAIL
    assert "COMPOSE_PROFILES=redis" in row(down, "Redis").fix


def test_doctor_blocks_when_the_configured_database_is_unreachable(
    tmp_path: Path, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://proxy:secret-pw@127.0.0.1:{closed_port()}/proxy")
    checks = doctor(tmp_path, model_entry("claude-3-haiku", HAIKU))
    database = row(checks, "Database")
    assert database.status == FAIL
    assert "secret-pw" not in database.detail
    assert "COMPOSE_PROFILES=postgres" in database.fix


def run_cli(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bedrock_proxy", "doctor", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_doctor_command_prints_the_table_and_exits_1_when_a_model_blocks_serving(
    tmp_path: Path, aws_env: dict[str, str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "model_list:\n" + model_entry("claude-3-haiku", HAIKU) + model_entry("claude-3-opus", OPUS)
    )
    done = run_cli(config)
    assert done.returncode == 1, done.stderr
    assert "OK    model claude-3-haiku" in done.stdout
    assert "FAIL  model claude-3-opus" in done.stdout
    assert "1 problem(s) block serving" in done.stdout
    assert EXAMPLE_KEYS["AWS_SECRET_ACCESS_KEY"] not in done.stdout + done.stderr


def test_doctor_command_exits_0_when_nothing_blocks_serving(tmp_path: Path, aws_env: dict[str, str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("model_list:\n" + model_entry("claude-3-haiku", HAIKU))
    done = run_cli(config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Nothing blocks serving" in done.stdout


def test_doctor_command_exits_1_on_a_missing_config(tmp_path: Path) -> None:
    done = run_cli(tmp_path / "absent.yaml")
    assert done.returncode == 1
    assert "No such file" in done.stderr or "not found" in done.stderr


SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"


def test_doctor_names_legacy_models_and_their_replacement_without_blocking(
    tmp_path: Path, aws_env: dict[str, str]
) -> None:
    checks = doctor(
        tmp_path,
        model_entry("claude-3-sonnet", "anthropic.claude-3-sonnet-20240229-v1:0"),
        model_entry("old-sonnet-35", "eu.anthropic.claude-3-5-sonnet-20240620-v1:0"),
        model_entry("titan-text-express", "amazon.titan-text-express-v1"),
        model_entry("claude-sonnet-4-5", f"eu.{SONNET_45}"),
        model_entry("claude-3-haiku", HAIKU),
    )
    assert not any(check.blocking for check in checks), checks
    sonnet3 = row(checks, "lifecycle of claude-3-sonnet")
    assert sonnet3.status == WARN
    assert "anthropic.claude-3-sonnet-20240229-v1:0 is LEGACY in eu-west-1" in sonnet3.detail
    assert sonnet3.fix == f"use model: bedrock/eu.{SONNET_45} in config.yaml"
    assert (
        row(checks, "lifecycle of old-sonnet-35").fix == f"use model: bedrock/eu.{SONNET_45} in config.yaml"
    )
    assert row(checks, "lifecycle of titan-text-express").fix == (
        "use model: bedrock/eu.amazon.nova-lite-v1:0 in config.yaml"
    )
    lifecycle_rows = {check.subject for check in checks if check.subject.startswith("lifecycle of")}
    assert lifecycle_rows == {
        "lifecycle of claude-3-sonnet",
        "lifecycle of old-sonnet-35",
        "lifecycle of titan-text-express",
    }  # current models get no lifecycle row


def test_doctor_names_a_profile_the_catalogue_does_not_list_and_its_replacement(
    tmp_path: Path, aws_env: dict[str, str]
) -> None:
    checks = doctor(tmp_path, model_entry("claude-3-opus", f"eu.{OPUS}"))
    opus = row(checks, "lifecycle of claude-3-opus")
    assert opus.status == WARN
    assert (
        f"eu.{OPUS} is not listed by ListFoundationModels / ListInferenceProfiles in eu-west-1" in opus.detail
    )
    assert opus.fix == "use model: bedrock/eu.anthropic.claude-opus-4-5-20251101-v1:0 in config.yaml"


def test_doctor_command_prints_the_legacy_warning(tmp_path: Path, aws_env: dict[str, str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "model_list:\n" + model_entry("claude-3-sonnet", "anthropic.claude-3-sonnet-20240229-v1:0")
    )
    done = run_cli(config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARN  lifecycle of claude-3-sonnet" in done.stdout
    assert f"fix: use model: bedrock/eu.{SONNET_45} in config.yaml" in done.stdout


def test_doctor_talks_tls_to_a_rediss_url_and_says_what_to_fix_when_it_cannot(
    tmp_path: Path, aws_env: dict[str, str]
) -> None:
    """ElastiCache with in-transit encryption: TLS only, a password; its CA given in the URL."""
    with tls_redis_server(tmp_path, password="s3cret") as (port, tls):

        def redis_row(url: str) -> Any:
            settings = f"router_settings:\n  redis_url: {url}\n"
            return row(doctor(tmp_path, model_entry("claude-3-haiku", HAIKU), settings=settings), "Redis")

        trusted = redis_row(f"rediss://:s3cret@127.0.0.1:{port}/0?ssl_ca_certs={tls.ca}")
        assert (trusted.status, trusted.detail) == (OK, f"rediss://127.0.0.1:{port} answers PING over TLS")
        wrong = redis_row(f"rediss://:wrong@127.0.0.1:{port}/0?ssl_ca_certs={tls.ca}")
        assert wrong.status == FAIL and "refused the password" in wrong.detail
        untrusted = redis_row(f"rediss://:s3cret@127.0.0.1:{port}/0")
        assert untrusted.status == FAIL and "TLS failed" in untrusted.detail
        assert "ssl_ca_certs" in untrusted.fix
        plain = redis_row(f"redis://:s3cret@127.0.0.1:{port}/0")
        assert plain.status == FAIL and "rediss://" in plain.fix, plain
