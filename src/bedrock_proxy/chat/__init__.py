"""The gateway's own chat types, independent of any client API and of Bedrock.

A client API (`bedrock_proxy.openai`) parses its request body into `ChatRequest` and renders answers from
these types; the provider (`bedrock_proxy.bedrock`) translates between them and Converse.
"""
