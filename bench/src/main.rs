//! `npm run bench`'s Rust side, one binary with several jobs:
//!
//! - `function <port>`: a release-built Rust Lambda behind a local Function URL, the function
//!   the gateway benchmarks relay (`/bytes`, `/upload`, `/small`, and `/plain`, which is not
//!   relay-aware);
//! - `pipe-send <url> <message bytes> <total bytes>` and `pipe-recv <url>`: the sender and
//!   receiver of the bare Durable Object pipe (bench/pipe), on the same WebSocket stack as the
//!   function;
//! - `clients [node-client.mjs]` and `client …`: the function side alone, into a local gateway
//!   session.

mod clients;
mod function;
mod pipe;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let number = |i: usize| {
        arg(i)
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("argument {i} must be a number"))
    };
    match arg(1).as_str() {
        "function" => function::serve(number(2) as u16).await,
        "pipe-send" => pipe::send(&arg(2), number(3) as usize, number(4)).await,
        "pipe-recv" => pipe::receive(&arg(2)).await,
        "client" => clients::rust_client(&arg(2), &arg(3), &arg(4)).await,
        "clients" => clients::run(args.get(2).cloned()).await,
        other => panic!("unknown job {other:?}: function | pipe-send | pipe-recv | clients"),
    }
}
