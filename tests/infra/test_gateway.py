"""The local API Gateway: routing, payload-2.0 events, responses, limits and failures.

Uses a throwaway template and tiny handlers, never the project's functions, and no AWS at all."""

import base64
import json
import os

import pytest
import requests

from infra.local.gateway import MAX_REQUEST_BODY_BYTES, LocalGateway, Router, build_event, is_text_content_type
from infra.local.runtime import FunctionRuntime
from infra.local.template import HttpRoute, Template

from .conftest import write_project

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 5
    MemorySize: 256
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/echo
      Handler: app.handler
      Events:
        Items:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /items, Method: GET}
        Item:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: "/items/{item_id}", Method: GET}
        Special:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /items/special, Method: GET}
        Upload:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: "/items/{item_id}/files", Method: POST}
  Binary:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/binary
      Handler: app.handler
      Events:
        Route:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /binary, Method: POST}
  Broken:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/broken
      Handler: app.handler
      Events:
        Raises:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /raises, Method: GET}
        Garbage:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /garbage, Method: GET}
  Slow:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/slow
      Handler: app.handler
      Timeout: 1
      Events:
        Route:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /slow, Method: GET}
  Fallback:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/fallback
      Handler: app.handler
      Events:
        Route:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: "/{proxy+}", Method: ANY}
"""

HANDLERS = {
    "echo": """
        import json
        import os

        CALLS = []

        def handler(event, context):
            CALLS.append(event)
            info = {
                "event": event,
                "function_name": context.function_name,
                "memory": context.memory_limit_in_mb,
                "remaining_ms": context.get_remaining_time_in_millis(),
                "request_id": context.aws_request_id,
                "arn": context.invoked_function_arn,
                "log_group": context.log_group_name,
            }
            return {
                "statusCode": 200,
                "headers": {"content-type": "application/json", "x-single": "a"},
                "multiValueHeaders": {"x-multi": ["1", "2"]},
                "cookies": ["c1=v1; Path=/", "c2=v2"],
                "body": json.dumps(info),
            }
    """,
    "binary": """
        import base64

        def handler(event, context):
            raw = base64.b64decode(event["body"]) if event["isBase64Encoded"] else event["body"].encode()
            return {
                "statusCode": 201,
                "headers": {"content-type": "application/octet-stream"},
                "body": base64.b64encode(raw[::-1]).decode(),
                "isBase64Encoded": True,
            }
    """,
    "broken": """
        def handler(event, context):
            if event["rawPath"] == "/raises":
                raise RuntimeError("boom")
            return {"statusCode": "two hundred", "body": 5}
    """,
    "slow": """
        import time

        def handler(event, context):
            time.sleep(3)
            return {"statusCode": 200, "body": "late"}
    """,
    "fallback": """
        import json

        def handler(event, context):
            return {"statusCode": 200, "body": json.dumps({"code": 100, "route": event["routeKey"],
                    "proxy": event.get("pathParameters")})}
    """,
}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return Template(write_project(tmp_path_factory.mktemp("gw"), TEMPLATE, HANDLERS))


@pytest.fixture(scope="module")
def gateway(template):
    runtime = FunctionRuntime(template, stack_name="kbt")
    with LocalGateway(template, runtime, port=0) as gateway:
        yield gateway


def _echo(gateway, path, **kwargs):
    response = requests.get(gateway.url + path, timeout=10, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


# ---------------------------------------------------------------- routing
def _route(method, path):
    return HttpRoute("F", "E", method, path, "Api")


def test_router_precedence():
    router = Router(
        [
            _route("GET", "/a/b"),
            _route("GET", "/a/{x}"),
            _route("ANY", "/a/{x}"),
            _route("GET", "/a/{x}/c"),
            _route("GET", "/a/b/{y}"),
            _route("GET", "/a/{p+}"),
            _route("ANY", "/{proxy+}"),
        ]
    )

    def key(method, path):
        match = router.match(method, path)
        return (match.route.route_key, match.path_parameters) if match else None

    assert key("GET", "/a/b") == ("GET /a/b", {})
    assert key("GET", "/a/b/") == ("GET /a/b", {})  # trailing slash ignored for matching
    assert key("GET", "/a/z") == ("GET /a/{x}", {"x": "z"})
    assert key("POST", "/a/z") == ("ANY /a/{x}", {"x": "z"})  # method first, then ANY
    assert key("GET", "/a/b/c") == ("GET /a/b/{y}", {"y": "c"})  # left-most literal wins
    assert key("GET", "/a/z/c") == ("GET /a/{x}/c", {"x": "z"})
    assert key("GET", "/a/z/y/x") == ("GET /a/{p+}", {"p": "z/y/x"})
    assert key("DELETE", "/zz/top") == ("ANY /{proxy+}", {"proxy": "zz/top"})
    assert key("GET", "/a/hello%20world") == ("GET /a/{x}", {"x": "hello world"})  # decoded
    assert key("GET", "/") is None  # a greedy variable needs at least one segment
    assert Router([_route("GET", "/x")]).match("GET", "/y") is None
    assert Router([_route("GET", "/x")]).match("POST", "/x") is None


def test_http_routing_and_trailing_slash(gateway):
    assert _echo(gateway, "/items")["event"]["routeKey"] == "GET /items"
    special = _echo(gateway, "/items/special/")["event"]
    assert special["routeKey"] == "GET /items/special"
    assert special["rawPath"] == "/items/special/"  # kept, as API Gateway does
    item = _echo(gateway, "/items/a%2Fb%20c")["event"]
    assert item["routeKey"] == "GET /items/{item_id}"
    assert item["pathParameters"] == {"item_id": "a/b c"}
    assert item["rawPath"] == "/items/a%2Fb%20c"
    other = requests.post(gateway.url + "/items", timeout=10).json()  # no POST /items: the catch-all
    assert other == {"code": 100, "route": "ANY /{proxy+}", "proxy": {"proxy": "items"}}


def test_no_route_is_api_gateways_404(template):
    without_catch_all = [r for r in template.routes if r.path != "/{proxy+}"]
    gateway = LocalGateway(template, FunctionRuntime(template), port=0)
    gateway.router = Router(without_catch_all)
    with gateway:
        response = requests.get(gateway.url + "/nowhere", timeout=10)
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}
    assert response.headers["apigw-requestid"]


# ---------------------------------------------------------------- the event
def test_event_shape(gateway):
    headers = {"X-Thing": "one", "User-Agent": "tester/1.0", "Cookie": "a=1; b=2"}
    info = _echo(gateway, "/items/42?q=x%20y&tag=a&tag=b&empty", headers=headers)
    event = info["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /items/{item_id}"
    assert event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "q=x%20y&tag=a&tag=b&empty"
    assert event["queryStringParameters"] == {"q": "x y", "tag": "a,b", "empty": ""}
    assert event["pathParameters"] == {"item_id": "42"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert all(name == name.lower() for name in event["headers"])
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-thing"] == "one"
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert event["headers"]["x-amzn-trace-id"].startswith("Root=1-")
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    ctx = event["requestContext"]
    assert ctx["http"] == {
        "method": "GET",
        "path": "/items/42",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "tester/1.0",
    }
    assert ctx["routeKey"] == event["routeKey"] and ctx["stage"] == "$default"
    assert ctx["accountId"] and ctx["apiId"] and ctx["domainName"] == "127.0.0.1"
    assert ctx["requestId"] and isinstance(ctx["timeEpoch"], int) and ctx["time"].endswith("+0000")
    # the Lambda context
    assert info["function_name"] == "kbt-Echo"
    assert info["memory"] == 256
    assert 0 < info["remaining_ms"] <= 5000
    assert info["arn"].endswith(":function:kbt-Echo")
    assert info["log_group"] == "/aws/lambda/kbt-Echo"


def test_repeated_headers_are_joined():
    event = build_event(
        method="GET",
        raw_path="/x",
        raw_query_string="",
        headers=[("Accept", "a/b"), ("accept", "c/d"), ("Cookie", "x=1"), ("Cookie", "y=2")],
        body=b"",
        route_key="GET /x",
        path_parameters=None,
    )
    assert event["headers"]["accept"] == "a/b,c/d"
    assert event["cookies"] == ["x=1", "y=2"]
    assert "pathParameters" not in event and "queryStringParameters" not in event


@pytest.mark.parametrize(
    ("content_type", "text"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("text/plain", True),
        ("application/xml", True),
        ("multipart/form-data; boundary=x", False),
        ("application/x-www-form-urlencoded", False),
        ("application/octet-stream", False),
        ("image/png", False),
        (None, False),
    ],
)
def test_text_or_base64_by_content_type(content_type, text):
    assert is_text_content_type(content_type) is text


def test_json_body_is_text(gateway):
    response = requests.post(gateway.url + "/items/7/files", json={"a": "é"}, timeout=10)
    event = response.json()["event"]
    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == {"a": "é"}


def test_multipart_body_is_base64(gateway):
    files = {"file": ("a.bin", b"\x00\x01binary\xff")}
    event = requests.post(gateway.url + "/items/7/files", files=files, timeout=10).json()["event"]
    assert event["isBase64Encoded"] is True
    raw = base64.b64decode(event["body"])
    assert b"\x00\x01binary\xff" in raw
    assert event["headers"]["content-type"].startswith("multipart/form-data; boundary=")


# ---------------------------------------------------------------- the response
def test_response_headers_and_cookies(gateway):
    response = requests.get(gateway.url + "/items", timeout=10)
    assert response.headers["x-single"] == "a"
    assert response.headers["x-multi"] == "1, 2"  # two header lines, as requests joins them
    assert response.raw.headers.getlist("Set-Cookie") == ["c1=v1; Path=/", "c2=v2"]
    assert response.headers["apigw-requestid"]


def test_binary_round_trip(gateway):
    payload = bytes(range(256)) * 8
    response = requests.post(
        gateway.url + "/binary", data=payload, headers={"Content-Type": "application/octet-stream"}, timeout=10
    )
    assert response.status_code == 201
    assert response.content == payload[::-1]


def test_head_has_no_body(gateway):
    response = requests.head(gateway.url + "/anything", timeout=10)  # the catch-all takes HEAD
    assert response.status_code == 200
    assert response.content == b""


# ---------------------------------------------------------------- limits and failures
def test_body_over_10_mib_is_refused(gateway):
    echo = gateway.runtime.module("Echo")
    before = len(echo.CALLS)
    body = b"x" * (MAX_REQUEST_BODY_BYTES + 1)
    response = requests.post(
        gateway.url + "/items/1/files", data=body, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert response.status_code == 413
    payload = response.json()
    assert payload["code"] == 101
    assert "10485760" in payload["message"] and "presigned" in payload["message"]
    assert len(echo.CALLS) == before  # never reached the handler


def test_event_over_6_mb_is_refused(gateway):
    echo = gateway.runtime.module("Echo")
    before = len(echo.CALLS)
    body = os.urandom(5 * 1024 * 1024)  # 5 MiB binary -> ~6.7 MB base64: under 10 MiB, over Lambda's 6 MB
    response = requests.post(
        gateway.url + "/items/1/files", data=body, headers={"Content-Type": "application/pdf"}, timeout=30
    )
    assert response.status_code == 413
    payload = response.json()
    assert payload["code"] == 101 and "6291456" in payload["message"] and "presigned" in payload["message"]
    assert len(echo.CALLS) == before


def test_raising_handler_is_a_500(gateway, capsys):
    response = requests.get(gateway.url + "/raises", timeout=10)
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    assert "RuntimeError: boom" in capsys.readouterr().err


def test_garbage_result_is_a_500(gateway):
    response = requests.get(gateway.url + "/garbage", timeout=10)
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}


def test_function_timeout_is_a_500(gateway):
    response = requests.get(gateway.url + "/slow", timeout=10)
    assert response.status_code == 500
    assert response.elapsed.total_seconds() < 2.5


def test_handler_module_loaded_once_per_function(gateway):
    _echo(gateway, "/items")
    first = gateway.runtime.module("Echo")
    _echo(gateway, "/items")
    assert gateway.runtime.module("Echo") is first
    assert first.__name__ != gateway.runtime.module("Fallback").__name__
