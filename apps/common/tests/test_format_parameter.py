"""A ``format`` query parameter means nothing: every answer is JSON (Schemathesis sent ``?format=x`` to
GET /notifications and got DRF's 404 for an unknown format, an answer no operation documents)."""

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/users/me", "/api/v1/notifications", "/api/v1/feed"])
@pytest.mark.parametrize("value", ["xyz", "api", "json", ""])
def test_a_format_query_parameter_is_ignored(auth_client, path, value):
    response = auth_client.get(path, {"format": value})
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
