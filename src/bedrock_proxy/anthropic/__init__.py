"""The Anthropic Messages API as a client API: parse its bodies into the gateway's ChatRequest, render
ChatAnswers and stream deltas as its messages and events, and its error shape (docs/client-apis.md)."""
