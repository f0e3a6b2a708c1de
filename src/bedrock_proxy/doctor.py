"""`bedrock-proxy doctor --config PATH`: the seed's Troubleshooting section as one command.

It asks the services themselves, in the environment the gateway will run in (inside the image under
deploy.sh): which AWS identity and region are in use; for every configured model whether Bedrock lets this
identity invoke it (one 1-token call each) and, when not, why and what to change; which configured models
the account's catalogue marks LEGACY or no longer lists, and their replacement; whether Langfuse answers
and accepts the keys; whether the configured Redis and database accept connections. Exit 1 when something
blocks serving (no credentials, a model that cannot be invoked, an unreachable Redis or database); Langfuse
problems are warnings because the gateway serves without it (traces wait and retry).
"""

from __future__ import annotations

import argparse
import base64
import os
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import botocore.session
import orjson
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from botocore.parsers import ResponseParserError

from bedrock_proxy.bedrock.availability import advice_for, availability_of, callable_from, geography_of
from bedrock_proxy.bedrock.capabilities import base_model_id, profile_geography
from bedrock_proxy.config import Config, Deployment, load_or_report
from bedrock_proxy.control.location import database_for_url
from bedrock_proxy.control.store import StoreError
from bedrock_proxy.control.urls import backend_of

OK, WARN, FAIL = "ok", "warn", "FAIL"
DEFAULT_LANGFUSE_HOST = "https://cloud.langfuse.com"
PROBE_TEXT = "ping"
HOP_LIMIT_FIX = (
    "on EC2: attach an instance profile with deploy/iam-policy.json, and from Docker raise the metadata hop "
    "limit: aws ec2 modify-instance-metadata-options --instance-id <id> --http-put-response-hop-limit 2 "
    "--http-tokens required; elsewhere: set AWS_PROFILE (mount ~/.aws) or AWS_BEARER_TOKEN_BEDROCK in .env"
)


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the doctor's table: what was checked, how it went, and what to change when it did not."""

    subject: str
    status: str  # OK | WARN | FAIL
    detail: str
    fix: str = ""

    @property
    def blocking(self) -> bool:
        return self.status == FAIL


def _boto_config() -> BotoConfig:
    # Bounded: a doctor that hangs on a black-holed endpoint is worse than none.
    return BotoConfig(connect_timeout=3, read_timeout=15, retries={"max_attempts": 1, "mode": "standard"})


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", "")) or str(exc)


def _environ_region(environ: Mapping[str, str]) -> str | None:
    return environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or None


# (service, region, endpoint, profile, static keys)
_ClientKey = tuple[str, str, str | None, str | None, tuple[tuple[str, str], ...]]


class AwsClients:
    """botocore clients shared by the checks, one per (service, region, endpoint, credentials)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self._sessions: dict[str | None, botocore.session.Session] = {}
        self._clients: dict[_ClientKey, Any] = {}  # botocore clients (untyped)

    def session(self, profile: str | None = None) -> botocore.session.Session:
        if profile not in self._sessions:
            self._sessions[profile] = botocore.session.Session(profile=profile)
        return self._sessions[profile]

    def client(
        self, service: str, region: str, endpoint: str | None, deployment: Deployment | None = None
    ) -> Any:
        keys: dict[str, str] = {}
        profile = None
        if deployment is not None:
            profile = deployment.aws_profile_name
            if deployment.aws_access_key_id and deployment.aws_secret_access_key:
                keys = {
                    "aws_access_key_id": deployment.aws_access_key_id,
                    "aws_secret_access_key": deployment.aws_secret_access_key,
                }
                if deployment.aws_session_token:
                    keys["aws_session_token"] = deployment.aws_session_token
        cache_key = (service, region, endpoint, profile, tuple(sorted(keys.items())))
        if cache_key not in self._clients:
            self._clients[cache_key] = self.session(profile).create_client(
                service, region_name=region, endpoint_url=endpoint, config=_boto_config(), **keys
            )
        return self._clients[cache_key]

    def runtime_endpoint(self, deployment: Deployment) -> str | None:
        return deployment.endpoint or self.environ.get("AWS_BEDROCK_RUNTIME_ENDPOINT") or None

    def control_endpoint(self) -> str | None:
        return self.environ.get("AWS_BEDROCK_ENDPOINT") or None


# --- AWS identity ---------------------------------------------------------------------------------------


def check_identity(clients: AwsClients, config: Config) -> list[Check]:
    """Which credentials and region the gateway will use; blocking when there are none at all."""
    environ = clients.environ
    regions = sorted({deployment.region for deployment in config.deployments})
    default_region = _environ_region(environ) or clients.session().get_config_variable("region")
    region_text = f"region {default_region or 'unset'}; models in {', '.join(regions) or 'no region'}"
    if environ.get("AWS_BEARER_TOKEN_BEDROCK"):
        return [Check("AWS credentials", OK, f"Bedrock API key (AWS_BEARER_TOKEN_BEDROCK); {region_text}")]
    own_keys = [d for d in config.deployments if d.aws_access_key_id and d.aws_secret_access_key]
    try:
        credentials = clients.session().get_credentials()
    except BotoCoreError as exc:
        return [Check("AWS credentials", FAIL, f"cannot load credentials: {exc}", HOP_LIMIT_FIX)]
    if credentials is None:
        if own_keys and len(own_keys) == len(config.deployments):
            return [Check("AWS credentials", OK, f"keys from config.yaml for every model; {region_text}")]
        return [Check("AWS credentials", FAIL, f"no AWS credentials found; {region_text}", HOP_LIMIT_FIX)]
    method = {
        "iam-role": "EC2 instance profile",
        "container-role": "container role (ECS task role)",
        "env": "environment keys (AWS_ACCESS_KEY_ID)",
        "shared-credentials-file": "shared credentials file",
        "config-file": "AWS config file",
        "assume-role": "assumed role (profile)",
        "sso": "SSO profile",
    }.get(credentials.method, credentials.method)
    identity = _caller_identity(clients, default_region or (regions[0] if regions else "us-east-1"))
    return [Check("AWS credentials", OK, f"{method}; {identity}; {region_text}")]


def _caller_identity(clients: AwsClients, region: str) -> str:
    """The caller's ARN from STS, or why it is unknown (STS is informational: model calls are the proof)."""
    try:
        answer = clients.client("sts", region, None).get_caller_identity()
    except ClientError as exc:
        return f"identity unknown (STS: {_error_code(exc) or 'error'})"
    except Exception as exc:  # informational only: any failure, unreachable or unparseable, is reported
        return f"identity unknown (STS unreachable: {type(exc).__name__})"
    return f"{answer.get('Arn', '?')} (account {answer.get('Account', '?')})"


# --- models ---------------------------------------------------------------------------------------------


def _is_profile(model_id: str) -> bool:
    return (
        profile_geography(model_id) is not None
        or ":inference-profile/" in model_id
        or (":application-inference-profile/" in model_id)
    )


def _table_profile(model_id: str, region: str) -> str | None:
    """The profile the availability table says `region` may call for this model, if any."""
    entry = availability_of(model_id)
    return entry.callable_profile(region) if entry is not None else None


@dataclass(slots=True)
class Catalogue:
    """What the control plane says about one model id; every field None when it could not be asked."""

    on_demand: bool | None = None
    offered: bool | None = None
    profile_for: str | None = None  # an inference profile id that routes to this model, when one exists
    note: str = ""


def read_catalogue(clients: AwsClients, deployment: Deployment) -> Catalogue:
    """Classify a model id with GetFoundationModel / GetInferenceProfile / ListInferenceProfiles."""
    control = clients.client("bedrock", deployment.region, clients.control_endpoint(), deployment)
    model_id = deployment.model_id
    try:
        if _is_profile(model_id):
            control.get_inference_profile(inferenceProfileIdentifier=model_id)
            return Catalogue(on_demand=False, offered=True, profile_for=model_id)
        details = control.get_foundation_model(modelIdentifier=model_id)["modelDetails"]
    except ClientError as exc:
        code = _error_code(exc)
        if code in ("ResourceNotFoundException", "ValidationException"):
            return Catalogue(offered=False)
        if code == "AccessDeniedException":
            return Catalogue(
                note="catalogue not readable: allow bedrock:GetFoundationModel (deploy/iam-policy.json)"
            )
        return Catalogue(note=f"catalogue: {code}")
    except (BotoCoreError, ResponseParserError) as exc:
        return Catalogue(note=f"catalogue unreachable ({type(exc).__name__})")
    on_demand = "ON_DEMAND" in details.get("inferenceTypesSupported", [])
    catalogue = Catalogue(on_demand=on_demand, offered=True)
    if not on_demand:
        catalogue.profile_for = _profile_for(control, model_id, deployment.region)
    return catalogue


def _profile_for(control: Any, model_id: str, region: str) -> str | None:
    try:
        summaries = control.list_inference_profiles(typeEquals="SYSTEM_DEFINED")["inferenceProfileSummaries"]
    except (ClientError, BotoCoreError):
        return _table_profile(model_id, region)
    candidates: list[str] = [
        summary["inferenceProfileId"]
        for summary in summaries
        if any(m.get("modelArn", "").endswith(f"/{model_id}") for m in summary.get("models", []))
    ]
    preferred = [c for c in candidates if c.startswith(f"{geography_of(region)}.")]
    chosen = preferred or candidates
    return chosen[0] if chosen else None


def _probe(clients: AwsClients, deployment: Deployment) -> None:
    """The smallest call that proves invocability: 1 output token, or one short embedding."""
    runtime = clients.client(
        "bedrock-runtime", deployment.region, clients.runtime_endpoint(deployment), deployment
    )
    model_id = deployment.model_id
    if deployment.mode == "embedding":
        if "cohere" in model_id:
            body = {"texts": [PROBE_TEXT], "input_type": "search_query"}
        else:
            body = {"inputText": PROBE_TEXT}
        runtime.invoke_model(
            modelId=model_id,
            body=orjson.dumps(body),
            contentType="application/json",
            accept="application/json",
        )
        return
    runtime.converse(
        modelId=model_id,
        messages=[{"role": "user", "content": [{"text": PROBE_TEXT}]}],
        inferenceConfig={"maxTokens": 1},
    )


def check_deployment(clients: AwsClients, deployment: Deployment) -> Check:
    """Whether this deployment can be invoked, how (on-demand or via a profile), and the fix when not."""
    subject = f"model {deployment.model_name}"
    where = f"{deployment.model_id} in {deployment.region}"
    catalogue = read_catalogue(clients, deployment)
    how = "via inference profile" if _is_profile(deployment.model_id) else "on-demand"
    try:
        _probe(clients, deployment)
    except NoCredentialsError:
        return Check(subject, FAIL, f"{where}: no AWS credentials", HOP_LIMIT_FIX)
    except ClientError as exc:
        return _diagnose(subject, where, deployment, catalogue, exc)
    except BotoCoreError as exc:
        endpoint = (
            clients.runtime_endpoint(deployment) or f"bedrock-runtime.{deployment.region}.amazonaws.com"
        )
        return Check(
            subject,
            FAIL,
            f"{where}: Bedrock endpoint {endpoint} unreachable ({type(exc).__name__})",
            "check outbound HTTPS from this host (security group, NAT, VPC endpoint) and "
            "AWS_BEDROCK_RUNTIME_ENDPOINT / aws_bedrock_runtime_endpoint",
        )
    detail = f"{where}: invocable {how}"
    return Check(subject, OK, f"{detail}; {catalogue.note}" if catalogue.note else detail)


def _diagnose(
    subject: str, where: str, deployment: Deployment, catalogue: Catalogue, exc: ClientError
) -> Check:
    code, message = _error_code(exc), _error_message(exc)
    lowered = message.lower()
    region = deployment.region
    if code == "ValidationException" and (
        "on-demand throughput" in lowered or "inference profile" in lowered
    ):
        profile = catalogue.profile_for or _table_profile(deployment.model_id, region)
        if profile is None:
            return Check(
                subject,
                FAIL,
                f"{where}: not available on-demand, and no inference profile for it here",
                advice_for(deployment.model_id, region)
                or f"aws bedrock list-inference-profiles --region {region} lists the profiles callable here",
            )
        return Check(
            subject,
            FAIL,
            f"{where}: not available on-demand, needs an inference profile",
            f"in config.yaml use model: bedrock/{profile} (an EU profile routes to eu-central-1, eu-west-1 "
            "and eu-west-3: deploy/iam-policy.json must allow those regions' foundation-model ARNs)",
        )
    if code == "AccessDeniedException":
        if "not authorized to perform" in lowered:
            return Check(
                subject,
                FAIL,
                f"{where}: the IAM policy does not allow this call",
                "attach deploy/iam-policy.json (adapted to your region) to the instance role",
            )
        return Check(
            subject,
            FAIL,
            f"{where}: model access not granted",
            f"Bedrock console, region {region} > Model access: request access to {deployment.model_id}",
        )
    not_found = code in ("ResourceNotFoundException",) or (
        code == "ValidationException" and ("identifier is invalid" in lowered or "not found" in lowered)
    )
    if not_found or catalogue.offered is False:
        return Check(
            subject,
            FAIL,
            f"{where}: not offered in {region} (or a wrong model id)",
            advice_for(deployment.model_id, region)
            or f"aws bedrock list-foundation-models --region {region} lists what is; use one of those ids, "
            f"or another region with aws_region_name",
        )
    if code in ("UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException"):
        return Check(
            subject,
            FAIL,
            f"{where}: credentials rejected ({code})",
            "renew or replace the credentials; on EC2 remove static keys so the instance profile is used",
        )
    if code in ("ThrottlingException", "ServiceQuotaExceededException", "ModelNotReadyException"):
        return Check(subject, WARN, f"{where}: reachable and allowed, but {code} right now", "")
    return Check(subject, FAIL, f"{where}: {code}: {message}", "see docs/deploy.md, Troubleshooting")


def check_models(clients: AwsClients, config: Config, workers: int = 8) -> list[Check]:
    deployments = list(config.deployments)
    if not deployments:
        return [Check("models", FAIL, "config.yaml configures no model", "add entries to model_list")]
    with ThreadPoolExecutor(max_workers=min(workers, len(deployments))) as pool:
        return list(pool.map(lambda deployment: check_deployment(clients, deployment), deployments))


# --- model lifecycle ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegionCatalogue:
    """What ListFoundationModels and ListInferenceProfiles say in one region."""

    lifecycle: Mapping[str, str]  # foundation model id -> modelLifecycle.status (ACTIVE | LEGACY)
    profiles: frozenset[str]  # system-defined inference profile ids


def _region_catalogue(clients: AwsClients, deployment: Deployment) -> RegionCatalogue | str:
    """The region's catalogue, or why it could not be read."""
    control = clients.client("bedrock", deployment.region, clients.control_endpoint(), deployment)
    try:
        models = control.list_foundation_models()["modelSummaries"]
        profiles = control.list_inference_profiles(typeEquals="SYSTEM_DEFINED")["inferenceProfileSummaries"]
    except ClientError as exc:
        return _error_code(exc) or "error"
    except (BotoCoreError, ResponseParserError) as exc:
        return type(exc).__name__
    lifecycle = {m["modelId"]: str(m.get("modelLifecycle", {}).get("status", "ACTIVE")) for m in models}
    return RegionCatalogue(lifecycle, frozenset(p["inferenceProfileId"] for p in profiles))


def replacement_for(model_id: str, region: str) -> str | None:
    """The id to move to from a legacy or absent model, callable from `region`; None when unknown."""
    entry = availability_of(model_id)
    wanted = (entry.replacement or entry.eu_substitute) if entry is not None else None
    if wanted is None or callable_from(wanted, region):
        return wanted
    successor = availability_of(wanted)
    return successor.callable_profile(region) if successor is not None else None


def lifecycle_check(deployment: Deployment, catalogue: RegionCatalogue) -> Check | None:
    """A warning for a model the catalogue marks LEGACY or lists nowhere (neither as a model nor a
    profile); None when it is current. Application profile ARNs are the account's own: not judged."""
    model_id, region = deployment.model_id, deployment.region
    if ":application-inference-profile/" in model_id:
        return None
    resource = model_id.rsplit("/", 1)[-1] if model_id.startswith("arn:") else model_id
    base = base_model_id(resource)
    status = catalogue.lifecycle.get(base)
    listed_profile = profile_geography(resource) is None or resource in catalogue.profiles
    if status == "ACTIVE" and listed_profile:
        return None
    replacement = replacement_for(base, region)
    fix = (
        f"use model: bedrock/{replacement} in config.yaml"
        if replacement
        else f"pick an ACTIVE model: aws bedrock list-foundation-models --region {region}"
    )
    subject = f"lifecycle of {deployment.model_name}"
    if status == "LEGACY":
        detail = f"{base} is LEGACY in {region} (ListFoundationModels): it still answers but is being retired"
        return Check(subject, WARN, detail, fix)
    what = "ListInferenceProfiles" if status == "ACTIVE" else "ListFoundationModels / ListInferenceProfiles"
    return Check(subject, WARN, f"{resource} is not listed by {what} in {region}", fix)


def check_lifecycle(clients: AwsClients, config: Config) -> list[Check]:
    """One warning per configured model that is LEGACY or absent, with its replacement."""
    catalogues: dict[tuple[str, str | None], RegionCatalogue | str] = {}
    checks = []
    for deployment in config.deployments:
        key = (deployment.region, deployment.aws_profile_name)
        if key not in catalogues:
            catalogues[key] = _region_catalogue(clients, deployment)
        catalogue = catalogues[key]
        if isinstance(catalogue, str):
            continue
        check = lifecycle_check(deployment, catalogue)
        if check is not None:
            checks.append(check)
    unread = sorted({region for (region, _), c in catalogues.items() if isinstance(c, str)})
    if unread:
        checks.append(
            Check(
                "model lifecycle",
                WARN,
                f"not checked in {', '.join(unread)}: the catalogue could not be read",
                "allow bedrock:ListFoundationModels and bedrock:ListInferenceProfiles "
                "(deploy/iam-policy.json)",
            )
        )
    return checks


# --- Langfuse -------------------------------------------------------------------------------------------


def _http(
    method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def check_langfuse(config: Config, environ: Mapping[str, str]) -> list[Check]:
    settings = config.settings
    names = {*settings.callbacks, *settings.success_callbacks, *settings.failure_callbacks}
    public_key, secret_key = environ.get("LANGFUSE_PUBLIC_KEY"), environ.get("LANGFUSE_SECRET_KEY")
    wanted = bool(names & {"langfuse", "langfuse_otel"})
    if not wanted and not (public_key or secret_key):
        return []
    host = (environ.get("LANGFUSE_HOST") or environ.get("LANGFUSE_BASE_URL") or DEFAULT_LANGFUSE_HOST).rstrip(
        "/"
    )
    if not wanted:
        return [
            Check(
                "Langfuse",
                WARN,
                "keys are set but no langfuse callback is configured",
                'add success_callback: ["langfuse"] under litellm_settings to send traces',
            )
        ]
    if not (public_key and secret_key):
        return [
            Check(
                "Langfuse",
                WARN,
                "langfuse callback configured but LANGFUSE_PUBLIC_KEY/SECRET_KEY unset",
                "copy the project's keys from Langfuse (Settings > API Keys) into .env",
            )
        ]
    try:
        status, body = _http("GET", f"{host}/api/public/health")
    except OSError as exc:
        return [
            Check(
                "Langfuse",
                WARN,
                f"{host} unreachable ({_reason(exc)})",
                "LANGFUSE_HOST must be reachable from the gateway (inside Docker, not localhost)",
            )
        ]
    if status != 200:
        return [
            Check(
                "Langfuse", WARN, f"{host}/api/public/health answered {status}", "check the Langfuse server"
            )
        ]
    version = _json_field(body, "version")
    token = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
    auth = {"Authorization": f"Basic {token}"}
    try:
        if (environ.get("LANGFUSE_INGESTION") or "otlp").strip().lower() == "legacy":
            status, _ = _http(
                "POST",
                f"{host}/api/public/ingestion",
                b'{"batch":[]}',
                {**auth, "Content-Type": "application/json"},
            )
        else:
            status, _ = _http(
                "POST",
                f"{host}/api/public/otel/v1/traces",
                b'{"resourceSpans":[]}',
                {**auth, "Content-Type": "application/json", "x-langfuse-ingestion-version": "4"},
            )
    except OSError as exc:
        return [Check("Langfuse", WARN, f"{host} dropped the authenticated call ({_reason(exc)})", "")]
    if status in (401, 403):
        return [
            Check(
                "Langfuse",
                WARN,
                f"{host} (v{version}) rejects LANGFUSE_PUBLIC_KEY/SECRET_KEY ({status})",
                "copy both keys of the same project from Langfuse (Settings > API Keys) into .env",
            )
        ]
    if status == 404:
        return [
            Check(
                "Langfuse",
                WARN,
                f"{host} (v{version}) has no OTLP endpoint",
                "self-hosted Langfuse v2/v3: set LANGFUSE_INGESTION=legacy",
            )
        ]
    if status >= 300 and status != 207:
        return [Check("Langfuse", WARN, f"{host} answered {status} to an empty export", "")]
    return [Check("Langfuse", OK, f"{host} (v{version}) reachable, keys accepted")]


def _json_field(body: bytes, name: str) -> str:
    try:
        return str(orjson.loads(body).get(name, "?"))
    except (orjson.JSONDecodeError, AttributeError):
        return "?"


def _reason(exc: OSError) -> str:
    reason = getattr(exc, "reason", exc)
    return str(reason) or type(exc).__name__


# --- Redis and database ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RedisTarget:
    host: str
    port: int
    password: str | None = None
    username: str | None = None  # Redis 6 ACL user (AUTH user password)
    tls: bool = False  # rediss://: ElastiCache with in-transit encryption
    ca_file: str | None = None  # rediss://...?ssl_ca_certs=/path (redis-py's name), else the system's CAs
    verify: bool = True  # False with ?ssl_cert_reqs=none

    def __str__(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://{self.host}:{self.port}"


def _redis_target(config: Config) -> RedisTarget | None:
    settings = config.settings
    url = settings.redis_url or settings.cache_params.url
    if url:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        return RedisTarget(
            parts.hostname or "localhost",
            parts.port or 6379,
            unquote(parts.password) if parts.password else None,
            unquote(parts.username) if parts.username else None,
            tls=parts.scheme == "rediss",
            ca_file=query.get("ssl_ca_certs"),
            verify=query.get("ssl_cert_reqs", "required").lower() not in ("none", "optional"),
        )
    host = settings.redis_host or (
        settings.cache_params.host if settings.cache_params.type == "redis" else None
    )
    if not host:
        return None
    port = settings.redis_port or settings.cache_params.port or 6379
    return RedisTarget(host, port, settings.redis_password or settings.cache_params.password)


def _resp(*words: str) -> bytes:
    out = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _tls_context(target: RedisTarget) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=target.ca_file)
    if not target.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def check_redis(
    config: Config, connect: Callable[..., socket.socket] = socket.create_connection
) -> list[Check]:
    target = _redis_target(config)
    if target is None:
        return []
    try:
        with connect((target.host, target.port), timeout=3) as raw:
            sock = _tls_context(target).wrap_socket(raw, server_hostname=target.host) if target.tls else raw
            sock.settimeout(3)
            if target.password:
                words = (
                    ("AUTH", target.username, target.password)
                    if target.username
                    else ("AUTH", target.password)
                )
                sock.sendall(_resp(*words))
                reply = sock.recv(512)
                if not reply.startswith(b"+OK"):
                    return [
                        Check(
                            "Redis",
                            FAIL,
                            f"{target} refused the password",
                            "set REDIS_PASSWORD (or redis_password) to the server's password",
                        )
                    ]
            sock.sendall(_resp("PING"))
            reply = sock.recv(512)
    except ssl.SSLError as exc:
        return [
            Check(
                "Redis",
                FAIL,
                f"{target}: TLS failed ({exc.reason or exc})",
                "the server's certificate must be trusted (add ?ssl_ca_certs=/path/to/ca.pem to the URL) and"
                " the server must speak TLS on that port (ElastiCache: transit encryption on)",
            )
        ]
    except OSError as exc:
        advice = "start Redis (COMPOSE_PROFILES=redis) or fix REDIS_HOST/REDIS_PORT"
        if not target.tls and isinstance(exc, ConnectionResetError):
            advice += "; a server with TLS only (ElastiCache transit encryption) needs rediss://"
        return [Check("Redis", FAIL, f"{target} unreachable ({_reason(exc)})", advice)]
    if reply.startswith(b"+PONG"):
        return [Check("Redis", OK, f"{target} answers PING" + (" over TLS" if target.tls else ""))]
    if reply.startswith(b"-NOAUTH"):
        return [Check("Redis", FAIL, f"{target} needs a password", "set REDIS_PASSWORD")]
    if not target.tls and not reply:
        return [
            Check(
                "Redis",
                FAIL,
                f"{target} closed the connection without answering PING",
                "a server with TLS only (ElastiCache transit encryption) needs rediss:// in redis_url",
            )
        ]
    return [Check("Redis", FAIL, f"{target} answered {reply[:60]!r} to PING", "is this a Redis server?")]


_START_SERVER = {
    "postgresql": "start PostgreSQL (COMPOSE_PROFILES=postgres) or fix DATABASE_URL",
    "mysql": "start MySQL / MariaDB or fix the host and port in DATABASE_URL",
}
_DEFAULT_PORT = {"postgresql": 5432, "mysql": 3306}


def check_database(
    config: Config,
    connect: Callable[..., socket.socket] = socket.create_connection,
    login: Callable[[str], str | None] | None = None,
) -> list[Check]:
    """The configured database: its server answers on its port, then accepts this user into this database
    (`login` returns why not, with the fix; the gateway's own driver does it, so doctor and serve agree)."""
    url = config.settings.database_url
    if not url:
        return []
    parts = urlsplit(url)
    backend = backend_of(url)
    if backend == "sqlite" or backend is None:
        return [Check("Database", OK, "SQLite (embedded)")]
    host, port = parts.hostname or "localhost", parts.port or _DEFAULT_PORT[backend]
    try:
        with connect((host, port), timeout=3):
            pass
    except OSError as exc:
        return [
            Check(
                "Database",
                FAIL,
                f"{parts.scheme} at {host}:{port} unreachable ({_reason(exc)})",
                _START_SERVER[backend],
            )
        ]
    problem = (login or _login)(url)
    if problem is not None:
        detail, _, fix = problem.partition(" To fix: ")
        return [Check("Database", FAIL, detail, fix.rstrip("."))]
    return [Check("Database", OK, f"{parts.scheme} at {host}:{port} accepts this user and database")]


def _login(url: str) -> str | None:
    """Log in once with the gateway's driver (no schema change): None, or why not and the fix."""
    try:
        database = database_for_url(url, "doctor")
        driver = database.driver
        try:
            driver.connect().close()
        except driver.errors as exc:
            return driver.unreachable(exc)
    except StoreError as exc:
        return str(exc)
    return None


def check_prices(config: Config) -> list[Check]:
    """Every model without a price: a failure when a budget can reach it (serve refuses to start), else a
    warning (its calls report no cost)."""
    from bedrock_proxy.preflight import PRICE_ADVICE, unpriced_issues

    checks = []
    for issue in unpriced_issues(config):
        detail = issue.message.split("; " + PRICE_ADVICE)[0]
        checks.append(
            Check(f"price of {issue.path}", FAIL if issue.level == "error" else WARN, detail, PRICE_ADVICE)
        )
    if not checks:
        checks.append(Check("prices", OK, f"all {len(config.deployments)} deployments are priced"))
    return checks


# --- running and reporting ------------------------------------------------------------------------------


def run_doctor(config: Config, environ: Mapping[str, str] | None = None) -> list[Check]:
    """Every check, in the order an operator reads them."""
    environ = os.environ if environ is None else environ
    clients = AwsClients(environ)
    checks = check_identity(clients, config)
    if any(check.blocking for check in checks):
        checks.append(Check("models", FAIL, "not checked: no AWS credentials", ""))
    else:
        checks += check_models(clients, config)
        checks += check_lifecycle(clients, config)
    checks += check_prices(config)
    checks += check_langfuse(config, environ)
    checks += check_redis(config)
    checks += check_database(config)
    return checks


def format_table(checks: Iterable[Check]) -> str:
    rows = list(checks)
    width = max((len(check.subject) for check in rows), default=0)
    lines = []
    for check in rows:
        lines.append(f"  {check.status.upper():<4}  {check.subject:<{width}}  {check.detail}")
        if check.fix:
            lines.append(f"  {'':<4}  {'':<{width}}  fix: {check.fix}")
    return "\n".join(lines)


def doctor_from_args(args: argparse.Namespace) -> int:
    """What `bedrock-proxy doctor` runs: 0 when nothing blocks serving, 1 otherwise."""
    from bedrock_proxy.config.dotenv import apply_dotenv, describe

    note = describe(apply_dotenv(args.config, os.environ, getattr(args, "env_file", None)))
    if note:
        print(f"bedrock-proxy doctor: {note}")
    config = load_or_report(args.config, "bedrock-proxy doctor", "fix them first.")
    if config is None:
        return 1
    checks = run_doctor(config)
    print(f"bedrock-proxy doctor: {args.config}")
    print(format_table(checks))
    blocking = sum(check.blocking for check in checks)
    warnings = sum(check.status == WARN for check in checks)
    if blocking:
        print(f"\n{blocking} problem(s) block serving, {warnings} warning(s).")
        return 1
    print(f"\nNothing blocks serving ({warnings} warning(s)).")
    return 0
