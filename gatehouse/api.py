"""The JSON API under /api/v1 (DESIGN §5.3); its OpenAPI schema at /api/v1/openapi.json is a
contract, and says every answer an operation can give — the errors any operation can meet
(a body that is no JSON, a request that does not fit the schema, no authentication, nothing
at that path) included. Every error is `{"error": code, "message": sentence}`.

State-changing calls must send `Content-Type: application/json`: browsers cannot send that
cross-site without a CORS preflight, which we never grant, so cookie-authenticated calls are
safe from CSRF without a token."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from gatehouse.request_text import JsonParser

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
BODY_METHODS = {"post", "put", "patch"}


class Error(Schema):
    """An error: a code for programs, a sentence for people, and for a request that does not
    fit the schema (422) where it does not."""

    error: str
    message: str
    detail: list[dict[str, Any]] | None = None


# The errors any operation can meet, by when it can meet them (GatehouseAPI.get_openapi_schema).
GENERIC_ERRORS = {
    "400": "The path, query or body is not text, or the body is not JSON.",
    "401": "Authentication is missing or not valid.",
    "404": "Nothing exists at this path.",
    "415": "The body is not sent as application/json.",
    "422": "The request does not fit this schema.",
}


class GatehouseAPI(NinjaAPI):
    def get_openapi_schema(self, **kwargs: Any):
        schema = super().get_openapi_schema(**kwargs)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = (
            Error.model_json_schema()
        )
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                _add_generic_errors(path, method, operation)
        _link_created_items(schema)
        return schema


def _add_generic_errors(path: str, method: str, operation: dict) -> None:
    """The errors of GENERIC_ERRORS this operation can meet, where it does not say more."""
    meets = {"400"}
    if operation.get("security"):
        meets.add("401")
    if "{" in path:
        meets.add("404")
    if method in BODY_METHODS:
        meets.add("415")
    if operation.get("parameters") or operation.get("requestBody"):
        meets.add("422")
    # Ninja keys the responses it declares by number; the document's keys are strings.
    responses = {str(status): answer for status, answer in operation.get("responses", {}).items()}
    operation["responses"] = responses
    for status in sorted(meets - responses.keys()):
        responses[status] = {
            "description": GENERIC_ERRORS[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }


def _link_created_items(schema: dict) -> None:
    """OpenAPI links from a collection's POST (201, a body with an `id`) to the operations on
    the item it created, `COLLECTION/{…_id}`: the admin API's locations, devices, apps and
    policies, where a client (or a stateful test) goes next."""
    paths = schema["paths"]
    components = schema.get("components", {}).get("schemas", {})
    for path, operations in paths.items():
        created = operations.get("post", {}).get("responses", {}).get("201", {})
        body = created.get("content", {}).get("application/json", {}).get("schema", {})
        ref = body.get("$ref", "")
        if "id" not in components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {}):
            continue
        for item_path, item_operations in paths.items():
            parent, _, last = item_path.rpartition("/")
            if parent != path or not (last.startswith("{") and last.endswith("_id}")):
                continue
            created["links"] = {
                f"{method}_item": {
                    "operationId": operation["operationId"],
                    "parameters": {last[1:-1]: "$response.body#/id"},
                }
                for method, operation in item_operations.items()
            }


api = GatehouseAPI(
    title="Gatehouse",
    version="1",
    description="Sign-in, security info and administration API of Gatehouse.",
    urls_namespace="api",
    docs_url="/docs",
    parser=JsonParser(),
)


def _error(request: HttpRequest, status: int, error: str, message: str, **extra) -> HttpResponse:
    return api.create_response(
        request, {"error": error, "message": message, **extra}, status=status
    )


@api.exception_handler(ValidationError)
def _does_not_fit(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    where = "; ".join(
        f"{'.'.join(str(part) for part in problem.get('loc', ()))}: {problem.get('msg', '')}"
        for problem in exc.errors[:3]
    )
    message = f"The request does not fit the API's schema ({where})."
    return _error(request, 422, "invalid_request", message, detail=exc.errors)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    message = "Authentication is missing or not valid for this operation."
    return _error(request, 401, "unauthorized", message)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, "not_found", "Nothing exists at this path.")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400 and exc.__cause__ is not None:
        # The body could not be read (gatehouse.request_text.JsonParser).
        message = f"The body cannot be read: {exc.__cause__}"
        return _error(request, 400, "invalid_json", message)
    return _error(request, exc.status_code, "error", str(exc))


def require_json(get_response):
    """Middleware: refuse a state-changing API call that is not JSON (see module docstring)."""

    def middleware(request: HttpRequest):
        if request.path.startswith("/api/v1/") and request.method in UNSAFE:
            content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
            if request.method != "DELETE" and content_type != "application/json":
                return JsonResponse(
                    {"error": "unsupported_media_type", "message": "Send application/json."},
                    status=415,
                )
        return get_response(request)

    return middleware


def register_routers() -> None:
    from gatehouse.authenticator.api import device_router as authenticator_router
    from gatehouse.console.api import router as admin_router
    from gatehouse.console.campaign_api import router as campaign_router
    from gatehouse.enrollment.pairing_api import router as pairing_router
    from gatehouse.enrollment.portal_api import router as portal_router
    from gatehouse.signin.api import me_router
    from gatehouse.signin.api import router as signin_router

    api.add_router("", signin_router)
    api.add_router("/me", me_router)
    api.add_router("/me", portal_router)
    api.add_router("/authenticator", authenticator_router)
    api.add_router("/me/authenticator", pairing_router)
    api.add_router("/admin", admin_router)
    api.add_router("/admin/campaign", campaign_router)


register_routers()
