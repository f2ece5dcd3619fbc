"""Read one YAML document into plain Python values, remembering the line of every field.

The document is composed into nodes (not constructed) so that duplicate keys can be reported
with their lines instead of aborting, and so that scalars follow YAML 1.2: `no`, `on` and `yes`
stay strings and `012` is the decimal 12, never the octal 10.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from offerlab.definitions.problems import Location

_TAG = "tag:yaml.org,2002:"
_STRING_TAGS = {f"{_TAG}str", f"{_TAG}timestamp", f"{_TAG}binary", f"{_TAG}merge"}
_SPECIAL_FLOATS = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}


@dataclass(frozen=True)
class SourceIssue:
    """A problem found while reading YAML, before any schema applies."""

    line: int | None
    location: Location
    message: str


@dataclass
class YamlDocument:
    """Plain values of one document plus the 1-based line of each location in it."""

    data: Any = None
    lines: dict[Location, int] = field(default_factory=dict)
    scalar_texts: dict[Location, str] = field(default_factory=dict)
    issues: list[SourceIssue] = field(default_factory=list)

    def line_of(self, location: Location) -> int | None:
        """The line of `location`, or of its closest enclosing location that exists."""
        for end in range(len(location), -1, -1):
            line = self.lines.get(tuple(location[:end]))
            if line is not None:
                return line
        return None


def read_yaml(text: str) -> YamlDocument:
    """Parse exactly one YAML 1.2 document; syntax problems become issues, never exceptions."""
    document = YamlDocument()
    try:
        nodes = list(_make_yaml().compose_all(io.StringIO(text)))
    except MarkedYAMLError as error:
        document.issues.append(_syntax_issue(error))
        return document
    except YAMLError as error:
        document.issues.append(SourceIssue(None, (), f"invalid YAML: {error}"))
        return document
    if not nodes or nodes[0] is None:
        document.issues.append(SourceIssue(None, (), "file is empty"))
        return document
    if len(nodes) > 1:
        line = nodes[1].start_mark.line + 1
        document.issues.append(SourceIssue(line, (), "only one YAML document per file is allowed"))
    _Walker(document).fill(nodes[0])
    return document


def _make_yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.version = (1, 2)
    return yaml


def _syntax_issue(error: MarkedYAMLError) -> SourceIssue:
    mark = error.problem_mark or error.context_mark
    line = mark.line + 1 if mark is not None else None
    problem = error.problem or "invalid YAML"
    if error.context:
        problem = f"{error.context}, {problem}"
    return SourceIssue(line, (), f"invalid YAML: {problem}")


class _Walker:
    def __init__(self, document: YamlDocument) -> None:
        self._document = document
        self._open: set[int] = set()

    def fill(self, root: Node) -> None:
        self._document.lines[()] = root.start_mark.line + 1
        self._document.data = self._value(root, ())

    def _value(self, node: Node, location: Location) -> Any:
        if id(node) in self._open:
            self._issue(node, location, "recursive alias is not allowed")
            return None
        self._open.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, location)
            if isinstance(node, SequenceNode):
                return self._sequence(node, location)
            return self._scalar(node, location)
        finally:
            self._open.discard(id(node))

    def _mapping(self, node: MappingNode, location: Location) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self._issue(key_node, location, "keys must be plain names")
                continue
            key = str(key_node.value)
            child = (*location, key)
            if key in values:
                first = self._document.lines[child]
                self._issue(key_node, child, f"duplicate key (first defined on line {first})")
                continue
            self._document.lines[child] = key_node.start_mark.line + 1
            values[key] = self._value(value_node, child)
        return values

    def _sequence(self, node: SequenceNode, location: Location) -> list[Any]:
        items = []
        for index, item_node in enumerate(node.value):
            child = (*location, index)
            self._document.lines[child] = item_node.start_mark.line + 1
            items.append(self._value(item_node, child))
        return items

    def _scalar(self, node: ScalarNode, location: Location) -> Any:
        tag = str(node.tag)
        text = str(node.value)
        if node.style == ">":
            # The round-trip composer marks fold points with BEL; drop the markers.
            text = text.replace("\a", "")
        if tag not in _STRING_TAGS:
            self._document.scalar_texts[location] = text
        try:
            return _convert_scalar(tag, text)
        except ValueError:
            self._issue(node, location, f"unsupported YAML tag {tag}")
            return text

    def _issue(self, node: Node, location: Location, message: str) -> None:
        line = node.start_mark.line + 1
        self._document.issues.append(SourceIssue(line, location, message))


def _convert_scalar(tag: str, text: str) -> Any:
    if tag in _STRING_TAGS:
        return text
    if tag == f"{_TAG}null":
        return None
    if tag == f"{_TAG}bool":
        return text.lower() == "true"
    if tag == f"{_TAG}int":
        return _convert_int(text)
    if tag == f"{_TAG}float":
        special = _SPECIAL_FLOATS.get(text.lower())
        return float(text) if special is None else special
    raise ValueError(tag)


def _convert_int(text: str) -> int:
    lowered = text.lower().lstrip("+")
    sign = -1 if lowered.startswith("-") else 1
    digits = lowered.lstrip("-")
    if digits.startswith("0x"):
        return sign * int(digits[2:], 16)
    if digits.startswith("0o"):
        return sign * int(digits[2:], 8)
    return sign * int(digits, 10)


__all__ = ["SourceIssue", "YamlDocument", "read_yaml"]
