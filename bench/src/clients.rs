//! The function side alone: 1 GiB through the relay into a local gateway session on
//! loopback, from the Rust client and from the Node addon. Each client runs as its own
//! process and reports its own CPU time, so the figures are the client's alone.
//!
//! The gateway is the same tokio-tungstenite server that drives `GatewaySession` in the
//! core's tests; it reads every part as it arrives (a fast client) and counts the bytes.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use lambda_relay::client::{ClientConfig, Connection, Invocation};
use lambda_relay::proto::{self, BodyMode, Exchange, ResponsePart};
use lambda_relay_test_gateway::{self as gateway, SECRET};

const TOTAL: u64 = 1 << 30;
const CHUNK: usize = 256 * 1024;

fn session_config() -> proto::Config {
    proto::Config {
        max_payload: 256 * 1024,
        window: 4 * 1024 * 1024,
        ..proto::Config::default()
    }
}

/// The CPU time (user + system) this process used so far.
pub fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: u64 = fields
        .get(11..13)
        .map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

/// Runs every client against its own test gateway and prints the table.
pub async fn run(node_script: Option<String>) {
    println!(
        "1 GiB into a local gateway session on loopback, {} KiB writes, window 4 MiB, frames 256 KiB\n",
        CHUNK / 1024
    );
    println!("{:<28} {:>10} {:>14}", "client", "MiB/s", "CPU s/GiB");
    let me = std::env::current_exe().expect("own path");
    let mut runs: Vec<(&str, Vec<String>)> = vec![("Rust client", vec![me.display().to_string(), "client".into()])];
    if let Some(script) = &node_script {
        runs.push((
            "Node addon (writev batches)",
            vec!["node".into(), script.clone(), "writev".into()],
        ));
        runs.push((
            "Node addon (write per chunk)",
            vec!["node".into(), script.clone(), "write".into()],
        ));
    }
    for (name, command) in runs {
        let gw =
            gateway::TestGateway::start_with(session_config(), BodyMode::Inline, Bytes::new(), gateway::Cut::Never)
                .await;
        let mut parts = gw.parts();
        let counter = tokio::spawn(async move {
            let mut bytes = 0u64;
            while let Some(part) = parts.recv().await {
                match part {
                    ResponsePart::Data(d) => bytes += d.len() as u64,
                    ResponsePart::End(_) => break,
                    _ => {}
                }
            }
            bytes
        });
        let started = Instant::now();
        let output = tokio::process::Command::new(&command[0])
            .args(&command[1..])
            .args([gw.url(), gw.relay_id.clone(), gw.token.clone()])
            .env("RELAY_SECRET", String::from_utf8_lossy(SECRET).as_ref())
            .output()
            .await
            .expect("client runs");
        let elapsed = started.elapsed();
        // A client that failed never ends the response: say why instead of waiting for it.
        assert!(
            output.status.success(),
            "{name} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let received = counter.await.expect("counter");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let cpu_ms: f64 = stdout.trim().parse().unwrap_or(f64::NAN);
        assert_eq!(received, TOTAL, "{name}: the gateway received every byte");
        let mib = TOTAL as f64 / (1024.0 * 1024.0);
        println!(
            "{:<28} {:>10.0} {:>14.2}",
            name,
            mib / elapsed.as_secs_f64(),
            cpu_ms / 1000.0
        );
    }
}

/// One Rust client's run (a child process of [`run`]).
pub async fn rust_client(url: &str, relay_id: &str, token: &str) {
    let mut config = ClientConfig::new(url);
    config.session = session_config();
    let invocation = Invocation {
        relay_id: relay_id.into(),
        token: token.into(),
        exchange: Exchange::new(BodyMode::Inline),
        time_left: None,
    };
    let (_body, mut writer) = Connection::open(config, invocation).expect("config").split();
    let chunk = Bytes::from(vec![0x5a; CHUNK]);
    let cpu = cpu_time();
    writer.send_head(StatusCode::OK, HeaderMap::new()).expect("head");
    for _ in 0..TOTAL / CHUNK as u64 {
        writer.write(chunk.clone()).await.expect("write");
    }
    writer.finish(HeaderMap::new()).await.expect("finish");
    println!("{}", (cpu_time() - cpu).as_millis());
}
