"""A local API Gateway HTTP API: HTTP requests become payload-2.0 events for the functions
template.yaml routes them to, and the functions' results become HTTP responses again.

    gateway = LocalGateway(template, runtime, port=9380).start()
    gateway.url                          # http://127.0.0.1:9380
    gateway.handle("GET", "/api/v1/dataset?page=1", [("Authorization", "Bearer ...")], b"")  # no HTTP

What it does as API Gateway does:
- routing: exact segments beat `{param}` segments beat a greedy `{proxy+}`, compared left to right;
  a route's own method beats `ANY`; one trailing slash is ignored for matching and kept in rawPath
  (as reported of AWS, undocumented; `trailing_slash="strict"` is the other reading, see Router);
  HEAD and OPTIONS are ordinary methods (no CORS preflight unless the HttpApi has CorsConfiguration);
  no route and no `$default` -> 404 `{"message":"Not Found"}`.
- events: lower-cased headers with repeats joined by ",", `cookie` moved to `cookies`,
  x-forwarded-* and x-amzn-trace-id added, query parameters decoded with repeats joined by ",",
  path parameters URL-decoded, body as text only for text/*, application/json, application/xml and
  application/javascript (everything else, multipart and form-urlencoded included, base64).
- limits: a body over 10 MiB or an event over Lambda's 6 MB synchronous limit is refused with 413
  before any handler runs (the body is the project's envelope, code 101); the function's Timeout and
  the route's integration timeout (30 s) are enforced (500 / 503).
- failures: a handler that raises or returns something API Gateway cannot use -> 500
  `{"message":"Internal Server Error"}`, traceback on stderr.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote

from infra.local.runtime import MAX_SYNC_REQUEST_BYTES, FunctionRuntime
from infra.local.template import DEFAULT_REGION, LOCAL_ACCOUNT_ID, HttpRoute, Template, TemplateError

log = logging.getLogger("infra.local.gateway")

DEFAULT_PORT = 9380
MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit (10 MB)
_DRAIN_LIMIT_BYTES = 64 * 1024 * 1024  # read and discard a refused body up to this, so the client sees the 413
_TEXT_MEDIA_TYPES = {"application/json", "application/xml", "application/javascript"}
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "te", "trailer"}
LARGE_FILE_HINT = "Upload large files with a presigned S3 URL (PUT the file straight to S3) instead of through the API."


# ---------------------------------------------------------------- routing
@dataclass(frozen=True)
class RouteMatch:
    route: HttpRoute
    path_parameters: dict[str, str]


def _segments(path: str) -> list[str]:
    stripped = path.strip("/")
    return stripped.split("/") if stripped else []


# How a request path with a trailing slash is matched. API Gateway HTTP APIs refuse route keys
# ending in "/"; that `/a/b/` reaches the `/a/b` route (rawPath keeping the slash) is what people
# report seeing, not what AWS documents. "observed" matches so; "strict" takes the slash as an
# empty last segment (only a greedy route can take it). template.yaml must answer alike in both.
TRAILING_SLASH_OBSERVED = "observed"
TRAILING_SLASH_STRICT = "strict"


def _request_segments(path: str, trailing_slash: str) -> list[str]:
    segments = path.lstrip("/").split("/")
    if segments[-1] == "" and (trailing_slash == TRAILING_SLASH_OBSERVED or len(segments) == 1):
        segments.pop()  # one trailing slash at most, never every one
    return segments


class Router:
    """API Gateway's choice of route for a method and path."""

    def __init__(self, routes: Iterable[HttpRoute], *, trailing_slash: str = TRAILING_SLASH_OBSERVED) -> None:
        if trailing_slash not in (TRAILING_SLASH_OBSERVED, TRAILING_SLASH_STRICT):
            raise ValueError(f"trailing_slash must be {TRAILING_SLASH_OBSERVED!r} or {TRAILING_SLASH_STRICT!r}")
        self.trailing_slash = trailing_slash
        self.routes = list(routes)
        self._compiled = [(route, _segments(route.path)) for route in self.routes if route.path != "$default"]
        self._default = next((route for route in self.routes if route.path == "$default"), None)

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        method = method.upper()
        path = raw_path.split("?", 1)[0]
        request = _request_segments(path, self.trailing_slash)
        best: tuple[tuple[Any, ...], RouteMatch] | None = None
        for route, pattern in self._compiled:
            if route.method not in ("ANY", method):
                continue
            matched = _match_segments(pattern, request)
            if matched is None:
                continue
            params, rank = matched
            key = (tuple(rank), route.method == "ANY")
            if best is None or key < best[0]:
                best = (key, RouteMatch(route, params))
        if best is not None:
            return best[1]
        if self._default is not None:
            return RouteMatch(self._default, {})
        return None


def _match_segments(pattern: list[str], request: list[str]) -> tuple[dict[str, str], list[int]] | None:
    params: dict[str, str] = {}
    rank: list[int] = []
    for i, segment in enumerate(pattern):
        if segment.startswith("{") and segment.endswith("+}"):
            rest = request[i:]
            if not rest or not any(rest):
                return None
            params[segment[1:-2]] = unquote("/".join(rest))
            rank.append(2)
            return params, rank
        if i >= len(request):
            return None
        if segment.startswith("{") and segment.endswith("}"):
            if request[i] == "":
                return None
            params[segment[1:-1]] = unquote(request[i])
            rank.append(1)
        elif unquote(request[i]) == segment:
            rank.append(0)
        else:
            return None
    if len(request) != len(pattern):
        return None
    return params, rank


# ---------------------------------------------------------------- events
def is_text_content_type(content_type: str | None) -> bool:
    """Whether API Gateway (HTTP API) passes a body of this type as text rather than base64."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in _TEXT_MEDIA_TYPES


def _request_id() -> str:
    """API Gateway's request id shape (e.g. `JKJaXmPLvHcESHA=`)."""
    return base64.b64encode(secrets.token_bytes(10)).decode()


def build_event(
    *,
    method: str,
    raw_path: str,
    raw_query_string: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    route_key: str,
    path_parameters: Mapping[str, str] | None,
    source_ip: str = "127.0.0.1",
    api_id: str = "local",
    account_id: str = LOCAL_ACCOUNT_ID,
    stage: str = "$default",
    request_id: str | None = None,
    server_port: int | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The payload-2.0 event API Gateway sends a Lambda integration for this request."""
    now = time.time() if now is None else now
    headers = list(headers)
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        if key in _HOP_BY_HOP:
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    if "transfer-encoding" in {name.lower() for name, _ in headers} and body:
        joined["content-length"] = str(len(body))
    forwarded = joined.get("x-forwarded-for")
    joined["x-forwarded-for"] = f"{forwarded}, {source_ip}" if forwarded else source_ip
    joined["x-forwarded-port"] = str(server_port or 80)
    joined["x-forwarded-proto"] = "http"
    joined.setdefault("x-amzn-trace-id", f"Root=1-{int(now):08x}-{secrets.token_hex(12)}")
    host = joined.get("host", "localhost").split(":", 1)[0]

    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query_string,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = joined
    if raw_query_string:
        params: dict[str, str] = {}
        for key, value in parse_qsl(raw_query_string, keep_blank_values=True):
            params[key] = f"{params[key]},{value}" if key in params else value
        event["queryStringParameters"] = params
    event["requestContext"] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": host,
        "domainPrefix": host.split(".", 1)[0],
        "http": {
            "method": method.upper(),
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": joined.get("user-agent", ""),
        },
        "requestId": request_id or _request_id(),
        "routeKey": route_key,
        "stage": stage,
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    encoded = False
    if body:
        if is_text_content_type(joined.get("content-type")):
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                encoded = True
        else:
            encoded = True
        if encoded:
            event["body"] = base64.b64encode(body).decode("ascii")
    event["isBase64Encoded"] = encoded
    return event


# ---------------------------------------------------------------- responses
@dataclass
class GatewayResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    function_id: str | None = None

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def json(self) -> Any:
        return json.loads(self.body)


def _json_response(status: int, payload: Any, extra: Iterable[tuple[str, str]] = ()) -> GatewayResponse:
    body = json.dumps(payload).encode()
    return GatewayResponse(status, [("Content-Type", "application/json"), *extra], body)


def internal_server_error() -> GatewayResponse:
    return _json_response(500, {"message": "Internal Server Error"})


def not_found() -> GatewayResponse:
    return _json_response(404, {"message": "Not Found"})


def too_large(message: str) -> GatewayResponse:
    return _json_response(413, {"code": 101, "message": message})


def response_from_result(result: Any) -> GatewayResponse:
    """A payload-2.0 Lambda result as the HTTP response API Gateway sends; ValueError for garbage."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # Format 2.0: valid JSON without a statusCode is a 200 application/json body.
        return GatewayResponse(200, [("Content-Type", "application/json")], json.dumps(result).encode())
    status = result["statusCode"]
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise ValueError(f"statusCode must be an integer HTTP status, got {status!r}")
    headers: list[tuple[str, str]] = []
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise ValueError("headers and multiValueHeaders must be objects")
    for name, value in single.items():
        if isinstance(value, dict | list):
            raise ValueError(f"header {name!r} must be a string, got {value!r}")
        headers.append((str(name), _header_str(value)))
    for name, values in multi.items():
        if not isinstance(values, list):
            raise ValueError(f"multiValueHeaders[{name!r}] must be a list")
        headers.extend((str(name), _header_str(value)) for value in values)
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list):
        raise ValueError("cookies must be a list")
    headers.extend(("Set-Cookie", str(cookie)) for cookie in cookies)
    body = result.get("body")
    if body is None:
        raw = b""
    elif not isinstance(body, str):
        raise ValueError(f"body must be a string, got {type(body).__name__}")
    elif result.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"isBase64Encoded is true but the body is not base64: {exc}") from None
    else:
        raw = body.encode("utf-8")
    headers = [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length"]
    return GatewayResponse(status, headers, raw)


def _header_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---------------------------------------------------------------- CORS (only when the HttpApi configures it)
class _Cors:
    def __init__(self, config: Any) -> None:
        if config is True:
            config = {"AllowOrigins": ["*"], "AllowMethods": ["*"], "AllowHeaders": ["*"]}
        self.origins = [str(o) for o in config.get("AllowOrigins") or []]
        self.methods = [str(m).upper() for m in config.get("AllowMethods") or []]
        self.headers = [str(h).lower() for h in config.get("AllowHeaders") or []]
        self.expose = [str(h) for h in config.get("ExposeHeaders") or []]
        self.max_age = config.get("MaxAge")
        self.credentials = bool(config.get("AllowCredentials"))

    def allowed_origin(self, origin: str | None) -> str | None:
        if not origin:
            return None
        if "*" in self.origins:
            return origin if self.credentials else "*"
        return origin if origin in self.origins else None

    def preflight(self, origin: str, method: str, request_headers: str) -> GatewayResponse:
        allowed = self.allowed_origin(origin)
        headers: list[tuple[str, str]] = []
        method_ok = "*" in self.methods or method.upper() in self.methods
        if allowed and method_ok:
            headers.append(("Access-Control-Allow-Origin", allowed))
            headers.append(("Access-Control-Allow-Methods", ",".join(self.methods)))
            if request_headers:
                headers.append(("Access-Control-Allow-Headers", ",".join(self.headers) or request_headers))
            if self.max_age is not None:
                headers.append(("Access-Control-Max-Age", str(self.max_age)))
            if self.credentials:
                headers.append(("Access-Control-Allow-Credentials", "true"))
        return GatewayResponse(204, headers)

    def decorate(self, origin: str | None, response: GatewayResponse) -> None:
        allowed = self.allowed_origin(origin)
        response.headers = [(k, v) for k, v in response.headers if not k.lower().startswith("access-control-")]
        if allowed:
            response.headers.append(("Access-Control-Allow-Origin", allowed))
            if self.expose:
                response.headers.append(("Access-Control-Expose-Headers", ",".join(self.expose)))
            if self.credentials:
                response.headers.append(("Access-Control-Allow-Credentials", "true"))


# ---------------------------------------------------------------- the gateway
class LocalGateway:
    """The template's HttpApi routes, served over HTTP on 127.0.0.1 and dispatched in-process."""

    def __init__(
        self,
        template: Template,
        runtime: FunctionRuntime | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        api_id: str | None = None,
        account_id: str = LOCAL_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
        trailing_slash: str | None = None,
    ) -> None:
        self.template = template
        self.runtime = runtime or FunctionRuntime(template, region=region, account_id=account_id)
        self.host = host
        self.port = port
        self.account_id = account_id
        self.region = region
        apis = sorted({route.api_id for route in template.routes})
        if api_id is None:
            if len(apis) > 1:
                raise TemplateError(f"the template has several HTTP APIs {apis}; pass api_id")
            api_id = apis[0] if apis else "ServerlessHttpApi"
        self.api_logical_id = api_id
        self.router = Router(
            (route for route in template.routes if route.api_id == api_id),
            trailing_slash=trailing_slash or os.environ.get("KB_LOCAL_TRAILING_SLASH") or TRAILING_SLASH_OBSERVED,
        )
        api = template.http_apis.get(api_id)
        api_props = api.properties if api else {}
        self.stage = str(api_props.get("StageName", "$default"))
        cors = api_props.get("CorsConfiguration")
        self.cors = _Cors(cors) if cors else None
        self.api_id = "local"
        self.warnings: list[str] = []
        if api_props.get("Auth"):
            self.warnings.append(f"{api_id}: Auth (authorizers) is not enforced by the local gateway")
        for route in self.router.routes:
            if route.payload_format_version != "2.0":
                self.warnings.append(f"{route.route_key}: payload format {route.payload_format_version} is sent as 2.0")
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> LocalGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalGateway:
        gateway = self

        class Handler(_RequestHandler):
            pass

        Handler.gateway = gateway
        server = ThreadingHTTPServer((self.host, self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, name="local-gateway", daemon=True)
        self._thread.start()
        for warning in self.warnings:
            log.warning("local gateway: %s", warning)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    # ------------------------------------------------------------ one request
    def handle(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        *,
        source_ip: str = "127.0.0.1",
    ) -> GatewayResponse:
        """One request through API Gateway and the function, without HTTP (the server uses this too)."""
        headers = list(headers)
        request_id = _request_id()
        response = self._handle(method.upper(), target, headers, body, source_ip, request_id)
        response.headers.append(("apigw-requestid", request_id))
        response.headers.append(("Date", email.utils.formatdate(usegmt=True)))
        return response

    def _handle(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str, request_id: str
    ) -> GatewayResponse:
        raw_path, _, raw_query = target.partition("?")
        raw_path = raw_path or "/"
        lowered = {k.lower(): v for k, v in headers}
        origin = lowered.get("origin")
        if self.cors and method == "OPTIONS" and origin and "access-control-request-method" in lowered:
            return self.cors.preflight(
                origin, lowered["access-control-request-method"], lowered.get("access-control-request-headers", "")
            )
        route_path = raw_path
        if self.stage != "$default":
            prefix = f"/{self.stage}"
            if not (raw_path == prefix or raw_path.startswith(prefix + "/")):
                return not_found()
            route_path = raw_path[len(prefix) :] or "/"
        if len(body) > MAX_REQUEST_BODY_BYTES:
            return too_large(body_too_large_message(len(body)))
        match = self.router.match(method, route_path)
        if match is None:
            return not_found()
        route = match.route
        event = build_event(
            method=method,
            raw_path=raw_path,
            raw_query_string=raw_query,
            headers=headers,
            body=body,
            route_key=route.route_key,
            path_parameters=match.path_parameters,
            source_ip=source_ip,
            api_id=self.api_id,
            account_id=self.account_id,
            stage=self.stage,
            request_id=request_id,
            server_port=self.port,
        )
        event_size = len(json.dumps(event).encode())
        if event_size > MAX_SYNC_REQUEST_BYTES:
            return too_large(event_too_large_message(event_size, len(body), event["isBase64Encoded"]))
        fn = self.runtime.function(route.function_id)
        integration_timeout = route.timeout_ms / 1000
        invocation = self.runtime.invoke(route.function_id, event, wait_seconds=integration_timeout)
        response: GatewayResponse
        if invocation.ok:
            try:
                response = response_from_result(invocation.result)
            except ValueError as exc:
                log.error("%s returned a response API Gateway cannot use: %s", route.function_id, exc)
                print(f"[{route.function_id} {invocation.request_id}] malformed Lambda response: {exc}", flush=True)
                response = internal_server_error()
        elif invocation.timed_out and integration_timeout < fn.timeout:
            response = _json_response(503, {"message": "Service Unavailable"})
        else:
            response = internal_server_error()
        response.function_id = route.function_id
        if self.cors:
            self.cors.decorate(origin, response)
        log.info("%s %s -> %s %d (%.0f ms)", method, target, route.function_id, response.status, invocation.duration_ms)
        return response


def body_too_large_message(size: int) -> str:
    return (
        f"Request body too large: {size} bytes; API Gateway accepts at most {MAX_REQUEST_BODY_BYTES} bytes "
        f"(10 MiB) per request. {LARGE_FILE_HINT}"
    )


def event_too_large_message(event_size: int, body_size: int, base64_encoded: bool) -> str:
    note = " (binary bodies travel base64-encoded, a third larger)" if base64_encoded else ""
    return (
        f"Request too large for Lambda: the {body_size}-byte body makes a {event_size}-byte event{note}; "
        f"a synchronous Lambda invocation carries at most {MAX_SYNC_REQUEST_BYTES} bytes. {LARGE_FILE_HINT}"
    )


class _RequestHandler(BaseHTTPRequestHandler):
    gateway: LocalGateway
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "kb-local-gateway"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.client_address[0], *args)

    def handle_expect_100(self) -> bool:
        length = self._content_length()
        if length is not None and length > MAX_REQUEST_BODY_BYTES:
            self._send(too_large(body_too_large_message(length)), close=True)
            return False
        return super().handle_expect_100()

    def _content_length(self) -> int | None:
        value = self.headers.get("Content-Length")
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    def _read_body(self) -> tuple[bytes | None, int]:
        """The request body; (None, size) when it is over the limit (read and discarded)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length = self._content_length() or 0
        if length <= MAX_REQUEST_BODY_BYTES:
            return self.rfile.read(length), length
        remaining = min(length, _DRAIN_LIMIT_BYTES)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
        return None, length

    def _read_chunked(self) -> tuple[bytes | None, int]:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(65537)
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                break
            chunk = self.rfile.read(size)
            self.rfile.readline(65537)
            total += len(chunk)
            if total <= MAX_REQUEST_BODY_BYTES:
                parts.append(chunk)
            elif total > _DRAIN_LIMIT_BYTES:
                break
        return (b"".join(parts) if total <= MAX_REQUEST_BODY_BYTES else None), total

    def _serve(self) -> None:
        try:
            body, size = self._read_body()
        except (ValueError, OSError):
            self._send(_json_response(400, {"message": "Bad Request"}), close=True)
            return
        if body is None:
            self._send(too_large(body_too_large_message(size)), close=True)
            return
        response = self.gateway.handle(
            self.command, self.path, list(self.headers.items()), body, source_ip=self.client_address[0]
        )
        self._send(response)

    def _send(self, response: GatewayResponse, close: bool = False) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in ("date", "server"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)
        self.wfile.flush()
