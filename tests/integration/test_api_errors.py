"""The JSON API's errors: one shape, `{"error", "message"}`, whatever went wrong, and an OpenAPI
schema that says which of them each operation can give (the bounded Schemathesis run in
tests/e2e/test_openapi_e2e.py holds the server to it)."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("get", "/api/v1/me/sessions", None, 401, "unauthorized"),
        ("get", "/api/v1/admin/locations", None, 401, "unauthorized"),
        ("post", "/api/v1/signin", "{not json", 400, "invalid_json"),
        ("post", "/api/v1/signin", "[1, 2]", 400, "invalid_json"),
        ("post", "/api/v1/signin", "4.7e16", 400, "invalid_json"),
        ("post", "/api/v1/signin", '{"username": 5}', 422, "invalid_request"),
        ("get", "/api/v1/signin/x?wait=-1", None, 422, "invalid_request"),
        ("post", "/api/v1/signin", "username=a", 415, "unsupported_media_type"),
    ],
)
def test_every_error_has_a_code_and_a_message(method, path, body, status, error):
    client = Client()
    if body is None:
        response = getattr(client, method)(path)
    else:
        content_type = "text/plain" if status == 415 else "application/json"
        response = getattr(client, method)(path, body, content_type=content_type)
    assert response.status_code == status, response.content
    answer = response.json()
    assert answer["error"] == error and answer["message"]


def test_a_body_that_is_no_object_is_refused_even_where_every_field_has_a_default(alice):
    from gatehouse.console import tokens
    from tests.integration.test_admin_api import Admin

    alice.is_staff = True
    alice.save()
    admin = Admin(tokens.create("alice", "t", actor="test"))
    response = admin.client.post(
        "/api/v1/admin/users/alice/tap", "42", content_type="application/json", **admin.headers
    )
    assert response.status_code == 400
    assert (
        response.json()["message"] == "The body cannot be read: it is a number, not a JSON object"
    )


def test_a_request_that_does_not_fit_says_where():
    answer = Client().post("/api/v1/signin", '{"username": 5}', content_type="application/json")
    assert "username" in answer.json()["message"]
    assert any(problem["loc"][-1] == "password" for problem in answer.json()["detail"])


def test_the_schema_names_the_errors_each_operation_can_give():
    schema = Client().get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    sessions = paths["/api/v1/me/sessions"]["get"]["responses"]
    assert {"200", "400", "401"} <= sessions.keys()
    confirm = paths["/api/v1/me/methods/totp/{method_id}/confirm"]["post"]["responses"]
    assert {"200", "400", "401", "404", "415", "422"} <= confirm.keys()
    assert schema["components"]["schemas"]["Error"]["required"] == ["error", "message"]
    # What an operation declares itself is kept (the generic errors never replace it).
    verify = paths["/api/v1/signin/{flow_id}/verify"]["post"]["responses"]["400"]
    assert verify["content"]["application/json"]["schema"]["$ref"].endswith("/CodeErrorOut")


def test_the_schema_links_what_a_post_creates_to_where_it_is_found():
    paths = Client().get("/api/v1/openapi.json").json()["paths"]
    links = paths["/api/v1/admin/locations"]["post"]["responses"]["201"]["links"]
    assert links["get_item"]["parameters"] == {"location_id": "$response.body#/id"}
    flow = paths["/api/v1/signin"]["post"]["responses"]["200"]["links"]["verify"]
    assert flow["parameters"] == {"flow_id": "$response.body#/flow"}
