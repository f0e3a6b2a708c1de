"""context_window_fallbacks that cannot help: a fallback whose context window is smaller than its source's.

Such a fallback is only tried after a prompt overflowed the source, so a smaller window overflows too and the
user gets a second error instead of an answer; saying so at start-up beats finding out from that error.
"""

from __future__ import annotations

from collections.abc import Iterable

from bedrock_proxy.bedrock.capabilities import capabilities_for
from bedrock_proxy.config.issues import IssueLog
from bedrock_proxy.config.refs import NameRef
from bedrock_proxy.config.schema import Deployment

CONTEXT_WINDOW_FALLBACKS = "context_window_fallbacks"


def context_window(deployment: Deployment) -> int | None:
    """Tokens the deployment's model can hold: model_info.max_input_tokens when set, else the model's
    known window; None when unknown (such a deployment is never skipped) or for embedding models, whose
    request estimate sums a whole batch of separately counted inputs."""
    if deployment.mode == "embedding":
        return None
    declared = (deployment.model_info or {}).get("max_input_tokens")
    if isinstance(declared, int) and declared > 0:
        return declared
    return capabilities_for(deployment.model_id).context_window


def group_windows(deployments: Iterable[Deployment]) -> dict[str, int]:
    """The largest known context window of each model_name: the most its group can hold (the router
    sends an oversize prompt to whichever deployment can take it). Groups with no known window are left
    out, so they are never judged."""
    windows: dict[str, int] = {}
    for deployment in deployments:
        window = context_window(deployment)
        if window is not None:
            windows[deployment.model_name] = max(window, windows.get(deployment.model_name, 0))
    return windows


def check_fallback_window(
    ref: NameRef, source: str, target: str, windows: dict[str, int], log: IssueLog
) -> None:
    """Warn at `ref.path` when `target` (a context-window fallback of `source`) holds fewer tokens."""
    if ref.table != CONTEXT_WINDOW_FALLBACKS or source not in windows or target not in windows:
        return
    if windows[target] < windows[source]:
        log.warning(
            ref.path,
            f"context-window fallback {ref.name!r} ({windows[target]} tokens) has a smaller context window "
            f"than {ref.source!r} ({windows[source]} tokens): a prompt too long for {ref.source!r} is too "
            f"long for {ref.name!r} too; fall back to a model with a larger window",
        )
