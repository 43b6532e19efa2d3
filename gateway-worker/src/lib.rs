//! The lambda-relay gateway: a Worker that routes each client request to a Durable Object of
//! its own, and each relay socket to the Durable Object of its relay id.
//!
//! The Durable Object ([`session::RelaySession`]) drives `lambda_relay::proto`'s gateway
//! session; this crate holds no protocol logic of its own, only the wiring to workerd.

mod config;
mod session;
mod web;

use lambda_relay::proto;
use worker::{event, Context, Env, Request, Response, Result};

pub use session::RelaySession;

/// The Durable Object namespace binding in `wrangler.toml`.
pub const BINDING: &str = "RELAY_SESSION";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let config = match config::GatewayConfig::from_env(&env) {
        Ok(c) => c,
        Err(reason) => return web::error_response(500, "gateway_misconfigured", &reason),
    };
    let namespace = env.durable_object(BINDING)?;
    let path = req.path();
    if let Some(relay_id) = path.strip_prefix(config.socket_path.as_str()) {
        // Check at the edge, so a bad socket never wakes a Durable Object.
        let headers = req.headers();
        let check = proto::check_upgrade(
            headers.get("upgrade")?.as_deref(),
            headers.get("sec-websocket-protocol")?.as_deref(),
            headers.get(proto::RELAY_TOKEN_HEADER)?.as_deref(),
            relay_id,
            &config.secret,
            web::unix_now(),
        );
        if let Err(refusal) = check {
            return web::refusal_response(refusal);
        }
        let Ok(id) = namespace.id_from_string(relay_id) else {
            return web::refusal_response(proto::UpgradeRefusal {
                status: 404,
                reason: "unknown relay id",
            });
        };
        return id.get_stub()?.fetch_with_request(req).await;
    }
    namespace.unique_id()?.get_stub()?.fetch_with_request(req).await
}
