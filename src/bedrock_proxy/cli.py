"""Command line: serve | demo | emulator | check-config | doctor | keys | teams | users."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version

# Sub-command descriptions, shown by `bedrock-proxy COMMAND --help`: what it does, then its exit codes.
SERVE = """Run the OpenAI-compatible gateway in front of AWS Bedrock with the models and settings of
--config. Exit codes: 0 after a clean stop (Ctrl+C or SIGTERM); 1 when the config has errors or a
setting it needs is missing (the reason is printed)."""
DEMO = """Run the gateway against a Bedrock emulator started in the same process: no AWS account needed,
master key sk-1234. Exit codes: 0 after a clean stop (Ctrl+C); 1 when --config has errors."""
EMULATOR = """Serve a local Bedrock Runtime and control plane emulator (SigV4 verified, real event-stream
framing, faults on demand). Exit codes: 0 after a clean stop; 2 for an unreadable --fault-rate."""
CHECK_CONFIG = """Check a config offline (the file and the environment only: no network, nothing written) and
print every issue with its key and line. Exit codes: 0 when the gateway would start on it (warnings
allowed); 1 when it has errors."""
DOCTOR = """Ask AWS, Langfuse, Redis and the database whether serving this config would work: the AWS identity
and region, a 1-token call to every model, and each configured service. Exit codes: 0 when nothing blocks
serving (Langfuse problems are warnings); 1 when something does (no credentials, a model that cannot be
invoked, an unreachable Redis or database, a config with errors)."""
CONFIG_HELP = "the LiteLLM-style config.yaml to read (default: %(default)s)"
EPILOG = "`bedrock-proxy COMMAND --help` says what a command does and its exit codes (2: a bad command line)."


def package_version() -> str:
    """The installed distribution's version, so --version never disagrees with what pip installed."""
    try:
        return version("bedrock-proxy")
    except PackageNotFoundError:  # run from a source tree that was never installed
        from bedrock_proxy import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bedrock-proxy", description=__doc__, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the OpenAI-compatible gateway", description=SERVE)
    serve.add_argument("--config", default="config.yaml", help=CONFIG_HELP)
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default: %(default)s, all)")
    serve.add_argument("--port", type=int, default=4002, help="port to listen on (default: %(default)s)")
    serve.add_argument(
        "--num-workers",
        "--num_workers",
        dest="num_workers",
        type=int,
        default=None,
        help="worker processes sharing the port (default: env NUM_WORKERS, else 1)",
    )
    _env_file_option(serve)

    demo = commands.add_parser(
        "demo", help="the gateway wired to an in-process Bedrock emulator", description=DEMO
    )
    demo.add_argument(
        "--config", default=None, help="models and settings to use (default: the repository config.yaml's)"
    )
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    demo.add_argument("--port", type=int, default=4002, help="port to listen on (default: %(default)s)")

    emulator = commands.add_parser(
        "emulator", help="a local Bedrock Runtime + control plane emulator", description=EMULATOR
    )
    emulator.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    emulator.add_argument("--port", type=int, default=4010, help="port to listen on (default: %(default)s)")
    emulator.add_argument(
        "--access-key", default="AKIDEXAMPLE", help="AWS access key id SigV4 is verified against"
    )
    emulator.add_argument(
        "--secret-key",
        default="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        help="its secret key (default: AWS's documented example pair)",
    )
    emulator.add_argument("--bearer-token", default=None, help="also accept this AWS_BEARER_TOKEN_BEDROCK")
    emulator.add_argument("--tls-cert", default=None, help="PEM certificate: serve HTTPS (with --tls-key)")
    emulator.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert")
    emulator.add_argument("--no-verify", action="store_true", help="skip SigV4 verification (benchmarks)")
    emulator.add_argument("--region", default="eu-west-1", help="region it answers as (default: %(default)s)")
    emulator.add_argument("--ttft", type=float, default=0.0, help="seconds before the first stream event")
    emulator.add_argument("--delta-gap", type=float, default=0.0, help="seconds between stream deltas")
    emulator.add_argument("--latency", type=float, default=0.0, help="seconds added to non-stream answers")
    emulator.add_argument(
        "--fault-rate",
        action="append",
        default=[],
        metavar="FAULT=RATE",
        help="inject FAULT on a fraction RATE of requests, e.g. throttling=0.1 (repeatable)",
    )
    emulator.add_argument("--seed", type=int, default=None, help="random seed for fault rates")

    checks = {
        "check-config": ("check a config offline and print every issue", CHECK_CONFIG),
        "doctor": ("check AWS access, every model and each configured service", DOCTOR),
    }
    for name, (summary, description) in checks.items():
        sub = commands.add_parser(name, help=summary, description=description)
        sub.add_argument("--config", default="config.yaml", help=CONFIG_HELP)
        _env_file_option(sub)
    from bedrock_proxy.keys_cli import add_commands

    add_commands(commands, CONFIG_HELP)
    return parser


def _env_file_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--env-file",
        default=None,
        help="variables to read before the config (default: .env beside the config, else in the working"
        " directory; 'none' for no file); the environment wins over the file",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "emulator":
        from bedrock_proxy.emulator.server import run_from_args

        return run_from_args(args)
    if args.command == "serve":
        from bedrock_proxy.serve import serve_from_args

        return serve_from_args(args)
    if args.command == "demo":
        from bedrock_proxy.serve import demo_from_args

        return demo_from_args(args)
    if args.command == "check-config":
        from bedrock_proxy.preflight import check_config_from_args

        return check_config_from_args(args)
    if args.command == "doctor":
        from bedrock_proxy.doctor import doctor_from_args

        return doctor_from_args(args)
    if args.command in ("keys", "teams", "users"):
        from bedrock_proxy.keys_cli import run_from_args as manage

        return manage(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
