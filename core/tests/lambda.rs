//! The `lambda` integration: a handler run through the Function URL event path, directly
//! and relayed through a real gateway socket on 127.0.0.1.

use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use base64::Engine;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{Request, Response, StatusCode};
use lambda_relay::adapter::FunctionUrlResult;
use lambda_relay::lambda::{handle_event, Body, Clock, Context, RelayConfig};
use lambda_relay::proto::{self, BodyMode, ErrorCode, RelaySecret, RelaySettings, ResponsePart};
use lambda_runtime::LambdaEvent;
use serde_json::json;
use sha2::{Digest, Sha256};

use lambda_relay_test_gateway::{Cut, TestGateway, SECRET};

fn event(headers: serde_json::Value, body: Option<&str>, base64: bool) -> LambdaEvent<LambdaFunctionUrlRequest> {
    let payload = json!({
        "version": "2.0",
        "rawPath": "/items/42",
        "rawQueryString": "q=a%20b&x=1",
        "cookies": ["session=abc", "theme=dark"],
        "headers": headers,
        "queryStringParameters": {"q": "a b", "x": "1"},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": {"method": "POST", "path": "/items/42", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
            "requestId": "req-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "27/Nov/2026:23:00:00 +0000",
            "timeEpoch": 1_795_000_000_000u64
        },
        "body": body,
        "isBase64Encoded": base64
    });
    let payload: LambdaFunctionUrlRequest = serde_json::from_value(payload).expect("a valid Function URL event");
    LambdaEvent::new(payload, Context::default())
}

async fn echo(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    let bytes: Vec<Bytes> = body.map(|c| c.unwrap()).collect().await;
    let text = format!(
        "{} {} cookie={:?} relay-headers={} body={}",
        parts.method,
        parts.uri,
        parts.headers.get("cookie").unwrap(),
        proto::RELAY_HEADERS.iter().any(|h| parts.headers.contains_key(*h)),
        String::from_utf8_lossy(&bytes.concat()),
    );
    let response = Response::builder()
        .status(StatusCode::CREATED)
        .header("set-cookie", "a=1")
        .header("set-cookie", "b=2; Path=/")
        .header("x-kind", "echo")
        .body(Body::from(text))
        .unwrap();
    Ok(response)
}

#[tokio::test]
async fn direct_mode_buffers_the_response_and_moves_set_cookie_into_cookies() {
    let result = handle_event(
        &RelayConfig::direct_only(),
        &echo,
        event(json!({"content-type": "text/plain"}), Some("hello"), false),
    )
    .await
    .unwrap();
    assert_eq!(result.status_code, 201);
    assert_eq!(result.cookies, ["a=1", "b=2; Path=/"]);
    assert!(result.headers.get("set-cookie").is_none());
    assert!(
        !result.headers.contains_key(proto::RELAY_OUTCOME_HEADER),
        "a direct response is the handler's own"
    );
    assert_eq!(result.headers.get("x-kind").unwrap(), "echo");
    assert!(!result.is_base64_encoded);
    assert_eq!(
        result.body.as_deref(),
        Some(
            r#"POST https://127.0.0.1/items/42?q=a%20b&x=1 cookie="session=abc; theme=dark" relay-headers=false body=hello"#
        )
    );
}

#[tokio::test]
async fn direct_mode_decodes_base64_requests_and_encodes_binary_responses() {
    let binary = |req: Request<Body>| async move {
        let bytes: Vec<Bytes> = req.into_body().map(|c| c.unwrap()).collect().await;
        let mut body = bytes.concat();
        body.extend_from_slice(&[0xff, 0xfe, 0x00]);
        Ok::<_, Infallible>(Response::new(Body::from(body)))
    };
    let input = base64::engine::general_purpose::STANDARD.encode([1u8, 2, 3]);
    let result = handle_event(
        &RelayConfig::direct_only(),
        &binary,
        event(json!({}), Some(&input), true),
    )
    .await
    .unwrap();
    assert!(result.is_base64_encoded);
    let body = base64::engine::general_purpose::STANDARD
        .decode(result.body.unwrap())
        .unwrap();
    assert_eq!(body, [1, 2, 3, 0xff, 0xfe, 0x00]);
}

#[tokio::test]
async fn direct_mode_handler_error_fails_the_invocation() {
    let failing = |_req: Request<Body>| async { Err::<Response<Body>, _>("no such item") };
    let err = handle_event(&RelayConfig::direct_only(), &failing, event(json!({}), None, false))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "handler failed: no such item");
}

fn relay_config(gw: &TestGateway) -> RelayConfig {
    let settings = RelaySettings::new(gw.url(), RelaySecret::new(*SECRET).unwrap()).unwrap();
    let mut config = RelayConfig::new(settings);
    config.client.session = gw.config.clone();
    config
}

/// A test gateway whose token is bound to the request [`event`] builds with `body` (the token
/// starts a handler on that request only).
async fn bound_gateway(mode: BodyMode, request: Bytes, body: Option<&str>) -> TestGateway {
    let binding = proto::RequestBinding {
        method: "POST",
        path_and_query: "/items/42?q=a%20b&x=1",
        body_mode: mode,
        inline_body: body.unwrap_or("").as_bytes(),
        client_address: None,
    };
    TestGateway::start_bound(TestGateway::small_config(), mode, request, Cut::Never, &binding).await
}

fn relay_headers(gw: &TestGateway, mode: BodyMode) -> serde_json::Value {
    json!({
        "content-type": "text/plain",
        proto::RELAY_ID_HEADER: gw.relay_id,
        proto::RELAY_TOKEN_HEADER: gw.token,
        proto::RELAY_BODY_HEADER: mode.as_str(),
    })
}

fn ok_text(result: &FunctionUrlResult) -> (u16, &str) {
    assert!(
        result.headers.contains_key(proto::RELAY_OUTCOME_HEADER),
        "relay results carry their outcome"
    );
    (result.status_code, result.body.as_deref().unwrap_or(""))
}

/// The echo handler, its body streamed (not complete when the handler returns).
async fn streamed_echo(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let (parts, body) = echo(req).await?.into_parts();
    let chunks = body.chain(futures_util::stream::once(async {
        tokio::task::yield_now().await;
        Ok(Bytes::from_static(b" (streamed)"))
    }));
    Ok(Response::from_parts(parts, Body::from_stream(chunks)))
}

#[tokio::test]
async fn relay_mode_streams_the_response_through_the_gateway_and_hides_relay_headers() {
    let gw = bound_gateway(BodyMode::Inline, Bytes::new(), Some("inline body")).await;
    let result = handle_event(
        &relay_config(&gw),
        &streamed_echo,
        event(relay_headers(&gw, BodyMode::Inline), Some("inline body"), false),
    )
    .await
    .unwrap();
    assert_eq!(ok_text(&result), (200, "relayed"));
    let mut parts = gw.parts();
    let Some(ResponsePart::Head(head)) = parts.recv().await else {
        panic!("head first")
    };
    assert_eq!(head.status, StatusCode::CREATED);
    assert_eq!(head.headers.get_all("set-cookie").iter().count(), 2);
    let mut body = Vec::new();
    while let Some(ResponsePart::Data(d)) = parts.recv().await {
        body.extend_from_slice(&d);
    }
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"POST https://127.0.0.1/items/42?q=a%20b&x=1 cookie="session=abc; theme=dark" relay-headers=false body=inline body (streamed)"#
    );
}

#[tokio::test]
async fn relay_mode_answers_a_small_complete_response_in_the_invocation_result() {
    let gw = bound_gateway(BodyMode::Inline, Bytes::new(), Some("inline body")).await;
    let result = handle_event(
        &relay_config(&gw),
        &echo,
        event(relay_headers(&gw, BodyMode::Inline), Some("inline body"), false),
    )
    .await
    .unwrap();
    assert_eq!(result.status_code, 201, "the handler's own status");
    assert_eq!(result.headers.get(proto::RELAY_OUTCOME_HEADER).unwrap(), "complete");
    assert_eq!(result.headers.get("x-kind").unwrap(), "echo");
    assert_eq!(result.cookies, ["a=1", "b=2; Path=/"]);
    assert_eq!(
        result.body.as_deref(),
        Some(
            r#"POST https://127.0.0.1/items/42?q=a%20b&x=1 cookie="session=abc; theme=dark" relay-headers=false body=inline body"#
        )
    );
    // Nothing of the response went over the socket.
    let mut parts = gw.parts();
    assert!(parts.try_recv().is_err());
}

#[tokio::test]
async fn relay_mode_streams_the_request_body_to_the_handler() {
    let request: Bytes = (0..3_000_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>().into();
    let gw = bound_gateway(BodyMode::Stream, request.clone(), None).await;
    let hasher = |req: Request<Body>| async move {
        let mut body = req.into_body();
        let mut sha = Sha256::new();
        let mut n = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            n += chunk.len();
            sha.update(&chunk);
        }
        let chunks = futures_util::stream::iter([
            Ok::<_, Infallible>(Bytes::from(format!("{n} "))),
            Ok(Bytes::from(format!("{:x}", sha.finalize()))),
        ]);
        Ok::<_, lambda_relay::lambda::BoxError>(Response::new(Body::from_stream(chunks)))
    };
    let result = handle_event(
        &relay_config(&gw),
        &hasher,
        event(relay_headers(&gw, BodyMode::Stream), None, false),
    )
    .await
    .unwrap();
    assert_eq!(ok_text(&result), (200, "relayed"));
    let body = String::from_utf8(gw.collect_body().await).unwrap();
    assert_eq!(body, format!("3000000 {:x}", Sha256::digest(&request)));
}

#[tokio::test]
async fn relay_mode_refuses_a_token_that_does_not_verify() {
    let gw = bound_gateway(BodyMode::Inline, Bytes::new(), None).await;
    let mut headers = relay_headers(&gw, BodyMode::Inline);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let binding = proto::RequestBinding {
        method: "POST",
        path_and_query: "/items/42?q=a%20b&x=1",
        body_mode: BodyMode::Inline,
        inline_body: b"",
        client_address: None,
    };
    headers[proto::RELAY_TOKEN_HEADER] = json!(RelaySecret::new(*b"some other secret!")
        .unwrap()
        .mint(&gw.relay_id, &proto::TokenClaims::new(now, 900, &binding))
        .unwrap());
    let result = handle_event(&relay_config(&gw), &echo, event(headers, None, false))
        .await
        .unwrap();
    assert_eq!(
        ok_text(&result),
        (403, "relay token refused: relay token signature does not verify")
    );
    assert_eq!(gw.upgrade_attempts(), 0, "no socket for a refused token");
}

#[tokio::test]
async fn relay_mode_refuses_a_genuine_token_on_another_request() {
    // The token was minted for a POST of /items/42 with no body: the same token on the same
    // request with a body, or from another client address, starts nothing.
    let gw = bound_gateway(BodyMode::Inline, Bytes::new(), None).await;
    let ran = std::sync::atomic::AtomicUsize::new(0);
    let counting = |req: Request<Body>| {
        ran.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        echo(req)
    };
    let with_body = event(relay_headers(&gw, BodyMode::Inline), Some("DELETE everything"), false);
    let result = handle_event(&relay_config(&gw), &counting, with_body).await.unwrap();
    assert_eq!(
        ok_text(&result),
        (403, "relay token refused: relay token was minted for another request")
    );
    let mut headers = relay_headers(&gw, BodyMode::Inline);
    headers["x-forwarded-for"] = json!("198.51.100.7");
    let result = handle_event(&relay_config(&gw), &counting, event(headers, None, false))
        .await
        .unwrap();
    assert_eq!(result.status_code, 403);
    assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 0, "no handler ran");
    assert_eq!(gw.upgrade_attempts(), 0, "no socket for a refused token");
}

#[tokio::test]
async fn relay_mode_without_configuration_answers_500() {
    let gw = bound_gateway(BodyMode::Inline, Bytes::new(), None).await;
    let result = handle_event(
        &RelayConfig::direct_only(),
        &echo,
        event(relay_headers(&gw, BodyMode::Inline), None, false),
    )
    .await
    .unwrap();
    assert_eq!(result.status_code, 500);
    assert_eq!(result.headers.get(proto::RELAY_OUTCOME_HEADER).unwrap(), "unconfigured");
}

#[tokio::test]
async fn relay_mode_handler_error_reaches_the_gateway_before_the_head() {
    let gw = bound_gateway(BodyMode::Inline, Bytes::new(), None).await;
    let failing = |_req: Request<Body>| async { Err::<Response<Body>, _>("no such item") };
    let result = handle_event(
        &relay_config(&gw),
        &failing,
        event(relay_headers(&gw, BodyMode::Inline), None, false),
    )
    .await
    .unwrap();
    assert_eq!(ok_text(&result), (200, "relayed"));
    let part = gw.parts().recv().await.unwrap();
    assert!(matches!(part, ResponsePart::Failed(e) if e.code == ErrorCode::HANDLER && e.message == "no such item"));
}

/// A clock stopped at a fixed instant.
fn stopped_clock(unix_millis: u64) -> Clock {
    Clock::new(move || UNIX_EPOCH + Duration::from_millis(unix_millis))
}

#[tokio::test]
async fn relay_mode_fails_the_response_at_the_deadline_minus_the_margin() {
    let gw = bound_gateway(BodyMode::Inline, Bytes::new(), None).await;
    // A handler that would never end by itself.
    let stuck = |_req: Request<Body>| async {
        let chunks = futures_util::stream::iter([Ok::<_, Infallible>(Bytes::from_static(b"partial"))])
            .chain(futures_util::stream::pending());
        Ok::<_, Infallible>(Response::new(Body::from_stream(chunks)))
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let mut config = relay_config(&gw);
    config.clock = stopped_clock(now);
    config.client.deadline_margin = Duration::from_millis(1_000);
    let mut ev = event(relay_headers(&gw, BodyMode::Inline), None, false);
    // Exactly the margin is left: the deadline is now, and nothing waits for it.
    ev.context.deadline = now + 1_000;
    let result = tokio::time::timeout(Duration::from_secs(10), handle_event(&config, &stuck, ev))
        .await
        .expect("the deadline ends the invocation")
        .unwrap();
    assert_eq!(
        ok_text(&result),
        (502, "relay failed: the function reached its deadline")
    );
    assert_eq!(result.headers.get(proto::RELAY_OUTCOME_HEADER).unwrap(), "failed");
    let mut parts = gw.parts();
    let mut last = None;
    while let Some(part) = parts.recv().await {
        last = Some(part);
    }
    assert!(
        matches!(&last, Some(ResponsePart::Failed(e)) if e.code == ErrorCode::DEADLINE),
        "the gateway's last part: {last:?}"
    );
}

#[tokio::test]
async fn the_injected_clock_decides_token_expiry() {
    let gw = bound_gateway(BodyMode::Inline, Bytes::new(), None).await;
    let mut config = relay_config(&gw);
    // The test gateway's tokens live 300 s.
    let later = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64 + 301_000;
    config.clock = stopped_clock(later);
    let result = handle_event(&config, &echo, event(relay_headers(&gw, BodyMode::Inline), None, false))
        .await
        .unwrap();
    let (status, text) = ok_text(&result);
    assert_eq!(status, 403);
    assert!(text.starts_with("relay token refused: relay token expired"), "{text}");
}

#[tokio::test]
async fn relay_mode_with_invalid_settings_refuses_relay_invocations_and_serves_direct_ones() {
    let gw = bound_gateway(BodyMode::Inline, Bytes::new(), None).await;
    let mut config = RelayConfig::direct_only();
    config.settings = RelaySettings::from_values(Some("ws://gateway.example.com"), Some("a secret of enough length"));
    let result = handle_event(&config, &echo, event(relay_headers(&gw, BodyMode::Inline), None, false))
        .await
        .unwrap();
    let (status, text) = ok_text(&result);
    assert_eq!(status, 500);
    assert!(text.contains("is not encrypted"), "{text}");
    let direct = handle_event(&config, &echo, event(json!({}), Some("x"), false))
        .await
        .unwrap();
    assert_eq!(direct.status_code, 201);
}

#[tokio::test]
async fn relay_mode_stops_the_handler_when_the_gateway_aborts() {
    let gw = bound_gateway(BodyMode::Inline, Bytes::new(), None).await;
    let endless = |_req: Request<Body>| async {
        let chunks = futures_util::stream::repeat_with(|| Ok::<_, Infallible>(Bytes::from_static(&[b'x'; 1024])));
        Ok::<_, Infallible>(Response::new(Body::from_stream(chunks)))
    };
    let config = relay_config(&gw);
    let run = handle_event(
        &config,
        &endless,
        event(relay_headers(&gw, BodyMode::Inline), None, false),
    );
    let abort = async {
        let mut parts = gw.parts();
        assert!(matches!(parts.recv().await, Some(ResponsePart::Head(_))));
        assert!(matches!(parts.recv().await, Some(ResponsePart::Data(_))));
        gw.abort(proto::AbortCode::CLIENT_GONE, "client went away");
    };
    let (result, ()) = tokio::time::timeout(Duration::from_secs(10), async { tokio::join!(run, abort) })
        .await
        .expect("the handler stops");
    let result = result.unwrap();
    assert_eq!(result.status_code, 200);
    assert!(result.body.unwrap().starts_with("aborted"));
}

/// A handler whose body comes from a channel the producer drops after `sent` chunks,
/// finishing it first when `finish` says so.
fn channel_handler(finish: bool) -> impl Fn(Request<Body>) -> std::future::Ready<Result<Response<Body>, Infallible>> {
    move |_req| {
        let (tx, body) = Body::channel();
        tokio::spawn(async move {
            tx.send("first ").await.unwrap();
            tx.send("second").await.unwrap();
            if finish {
                tx.finish().await.unwrap();
            } // else: dropped, as a producer that failed would be
        });
        std::future::ready(Ok(Response::new(body)))
    }
}

#[tokio::test]
async fn a_channel_body_is_complete_only_when_finished() {
    let config = RelayConfig::direct_only();
    let done = handle_event(&config, &channel_handler(true), event(json!({}), None, false))
        .await
        .unwrap();
    assert_eq!(done.body.as_deref(), Some("first second"));
    let dropped = handle_event(&config, &channel_handler(false), event(json!({}), None, false))
        .await
        .unwrap_err();
    assert!(
        dropped.to_string().contains("dropped before it was finished"),
        "{dropped}"
    );
}

#[tokio::test]
async fn relay_mode_a_channel_body_dropped_unfinished_aborts_the_clients_transfer() {
    let gw = bound_gateway(BodyMode::Inline, Bytes::new(), None).await;
    let result = handle_event(
        &relay_config(&gw),
        &channel_handler(false),
        event(relay_headers(&gw, BodyMode::Inline), None, false),
    )
    .await
    .unwrap();
    assert_eq!(ok_text(&result), (200, "relayed"));
    let mut parts = gw.parts();
    let mut last = None;
    while let Some(part) = parts.recv().await {
        let end = !matches!(part, ResponsePart::Head(_) | ResponsePart::Data(_));
        last = Some(part);
        if end {
            break;
        }
    }
    assert!(
        matches!(&last, Some(ResponsePart::Failed(e)) if e.code == ErrorCode::BODY),
        "a dropped producer is a failed body, not an end: {last:?}"
    );
}
