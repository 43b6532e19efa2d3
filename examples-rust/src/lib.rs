//! Example Rust Lambdas on `lambda-relay`: each handler is an ordinary `http` handler whose
//! response body streams. The binaries in `src/bin` run them on `lambda_runtime`.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{stream, SinkExt, StreamExt};
use http::{Request, Response};
use lambda_relay::lambda::websocket::{Message, WebSocketUpgrade};
use lambda_relay::lambda::{Body, BoxError};
use sha2::{Digest, Sha256};

/// The classic: five chunks, one per second.
pub async fn classic(_request: Request<Body>) -> Result<Response<Body>, Infallible> {
    let chunks = stream::unfold(1u32, |n| async move {
        if n > 5 {
            return None;
        }
        if n > 1 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Some((Ok::<_, Infallible>(Bytes::from(format!("chunk {n} of 5\n"))), n + 1))
    });
    let response = Response::builder()
        .header("content-type", "text/plain; charset=utf-8")
        .body(Body::from_stream(chunks))
        .expect("a valid response");
    Ok(response)
}

/// A streamed upload: the body is hashed as it arrives; count and sha256 come back.
pub async fn upload(request: Request<Body>) -> Result<Response<Body>, BoxError> {
    let mut body = request.into_body();
    let mut sha = Sha256::new();
    let mut bytes = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        bytes += chunk.len() as u64;
        sha.update(&chunk);
    }
    let json = format!("{{\"bytes\":{bytes},\"sha256\":\"{:x}\"}}", sha.finalize());
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(json))?)
}

/// Server-sent events, token by token.
pub async fn sse(request: Request<Body>) -> Result<Response<Body>, Infallible> {
    let prompt = request
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("prompt=")))
        .unwrap_or("stream me a sentence")
        .to_owned();
    let answer = format!("You asked: {prompt}. Here is an answer, one token at a time.");
    let tokens: Vec<String> = answer.split_inclusive(' ').map(str::to_owned).collect();
    let events = stream::iter(tokens.into_iter().enumerate())
        .then(|(i, token)| async move {
            tokio::time::sleep(Duration::from_millis(80)).await;
            Ok::<_, Infallible>(Bytes::from(format!("id: {i}\nevent: token\ndata: {token:?}\n\n")))
        })
        .chain(stream::once(async {
            Ok(Bytes::from_static(b"event: done\ndata: {}\n\n"))
        }));
    let response = Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(events))
        .expect("a valid response");
    Ok(response)
}

/// An axum app, as `lambda_http` users bring one: routes, extractors, a JSON answer and a
/// streamed one. `run_service(axum_app())` runs it on Lambda, relayed or direct.
pub fn axum_app() -> axum::Router {
    use axum::extract::Path;
    use axum::routing::{get, post};
    axum::Router::new()
        .route(
            "/hello/{name}",
            get(|Path(name): Path<String>| async move { axum::Json(serde_json::json!({ "hello": name })) }),
        )
        .route(
            "/count",
            get(|| async {
                let chunks = stream::unfold(1u32, |n| async move {
                    if n > 3 {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Some((Ok::<_, Infallible>(Bytes::from(format!("{n}\n"))), n + 1))
                });
                axum::body::Body::from_stream(chunks)
            }),
        )
        .route("/ws/echo", get(ws_echo))
        .route(
            "/ws/closes",
            get(|| async { axum::Json(CLIENT_CLOSES.lock().map(|c| c.clone()).unwrap_or_default()) }),
        )
        .route(
            "/length",
            post(|body: axum::body::Bytes| async move { body.len().to_string() }),
        )
        // Request bodies stream over the relay, past Lambda's 6 MB; axum's own 2 MB default
        // would be the limit otherwise.
        .layer(axum::extract::DefaultBodyLimit::disable())
}

/// The client closes this app has seen, as `"CODE REASON"`, for `/ws/closes`.
static CLIENT_CLOSES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// A client's WebSocket, taken as axum's `WebSocketUpgrade` is: text comes back as text and
/// binary as binary; `close:CODE:REASON` makes the function close; the client's close is
/// answered with its code and recorded.
async fn ws_echo(upgrade: WebSocketUpgrade) -> Response<Body> {
    upgrade.protocols(["echo.v1"]).on_upgrade(|mut socket| async move {
        while let Some(message) = socket.next().await {
            let sent = match message {
                Ok(Message::Text(text)) => match text.strip_prefix("close:").and_then(|r| r.split_once(':')) {
                    Some((code, reason)) => {
                        let _ = socket.close(code.parse().unwrap_or(1000), reason).await;
                        return;
                    }
                    None => socket.send(Message::Text(text)).await,
                },
                Ok(Message::Close { code, reason }) => {
                    if let Ok(mut closes) = CLIENT_CLOSES.lock() {
                        closes.push(format!("{code} {reason}"));
                    }
                    return;
                }
                Ok(binary) => socket.send(binary).await,
                Err(_) => return,
            };
            if sent.is_err() {
                return;
            }
        }
    })
}
