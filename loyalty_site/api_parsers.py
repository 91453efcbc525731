"""The API's JSON parser: DRF's, refusing documents nested deeper than any real request.

Python's JSON decoder recurses once per nesting level, so a 5,000-deep ``[[[[...`` raised
``RecursionError`` (a 500), and a document just under the interpreter's limit would recurse as
deeply again in every serializer or ``json.dumps`` that walks it. The API's bodies are at most
four levels deep (basket -> lines -> line -> field); anything deeper than :data:`MAX_DEPTH` is
refused with 400 ``parse_error`` before a serializer sees it.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

#: Deepest nesting of objects and arrays accepted in a request body.
MAX_DEPTH = 16


class BoundedJSONParser(JSONParser):
    """DRF's ``JSONParser`` with a nesting limit (see the module docstring)."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(_too_deep()) from exc
        if _depth_exceeds(data, MAX_DEPTH):
            raise ParseError(_too_deep())
        return data


def _too_deep() -> str:
    return f"JSON parse error - the document is nested deeper than {MAX_DEPTH} levels."


def _depth_exceeds(data: Any, limit: int) -> bool:
    """True when ``data`` nests lists and dicts more than ``limit`` levels (no recursion)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
