"""Parse YAML text into plain data, plus a line number for every key and a check for duplicate keys.

PyYAML silently keeps the last of two identical keys. Users who paste several snippets of the seed into one
file get two `litellm_settings:` blocks and lose the first one without a word; here that is an error that
names both lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from bedrock_proxy.config.issues import ConfigIssue, child

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class ParsedYaml:
    data: Any
    lines: dict[str, int] = field(default_factory=dict)  # issue path -> 1-based line
    issues: list[ConfigIssue] = field(default_factory=list)


def parse_yaml(text: str) -> ParsedYaml:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        parsed = ParsedYaml(None)
        if node is not None:
            _walk(node, "", parsed, set())
            parsed.data = loader.construct_document(node)
        return parsed
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        message = f"not valid YAML: {problem}" + (f" ({context})" if context else "")
        return ParsedYaml(None, {}, [ConfigIssue("error", "<yaml>", message, line)])
    finally:
        loader.dispose()


def _walk(node: yaml.Node, path: str, parsed: ParsedYaml, seen: set[int]) -> None:
    if id(node) in seen:  # an alias: already walked where its anchor is
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                continue
            key = key_node.value
            key_path = child(path, key)
            line = key_node.start_mark.line + 1
            if key in first_line:
                parsed.issues.append(
                    ConfigIssue(
                        "error",
                        key_path,
                        f"defined twice (lines {first_line[key]} and {line}); YAML keeps only the last one, "
                        "so everything under the first is silently lost: merge the two into one",
                        line,
                    )
                )
            else:
                first_line[key] = line
            parsed.lines.setdefault(key_path, line)
            _walk(value_node, key_path, parsed, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            item_path = child(path, index)
            parsed.lines.setdefault(item_path, item.start_mark.line + 1)
            _walk(item, item_path, parsed, seen)
