"""The JSON body parser, with its size and nesting capped before anything is parsed.

Python's ``json`` recurses once per level: ``[`` x 50,000 ends in a ``RecursionError`` (a 500).
The API's bodies are small and flat (a caption, a comment, credentials), so a body larger than
``JSON_MAX_BODY_BYTES`` is 413 and one nested deeper than ``JSON_MAX_DEPTH`` is 400 ``parse_error``.
"""

import re
from itertools import accumulate

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

from apps.common.exceptions import PayloadTooLarge

# An unterminated string runs to the end (the closing quote is optional): one left-to-right pass, never
# a rescan from every quote, so a hostile body costs linear time.
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str) -> int:
    """How deeply ``text`` nests arrays and objects (brackets inside strings do not count)."""
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub('""', text))
    return max(accumulate(_STEP[char] for char in brackets), default=0)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser behind a size cap and a depth cap."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.JSON_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"A JSON body may have at most {limit} bytes.", code="too_large")
        try:
            text = raw.decode(parsers.get_encoding(parser_context or {}))
        except (ValueError, LookupError) as exc:  # UnicodeDecodeError is a ValueError
            raise ParseError(f"JSON parse error - {exc}") from exc
        if json_depth(text) > settings.JSON_MAX_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {settings.JSON_MAX_DEPTH} levels.")
        try:
            return json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
