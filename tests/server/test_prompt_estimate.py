"""The prompt estimate behind tpm limits and context-window checks counts a Responses request's items as it
counts the same conversation sent as chat messages."""

from __future__ import annotations

from bedrock_proxy.openai.chat_request import parse_chat_request
from bedrock_proxy.openai.responses_request import parse_responses_request
from bedrock_proxy.server.model_calls import prompt_estimate

TEXT = "x" * 400  # 100 tokens at 4 characters a token
ARGS = '{"city": "Paris"}'


def test_responses_items_are_estimated_like_the_same_chat_messages() -> None:
    chat = parse_chat_request(
        {
            "model": "m",
            "messages": [
                {"role": "system", "content": TEXT},
                {"role": "user", "content": [{"type": "text", "text": TEXT}]},
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
            ],
        }
    )
    responses = parse_responses_request(
        {
            "model": "m",
            "instructions": TEXT,
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": TEXT}]},
                {"role": "user", "content": [{"type": "input_image", "image_url": "https://x/y.png"}]},
            ],
        }
    ).chat
    assert prompt_estimate(chat) == prompt_estimate(responses) == 200 + 1600


def test_tool_call_arguments_count_too() -> None:
    call = {"type": "function_call", "call_id": "c", "name": "f", "arguments": ARGS}
    responses = parse_responses_request({"model": "m", "input": [call]}).chat
    assert prompt_estimate(responses) > 0
