"""The live schema as a contract: OpenAPI 3.0 nullable rewritten for JSON Schema, statuses and bodies checked."""

import pytest

from apps.bots.contract import Contract, ContractViolation, _nullable

DOCUMENT = {
    "openapi": "3.0.3",
    "paths": {
        "/api/v1/things/{thing_id}": {
            "get": {
                "responses": {
                    "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                    "404": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                }
            },
            "delete": {"responses": {"204": {"description": "gone"}}},
        }
    },
    "components": {
        "schemas": {
            "Thing": {
                "type": "object",
                "required": ["id", "owner", "size", "kind"],
                "properties": {
                    "id": {"type": "string"},
                    "owner": {"allOf": [{"$ref": "#/components/schemas/Owner"}], "nullable": True},
                    "size": {"type": "integer", "nullable": True},
                    "kind": {"type": "string", "enum": ["a", "b"], "nullable": True},
                },
            },
            "Owner": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object"}}},
        }
    },
}
THING = "/things/{thing_id}"


@pytest.fixture
def contract() -> Contract:
    return Contract(DOCUMENT)


def test_nullable_becomes_a_null_type_or_an_any_of():
    converted = _nullable(DOCUMENT)["components"]["schemas"]["Thing"]["properties"]

    assert converted["size"] == {"type": ["integer", "null"]}
    assert converted["kind"] == {"type": ["string", "null"], "enum": ["a", "b", None]}
    assert converted["owner"] == {"anyOf": [{"allOf": [{"$ref": "#/components/schemas/Owner"}]}, {"type": "null"}]}


@pytest.mark.parametrize("owner", [None, {"name": "Ada"}])
def test_a_body_that_fits_passes(contract, owner):
    contract.check("GET", THING, 200, {"id": "1", "owner": owner, "size": None, "kind": None}, True)


@pytest.mark.parametrize(
    "body, where",
    [
        ({"id": 1, "owner": None, "size": 1, "kind": "a"}, "at id"),
        ({"id": "1", "owner": {}, "size": 1, "kind": "a"}, "at owner"),
        ({"id": "1", "owner": None, "size": 1, "kind": "c"}, "at kind"),
        ({"id": "1", "owner": None, "size": 1}, r"at \(root\): .kind. is a required property"),
    ],
)
def test_a_body_that_does_not_fit_is_a_violation(contract, body, where):
    with pytest.raises(ContractViolation, match=where):
        contract.check("GET", THING, 200, body, True)


def test_an_undocumented_status_or_operation_is_a_violation(contract):
    with pytest.raises(ContractViolation, match="status 500 is not documented"):
        contract.check("GET", THING, 500, {"error": {}}, True)
    with pytest.raises(ContractViolation, match="not in the schema"):
        contract.check("PATCH", THING, 200, {}, True)


def test_a_status_without_content_takes_no_body(contract):
    contract.check("DELETE", THING, 204, None, False)
    with pytest.raises(ContractViolation, match="a body where the schema has none"):
        contract.check("DELETE", THING, 204, {"deleted": True}, True)


def test_has_operation(contract):
    assert contract.has_operation("GET", THING) and contract.has_operation("DELETE", THING)
    assert not contract.has_operation("POST", THING) and not contract.has_operation("GET", "/other")
