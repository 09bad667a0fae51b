"""The published OpenAPI schema documents every answer, constrains its parameters and follows shared/API.md.

Generated clients and Schemathesis read only the schema: an error answer it leaves out is one a
client cannot parse, a parameter without its bounds is one a client cannot check.
"""

import re
from urllib.parse import quote

import jsonschema_rs
import pytest
from django.conf import settings
from django.core.management import call_command
from drf_spectacular.drainage import reset_generator_stats
from drf_spectacular.generators import SchemaGenerator
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apps.accounts.api import UserSearchApi
from apps.common.ids import ID_REGEX
from apps.common.schema import NOT_BLANK_PATTERN

API_MD = settings.BASE_DIR.parent / "shared" / "API.md"
PREFIX = "/api/v1"
METHODS = ("get", "post", "put", "patch", "delete")
ERROR_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
UPLOADS = {("POST", "/posts"), ("PUT", "/users/me/picture")}
# Contract rows whose endpoints are not built yet. When one lands, this test fails until it leaves the list.
PENDING: set[tuple[str, str]] = set()
# Answers some operations give beyond the ones every operation of their kind gives.
EXTRA_ANSWERS = {
    ("POST", "/auth/signup"): {"409"},
    ("POST", "/auth/login"): {"401"},
    ("POST", "/auth/facebook"): {"401", "409", "503"},
    ("POST", "/auth/facebook/link"): {"409", "503"},
    ("POST", "/auth/refresh"): {"401"},
    ("PATCH", "/users/me"): {"409"},
    ("GET", "/feed"): {"503"},
}
CONTRACT_ROW = re.compile(r"^\|\s*(GET|POST|PUT|PATCH|DELETE)\s+`(/[^`]*)`\s*\|.*\|([^|]*)\|\s*$")


def _template(path: str) -> str:
    """``/users/{user_id}/posts`` and ``/users/{id}/posts`` alike: ``/users/{}/posts``."""
    return re.sub(r"\{[^}]+\}", "{}", path)


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.fixture(scope="module")
def operations(schema) -> dict[tuple[str, str], dict]:
    """(method, path under /api/v1 with ``{}`` for parameters) → operation."""
    found = {}
    for path, item in schema["paths"].items():
        assert path.startswith(PREFIX), f"{path} is outside {PREFIX}"
        for method in METHODS:
            if method in item:
                found[method.upper(), _template(path.removeprefix(PREFIX))] = item[method]
    return found


@pytest.fixture(scope="module")
def contract() -> dict[tuple[str, str], set[str]]:
    """(method, path) → the status codes API.md's answer column names (200 when it names no 2xx)."""
    rows = {}
    for line in API_MD.read_text().splitlines():
        match = CONTRACT_ROW.match(line)
        if match:
            method, path, answer = match.groups()
            statuses = set(re.findall(r"\b([1-5][0-9]{2})\b", answer))
            rows[method, _template(path)] = statuses if any(s < "300" for s in statuses) else statuses | {"200"}
    assert len(rows) > 30, f"could not read the method/path tables of {API_MD}"
    return rows


def is_list(schema: dict, operation: dict) -> bool:
    ok = operation["responses"].get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
    name = ok.get("$ref", "").rsplit("/", 1)[-1]
    return set(schema["components"]["schemas"].get(name, {}).get("properties", {})) == {"results", "next"}


def parameter(operation: dict, name: str, location: str) -> dict | None:
    return next((p for p in operation.get("parameters", []) if (p["name"], p["in"]) == (name, location)), None)


# --- every operation documents its error answers -----------------------------------------------------


def test_every_operation_documents_400_and_429_with_retry_after(operations):
    for key, operation in operations.items():
        responses = operation["responses"]
        assert "400" in responses, f"{key} does not document 400"
        assert "429" in responses, f"{key} does not document 429 (every view is throttled)"
        assert "Retry-After" in responses["429"]["headers"], f"{key}: 429 without Retry-After"


def test_operations_that_read_a_token_document_401(operations):
    for key, operation in operations.items():
        if {"bearerAuth": []} in operation.get("security", []):
            assert "401" in operation["responses"], f"{key} reads a bearer token but does not document 401"


def test_every_error_answer_has_the_one_error_body(schema, operations):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert set(error["properties"]["error"]["properties"]) == {"code", "message", "fields"}
    for key, operation in operations.items():
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response.get("content") == ERROR_BODY, f"{key} {status} is not the Error body"
                assert response["description"], f"{key} {status} has no description"


def test_every_answer_documents_x_request_id(schema, operations):
    assert schema["components"]["headers"]["X-Request-ID"]["required"] is True
    for key, operation in operations.items():
        for status, response in operation["responses"].items():
            assert "X-Request-ID" in response.get("headers", {}), f"{key} {status} lacks X-Request-ID"


def test_posts_take_an_idempotency_key_and_document_its_answers(operations):
    for (method, path), operation in operations.items():
        key = parameter(operation, "Idempotency-Key", "header")
        if method != "POST":
            assert key is None, f"{method} {path} takes an Idempotency-Key"
            continue
        assert key is not None and key["schema"] == {"type": "string", "format": "uuid"}, f"POST {path}"
        assert {"400", "409", "422"} <= set(operation["responses"]), f"POST {path}: Idempotency-Key answers"
        success = next(status for status in operation["responses"] if status.startswith("2"))
        assert "Idempotent-Replayed" in operation["responses"][success]["headers"], f"POST {path}"


def test_operations_with_a_body_document_413_and_415(operations):
    for key, operation in operations.items():
        if "requestBody" in operation:
            assert {"413", "415"} <= set(operation["responses"]), key


def test_operations_with_a_path_id_document_404(operations):
    for key, operation in operations.items():
        if parameter_names := [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]:
            assert "404" in operation["responses"], f"{key} ({parameter_names}) does not document 404"


def test_operations_document_their_own_answers(operations):
    for key, statuses in EXTRA_ANSWERS.items():
        assert statuses <= set(operations[key]["responses"]), f"{key} lacks {statuses}"


def test_no_operation_answers_403_today(operations):
    # 404 stands for "not yours" (API.md); 403 appears once a view has permissions beyond logged-in.
    assert not [key for key, operation in operations.items() if "403" in operation["responses"]]


# --- bodies, parameters, operation ids -----------------------------------------------------------------


def test_bodies_are_json_but_for_the_two_uploads(operations):
    for key, operation in operations.items():
        if "requestBody" in operation:
            expected = ["multipart/form-data"] if key in UPLOADS else ["application/json"]
            assert list(operation["requestBody"]["content"]) == expected, key
    assert all("requestBody" in operations[key] for key in UPLOADS)


def test_lists_have_bounded_limit_and_cursor_and_ids_ending_in_list(schema, operations):
    lists = {key for key, operation in operations.items() if is_list(schema, operation)}
    assert len(lists) == 8
    for key, operation in operations.items():
        assert operation["operationId"].endswith("_list") == (key in lists), f"{key}: {operation['operationId']}"
    for key in lists:
        limit = parameter(operations[key], "limit", "query")
        cursor = parameter(operations[key], "cursor", "query")
        assert limit and limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 30}, key
        assert cursor and cursor["schema"] == {"type": "string"}, key


def test_operation_ids_are_unique(operations):
    ids = [operation["operationId"] for operation in operations.values()]
    assert len(ids) == len(set(ids))
    assert operations["GET", "/posts/{}/comments"]["operationId"] == "posts_comments_list"


# Path parameters that are no id of ours (a push token is Apple's or Google's string).
NOT_IDS = {("DELETE", "/devices/{}", "registration_id")}


def test_path_ids_carry_the_id_pattern(operations):
    for key, operation in operations.items():
        for item in operation.get("parameters", []):
            if item["in"] == "path" and (*key, item["name"]) not in NOT_IDS:
                assert item["schema"] == {"type": "string", "pattern": f"^{ID_REGEX}$"}, f"{key} {item['name']}"


def test_search_query_parameter_has_the_views_bounds(operations):
    q = parameter(operations["GET", "/users/search"], "q", "query")
    field = UserSearchApi.UserSearchFilterSerializer().fields["q"]

    assert q["required"] is True
    assert (q["schema"]["minLength"], q["schema"]["maxLength"]) == (field.min_length, field.max_length)


@pytest.mark.django_db
@pytest.mark.parametrize("q", ["a", " a ", "ada@example.com", "x" * 254, "", " ", "\t\n", "\u00a0", "\x00", "a\x00"])
def test_search_query_pattern_agrees_with_the_view(auth_client, operations, q):
    schema = parameter(operations["GET", "/users/search"], "q", "query")["schema"]
    in_schema = schema["minLength"] <= len(q) <= schema["maxLength"] and re.search(schema["pattern"], q)

    response = auth_client.get(f"/api/v1/users/search?q={quote(q)}")

    assert response.status_code == (200 if in_schema else 400), response.content


def test_schema_validates_without_warnings(tmp_path):
    reset_generator_stats()  # warnings of other tests' schema generation must not count here

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))

    assert (tmp_path / "schema.yml").read_text().startswith("openapi: 3")


# --- in step with shared/API.md ------------------------------------------------------------------------


def test_every_contract_row_is_in_the_schema_unless_pending(operations, contract):
    missing = set(contract) - PENDING - set(operations)
    built = PENDING & set(operations)

    assert not missing, f"in API.md, not in the schema: {sorted(missing)}"
    assert not built, f"built now: take {sorted(built)} out of PENDING"
    assert not PENDING - set(contract), f"PENDING rows API.md does not have: {sorted(PENDING - set(contract))}"


def test_the_schema_has_no_operation_api_md_lacks(operations, contract):
    assert not set(operations) - set(contract), f"not in API.md: {sorted(set(operations) - set(contract))}"


def test_the_schema_documents_the_answers_api_md_names(operations, contract):
    for key, statuses in contract.items():
        if key in operations:
            documented = set(operations[key]["responses"])
            assert statuses <= documented, f"{key}: API.md names {statuses}, the schema has {sorted(documented)}"
            success = {status for status in documented if status < "300"}
            assert success == {status for status in statuses if status < "300"}, f"{key}: success {success}"


def test_strings_the_server_refuses_blank_say_so_with_a_pattern(schema):
    # DRF trims and refuses a blank string unless allow_blank: "   " must not look schema-valid.
    components = schema["components"]["schemas"]
    assert components["FacebookLinkInputRequest"]["properties"]["access_token"]["pattern"] == NOT_BLANK_PATTERN
    assert components["LoginInputRequest"]["properties"]["login"]["pattern"] == NOT_BLANK_PATTERN
    assert "pattern" not in components["LoginInputRequest"]["properties"]["password"]  # not trimmed: any characters


# Every character str.isspace() takes, and U+FEFF, which regexes call whitespace and Python keeps.
_WHITESPACE = "".join(chr(code) for code in range(0x110000) if chr(code).isspace()) + "\ufeff"


# No lone surrogates: they cannot travel in UTF-8, and jsonschema_rs cannot take them (UnicodeEncodeError).
@given(st.text(alphabet=st.sampled_from(_WHITESPACE) | st.characters(exclude_categories=("Cs",)), max_size=6))
@hypothesis_settings(max_examples=300, deadline=None)
def test_the_not_blank_pattern_agrees_with_the_trim_drf_does(value):
    # Schemathesis sent login "\u001e": "\S" matched it in jsonschema_rs, DRF stripped it and said blank.
    blank = not value.strip()
    assert (re.search(NOT_BLANK_PATTERN, value) is None) == blank
    valid = jsonschema_rs.validator_for({"type": "string", "pattern": NOT_BLANK_PATTERN}).is_valid(value)
    assert valid == (not blank)


@pytest.mark.parametrize("value", ["\u001e", " \u0085\u3000 ", "\t\u001c"])
def test_the_server_refuses_what_the_pattern_calls_blank(api_client, value):
    response = api_client.post("/api/v1/auth/login", {"login": value, "password": "x", "device_id": "d"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["login"] == ["This field may not be blank."]
    assert re.search(NOT_BLANK_PATTERN, value) is None
