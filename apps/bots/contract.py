"""The live OpenAPI schema as a contract: every answer the bots get is checked against it.

The server's own /api/schema/ (OpenAPI 3.0) is fetched once; each response's status must be documented for
its operation and its JSON body must match that status's schema. OpenAPI 3.0's ``nullable`` is rewritten
into JSON Schema (``type: [.., "null"]`` or ``anyOf`` with null) so jsonschema can validate it.
"""

from __future__ import annotations

import threading
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_URI = "urn:shutter:openapi"


def _nullable(node: Any) -> Any:
    """A copy of ``node`` with OpenAPI 3.0's nullable turned into JSON Schema's null type."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _nullable(value) for key, value in node.items() if key not in ("nullable", "readOnly", "writeOnly")}
    if node.get("nullable") is True:
        if "type" in out and "$ref" not in out and "allOf" not in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            return {"anyOf": [out, {"type": "null"}]}
    return out


class ContractViolation(Exception):
    """A response that does not match the schema's shape for its operation and status."""


class Contract:
    """Validators for (method, path template, status), built lazily from one schema document."""

    def __init__(self, document: dict, prefix: str = "/api/v1"):
        self.document = _nullable(document)
        self.prefix = prefix
        self.registry = Registry().with_resource(SCHEMA_URI, Resource(self.document, specification=DRAFT202012))
        self._validators: dict[tuple[str, str, int], Any] = {}
        self._lock = threading.Lock()

    def has_operation(self, method: str, template: str) -> bool:
        return method.lower() in self.document.get("paths", {}).get(self.prefix + template, {})

    def _response_spec(self, method: str, template: str, status: int) -> dict:
        operation = self.document.get("paths", {}).get(self.prefix + template, {}).get(method.lower())
        if operation is None:
            raise ContractViolation(f"{method} {template} is not in the schema")
        responses = operation.get("responses", {})
        spec = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
        if spec is None:
            raise ContractViolation(f"{method} {template}: status {status} is not documented")
        return spec

    def _validator(self, method: str, template: str, status: int):
        key = (method, template, status)
        with self._lock:
            if key not in self._validators:
                spec = self._response_spec(method, template, status)
                schema = spec.get("content", {}).get("application/json", {}).get("schema")
                self._validators[key] = (
                    None if schema is None else jsonschema.Draft202012Validator(_rooted(schema), registry=self.registry)
                )
            return self._validators[key]

    def check(self, method: str, template: str, status: int, body: Any, has_body: bool) -> None:
        """Raise ContractViolation unless ``status`` is documented for the operation and ``body`` fits it."""
        validator = self._validator(method, template, status)
        if validator is None:
            if has_body and body not in (None, b"", ""):
                raise ContractViolation(f"{method} {template} {status}: a body where the schema has none")
            return
        errors = sorted(validator.iter_errors(body), key=lambda error: list(error.absolute_path))
        if errors:
            first = errors[0]
            where = "/".join(str(part) for part in first.absolute_path) or "(root)"
            raise ContractViolation(f"{method} {template} {status}: at {where}: {first.message[:300]}")


def _rooted(schema: dict) -> dict:
    """A response schema whose $refs (``#/components/...``) resolve against the whole document."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "allOf": [_retarget(schema)]}


def _retarget(node: Any) -> Any:
    if isinstance(node, list):
        return [_retarget(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        key: (SCHEMA_URI + value if key == "$ref" and isinstance(value, str) and value.startswith("#") else
              _retarget(value))
        for key, value in node.items()
    }
