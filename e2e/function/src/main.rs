//! The end-to-end tests' function: a Rust Lambda built on `lambda-relay` (feature `lambda`),
//! served as a local Function URL on 127.0.0.1. Its routes exercise what the tests assert.
//!
//! Paths under `/e2e/` play other kinds of function, before the relay sees the invocation:
//! one that never connects (`/e2e/hang`), one whose invocation fails (`/e2e/invocation-fails`),
//! Lambda refusing to invoke it (`/e2e/lambda-refuses`), one that is not relay-aware (`/e2e/not-relay`), and one that hands its relay id and token
//! to the test so the test can play the function's side of the socket (`/e2e/capture`).
//! `/e2e/events` (direct, not relayed) reports what the function observed.
//!
//! Usage: `lambda-relay-e2e-function <port>`, with `RELAY_GATEWAY_URL` and `RELAY_SECRET` set.

// Results are built field by field, as AWS's examples build theirs.
#![allow(clippy::field_reassign_with_default)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use bytes::Bytes;
use futures_util::{stream, SinkExt, Stream, StreamExt};
use http::{Request, Response, StatusCode};
use lambda_relay::adapter::FunctionUrlResult;
use lambda_relay::lambda::websocket::{Message, WebSocketUpgrade};
use lambda_relay::lambda::{handle_event, Body, BoxError, RelayConfig};
use lambda_relay::proto;
use lambda_runtime::LambdaEvent;
use sha2::{Digest, Sha256};

/// What the function observed, for `/e2e/events`.
static EVENTS: Mutex<Vec<serde_json::Value>> = Mutex::new(Vec::new());
/// How many chunks of each `/gated` stream the client released (`/e2e/release`).
static RELEASED: Mutex<Vec<(String, u64)>> = Mutex::new(Vec::new());
static RELEASE: tokio::sync::Notify = tokio::sync::Notify::const_new();

fn released(tag: &str) -> u64 {
    RELEASED
        .lock()
        .unwrap()
        .iter()
        .find(|(t, _)| t == tag)
        .map_or(0, |(_, n)| *n)
}

fn record(event: serde_json::Value) {
    EVENTS.lock().unwrap().push(event);
}

fn unix_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let port: u16 = std::env::args()
        .nth(1)
        .ok_or("usage: lambda-relay-e2e-function <port>")?
        .parse()?;
    let config = RelayConfig::from_env();
    if let Err(e) = &config.settings {
        return Err(e.clone().into());
    }
    let config = Arc::new(config);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on 127.0.0.1:{}", listener.local_addr()?.port());
    lambda_relay::local::serve_events(listener, move |event| dispatch(config.clone(), event)).await?;
    Ok(())
}

async fn dispatch(
    config: Arc<RelayConfig>,
    event: LambdaEvent<serde_json::Value>,
) -> Result<FunctionUrlResult, lambda_runtime::Error> {
    // The test routes read AWS's typed event; the handler takes the event as it came.
    let typed: LambdaFunctionUrlRequest = serde_json::from_value(event.payload.clone())?;
    let path = typed.raw_path.clone().unwrap_or_default();
    match path.as_str() {
        "/e2e/hang" => std::future::pending().await,
        "/e2e/invocation-fails" => Err("this function crashed before it could connect".into()),
        // What Lambda's front door answers, without running the function, when the Function
        // URL lacks `lambda:InvokeFunction`.
        "/e2e/lambda-refuses" => {
            let mut out = FunctionUrlResult::default();
            out.status_code = 403;
            out.headers
                .insert(proto::LAMBDA_ERROR_HEADER, "AccessDeniedException".parse().unwrap());
            out.body = Some(r#"{"Message":"Forbidden. For troubleshooting Function URL authorization issues, see: https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"}"#.into());
            Ok(out)
        }
        "/e2e/not-relay" => {
            let mut out = FunctionUrlResult::default();
            out.status_code = 200;
            out.headers.insert("x-plain", "yes".parse().unwrap());
            out.body = Some("plain response from a function that knows nothing of the relay".into());
            Ok(out)
        }
        "/e2e/capture" => {
            let headers = &typed.headers;
            let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            let tag = typed.raw_query_string.clone().unwrap_or_default();
            record(serde_json::json!({
                "kind": "capture",
                "tag": tag,
                "relayId": get(proto::RELAY_ID_HEADER),
                "token": get(proto::RELAY_TOKEN_HEADER),
            }));
            std::future::pending().await
        }
        // Lets `/gated?tag=` produce chunks up to `upto`: the client releases the next chunk
        // only after it received the previous one, so a relay that buffered would deadlock.
        "/e2e/release" => {
            let q = typed.raw_query_string.clone().unwrap_or_default();
            let field = |key: &str| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                    .unwrap_or("")
            };
            let (tag, upto) = (field("tag").to_owned(), field("upto").parse().unwrap_or(0));
            {
                let mut released = RELEASED.lock().unwrap();
                released.retain(|(t, _)| *t != tag);
                released.push((tag, upto));
            }
            RELEASE.notify_waiters();
            let mut out = FunctionUrlResult::default();
            out.status_code = 204;
            Ok(out)
        }
        // Not relay-aware, answering with a redirect to a URL the gateway could reach: the
        // client must get the redirect itself.
        "/e2e/redirect" => {
            let mut out = FunctionUrlResult::default();
            out.status_code = 302;
            let target = format!(
                "http://127.0.0.1:{}/e2e/events",
                std::env::args().nth(1).unwrap_or_default()
            );
            out.headers.insert("location", target.parse().unwrap());
            Ok(out)
        }
        "/e2e/events" => {
            let mut out = FunctionUrlResult::default();
            out.status_code = 200;
            out.body = Some(serde_json::Value::from(EVENTS.lock().unwrap().clone()).to_string());
            Ok(out)
        }
        _ => handle_event(&config, &app, event).await,
    }
}

fn query(req: &Request<Body>, key: &str) -> Option<u64> {
    req.uri()
        .query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

fn tag(req: &Request<Body>) -> String {
    req.uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("tag=")))
        .unwrap_or("")
        .to_owned()
}

/// The deterministic bytes `/bytes` serves: byte i is `(i * 7 + (i >> 8)) mod 256`.
fn pattern(start: u64, len: usize) -> Bytes {
    (start..start + len as u64)
        .map(|i| (i.wrapping_mul(7).wrapping_add(i >> 8)) as u8)
        .collect::<Vec<_>>()
        .into()
}

fn body<S>(s: S) -> Body
where
    S: Stream<Item = Result<Bytes, BoxError>> + Send + 'static,
{
    Body::from_stream(s)
}

async fn app(mut req: Request<Body>) -> Result<Response<Body>, BoxError> {
    let path = req.uri().path().to_owned();
    let response = Response::builder();
    Ok(match path.as_str() {
        // A client's WebSocket: every message comes back as it came (the chaos campaign's
        // WebSocket mode counts them).
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
        // Chunks produced one at a time; each says when it was produced.
        "/stream" => {
            let chunks = query(&req, "chunks").unwrap_or(5);
            let delay = Duration::from_millis(query(&req, "delay_ms").unwrap_or(1000));
            let s = stream::unfold(0, move |i| async move {
                if i == chunks {
                    return None;
                }
                if i > 0 {
                    tokio::time::sleep(delay).await;
                }
                let line = format!("chunk {} produced_at={}\n", i + 1, unix_millis());
                Some((Ok(Bytes::from(line)), i + 1))
            });
            response.header("content-type", "text/plain").body(body(s))?
        }
        // `chunks` chunks; chunk i+1 only once the client released it (`/e2e/release`).
        "/gated" => {
            let chunks = query(&req, "chunks").unwrap_or(3);
            let tag = tag(&req);
            let s = stream::unfold(1, move |i| {
                let tag = tag.clone();
                async move {
                    if i > chunks {
                        return None;
                    }
                    loop {
                        let notified = RELEASE.notified();
                        let mut notified = std::pin::pin!(notified);
                        // Registered before the check, so a release in between is not missed.
                        notified.as_mut().enable();
                        if i == 1 || released(&tag) >= i {
                            break;
                        }
                        notified.await;
                    }
                    Some((Ok(Bytes::from(format!("chunk {i}\n"))), i + 1))
                }
            });
            response.header("content-type", "text/plain").body(body(s))?
        }
        // `n` pattern bytes in 64 KiB pieces.
        "/bytes" => {
            let n = query(&req, "n").unwrap_or(1024);
            let s = stream::unfold(0u64, move |sent| async move {
                if sent == n {
                    return None;
                }
                let len = (n - sent).min(64 * 1024) as usize;
                Some((Ok(pattern(sent, len)), sent + len as u64))
            });
            response
                .header("content-type", "application/octet-stream")
                .body(body(s))?
        }
        // The request body's byte count and sha256, computed as it streams in.
        "/upload" => {
            let mut incoming = req.into_body();
            let mut sha = Sha256::new();
            let mut n = 0u64;
            while let Some(chunk) = incoming.next().await {
                let chunk = chunk?;
                n += chunk.len() as u64;
                sha.update(&chunk);
            }
            response.body(Body::from(format!("{n} {:x}", sha.finalize())))?
        }
        "/status/204" => response.status(StatusCode::NO_CONTENT).body(Body::empty())?,
        // A body the status forbids: the relay drops it, as an HTTP server would.
        "/status/205" => response
            .status(StatusCode::RESET_CONTENT)
            .body(Body::from("a body no client may see"))?,
        // Answers at once, without reading a (possibly huge) upload.
        "/reject-upload" => response
            .status(StatusCode::UNAUTHORIZED)
            .header("content-type", "text/plain")
            .body(Body::from("no credentials: the upload was not read\n"))?,
        "/status/103" => response.status(StatusCode::EARLY_HINTS).body(Body::from("interim"))?,
        // The request's headers as the function saw them, one `name: value` per line.
        "/echo-headers" => {
            let mut lines: Vec<String> = req
                .headers()
                .iter()
                .map(|(n, v)| format!("{n}: {}", String::from_utf8_lossy(v.as_bytes())))
                .collect();
            lines.sort();
            response.body(Body::from(lines.join("\n")))?
        }
        // `n` bytes with their length declared, for HEAD.
        "/sized" => {
            let n = query(&req, "n").unwrap_or(0);
            response
                .header("content-length", n)
                .body(Body::from(vec![b'x'; n as usize]))?
        }
        "/status/304" => response
            .status(StatusCode::NOT_MODIFIED)
            .header("etag", "\"v1\"")
            .body(Body::empty())?,
        "/headers" => response
            .header("set-cookie", "a=1; Path=/")
            .header("set-cookie", "b=2; HttpOnly")
            .header("set-cookie", "c=3")
            .header("x-greeting", http::HeaderValue::from_bytes("grüß dich ✓".as_bytes())?)
            .body(Body::from("headers"))?,
        // The head, one chunk, then the body fails.
        "/fail-after-head" => {
            let s = stream::iter([Ok(Bytes::from_static(b"the beginning of a body that never ends\n"))]).chain(
                stream::once(async {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Err::<Bytes, BoxError>("the data source broke".into())
                }),
            );
            response.body(body(s))?
        }
        "/fail-before-head" => return Err("the handler failed before the head".into()),
        // A chunk every 50 ms for as long as anyone reads; records when it is cancelled.
        "/endless" => {
            let guard = DropRecorder { tag: tag(&req) };
            let s = stream::unfold((0u64, guard), |(i, guard)| async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Some((Ok(Bytes::from(format!("tick {i}\n"))), (i + 1, guard)))
            });
            response.body(body(s))?
        }
        _ => response
            .status(StatusCode::NOT_FOUND)
            .body(Body::from("no such route"))?,
    })
}

/// Records the moment the response stream is dropped: the relay cancels it when the gateway
/// aborts (the client went away).
struct DropRecorder {
    tag: String,
}

impl Drop for DropRecorder {
    fn drop(&mut self) {
        record(serde_json::json!({"kind": "cancelled", "tag": self.tag, "at": unix_millis()}));
    }
}
