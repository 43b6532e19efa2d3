//! The benchmarks' Rust function: release-built, behind a local Function URL, relayed when
//! the gateway invokes it. Its bodies cost it as little as possible (one shared chunk written
//! again and again, an upload only counted), so what is measured is the relay.

// Results are built field by field, as AWS's examples build theirs.
#![allow(clippy::field_reassign_with_default)]

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{stream, SinkExt, StreamExt};
use http::{Request, Response};
use lambda_relay::adapter::FunctionUrlResult;
use lambda_relay::lambda::websocket::{Message, WebSocketUpgrade};
use lambda_relay::lambda::{handle_event, Body, BoxError, RelayConfig};
use lambda_runtime::LambdaEvent;

fn query(req: &Request<Body>, key: &str) -> Option<u64> {
    req.uri()
        .query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

/// Serves the function on 127.0.0.1:`port` until killed.
pub async fn serve(port: u16) {
    let config = RelayConfig::from_env();
    if let Err(e) = &config.settings {
        panic!("relay settings: {e}");
    }
    let config = Arc::new(config);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    println!(
        "listening on 127.0.0.1:{}",
        listener.local_addr().expect("address").port()
    );
    lambda_relay::local::serve_events(listener, move |event| dispatch(config.clone(), event))
        .await
        .expect("serve");
}

async fn dispatch(
    config: Arc<RelayConfig>,
    event: LambdaEvent<lambda_relay::serde_json::Value>,
) -> Result<FunctionUrlResult, lambda_runtime::Error> {
    if event.payload.get("rawPath").and_then(|p| p.as_str()) == Some("/plain") {
        // Not relay-aware: answers the invocation itself (the gateway passes it through).
        let mut out = FunctionUrlResult::default();
        out.status_code = 200;
        out.body = Some("ok".into());
        return Ok(out);
    }
    handle_event(&config, &app, event).await
}

async fn app(mut req: Request<Body>) -> Result<Response<Body>, BoxError> {
    Ok(match req.uri().path() {
        // A client's WebSocket: every message back as it came.
        "/ws/echo" => match WebSocketUpgrade::from_request(&mut req) {
            Ok(upgrade) => upgrade.on_upgrade(|mut socket| async move {
                while let Some(Ok(message)) = socket.next().await {
                    if matches!(message, Message::Close { .. }) || socket.send(message).await.is_err() {
                        return;
                    }
                }
            }),
            Err(e) => e.into_response(),
        },
        // `n` bytes in writes of `chunk` bytes, all of them the same shared buffer.
        "/bytes" => {
            let n = query(&req, "n").unwrap_or(1 << 20);
            let size = query(&req, "chunk").unwrap_or(256 * 1024).max(1);
            let chunk = Bytes::from(vec![0x5a; size as usize]);
            let body = stream::unfold(0u64, move |sent| {
                let chunk = chunk.clone();
                async move {
                    (sent < n).then(|| {
                        let len = (n - sent).min(size);
                        (Ok::<_, BoxError>(chunk.slice(..len as usize)), sent + len)
                    })
                }
            });
            Response::new(Body::from_stream(body))
        }
        // The request body, counted.
        "/upload" => {
            let mut body = req.into_body();
            let mut n = 0u64;
            while let Some(chunk) = body.next().await {
                n += chunk?.len() as u64;
            }
            Response::new(Body::from(n.to_string()))
        }
        "/small" => Response::new(Body::from("ok")),
        _ => Response::builder().status(404).body(Body::from("no such route"))?,
    })
}
