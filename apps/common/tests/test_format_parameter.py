"""A ``format`` query parameter the view cannot render means nothing: the API answers JSON (Schemathesis
sent ``?format=x`` to GET /notifications and got DRF's 404 for an unknown format, which no operation documents)."""

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/users/me", "/api/v1/notifications", "/api/v1/feed"])
@pytest.mark.parametrize("value", ["xyz", "api", "json", ""])
def test_a_format_query_parameter_is_ignored(auth_client, path, value):
    response = auth_client.get(path, {"format": value})
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"


def test_the_schema_still_answers_json_for_format_json(api_client):
    response = api_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200 and response.json()["openapi"].startswith("3.")
