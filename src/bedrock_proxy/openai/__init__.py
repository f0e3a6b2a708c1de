"""The OpenAI client API: its chat request parsed into the gateway's types, its wire dicts and SSE framing.

Everything that knows an OpenAI field name lives here; nothing here knows Bedrock.
"""
