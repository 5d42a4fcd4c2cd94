"""RAGFlow's clients send `/api/v1/dataset/` as well as `/api/v1/dataset`: every route of
template.yaml answers both, whichever way the deployed HTTP API matches a trailing slash.

HTTP APIs refuse route keys ending in "/" (SAM drops such a route without a word), so a slash
form cannot be routed explicitly. Reports say `/a/b/` reaches the `/a/b` route ("observed"); if it
does not ("strict"), it reaches `ANY /{proxy+}`, whose function answers a 308 back to `/a/b`.
These tests run every route in both readings, so routes added later are held to the same rule.
"""

import re
from urllib.parse import urljoin

import pytest
import requests

from infra.local.gateway import TRAILING_SLASH_OBSERVED, TRAILING_SLASH_STRICT, LocalGateway
from infra.local.runtime import FunctionRuntime
from infra.local.template import DEFAULT_TEMPLATE, Template

TEMPLATE = Template(DEFAULT_TEMPLATE)
CATCH_ALL_PATHS = ("/", "/{proxy+}", "$default")
ROUTES = [route for route in TEMPLATE.routes if route.path not in CATCH_ALL_PATHS]
SOME_ID = "0123456789abcdef0123456789abcdef"


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", SOME_ID, path)


def _method(route) -> str:
    return "GET" if route.method == "ANY" else route.method


@pytest.fixture(scope="module")
def runtime():
    return FunctionRuntime(TEMPLATE)


def test_no_route_path_ends_in_a_slash():
    slashed = [route.route_key for route in TEMPLATE.routes if route.path != "/" and route.path.endswith("/")]
    assert not slashed, f"HTTP APIs refuse route keys ending in '/': {slashed}"


def test_the_catch_all_routes_take_what_no_other_route_does():
    catch_all = {(route.method, route.path): route.function_id for route in TEMPLATE.routes}
    assert catch_all.get(("ANY", "/{proxy+}")) == "RouteNotFoundFunction"
    assert catch_all.get(("ANY", "/")) == "RouteNotFoundFunction"


@pytest.mark.parametrize("reading", [TRAILING_SLASH_OBSERVED, TRAILING_SLASH_STRICT])
def test_every_route_answers_its_path_with_a_trailing_slash(runtime, reading):
    gateway = LocalGateway(TEMPLATE, runtime, port=0, trailing_slash=reading)
    assert ROUTES, "template.yaml has no routes"
    for route in ROUTES:
        path, method = _concrete(route.path), _method(route)
        answer = gateway.handle(method, f"{path}/?page=1", [], b"")
        if reading == TRAILING_SLASH_STRICT:
            assert (answer.status, answer.function_id) == (308, "RouteNotFoundFunction"), route.route_key
            assert answer.json()["code"] == 100 and path in answer.json()["message"]
            followed = urljoin(f"https://api.example{path}/?page=1", answer.header("Location") or "")
            assert followed == f"https://api.example{path}?page=1", route.route_key
            answer = gateway.handle(method, f"{path}?page=1", [], b"")
        assert answer.function_id == route.function_id, f"{method} {path}/ reached {answer.function_id}"
        body = answer.json()
        assert not (body.get("code") == 100 and "no route" in body.get("message", "")), (route.route_key, body)


def test_the_redirect_resolves_under_a_stage_or_base_path(runtime):
    gateway = LocalGateway(TEMPLATE, runtime, port=0, trailing_slash=TRAILING_SLASH_STRICT)
    answer = gateway.handle("GET", "/api/v1/dataset/", [], b"")
    # A custom domain mapped at /kb, or a named stage: the relative Location keeps the prefix.
    assert urljoin("https://example.org/kb/api/v1/dataset/", answer.header("Location") or "") == (
        "https://example.org/kb/api/v1/dataset"
    )


def test_unknown_paths_still_end_not_found(runtime):
    gateway = LocalGateway(TEMPLATE, runtime, port=0, trailing_slash=TRAILING_SLASH_STRICT)
    redirected = gateway.handle("GET", "/api/v1/nowhere/", [], b"")
    assert redirected.status == 308
    final = gateway.handle("GET", "/api/v1/nowhere", [], b"")
    assert (final.status, final.json()["code"]) == (200, 100)
    assert final.json()["message"] == "Not Found: no route for GET /api/v1/nowhere."
    doubled = gateway.handle("GET", "/api/v1/dataset//", [], b"")  # two slashes: no guessing
    assert (doubled.status, doubled.json()["code"]) == (200, 100)
    assert "Not Found" in doubled.json()["message"]


def test_a_client_following_the_redirect_keeps_method_and_headers(runtime):
    """requests (RAGFlow's clients) and curl -L repeat the method, body and same-host headers on a 308."""
    with LocalGateway(TEMPLATE, runtime, port=0, trailing_slash=TRAILING_SLASH_STRICT) as gateway:
        answer = requests.post(f"{gateway.url}/api/v1/dataset/", json={"name": "kb"}, timeout=30)
    assert [r.status_code for r in answer.history] == [308]
    assert answer.url == f"{gateway.url}/api/v1/dataset"
    # CreateDatasetFunction answered (POST kept): no key was sent, so it asks for one.
    assert answer.json() == {
        "code": 109,
        "message": "Authorization is missing: send the header `Authorization: Bearer <API key>`.",
        "data": False,
    }


def test_the_router_drops_one_trailing_slash_at_most():
    from infra.local.gateway import Router
    from infra.local.template import HttpRoute

    def route(method, path):
        return HttpRoute(function_id="F", event_name="E", method=method, path=path, api_id="Api")

    routes = [route("GET", "/a/b"), route("ANY", "/{proxy+}"), route("ANY", "/")]
    observed, strict = Router(routes), Router(routes, trailing_slash=TRAILING_SLASH_STRICT)
    assert observed.match("GET", "/a/b/").route.route_key == "GET /a/b"
    assert observed.match("GET", "/a/b//").route.route_key == "ANY /{proxy+}"  # one slash, not every one
    assert strict.match("GET", "/a/b/").path_parameters == {"proxy": "a/b/"}
    assert strict.match("GET", "/a/b").route.route_key == "GET /a/b"
    assert observed.match("GET", "/").route.route_key == strict.match("GET", "/").route.route_key == "ANY /"
