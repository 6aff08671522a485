"""YAML for files people upload: bounded in size, depth and aliases, with no duplicate keys.

PyYAML's safe loader runs no code, but it will happily compose a 479-byte "billion laughs"
document whose aliases expand to hundreds of millions of nodes the moment anything walks it,
recurse until RecursionError on `[[[[...]]]]`, and let a duplicated key silently replace the
first. `load_strict()` refuses each of these while composing, before anything is constructed,
with a one-line message that names the line and never quotes the document.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_DEPTH = 20  # a kubeconfig is 5 levels deep; its extensions a few more
MAX_ALIASES = 100  # real kubeconfigs use none
MAX_NODES = 50_000  # counted as if every alias were expanded
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


class StrictYamlError(ValueError):
    """The text is not YAML Rampart accepts; the message is one line for a person."""


class _CountingLoader(yaml.SafeLoader):
    """A SafeLoader that refuses deep nesting and too many aliases as it composes."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.depth = 0
        self.aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise StrictYamlError(
                    f"uses more than {MAX_ALIASES} aliases{_where(self.peek_event())}; "
                    "write the values out"
                )
            return super().compose_node(parent, index)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise StrictYamlError(
                f"is nested more than {MAX_DEPTH} levels deep{_where(self.peek_event())}"
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def load_strict(text: str) -> Any:
    """The one document in `text`; raises StrictYamlError (and never RecursionError)."""
    loader = _CountingLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        _check_tree(root, {}, set())
        return loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise StrictYamlError(_describe(exc)) from None
    except RecursionError:
        raise StrictYamlError(f"is nested more than {MAX_DEPTH} levels deep") from None
    finally:
        loader.dispose()


def _check_tree(node: Node, sizes: dict[int, int], path: set[int]) -> int:
    """The node's size with aliases expanded; refuses bombs, cycles and duplicate keys.

    Aliases share node objects, so each node is measured once (memoised by identity): the
    cost follows the document's length, not its expansion.
    """
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in path:
        raise StrictYamlError(f"has an alias that contains itself{_where(node)}")
    if isinstance(node, ScalarNode):
        sizes[key] = 1
        return 1
    path.add(key)
    total = 1
    if isinstance(node, SequenceNode):
        for child in node.value:
            total += _check_tree(child, sizes, path)
    elif isinstance(node, MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                if not isinstance(key_node, ScalarNode) or key_node.tag != _STR_TAG:
                    raise StrictYamlError(f"has a key that is not a string{_where(key_node)}")
                if key_node.value in seen:
                    raise StrictYamlError(
                        f"has the key {_short(key_node.value)} twice in one mapping"
                        f"{_where(key_node)}; the second would silently replace the first"
                    )
                seen.add(key_node.value)
            total += _check_tree(key_node, sizes, path) + _check_tree(value_node, sizes, path)
    path.discard(key)
    if total > MAX_NODES:
        raise StrictYamlError(
            f"expands to more than {MAX_NODES:,} values through its aliases{_where(node)} "
            "(an alias bomb?)"
        )
    sizes[key] = total
    return total


def _where(item: Any) -> str:
    mark = getattr(item, "start_mark", None) or getattr(item, "problem_mark", None)
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""


def _short(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def _describe(exc: yaml.YAMLError) -> str:
    # The parser's message quotes the offending line, which may hold a token: say where only,
    # with the parser's short problem statement (never its context snippet).
    problem = str(getattr(exc, "problem", None) or "malformed YAML")
    if len(problem) > 120 or "\n" in problem:
        problem = "malformed YAML"
    # "found undefined alias 'x'" and "could not determine a constructor for the tag '!x'"
    # quote the document; `token: *s3cr3t...` would quote the token.
    problem = _QUOTED.sub(lambda m: m[0] if len(m[0]) <= 6 else "'…'", problem)
    return f"is not valid YAML{_where(exc)}: {problem}"
