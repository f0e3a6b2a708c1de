"""Benchmark suite: what the gateway adds over calling the (emulated) Bedrock upstream directly.

`python -m bench [--smoke|--quick] [--with-litellm] [--profile] [--out DIR]`; see docs/performance.md.
"""
