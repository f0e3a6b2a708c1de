"""Command line: serve | demo | emulator | check-config | doctor."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bedrock-proxy", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the OpenAI-compatible gateway")
    serve.add_argument("--config", default="config.yaml")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=4002)
    serve.add_argument("--num-workers", "--num_workers", dest="num_workers", type=int, default=None)
    _env_file_option(serve)

    demo = commands.add_parser("demo", help="the gateway wired to an in-process Bedrock emulator")
    demo.add_argument("--config", default=None, help="default: the repository's config.yaml shapes")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=4002)

    emulator = commands.add_parser("emulator", help="a local Bedrock Runtime + control plane emulator")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=4010)
    emulator.add_argument("--access-key", default="AKIDEXAMPLE")
    emulator.add_argument("--secret-key", default="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    emulator.add_argument("--bearer-token", default=None, help="also accept this AWS_BEARER_TOKEN_BEDROCK")
    emulator.add_argument("--tls-cert", default=None, help="PEM certificate: serve HTTPS (with --tls-key)")
    emulator.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert")
    emulator.add_argument("--no-verify", action="store_true", help="skip SigV4 verification (benchmarks)")
    emulator.add_argument("--region", default="eu-west-1")
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

    for name in ("check-config", "doctor"):
        sub = commands.add_parser(name)
        sub.add_argument("--config", default="config.yaml")
        _env_file_option(sub)
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
        from bedrock_proxy.server.run import serve_from_args

        return serve_from_args(args)
    if args.command == "demo":
        from bedrock_proxy.server.run import demo_from_args

        return demo_from_args(args)
    if args.command == "check-config":
        from bedrock_proxy.preflight import check_config_from_args

        return check_config_from_args(args)
    if args.command == "doctor":
        from bedrock_proxy.doctor import doctor_from_args

        return doctor_from_args(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
