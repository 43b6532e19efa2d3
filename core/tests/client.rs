//! The function-side client against a real tokio-tungstenite server on 127.0.0.1 that
//! drives the gateway session: streaming, request body, reconnect after a dropped TCP
//! connection, abort, refused tokens.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderMap, HeaderValue, StatusCode};
use lambda_relay::client::{ClientConfig, Connection, Error, Invocation};
use lambda_relay::proto::{self, AbortCode, BodyMode, ErrorCode, Exchange, ResponsePart};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use lambda_relay_test_gateway::{Cut, TestGateway};

fn pattern(len: usize) -> Bytes {
    (0..len).map(|i| (i * 7 + i / 256) as u8).collect::<Vec<_>>().into()
}

fn sha(data: &[u8]) -> String {
    format!("{:x}", Sha256::digest(data))
}

fn invocation(relay_id: &str, token: &str, mode: BodyMode) -> Invocation {
    Invocation {
        relay_id: relay_id.into(),
        token: token.into(),
        exchange: Exchange::new(mode),
        time_left: None,
    }
}

fn open(gw: &TestGateway, mode: BodyMode) -> Connection {
    let mut config = ClientConfig::new(gw.url());
    config.session = gw.config.clone();
    Connection::open(config, invocation(&gw.relay_id, &gw.token, mode)).expect("valid config")
}

#[tokio::test]
async fn streams_a_response_chunk_by_chunk() {
    let gw = TestGateway::start(BodyMode::Inline, Bytes::new(), Cut::Never).await;
    let (_body, mut writer) = open(&gw, BodyMode::Inline).split();
    let mut headers = HeaderMap::new();
    headers.append("set-cookie", HeaderValue::from_static("a=1"));
    headers.append("set-cookie", HeaderValue::from_static("b=2"));
    writer.send_head(StatusCode::OK, headers).unwrap();
    let mut parts = gw.parts();
    let ResponsePart::Head(head) = parts.recv().await.unwrap() else {
        panic!("head first")
    };
    assert_eq!(head.headers.get_all("set-cookie").iter().count(), 2);
    // Each chunk reaches the gateway before the next one is written.
    for i in 0..5u8 {
        let chunk = Bytes::from(vec![i; 1000 + usize::from(i)]);
        writer.write(chunk.clone()).await.unwrap();
        assert_eq!(parts.recv().await.unwrap(), ResponsePart::Data(chunk));
    }
    let settled = writer.status();
    writer.finish(HeaderMap::new()).await.unwrap();
    assert_eq!(parts.recv().await.unwrap(), ResponsePart::End(HeaderMap::new()));
    assert_eq!(
        gw.close_code().await,
        Some(1000),
        "the function closes a finished session normally"
    );
    let cancelled = tokio::time::timeout(Duration::from_secs(5), settled.cancelled_or_over())
        .await
        .expect("settles");
    assert!(
        cancelled.is_none(),
        "a finished relay settles as not cancelled, so nothing waits for ever"
    );
}

#[tokio::test]
async fn large_response_arrives_identical_through_a_small_window() {
    let gw = TestGateway::start(BodyMode::Inline, Bytes::new(), Cut::Never).await;
    let (_body, mut writer) = open(&gw, BodyMode::Inline).split();
    let body = pattern(8 * 1024 * 1024);
    writer.send_head(StatusCode::OK, HeaderMap::new()).unwrap();
    // AsyncWrite path, in odd-sized writes.
    for chunk in body.chunks(100_003) {
        writer.write_all(chunk).await.unwrap();
    }
    writer.shutdown().await.unwrap();
    let got = gw.collect_body().await;
    assert_eq!(got.len(), body.len());
    assert_eq!(sha(&got), sha(&body));
    assert!(gw.max_held() <= u64::from(gw.config.window));
}

#[tokio::test]
async fn request_body_streams_down_and_its_hash_comes_back() {
    let request = pattern(5 * 1024 * 1024 + 17);
    let gw = TestGateway::start(BodyMode::Stream, request.clone(), Cut::Never).await;
    let (mut body, mut writer) = open(&gw, BodyMode::Stream).split();
    let mut hasher = Sha256::new();
    let mut total = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap();
        total += chunk.len();
        hasher.update(&chunk);
    }
    assert_eq!(total, request.len());
    writer.send_head(StatusCode::OK, HeaderMap::new()).unwrap();
    writer.write(format!("{:x}", hasher.finalize()).into()).await.unwrap();
    writer.finish(HeaderMap::new()).await.unwrap();
    assert_eq!(String::from_utf8(gw.collect_body().await).unwrap(), sha(&request));
}

#[tokio::test]
async fn reconnects_and_resumes_after_the_server_drops_tcp_mid_body() {
    let request = pattern(3 * 1024 * 1024);
    let gw = TestGateway::start(BodyMode::Stream, request.clone(), Cut::AfterMessages(vec![20, 45])).await;
    let (body, mut writer) = open(&gw, BodyMode::Stream).split();
    let response = pattern(6 * 1024 * 1024 + 5);
    writer.send_head(StatusCode::OK, HeaderMap::new()).unwrap();
    let sender = {
        let response = response.clone();
        async move {
            let mut sink = writer;
            for chunk in response.chunks(65_536) {
                sink.send(Bytes::copy_from_slice(chunk)).await.unwrap();
            }
            sink.close().await.unwrap();
        }
    };
    let reader = async move {
        let chunks: Vec<Bytes> = body.map(|c| c.unwrap()).collect().await;
        chunks.concat()
    };
    let ((), got_request) = tokio::join!(sender, reader);
    assert_eq!(sha(&got_request), sha(&request));
    let got = gw.collect_body().await;
    assert_eq!(sha(&got), sha(&response));
    assert_eq!(gw.connections(), 3, "two cuts, two resumes");
    assert_eq!(gw.resumes(), 2, "every reconnect said it was a resume");
    assert_eq!(gw.session_error(), None, "no resumed message broke the session's rules");
}

#[tokio::test]
async fn abort_cancels_the_function() {
    let gw = TestGateway::start(BodyMode::Inline, Bytes::new(), Cut::Never).await;
    let (_body, mut writer) = open(&gw, BodyMode::Inline).split();
    let cancelled = writer.status();
    writer.send_head(StatusCode::OK, HeaderMap::new()).unwrap();
    writer.write(Bytes::from_static(b"first")).await.unwrap();
    let mut parts = gw.parts();
    assert!(matches!(parts.recv().await.unwrap(), ResponsePart::Head(_)));
    assert!(matches!(parts.recv().await.unwrap(), ResponsePart::Data(_)));
    gw.abort(AbortCode::CLIENT_GONE, "client went away");
    tokio::time::timeout(Duration::from_secs(5), cancelled.clone().cancellation())
        .await
        .expect("cancelled within 5 s");
    assert!(cancelled.is_cancelled());
    let why = cancelled
        .clone()
        .cancelled_or_over()
        .await
        .expect("settles as cancelled");
    assert!(why.is_aborted(), "{why}");
    let err = writer.write(Bytes::from_static(b"more")).await.unwrap_err();
    assert!(err.is_aborted(), "{err}");
    assert_eq!(gw.close_code().await, Some(proto::CloseCode::ABORTED.0));
}

#[tokio::test]
async fn failure_reaches_the_gateway_as_an_error_frame() {
    let gw = TestGateway::start(BodyMode::Inline, Bytes::new(), Cut::Never).await;
    let (_body, mut writer) = open(&gw, BodyMode::Inline).split();
    writer.fail(ErrorCode::HANDLER, "no such user").await.unwrap();
    let part = gw.parts().recv().await.unwrap();
    assert!(matches!(part, ResponsePart::Failed(e) if e.code == ErrorCode::HANDLER && e.message == "no such user"));
}

#[tokio::test]
async fn dropping_the_writer_fails_the_response() {
    let gw = TestGateway::start(BodyMode::Inline, Bytes::new(), Cut::Never).await;
    let (_body, mut writer) = open(&gw, BodyMode::Inline).split();
    writer.send_head(StatusCode::OK, HeaderMap::new()).unwrap();
    drop(writer);
    let mut parts = gw.parts();
    assert!(matches!(parts.recv().await.unwrap(), ResponsePart::Head(_)));
    assert!(matches!(parts.recv().await.unwrap(), ResponsePart::Failed(e) if e.code == ErrorCode::INTERNAL));
}

#[tokio::test]
async fn a_wrong_token_is_refused_without_retrying() {
    let gw = TestGateway::start(BodyMode::Inline, Bytes::new(), Cut::Never).await;
    let mut config = ClientConfig::new(gw.url());
    config.session = gw.config.clone();
    let forged = gw.token.replace(&gw.token[gw.token.len() - 4..], "0000");
    let conn = Connection::open(config, invocation(&gw.relay_id, &forged, BodyMode::Inline)).unwrap();
    let (_body, mut writer) = conn.split();
    writer.send_head(StatusCode::OK, HeaderMap::new()).unwrap();
    let err = writer.finish(HeaderMap::new()).await.unwrap_err();
    assert_eq!(err, Error::Refused { status: 403 });
    assert_eq!(gw.upgrade_attempts(), 1);
}

#[tokio::test]
async fn usage_errors_are_reported_not_hung() {
    let gw = TestGateway::start(BodyMode::Inline, Bytes::new(), Cut::Never).await;
    let (_body, mut writer) = open(&gw, BodyMode::Inline).split();
    let err = writer.write(Bytes::from_static(b"x")).await.unwrap_err();
    assert_eq!(err, Error::Usage(proto::StreamError::HeadNotSent));
    let err = writer.write_all(b"x").await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn unreachable_gateway_fails_after_the_first_connect_timeout() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = ClientConfig::new(format!("ws://127.0.0.1:{port}"));
    config.first_connect_timeout = Duration::from_millis(300);
    let conn = Connection::open(config, invocation("abc", "v1.1.00", BodyMode::Inline)).unwrap();
    let (_body, mut writer) = conn.split();
    writer.send_head(StatusCode::OK, HeaderMap::new()).unwrap();
    let err = writer.finish(HeaderMap::new()).await.unwrap_err();
    assert!(matches!(err, Error::Connect(_)), "{err}");
}

#[tokio::test]
async fn a_first_socket_whose_101_was_lost_is_retried_as_a_first_socket() {
    let gw = TestGateway::start(BodyMode::Inline, Bytes::new(), Cut::LoseUpgrades(2)).await;
    let (_body, mut writer) = open(&gw, BodyMode::Inline).split();
    writer.send_head(StatusCode::OK, HeaderMap::new()).unwrap();
    writer.write(Bytes::from_static(b"after two lost 101s")).await.unwrap();
    writer.finish(HeaderMap::new()).await.unwrap();
    assert_eq!(gw.collect_body().await, b"after two lost 101s");
    assert_eq!(gw.upgrade_attempts(), 3);
    assert_eq!(gw.resumes(), 0, "none of the retries claimed to resume");
}

#[tokio::test]
async fn a_silent_gateway_is_left_at_the_idle_timeout_and_the_session_resumes() {
    let session = proto::Config {
        max_payload: 16 * 1024,
        window: 128 * 1024,
        keepalive: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(500),
        ..proto::Config::default()
    };
    // Frozen far longer than the test may take: only the idle timeout gets the function out.
    let freeze = Cut::FreezeAfter {
        after: 3,
        freeze: Duration::from_secs(600),
    };
    let gw = TestGateway::start_with(session.clone(), BodyMode::Inline, Bytes::new(), freeze).await;
    let mut config = ClientConfig::new(gw.url());
    config.session = session;
    let conn = Connection::open(config, invocation(&gw.relay_id, &gw.token, BodyMode::Inline)).unwrap();
    let (_body, mut writer) = conn.split();
    writer.send_head(StatusCode::OK, HeaderMap::new()).unwrap();
    let body = pattern(2 * 1024 * 1024);
    writer.write(body.clone()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), writer.finish(HeaderMap::new()))
        .await
        .expect("the function left the frozen socket")
        .unwrap();
    assert_eq!(sha(&gw.collect_body().await), sha(&body));
    // At least one: a machine stalled past the idle timeout may make the resumed socket
    // idle too, and the session must survive that the same way.
    assert!(gw.resumes() >= 1, "the frozen socket was replaced by a resume");
}

#[tokio::test]
async fn a_gateway_whose_exchange_is_over_stops_the_function_as_aborted() {
    // 410 to the upgrade: the client left before the function connected (or the exchange
    // ended otherwise). The function stops as when the gateway aborts, not as a refusal.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut request).await;
            let _ = socket
                .write_all(b"HTTP/1.1 410 Gone\r\ncontent-length: 23\r\n\r\nrelay session has ended")
                .await;
        }
    });
    let conn = Connection::open(
        ClientConfig::new(url),
        invocation("relay410", "v2.token", BodyMode::Inline),
    )
    .unwrap();
    let (_body, mut writer) = conn.split();
    writer.send_head(StatusCode::OK, HeaderMap::new()).unwrap();
    let err = writer.finish(HeaderMap::new()).await.unwrap_err();
    assert!(err.is_aborted(), "{err:?}");
    assert_eq!(err.invocation_result().outcome, proto::Outcome::ABORTED);
}
