"""Every client example of the seed README, run unchanged against the gateway (the emulator behind it)."""

from __future__ import annotations

import json
import urllib.request

import pytest
from openai import OpenAI


@pytest.fixture(scope="module")
def client(gateway_url: str) -> OpenAI:
    return OpenAI(api_key="sk-1234", base_url=f"{gateway_url}/v1", max_retries=0)


def test_curl_chat_completion_example(gateway_url: str) -> None:
    request = urllib.request.Request(
        f"{gateway_url}/v1/chat/completions",
        data=json.dumps(
            {
                "model": "claude-3-5-sonnet",
                "messages": [{"role": "user", "content": "Bonjour, comment vas-tu?"}],
                "max_tokens": 1024,
                "temperature": 0.7,
            }
        ).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer sk-1234"},
    )
    with urllib.request.urlopen(request) as response:
        body = json.loads(response.read())
        assert response.headers["x-request-id"]
        assert response.headers["x-bedrock-proxy-deployment"] == "claude-3-5-sonnet#0"
    assert body["object"] == "chat.completion"
    assert body["model"] == "claude-3-5-sonnet"
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert body["choices"][0]["message"]["content"]
    assert body["choices"][0]["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


def test_python_sdk_example(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model="claude-3-5-sonnet",
        messages=[{"role": "user", "content": "Explique-moi l'IA en 3 phrases"}],
        max_tokens=500,
        temperature=0.7,
    )
    assert response.choices[0].message.content
    assert response.id.startswith("chatcmpl-")


def test_streaming_example(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model="claude-3-5-sonnet",
        messages=[{"role": "user", "content": "Écris une courte histoire"}],
        stream=True,
    )
    pieces = []
    finish_reasons = []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.choices and chunk.choices[0].finish_reason:
            finish_reasons.append(chunk.choices[0].finish_reason)
    assert len(pieces) > 1, "the answer should arrive in several deltas"
    assert "".join(pieces).strip()
    assert finish_reasons == ["stop"]


def test_embeddings_example(client: OpenAI) -> None:
    response = client.embeddings.create(model="titan-embed-text-v2", input="Texte à vectoriser")
    embedding = response.data[0].embedding
    assert len(embedding) == 1024
    assert response.usage.prompt_tokens > 0


def test_function_calling_example(client: OpenAI) -> None:
    tools = [
        {
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
    ]
    response = client.chat.completions.create(
        model="claude-3-5-sonnet",
        messages=[{"role": "user", "content": "Quelle est la météo à Paris?"}],
        tools=tools,
        tool_choice="auto",
    )
    calls = response.choices[0].message.tool_calls
    assert calls, "the model should call get_weather"
    assert calls[0].function.name == "get_weather"
    assert "city" in json.loads(calls[0].function.arguments)
    assert response.choices[0].finish_reason == "tool_calls"


def test_metadata_example(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model="claude-3-5-sonnet",
        messages=[{"role": "user", "content": "Hello"}],
        metadata={"user_id": "user-123", "session_id": "session-456", "environment": "production"},
    )
    assert response.choices[0].message.content


def test_langchain_example(gateway_url: str) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        model="claude-3-5-sonnet",
        openai_api_key="sk-1234",
        openai_api_base=f"{gateway_url}/v1",
        temperature=0.7,
        max_retries=0,
    )
    response = llm.invoke("Bonjour!")
    assert isinstance(response.content, str) and response.content


def test_health_example(gateway_url: str) -> None:
    with urllib.request.urlopen(f"{gateway_url}/health") as response:
        assert json.loads(response.read()) == {"status": "healthy"}


def test_troubleshooting_endpoints_answer(gateway_url: str) -> None:
    with urllib.request.urlopen(f"{gateway_url}/models") as response:
        names = [model["id"] for model in json.loads(response.read())["data"]]
    assert "claude-3-5-sonnet" in names and "mistral-7b" in names
    with urllib.request.urlopen(f"{gateway_url}/model/info") as response:
        info = json.loads(response.read())["data"]
    assert {entry["model_info"]["region"] for entry in info} == {"eu-west-1"}
    with urllib.request.urlopen(f"{gateway_url}/metrics") as response:
        assert response.status == 200
