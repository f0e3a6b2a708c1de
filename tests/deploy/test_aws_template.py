"""deploy/aws/bedrock-proxy.yaml, the CloudFormation template for many hosts: cfn-lint (informational checks
included), the topology it promises, and its user data run with stand-ins for the AWS and system commands,
down to the environment the gateway gets through Docker Compose."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

import pytest
from tests.support.compose import compose_config, gateway_environment, what_the_gateway_uses

from bedrock_proxy.config import load_config
from bedrock_proxy.server.app import ROUTES

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "deploy" / "aws" / "bedrock-proxy.yaml"


def cfn_lint() -> str:
    path = shutil.which("cfn-lint") or shutil.which("cfn-lint", path=sysconfig.get_path("scripts"))
    if path is None:
        pytest.fail("cfn-lint is not installed; install it with: pip install cfn-lint")
    return path


def template() -> dict[str, Any]:
    from cfnlint.decode import decode

    decoded, problems = decode(str(TEMPLATE))
    assert not problems, problems
    return json.loads(json.dumps(decoded))


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template()["Resources"].items() if resource["Type"] == kind}


def one(kind: str) -> dict[str, Any]:
    (resource,) = resources(kind).values()
    return resource["Properties"]


def test_cfn_lint_finds_nothing_even_informational() -> None:
    done = subprocess.run(
        [cfn_lint(), "--include-checks", "I", "--", str(TEMPLATE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_cfn_lint_catches_a_broken_template_so_the_check_can_fail(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        TEMPLATE.read_text().replace("HealthCheckPath: /health/readiness", "HealthCheckPaht: /x")
    )
    done = subprocess.run([cfn_lint(), "--", str(broken)], capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "HealthCheckPaht" in done.stdout


def test_the_instances_get_exactly_the_iam_policy_of_deploy_iam_policy_json() -> None:
    role = one("AWS::IAM::Role")
    policies = {policy["PolicyName"]: policy["PolicyDocument"] for policy in role["Policies"]}
    assert policies["bedrock-proxy"] == json.loads((REPO / "deploy" / "iam-policy.json").read_text())
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    # Beyond Bedrock: the secrets this stack made (and Langfuse's, if given), and only the config parameter.
    read_secrets, read_config = policies["bedrock-proxy-boot"]["Statement"]
    assert read_secrets["Action"] == "secretsmanager:GetSecretValue"
    assert read_secrets["Resource"][:2] == [{"Ref": "MasterKeySecret"}, {"Ref": "DatabaseSecret"}]
    condition, statement, _ = read_config["Fn::If"]
    assert condition == "HasConfigParameter" and statement["Action"] == "ssm:GetParameter"
    assert statement["Resource"]["Fn::Sub"].endswith(":parameter${ConfigParameterName}")
    profile = one("AWS::IAM::InstanceProfile")
    assert profile["Roles"] == [{"Ref": "InstanceRole"}]
    launch = one("AWS::EC2::LaunchTemplate")["LaunchTemplateData"]
    assert launch["IamInstanceProfile"] == {"Arn": {"Fn::GetAtt": ["InstanceProfile", "Arn"]}}


def test_the_container_reaches_the_instance_profile_through_imdsv2_with_hop_limit_2() -> None:
    options = one("AWS::EC2::LaunchTemplate")["LaunchTemplateData"]["MetadataOptions"]
    assert options == {"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled"}


def test_the_load_balancer_checks_the_gateways_readiness_route_on_its_port() -> None:
    target = one("AWS::ElasticLoadBalancingV2::TargetGroup")
    assert ("GET", target["HealthCheckPath"]) in ROUTES
    assert target["HealthCheckPath"] == "/health/readiness"
    assert target["Port"] == {"Ref": "GatewayPort"}
    delay = {a["Key"]: a["Value"] for a in target["TargetGroupAttributes"]}[
        "deregistration_delay.timeout_seconds"
    ]
    grace = re.search(r"stop_grace_period: (\d+)s", (REPO / "docker-compose.yml").read_text()).group(1)  # type: ignore[union-attr]
    assert int(delay) >= int(grace), "the load balancer must wait as long as the gateway drains"
    group = one("AWS::AutoScaling::AutoScalingGroup")
    assert group["TargetGroupARNs"] == [{"Ref": "TargetGroup"}] and group["HealthCheckType"] == "ELB"
    assert group["VPCZoneIdentifier"] == {"Ref": "PrivateSubnetIds"}


def test_redis_and_postgres_are_private_and_reachable_from_the_gateway_instances_only() -> None:
    for group in ("RedisSecurityGroup", "DatabaseSecurityGroup"):
        rules = resources("AWS::EC2::SecurityGroup")[group]["Properties"]["SecurityGroupIngress"]
        assert [rule["SourceSecurityGroupId"] for rule in rules] == [{"Ref": "InstanceSecurityGroup"}]
    instance_rules = resources("AWS::EC2::SecurityGroup")["InstanceSecurityGroup"]["Properties"]
    assert [r["SourceSecurityGroupId"] for r in instance_rules["SecurityGroupIngress"]] == [
        {"Ref": "LoadBalancerSecurityGroup"}
    ]
    database = one("AWS::RDS::DBInstance")
    assert database["Engine"] == "postgres" and database["PubliclyAccessible"] is False
    assert database["StorageEncrypted"] is True
    assert "{{resolve:secretsmanager:" in database["MasterUserPassword"]["Fn::Sub"]
    redis = one("AWS::ElastiCache::ReplicationGroup")
    assert redis["Engine"] == "redis" and redis["AutomaticFailoverEnabled"] is True
    assert redis["TransitEncryptionEnabled"] is True, "TLS: the gateway and doctor speak rediss://"


# --- The user data, run ------------------------------------------------------------------------------------

PARAMETERS = {
    "AWS::StackName": "gw",
    "AWS::Region": "eu-west-1",
    "ComposeVersion": "v2.40.3",
    "GitRef": "v1.2.3",
    "SkipDoctor": "0",
    "RepositoryUrl": "https://git.example.com/team/bedrock-proxy.git",
    "GatewayPort": "4002",
    "NumWorkers": "2",
    "BedrockRegion": "eu-west-1",
    "MasterKeySecret": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:master",
    "DatabaseSecret": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:database",
    "RedisHost": "gw-redis.abc123.ng.0001.euw1.cache.amazonaws.com",
    "RedisPort": "6379",
    "DatabaseHost": "gw-db.abc123.eu-west-1.rds.amazonaws.com",
    "DatabasePort": "5432",
}
SECRETS = {
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:master": "Kq3xF8mZ2pVb7nR1tW5yC9dL4hJ6gS0a",
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:database": json.dumps(
        {"username": "bedrock_proxy", "password": "P4ssw0rdFromSecretsManager"}
    ),
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:langfuse": json.dumps(
        {
            "LANGFUSE_PUBLIC_KEY": "pk-lf-1",
            "LANGFUSE_SECRET_KEY": "sk-lf-1",
            "LANGFUSE_HOST": "https://lf.example",
        }
    ),
}
CONFIG_FROM_SSM = """model_list:
  - model_name: haiku
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
"""


def user_data(parameters: dict[str, str]) -> str:
    """The launch template's user data with Fn::Sub resolved as CloudFormation does."""
    text, variables = one("AWS::EC2::LaunchTemplate")["LaunchTemplateData"]["UserData"]["Fn::Base64"][
        "Fn::Sub"
    ]
    assert set(variables) <= set(parameters)

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        assert name in parameters, f"user data refers to ${{{name}}}, which the test does not know"
        return parameters[name]

    return re.sub(r"\$\{([^}]+)\}", substitute, text)


STAND_INS = {
    # Commands of the instance that would change this machine or reach the network.
    "dnf": 'echo "dnf $*" >>"$CALLS"',
    "systemctl": 'echo "systemctl $*" >>"$CALLS"',
    "uname": "echo x86_64",
    "curl": 'echo "curl $*" >>"$CALLS"; while [ $# -gt 0 ]; do [ "$1" = -o ] && : >"$2"; shift; done',
    "cfn-signal": 'echo "cfn-signal $*" >>"$CALLS"',
    # git clone: this repository's files as the clone, with deploy.sh replaced by a recorder.
    "git": """echo "git $*" >>"$CALLS"
target="${*: -1}"
mkdir -p "$target/scripts"
cp "$REPO/docker-compose.yml" "$REPO/config.yaml" "$REPO/.env.example" "$target/"
cat >"$target/scripts/deploy.sh" <<'STUB'
#!/bin/sh
echo "deploy.sh SKIP_DOCTOR=$SKIP_DOCTOR HEALTH_TIMEOUT=$HEALTH_TIMEOUT in $(pwd)" >>"$CALLS"
STUB
chmod +x "$target/scripts/deploy.sh"
""",
    "aws": """echo "aws $*" >>"$CALLS"
case "$1 $2" in
"secretsmanager get-secret-value")
    while [ "$1" != --secret-id ]; do shift; done
    file="$SECRETS/${2##*:}"
    [ -f "$file" ] || { echo "ResourceNotFoundException: $2" >&2; exit 254; }
    cat "$file"; echo ;;
"ssm get-parameter") cat "$SECRETS/config.yaml" ;;
*) exit 2 ;;
esac
""",
}


def run_user_data(
    tmp_path: Path, parameters: dict[str, str], secrets: dict[str, str]
) -> tuple[int, str, Path]:
    """Runs the user data as root would on the instance, with /opt/bedrock-proxy and Compose's plugin folder
    moved into tmp_path and the commands above standing in for the system and AWS."""
    bin_dir, secrets_dir = tmp_path / "bin", tmp_path / "secrets"
    bin_dir.mkdir()
    secrets_dir.mkdir()
    for name, body in STAND_INS.items():
        (bin_dir / name).write_text("#!/bin/bash\n" + body)
        (bin_dir / name).chmod(0o755)
    for arn, value in secrets.items():
        (secrets_dir / arn.rsplit(":", 1)[1]).write_text(value)
    (secrets_dir / "config.yaml").write_text(CONFIG_FROM_SSM)
    install = tmp_path / "opt" / "bedrock-proxy"
    script = (
        user_data(parameters)
        .replace("/opt/bedrock-proxy", str(install))
        .replace("/usr/local/lib/docker/cli-plugins", str(tmp_path / "cli-plugins"))
    )
    (tmp_path / "user-data.sh").write_text(script)
    calls = tmp_path / "calls.log"
    calls.write_text("")
    done = subprocess.run(
        ["bash", str(tmp_path / "user-data.sh")],
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "CALLS": str(calls),
            "SECRETS": str(secrets_dir),
            "REPO": str(REPO),
        },
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    return done.returncode, calls.read_text() + done.stderr, install


def test_user_data_passes_shellcheck(tmp_path: Path) -> None:
    script = tmp_path / "user-data.sh"
    script.write_text(user_data({**PARAMETERS, "ConfigParameterName": "", "LangfuseSecretArn": ""}))
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.fail("shellcheck is not installed; install it with: apt-get install -y shellcheck")
    done = subprocess.run([shellcheck, str(script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout


def test_user_data_installs_the_gateway_and_compose_wires_it_to_elasticache_and_rds(tmp_path: Path) -> None:
    parameters = {**PARAMETERS, "ConfigParameterName": "", "LangfuseSecretArn": ""}
    status, log, install = run_user_data(tmp_path, parameters, SECRETS)
    assert status == 0, log
    assert "dnf install -y docker git jq aws-cfn-bootstrap" in log
    assert "docker/compose/releases/download/v2.40.3/docker-compose-linux-x86_64" in log
    assert f"git clone --depth 1 --branch v1.2.3 {PARAMETERS['RepositoryUrl']} {install}" in log
    assert f"deploy.sh SKIP_DOCTOR=0 HEALTH_TIMEOUT=600 in {install}" in log
    assert log.rstrip().endswith(
        "cfn-signal --exit-code 0 --stack gw --resource AutoScalingGroup --region eu-west-1"
    )
    assert (install / ".env").stat().st_mode & 0o077 == 0, ".env holds the master key: owner only"
    env, _ = gateway_environment(compose_config(install))
    assert env["LITELLM_MASTER_KEY"] == SECRETS[PARAMETERS["MasterKeySecret"]]
    assert env["NUM_WORKERS"] == "2" and env["PORT"] == "4002"
    assert what_the_gateway_uses(env, install / "config.yaml") == (
        None,
        None,
        f"postgresql://bedrock_proxy:P4ssw0rdFromSecretsManager@{PARAMETERS['DatabaseHost']}:5432/bedrock_proxy",
    )
    settings = load_config(install / "config.yaml", {**env, "BEDROCK_PROXY_ENV_FILE": "none"}).settings
    assert settings.redis_url == f"rediss://{PARAMETERS['RedisHost']}:6379/0", "TLS to ElastiCache"
    assert "LANGFUSE_PUBLIC_KEY" not in (install / ".env").read_text()


def test_user_data_takes_config_from_ssm_and_langfuse_keys_from_their_secret(tmp_path: Path) -> None:
    parameters = {
        **PARAMETERS,
        "ConfigParameterName": "/bedrock-proxy/config.yaml",
        "LangfuseSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:langfuse",
    }
    status, log, install = run_user_data(tmp_path, parameters, SECRETS)
    assert status == 0, log
    assert (install / "config.yaml").read_text().strip() == CONFIG_FROM_SSM.strip()
    env, _ = gateway_environment(compose_config(install))
    assert (env["LANGFUSE_PUBLIC_KEY"], env["LANGFUSE_SECRET_KEY"], env["LANGFUSE_HOST"]) == (
        "pk-lf-1",
        "sk-lf-1",
        "https://lf.example",
    )


def test_user_data_that_cannot_read_the_master_key_signals_failure_and_starts_nothing(tmp_path: Path) -> None:
    """Without the shared key every host would generate its own: the instance must fail, not serve."""
    parameters = {**PARAMETERS, "ConfigParameterName": "", "LangfuseSecretArn": ""}
    secrets = {arn: value for arn, value in SECRETS.items() if not arn.endswith(":master")}
    status, log, install = run_user_data(tmp_path, parameters, secrets)
    assert status != 0
    signals = re.findall(r"cfn-signal --exit-code (\d+)", log)
    assert len(signals) == 1 and signals[0] != "0", log
    assert "deploy.sh" not in log and not (install / ".env").exists()


def test_the_documented_deploy_command_gives_every_parameter_without_a_default() -> None:
    text = (REPO / "docs" / "deploy.md").read_text()
    command = re.search(r"^aws cloudformation deploy .*?(?<!\\)\n", text, flags=re.MULTILINE | re.DOTALL)
    assert command, "docs/deploy.md has no aws cloudformation deploy command"
    words = shlex.split(command.group(0).replace("\\\n", " "))
    assert words[words.index("--template-file") + 1] == TEMPLATE.relative_to(REPO).as_posix()
    assert words[words.index("--capabilities") + 1] == "CAPABILITY_IAM"
    given = {word.split("=", 1)[0] for word in words[words.index("--parameter-overrides") + 1 :]}
    declared = template()["Parameters"]
    assert given <= set(declared), given - set(declared)
    required = {name for name, parameter in declared.items() if "Default" not in parameter}
    assert required <= given, f"the documented command misses {required - given}"
