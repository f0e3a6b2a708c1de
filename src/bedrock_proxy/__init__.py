"""Bedrock Proxy: an OpenAI-compatible gateway in front of AWS Bedrock."""

__version__ = "0.1.0"
