"""FastJSONRenderer writes exactly the bytes DRF's JSONRenderer writes, for anything a view may return."""

import datetime
import decimal
import enum
import uuid

import pytest
from django.utils.functional import lazy
from django.utils.safestring import mark_safe
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.renderers import JSONRenderer

from apps.common.renderers import FastJSONRenderer

fast, drf = FastJSONRenderer(), JSONRenderer()

floats = st.floats(allow_nan=False, allow_infinity=False)
scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 + 5) | floats
    | st.text() | st.sampled_from(["\u2028", "a\u2029b", "0.00001", ":1e-5,", "\x00\x1f\x7f\"\\/"])
)
documents = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=8), children, max_size=6),
    max_leaves=40,
)


@settings(max_examples=600, deadline=None)
@given(documents)
def test_any_json_document_is_the_same_bytes(document):
    assert fast.render(document) == drf.render(document)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=-180, max_value=180) | st.floats(min_value=-1e-3, max_value=1e-3), max_size=20))
def test_coordinates_of_every_size_are_the_same_bytes(values):
    document = {"results": [{"latitude": value, "longitude": -value, "tags": [value]} for value in values]}
    assert fast.render(document) == drf.render(document)


class Colour(enum.IntEnum):
    RED = 1


class Word(str):
    pass


def test_the_types_drf_encodes_its_own_way_are_the_same_bytes():
    moment = datetime.datetime(2026, 12, 2, 7, 30, 15, 123456, tzinfo=datetime.UTC)
    document = {
        "at": moment, "naive": moment.replace(tzinfo=None), "day": moment.date(), "time": moment.time(),
        "took": datetime.timedelta(seconds=90), "price": decimal.Decimal("1.10"), "id": uuid.UUID(int=7),
        "lazy": lazy(lambda: "later", str)(), "safe": mark_safe("<b>"), "word": Word("w"), "colour": Colour.RED,
        "set": {3}, "tuple": (1, 2), "bytes": b"raw", "big": 2**70, 5: "int key",
    }
    assert fast.render(document) == drf.render(document)


def test_a_lone_surrogate_fails_as_it_does_in_drf():
    for renderer in (fast, drf):
        with pytest.raises(UnicodeEncodeError):
            renderer.render({"text": "\ud800"})


def test_indent_and_empty_bodies_are_drfs():
    document = {"a": [1, {"b": None}]}
    assert fast.render(document, "application/json; indent=4") == drf.render(document, "application/json; indent=4")
    assert fast.render(None) == b""


def test_a_plain_page_is_encoded_by_orjson_not_by_drf(monkeypatch):
    document = {"results": [{"id": 1, "caption": "café", "latitude": 48.8566, "liked_by_me": False}], "next": None}
    expected = drf.render(document)

    def refuse(*args, **kwargs):
        raise AssertionError("went through DRF's encoder")

    monkeypatch.setattr(JSONRenderer, "render", refuse)
    assert fast.render(document) == expected
