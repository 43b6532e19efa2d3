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

/// Sends `total` bytes as messages of `size` bytes, then closes.
pub async fn send(url: &str, size: usize, total: u64) {
    let mut socket = connect(url).await;
    let message = bytes::Bytes::from(vec![0x5a; size]);
    let mut sent = 0u64;
    while sent < total {
        let len = (total - sent).min(size as u64) as usize;
        socket.feed(Message::Binary(message.slice(..len))).await.expect("send");
        sent += len as u64;
    }
    socket.close(None).await.expect("close");
    while socket.next().await.is_some() {}
}

/// Counts the bytes of every message until the pipe closes; prints the count.
pub async fn receive(url: &str) {
    let mut socket = connect(url).await;
    let mut bytes = 0u64;
    while let Some(Ok(message)) = socket.next().await {
        if let Message::Binary(data) = message {
            bytes += data.len() as u64;
        }
    }
    println!("{bytes}");
}
