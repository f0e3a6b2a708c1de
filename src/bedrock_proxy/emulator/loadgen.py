"""A small load generator for measuring the emulator (when `wrk` is not installed).

    taskset -c 1 python -m bedrock_proxy.emulator.loadgen --url http://127.0.0.1:4010 --seconds 10

Sends unsigned non-streaming Converse requests (run the emulator with --no-verify) from many concurrent
keep-alive connections and prints requests per second. It is itself Python: pin it to another core.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp
import orjson

DEFAULT_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


async def _worker(
    session: aiohttp.ClientSession, url: str, body: bytes, stop: float, counts: list[int]
) -> None:
    headers = {"content-type": "application/json"}
    while time.perf_counter() < stop:
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            counts[0 if response.status == 200 else 1] += 1


async def run(url: str, model: str, concurrency: int, seconds: float, stream: bool) -> tuple[float, int]:
    body = orjson.dumps(
        {
            "messages": [
                {"role": "user", "content": [{"text": "Bonjour, comment vas-tu? Explique-moi l'IA."}]}
            ],
            "inferenceConfig": {"maxTokens": 256, "temperature": 0.5},
        }
    )
    target = f"{url.rstrip('/')}/model/{model}/{'converse-stream' if stream else 'converse'}"
    counts = [0, 0]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        stop = started + seconds
        await asyncio.gather(*(_worker(session, target, body, stop, counts) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return counts[0] / elapsed, counts[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:4010")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--stream", action="store_true", help="ConverseStream instead of Converse")
    args = parser.parse_args(argv)
    rate, failures = asyncio.run(run(args.url, args.model, args.concurrency, args.seconds, args.stream))
    print(f"{rate:.0f} requests/s ({failures} non-200 answers)")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
