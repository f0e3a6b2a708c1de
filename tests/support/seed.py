"""The seed's model tables (model_name -> Bedrock id, exactly as the seed writes them) and the function tool
of its function-calling example."""

SEED_TABLE = {
    "claude-3-5-sonnet": "anthropic.claude-3-5-sonnet-20241022-v2:0",
    "claude-3-opus": "anthropic.claude-3-opus-20240229-v1:0",
    "claude-3-sonnet": "anthropic.claude-3-sonnet-20240229-v1:0",
    "claude-3-haiku": "anthropic.claude-3-haiku-20240307-v1:0",
    "titan-text-express": "amazon.titan-text-express-v1",
    "titan-text-lite": "amazon.titan-text-lite-v1",
    "titan-embed-text": "amazon.titan-embed-text-v1",
    "titan-embed-text-v2": "amazon.titan-embed-text-v2:0",
    "llama3-1-70b": "meta.llama3-1-70b-instruct-v1:0",
    "llama3-1-8b": "meta.llama3-1-8b-instruct-v1:0",
    "mistral-large": "mistral.mistral-large-2402-v1:0",
    "mixtral-8x7b": "mistral.mixtral-8x7b-instruct-v0:1",
    "mistral-7b": "mistral.mistral-7b-instruct-v0:2",
}

# the get_weather tool of the seed's function-calling example
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Obtenir la météo d'une ville",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "Nom de la ville"}},
            "required": ["city"],
        },
    },
}
