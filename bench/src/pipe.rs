//! The bare pipe's socket ends (bench/pipe/worker.js), on the function's WebSocket stack.

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

async fn connect(
    url: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(16 << 20))
        .max_frame_size(Some(16 << 20));
    let (socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .expect("the pipe accepts the socket");
    socket
}

/// The most a sender keeps unacknowledged, as the relay's default window.
const WINDOW: u64 = 4 << 20;

/// How often a receiver acknowledges what it took.
const ACK_EVERY: u64 = 1 << 20;

/// Sends `total` bytes as messages of `size` bytes, at most [`WINDOW`] of them unacknowledged
/// by the pipe (`ack:<bytes>` text messages), then closes.
pub async fn send(url: &str, size: usize, total: u64) {
    let (mut tx, mut rx) = connect(url).await.split();
    let message = bytes::Bytes::from(vec![0x5a; size]);
    let mut sent = 0u64;
    let mut acked = 0u64;
    while sent < total {
        if sent - acked >= WINDOW {
            tx.flush().await.expect("send");
            match rx.next().await {
                Some(Ok(Message::Text(text))) => {
                    if let Some(n) = text.strip_prefix("ack:").and_then(|n| n.parse().ok()) {
                        acked = n;
                    }
                }
                Some(Ok(_)) => {}
                _ => panic!("the pipe closed after {sent} of {total} bytes"),
            }
            continue;
        }
        let len = (total - sent).min(size as u64) as usize;
        tx.feed(Message::Binary(message.slice(..len))).await.expect("send");
        sent += len as u64;
    }
    tx.close().await.expect("close");
    while rx.next().await.is_some() {}
}

/// Counts the bytes of every message until the pipe closes, acknowledging every [`ACK_EVERY`];
/// prints the count.
pub async fn receive(url: &str) {
    let (mut tx, mut rx) = connect(url).await.split();
    let mut bytes = 0u64;
    let mut acked = 0u64;
    while let Some(Ok(message)) = rx.next().await {
        if let Message::Binary(data) = message {
            bytes += data.len() as u64;
            if bytes - acked >= ACK_EVERY {
                acked = bytes;
                let _ = tx.send(Message::Text(format!("ack:{bytes}").into())).await;
            }
        }
    }
    println!("{bytes}");
}
