"""Usage estimated from what a call produced, for a call cut short before Bedrock sent its usage (the client
left mid-stream, the stream failed): what it is charged, flagged as estimated. Pure functions.

The estimate is the one the limits use (about four characters a token): the prompt's estimate in, the
characters streamed out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from bedrock_proxy.chat.answer import ChatAnswer
from bedrock_proxy.chat.usage import Usage, total_usage


def answer_tokens(answer: ChatAnswer) -> int:
    """Tokens of what an answer holds so far: its text, reasoning, tool names and arguments."""
    characters = len(answer.content or "") + len(answer.reasoning or "")
    for call in answer.tool_calls:
        characters += len(call.name) + len(call.arguments)
    return math.ceil(characters / 4)


def charged_usage(
    prompt_tokens: int, choices: Sequence[tuple[Usage | None, ChatAnswer]]
) -> tuple[Usage, bool]:
    """The usage to charge for a call's choices: Bedrock's where it arrived, else the estimate (the prompt
    estimate in, what was produced out); True when any part is estimated."""
    usages = [
        usage
        if usage is not None
        else Usage(prompt_tokens=prompt_tokens, completion_tokens=answer_tokens(answer))
        for usage, answer in choices
    ]
    return total_usage(usages), any(usage is None for usage, _ in choices)
