"""Local emulator of Bedrock Runtime and the Bedrock control plane, faithful enough for the real AWS SDK."""

from bedrock_proxy.emulator.app import EmulatorApp, create_app
from bedrock_proxy.emulator.options import EXAMPLE_ACCESS_KEY, EXAMPLE_SECRET_KEY, EmulatorOptions
from bedrock_proxy.emulator.server import RunningEmulator, run_from_args, start_in_thread

__all__ = [
    "EXAMPLE_ACCESS_KEY",
    "EXAMPLE_SECRET_KEY",
    "EmulatorApp",
    "EmulatorOptions",
    "RunningEmulator",
    "create_app",
    "run_from_args",
    "start_in_thread",
]
