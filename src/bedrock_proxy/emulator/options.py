"""Emulator settings: the `bedrock-proxy emulator` flags as one dataclass."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from bedrock_proxy.emulator.controls import FAULTS

EXAMPLE_ACCESS_KEY = "AKIDEXAMPLE"
EXAMPLE_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


@dataclass(slots=True)
class EmulatorOptions:
    """How the emulator authenticates, paces its answers and injects faults by default."""

    access_key: str = EXAMPLE_ACCESS_KEY
    secret_key: str = EXAMPLE_SECRET_KEY
    bearer_token: str | None = None
    verify: bool = True
    region: str = "eu-west-1"
    ttft: float = 0.0  # seconds before the first stream event
    delta_gap: float = 0.0  # seconds between stream deltas
    latency: float = 0.0  # seconds added to non-stream answers
    fault_rates: dict[str, float] = field(default_factory=dict)  # fault name -> fraction of requests
    seed: int | None = None
    slow_latency: float = 1.0  # what `fault=slow` waits when no latency is given
    timeout_cap: float = 300.0  # `fault=timeout` answers 408 after this long if the client is still there
    stream_error_after: int = 2  # deltas before a rate-injected stream-error
    tls_certfile: str | None = None  # serve HTTPS with this PEM certificate (botocore sends bearer tokens
    tls_keyfile: str | None = None  # only over HTTPS, as Bedrock itself is only served over HTTPS)

    def __post_init__(self) -> None:
        for name, rate in self.fault_rates.items():
            if name not in FAULTS:
                raise ValueError(f"unknown fault {name!r}; known faults: {', '.join(FAULTS)}")
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"fault rate for {name!r} must be between 0 and 1, got {rate}")
        if sum(self.fault_rates.values()) > 1.0:
            raise ValueError("fault rates add up to more than 1")
        if bool(self.tls_certfile) != bool(self.tls_keyfile):
            raise ValueError("--tls-cert and --tls-key go together: give both to serve HTTPS, or neither")

    @property
    def scheme(self) -> str:
        return "https" if self.tls_certfile else "http"

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> EmulatorOptions:
        return cls(
            access_key=args.access_key,
            secret_key=args.secret_key,
            bearer_token=args.bearer_token,
            verify=not args.no_verify,
            region=args.region,
            ttft=args.ttft,
            delta_gap=args.delta_gap,
            latency=args.latency,
            fault_rates=parse_fault_rates(args.fault_rate or []),
            seed=args.seed,
            tls_certfile=args.tls_cert,
            tls_keyfile=args.tls_key,
        )


def parse_fault_rates(items: list[str]) -> dict[str, float]:
    """`["throttling=0.1", "internal=0.05"]` -> {"throttling": 0.1, "internal": 0.05}."""
    rates: dict[str, float] = {}
    for item in items:
        name, sep, rate = item.partition("=")
        if not sep:
            raise ValueError(f"--fault-rate expects FAULT=RATE, got {item!r}")
        try:
            rates[name.strip()] = float(rate)
        except ValueError:
            raise ValueError(f"--fault-rate {item!r}: RATE must be a number between 0 and 1") from None
    return rates
