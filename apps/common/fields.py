"""Serializer fields that read JSON as the schema types it: a string is a string, a number a number.

DRF's ``CharField`` turns ``0`` or ``true`` into ``"0"``/``"True"`` and its ``FloatField`` takes
``false`` as 0.0 and ``"1.5"`` as 1.5; the schema promises a string and a number, so anything else is
400. (Multipart bodies carry only strings: their fields stay DRF's.)
"""

from rest_framework import serializers
from rest_framework.fields import empty


class BoundedCharField(serializers.CharField):
    """``max_length`` holds for the text as sent, before DRF trims it: the schema's ``maxLength`` sees the
    text so (Schemathesis posted a caption of leading spaces and 2,300 characters, and DRF took it)."""

    def run_validation(self, data=empty):
        if isinstance(data, str) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().run_validation(data)


class StrictCharField(BoundedCharField):
    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    default_error_messages = {"invalid": "Must be a number."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)
