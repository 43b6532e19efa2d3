"""Writes the golden vectors (one JSON file per case) of core/tests/vectors.

Each case's expected output is written here by hand, from the rules in docs/adapter.md, not
computed by the code under test. Run `python3 core/tests/vectors/make.py` after changing a case;
the Rust, Node and Python suites replay the JSON files.
"""

import base64
import json
import os
import copy

HERE = os.path.dirname(os.path.abspath(__file__))
URL_HOST = "abc123.lambda-url.us-east-1.on.aws"
B64 = lambda b: base64.b64encode(b).decode()


def fu_event(**over):
    """A Function URL event as AWS sends it: GET /items/42 from 198.51.100.7."""
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/items/42",
        "rawQueryString": "",
        "headers": {"host": URL_HOST, "user-agent": "curl/8.5.0", "accept": "*/*"},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abc123",
            "domainName": URL_HOST,
            "domainPrefix": "abc123",
            "http": {"method": "GET", "path": "/items/42", "protocol": "HTTP/1.1", "sourceIp": "198.51.100.7", "userAgent": "curl/8.5.0"},
            "requestId": "c0ffee",
            "routeKey": "$default",
            "stage": "$default",
            "time": "03/Dec/2026:12:00:00 +0000",
            "timeEpoch": 1796299200000,
        },
        "isBase64Encoded": False,
    }
    for key, value in over.items():
        if key == "method":
            event["requestContext"]["http"]["method"] = value
        elif key == "extra_headers":
            event["headers"].update(value)
        else:
            event[key] = value
    return event


BASE_HEADERS = [["accept", "*/*"], ["host", URL_HOST], ["user-agent", "curl/8.5.0"]]


def view(url="https://" + URL_HOST + "/items/42", method="GET", raw_path="/items/42", raw_query="", headers=None, client="198.51.100.7", body=b""):
    return {
        "method": method,
        "url": url,
        "rawPath": raw_path,
        "rawQuery": raw_query,
        "headers": sorted(headers if headers is not None else BASE_HEADERS),
        "clientAddress": client,
        "bodyBase64": B64(body),
    }


cases = {}


def request(name, description, event, expected, relayed=False):
    cases[name] = {"kind": "request", "description": description, "relayed": relayed, "event": event, "expect": expected}


def refused(name, description, event, contains, relayed=False):
    cases[name] = {"kind": "request", "description": description, "relayed": relayed, "event": event, "error": contains}


request("request-get-plain", "a plain GET: the Function URL's own host, the caller's address", fu_event(), view())
request(
    "request-query-multi-value",
    "a repeated query key stays as sent, in order",
    fu_event(rawQueryString="tag=a&tag=b&q=x%20y"),
    view(url=f"https://{URL_HOST}/items/42?tag=a&tag=b&q=x%20y", raw_query="tag=a&tag=b&q=x%20y"),
)
request(
    "request-percent-encoded-path",
    "%2F in a path stays %2F: it is not a separator",
    fu_event(rawPath="/files/a%2Fb%20c"),
    view(url=f"https://{URL_HOST}/files/a%2Fb%20c", raw_path="/files/a%2Fb%20c"),
)
request(
    "request-query-plus-and-escapes",
    "a query's + and escapes are not decoded",
    fu_event(rawQueryString="q=a+b%26c&empty=&flag"),
    view(url=f"https://{URL_HOST}/items/42?q=a+b%26c&empty=&flag", raw_query="q=a+b%26c&empty=&flag"),
)
request(
    "request-cookies-joined",
    "the event's cookies become one cookie header, joined with '; '",
    fu_event(cookies=["session=abc", "theme=dark"]),
    view(headers=BASE_HEADERS + [["cookie", "session=abc; theme=dark"]]),
)
request(
    "request-cookies-with-commas",
    "a cookie's own commas stay inside it",
    fu_event(cookies=["pref=a,b,c", "exp=Wed, 21 Oct 2026 07:28:00 GMT"]),
    view(headers=BASE_HEADERS + [["cookie", "pref=a,b,c; exp=Wed, 21 Oct 2026 07:28:00 GMT"]]),
)
request(
    "request-cookies-replace-cookie-header",
    "with a cookies array, a cookie header is not kept beside it: one cookie header",
    fu_event(cookies=["a=1"], extra_headers={"cookie": "stale=1"}),
    view(headers=BASE_HEADERS + [["cookie", "a=1"]]),
)
request(
    "request-cookie-header-without-cookies",
    "without a cookies array, a cookie header is kept as it is",
    fu_event(extra_headers={"cookie": "a=1; b=2"}),
    view(headers=BASE_HEADERS + [["cookie", "a=1; b=2"]]),
)
request(
    "request-empty-cookies-array",
    "an empty cookies array is no cookies: a cookie header stays",
    fu_event(cookies=[], extra_headers={"cookie": "a=1"}),
    view(headers=BASE_HEADERS + [["cookie", "a=1"]]),
)
request(
    "request-direct-ignores-x-forwarded-host",
    "a direct call's URL is the Function URL's host, never a client's x-forwarded-host (host-header poisoning)",
    fu_event(extra_headers={"x-forwarded-host": "evil.example"}),
    view(headers=BASE_HEADERS + [["x-forwarded-host", "evil.example"]]),
)
request(
    "request-direct-ignores-x-forwarded-for",
    "a direct call's client address is the event's sourceIp, never a client's x-forwarded-for",
    fu_event(extra_headers={"x-forwarded-for": "203.0.113.9"}),
    view(headers=BASE_HEADERS + [["x-forwarded-for", "203.0.113.9"]]),
)
request(
    "request-direct-ignores-x-forwarded-proto",
    "a direct call is https: a Function URL takes nothing else",
    fu_event(extra_headers={"x-forwarded-proto": "http"}),
    view(headers=BASE_HEADERS + [["x-forwarded-proto", "http"]]),
)
RELAY_FWD = {"x-forwarded-host": "gw.example.com", "x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.7"}
RELAYED_BASE = [["accept", "*/*"], ["host", "gw.example.com"], ["user-agent", "curl/8.5.0"]]
RELAY_FWD_PAIRS = [["x-forwarded-for", "203.0.113.7"], ["x-forwarded-host", "gw.example.com"], ["x-forwarded-proto", "https"]]
request(
    "request-relay-uses-the-gateways-forwarded-host",
    "a relayed call's URL and host header are the gateway's host, its client the one the gateway saw",
    fu_event(extra_headers=RELAY_FWD),
    view(url="https://gw.example.com/items/42", headers=RELAYED_BASE + RELAY_FWD_PAIRS, client="203.0.113.7"),
    relayed=True,
)
request(
    "request-relay-local-http",
    "a local gateway forwards http and a host with a port",
    fu_event(extra_headers={"x-forwarded-host": "127.0.0.1:8787", "x-forwarded-proto": "http", "x-forwarded-for": "127.0.0.1"}),
    view(
        url="http://127.0.0.1:8787/items/42",
        headers=[["accept", "*/*"], ["host", "127.0.0.1:8787"], ["user-agent", "curl/8.5.0"], ["x-forwarded-for", "127.0.0.1"], ["x-forwarded-host", "127.0.0.1:8787"], ["x-forwarded-proto", "http"]],
        client="127.0.0.1",
    ),
    relayed=True,
)
request(
    "request-relay-first-forwarded-address",
    "of a list in x-forwarded-for, the first address is the client",
    fu_event(extra_headers={"x-forwarded-for": "203.0.113.7, 10.0.0.1"}),
    view(headers=BASE_HEADERS + [["x-forwarded-for", "203.0.113.7, 10.0.0.1"]], client="203.0.113.7"),
    relayed=True,
)
request(
    "request-relay-without-forwarded-host",
    "a relayed call without x-forwarded-host falls back to the event's domainName",
    fu_event(),
    view(),
    relayed=True,
)
RELAY_HEADERS = {"x-lambda-relay-id": "r-1", "x-lambda-relay-token": "secret-token", "x-lambda-relay-body": "inline"}
request(
    "request-relay-headers-removed-relayed",
    "the relay headers (the token among them) never reach a handler",
    fu_event(extra_headers={**RELAY_HEADERS, **RELAY_FWD}),
    view(url="https://gw.example.com/items/42", headers=RELAYED_BASE + RELAY_FWD_PAIRS, client="203.0.113.7"),
    relayed=True,
)
request(
    "request-relay-streamed-body-drops-content-length",
    "relayed with a streamed body, the invocation's own content-length (0) is not the body's: a handler sees none",
    fu_event(method="POST", extra_headers={**RELAY_HEADERS, "x-lambda-relay-body": "stream", **RELAY_FWD, "content-length": "0", "content-type": "application/octet-stream"}),
    view(
        method="POST",
        url="https://gw.example.com/items/42",
        headers=RELAYED_BASE + [["content-type", "application/octet-stream"]] + RELAY_FWD_PAIRS,
        client="203.0.113.7",
    ),
    relayed=True,
)
request(
    "request-relay-inline-body-keeps-content-length",
    "relayed with the body inline, the invocation's body is the client's: its content-length stays",
    fu_event(method="POST", body="hello", extra_headers={**RELAY_HEADERS, **RELAY_FWD, "content-length": "5"}),
    view(
        method="POST",
        url="https://gw.example.com/items/42",
        headers=RELAYED_BASE[:1] + [["content-length", "5"]] + RELAYED_BASE[1:] + RELAY_FWD_PAIRS,
        client="203.0.113.7",
        body=b"hello",
    ),
    relayed=True,
)
SIGV4 = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261203/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" + "0" * 64
request(
    "request-relay-client-authorization",
    "relayed, the client's authorization comes back from its relay header; the gateway's signature never reaches a handler",
    fu_event(extra_headers={**RELAY_HEADERS, **RELAY_FWD, "authorization": SIGV4, "x-lambda-relay-authorization": "Bearer client-token"}),
    view(
        url="https://gw.example.com/items/42",
        headers=RELAYED_BASE + RELAY_FWD_PAIRS + [["authorization", "Bearer client-token"]],
        client="203.0.113.7",
    ),
    relayed=True,
)
request(
    "request-relay-signed-without-client-authorization",
    "relayed, authorization and the x-amz-* signing headers are the gateway's (its SigV4 signature, its session token): a handler sees none of them",
    fu_event(extra_headers={**RELAY_HEADERS, **RELAY_FWD, "authorization": SIGV4, "x-amz-date": "20261203T120000Z", "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "x-amz-security-token": "the-gateways-session-token"}),
    view(url="https://gw.example.com/items/42", headers=RELAYED_BASE + RELAY_FWD_PAIRS, client="203.0.113.7"),
    relayed=True,
)
request(
    "request-direct-keeps-authorization",
    "a direct call's authorization is the caller's; a relay authorization header on it is removed",
    fu_event(extra_headers={"authorization": "Bearer direct", "x-lambda-relay-authorization": "Bearer smuggled"}),
    view(headers=BASE_HEADERS + [["authorization", "Bearer direct"]]),
)
request(
    "request-relay-headers-removed-direct",
    "relay headers on a direct call are removed too",
    fu_event(extra_headers={"x-lambda-relay-token": "t", "x-lambda-relay-body": "stream"}),
    view(),
)
request(
    "request-relay-headers-any-case",
    "header names are lowercased before the relay headers are removed",
    fu_event(headers={"Host": URL_HOST, "X-Lambda-Relay-Token": "t", "Content-Type": "text/plain"}),
    view(headers=[["content-type", "text/plain"], ["host", URL_HOST]]),
)
request(
    "request-base64-body",
    "a base64 body is decoded to its bytes",
    fu_event(method="POST", body="AAEC/w==", isBase64Encoded=True),
    view(method="POST", body=bytes([0, 1, 2, 255])),
)
request(
    "request-text-body",
    "a text body is its UTF-8 bytes",
    fu_event(method="PUT", body="héllo ✓"),
    view(method="PUT", body="héllo ✓".encode()),
)
request("request-null-body", "a null body is empty", fu_event(method="POST", body=None), view(method="POST"))
refused(
    "request-invalid-base64",
    "a body marked base64 that is not is an error, not garbage",
    fu_event(method="POST", body="!!!not base64!!!", isBase64Encoded=True),
    "not valid base64",
)
request("request-head", "a HEAD request", fu_event(method="HEAD"), view(method="HEAD"))
request(
    "request-delete-with-query",
    "any method the event names",
    fu_event(method="DELETE", rawQueryString="force=1"),
    view(method="DELETE", url=f"https://{URL_HOST}/items/42?force=1", raw_query="force=1"),
)
request(
    "request-path-from-http-path",
    "without rawPath, requestContext.http.path",
    {k: v for k, v in fu_event().items() if k != "rawPath"},
    view(),
)
no_domain = fu_event()
del no_domain["requestContext"]["domainName"]
request("request-direct-host-header-without-domain", "without domainName, the host header", no_domain, view())
no_host = fu_event(headers={"accept": "*/*"})
del no_host["requestContext"]["domainName"]
request(
    "request-no-host-at-all",
    "no domainName and no host header: localhost",
    no_host,
    view(url="https://localhost/items/42", headers=[["accept", "*/*"]]),
)
request(
    "request-header-values-as-written",
    "a number or boolean header value is read as written; a null one is skipped",
    fu_event(headers={"host": URL_HOST, "x-count": 3, "x-flag": True, "x-none": None}),
    view(headers=[["host", URL_HOST], ["x-count", "3"], ["x-flag", "true"]]),
)
request(
    "request-no-headers",
    "an event without headers",
    fu_event(headers=None),
    view(headers=[]),
)
no_ip = fu_event()
del no_ip["requestContext"]["http"]["sourceIp"]
request("request-no-source-ip", "no sourceIp: no client address", no_ip, view(client=None))
http_api = fu_event(routeKey="GET /items/{id}", pathParameters={"id": "42"})
http_api["requestContext"].update({"apiId": "xyz789", "domainName": "api.example.com", "domainPrefix": "api", "routeKey": "GET /items/{id}", "stage": "prod"})
request(
    "request-api-gateway-http-api-v2",
    "an API Gateway HTTP API (payload 2.0) event reads as a Function URL's: its custom domain is the host",
    http_api,
    view(url="https://api.example.com/items/42"),
)
refused(
    "request-api-gateway-rest-v1",
    "an API Gateway REST (payload 1.0) event is named, not read as a GET of /",
    {
        "resource": "/items/{id}",
        "path": "/items/42",
        "httpMethod": "GET",
        "headers": {"Host": "api.example.com"},
        "multiValueHeaders": {"Host": ["api.example.com"]},
        "queryStringParameters": None,
        "requestContext": {"httpMethod": "GET", "identity": {"sourceIp": "198.51.100.7"}, "stage": "prod"},
        "body": None,
        "isBase64Encoded": False,
    },
    "API Gateway REST API (payload 1.0)",
)
refused(
    "request-alb",
    "an Application Load Balancer event is named",
    {
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/t/1"}},
        "httpMethod": "GET",
        "path": "/items/42",
        "queryStringParameters": {},
        "headers": {"host": "alb.example.com"},
        "body": "",
        "isBase64Encoded": False,
    },
    "Application Load Balancer",
)
refused("request-not-an-object", "an event that is not an object", ["GET", "/"], "not a JSON object")
refused("request-sqs-event", "an event that is not HTTP at all", {"Records": [{"eventSource": "aws:sqs", "body": "hi"}]}, "not an HTTP event")
refused("request-payload-version-1", "a payload 1.0 event with a 2.0-like context is named by its version", fu_event(version="1.0"), 'payload "1.0"')
refused("request-invalid-method", "a method with a space", fu_event(method="GE T"), "invalid method")
refused("request-header-value-newline", "a header value with a line break", fu_event(extra_headers={"x-evil": "a\r\nset-cookie: x=1"}), "invalid value for header x-evil")
refused("request-path-without-slash", "a path that does not start with /", fu_event(rawPath="items"), "invalid rawPath")


def response(name, description, status, headers, body, expect, head=False):
    if expect.get("isBase64Encoded") is False:
        del expect["isBase64Encoded"]  # only a base64 body says so
    cases[name] = {
        "kind": "response",
        "description": description,
        "response": {"status": status, "headers": headers, "bodyBase64": B64(body), "headRequest": head},
        "expect": expect,
    }


def response_error(name, description, status, headers, body, contains):
    cases[name] = {
        "kind": "response",
        "description": description,
        "response": {"status": status, "headers": headers, "bodyBase64": B64(body), "headRequest": False},
        "error": contains,
    }


response(
    "response-text",
    "a UTF-8 body rides as text",
    200,
    [["content-type", "text/plain; charset=utf-8"]],
    "héllo".encode(),
    {"statusCode": 200, "headers": {"content-type": "text/plain; charset=utf-8"}, "body": "héllo", "isBase64Encoded": False},
)
response(
    "response-binary",
    "a body that is not UTF-8 rides as base64",
    200,
    [["content-type", "application/octet-stream"]],
    bytes([0xFF, 0x00, 0x80]),
    {"statusCode": 200, "headers": {"content-type": "application/octet-stream"}, "body": "/wCA", "isBase64Encoded": True},
)
response(
    "response-set-cookies",
    "every set-cookie moves into cookies, apart",
    201,
    [["set-cookie", "a=1"], ["x-kind", "echo"], ["set-cookie", "b=2; Path=/"]],
    b"ok",
    {"statusCode": 201, "headers": {"x-kind": "echo"}, "cookies": ["a=1", "b=2; Path=/"], "body": "ok", "isBase64Encoded": False},
)
response(
    "response-set-cookie-with-expires",
    "a set-cookie's own comma (Expires) is not split",
    200,
    [["set-cookie", "id=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT"]],
    b"",
    {"statusCode": 200, "headers": {}, "cookies": ["id=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT"], "isBase64Encoded": False},
)
response(
    "response-repeated-header",
    "repeated names are joined with ', '",
    200,
    [["vary", "accept"], ["vary", "origin"]],
    b"x",
    {"statusCode": 200, "headers": {"vary": "accept, origin"}, "body": "x", "isBase64Encoded": False},
)
response(
    "response-header-names-lowercased",
    "header names are lowercased",
    200,
    [["Content-Type", "text/html"], ["X-Request-Id", "abc"]],
    b"<p>",
    {"statusCode": 200, "headers": {"content-type": "text/html", "x-request-id": "abc"}, "body": "<p>", "isBase64Encoded": False},
)
response(
    "response-head-drops-body",
    "a HEAD request's response has no body, its headers stay",
    200,
    [["content-length", "5"]],
    b"hello",
    {"statusCode": 200, "headers": {"content-length": "5"}, "isBase64Encoded": False},
    head=True,
)
response(
    "response-204-drops-body",
    "a 204 has no body",
    204,
    [],
    b"ignored",
    {"statusCode": 204, "headers": {}, "isBase64Encoded": False},
)
response(
    "response-304-drops-body",
    "a 304 has no body, its etag stays",
    304,
    [["etag", '"v1"']],
    b"ignored",
    {"statusCode": 304, "headers": {"etag": '"v1"'}, "isBase64Encoded": False},
)
response(
    "response-empty-body",
    "an empty body: no body field",
    200,
    [],
    b"",
    {"statusCode": 200, "headers": {}, "isBase64Encoded": False},
)
response(
    "response-404-text",
    "an error status keeps its body",
    404,
    [["content-type", "text/plain"]],
    b"not found",
    {"statusCode": 404, "headers": {"content-type": "text/plain"}, "body": "not found", "isBase64Encoded": False},
)
response_error("response-interim-status", "a 1xx is not a response's final status", 101, [], b"", "invalid status 101")
response_error("response-status-out-of-range", "a status past 599", 600, [], b"", "invalid status 600")
response_error("response-header-value-newline", "a header value with a line break", 200, [["x-evil", "a\r\nb"]], b"", "invalid value for header x-evil")
response_error("response-header-name-space", "a header name with a space", 200, [["bad name", "v"]], b"", "invalid header name")


def local(name, description, request, expect):
    cases[name] = {"kind": "local", "description": description, "request": request, "expect": expect}


def local_context(method, path, host, source="127.0.0.1", ua="", epoch=1796299200000, time="03/Dec/2026:12:00:00 +0000"):
    return {
        "accountId": "anonymous",
        "apiId": "local",
        "domainName": host,
        "domainPrefix": host.split(".")[0],
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": source, "userAgent": ua},
        "requestId": "req-1",
        "routeKey": "$default",
        "stage": "$default",
        "time": time,
        "timeEpoch": epoch,
    }


def local_request(method, target, headers, body=b"", epoch=1796299200000):
    return {"method": method, "target": target, "headers": headers, "bodyBase64": B64(body), "sourceIp": "127.0.0.1", "requestId": "req-1", "timeEpochMs": epoch}


local(
    "local-get-with-query-and-cookies",
    "a local GET: cookies apart, the query as sent and decoded",
    local_request("GET", "/items/42?tag=a&tag=b&q=x%20y", [["Host", "127.0.0.1:9000"], ["Cookie", "a=1; b=2"], ["User-Agent", "t/1"]]),
    {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/items/42",
        "rawQueryString": "tag=a&tag=b&q=x%20y",
        "cookies": ["a=1", "b=2"],
        "headers": {"host": "127.0.0.1:9000", "user-agent": "t/1"},
        "queryStringParameters": {"tag": "a,b", "q": "x y"},
        "requestContext": local_context("GET", "/items/42", "127.0.0.1:9000", ua="t/1"),
        "isBase64Encoded": False,
    },
)
local(
    "local-post-binary-body",
    "a body that is not UTF-8 is base64",
    local_request("POST", "/upload", [["host", "localhost"]], bytes([0xFF, 0xFE])),
    {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/upload",
        "rawQueryString": "",
        "headers": {"host": "localhost"},
        "requestContext": local_context("POST", "/upload", "localhost"),
        "body": "//4=",
        "isBase64Encoded": True,
    },
)
local(
    "local-post-text-body-repeated-header",
    "a text body as it is; a repeated header joined with ','",
    local_request("POST", "/echo", [["host", "localhost"], ["x-tag", "a"], ["X-Tag", "b"]], b"hello"),
    {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/echo",
        "rawQueryString": "",
        "headers": {"host": "localhost", "x-tag": "a,b"},
        "requestContext": local_context("POST", "/echo", "localhost"),
        "body": "hello",
        "isBase64Encoded": False,
    },
)
local(
    "local-percent-encoded-path",
    "the path as sent (%2F stays); the time from the epoch",
    local_request("GET", "/files/a%2Fb", [["host", "api.local"]], epoch=951782400000),
    {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/files/a%2Fb",
        "rawQueryString": "",
        "headers": {"host": "api.local"},
        "requestContext": local_context("GET", "/files/a%2Fb", "api.local", epoch=951782400000, time="29/Feb/2000:00:00:00 +0000"),
        "isBase64Encoded": False,
    },
)
local(
    "local-no-host",
    "no host header: localhost",
    local_request("GET", "/", []),
    {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": {},
        "requestContext": local_context("GET", "/", "localhost"),
        "isBase64Encoded": False,
    },
)

for old in os.listdir(HERE):
    if old.endswith(".json"):
        os.remove(os.path.join(HERE, old))
for name, case in cases.items():
    with open(os.path.join(HERE, name + ".json"), "w") as f:
        json.dump(case, f, indent=2, ensure_ascii=False)
        f.write("\n")
print(f"{len(cases)} cases")
