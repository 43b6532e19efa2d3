//! Which sockets join a session (docs/protocol.md, "Upgrade").

use super::super::token::same_credential;
use super::super::upgrade::{UpgradeRefusal, UpgradeRequest};
use super::super::Timestamp;
use super::GatewaySession;

impl GatewaySession {
    /// Whether a new socket may join, after the edge's [`check_upgrade`](crate::proto::check_upgrade)
    /// (docs/protocol.md, "Upgrade"): it must present this session's token and, once a socket
    /// connected, the session key the first one presented (403 otherwise). A first socket (no
    /// resume header) is admitted again until the function's hello arrived on one, so a
    /// function whose first 101 was lost can try again; a resume only once a socket connected;
    /// neither once the session is over (410: the function stops as if aborted, which it was
    /// when the client left before it connected).
    pub fn admit_socket(&self, req: &UpgradeRequest<'_>) -> Result<(), UpgradeRefusal> {
        if !req.token.is_some_and(|t| same_credential(t, &self.role.token)) {
            return Err(UpgradeRefusal::TOKEN_REFUSED);
        }
        if self.link.error().is_some() || self.role.final_part_read {
            return Err(UpgradeRefusal {
                status: 410,
                reason: "relay session has ended",
            });
        }
        match (req.is_resume(), self.link.connected_once()) {
            (false, true) if self.link.peer_hello_seen() => Err(UpgradeRefusal {
                status: 409,
                reason: "relay session already connected",
            }),
            (true, false) => Err(UpgradeRefusal {
                status: 409,
                reason: "nothing to resume",
            }),
            // A resume, or the function retrying a first socket whose 101 it never saw:
            // either way the key the first socket presented, so a token alone takes nothing.
            (_, true) => match (&self.role.key, req.key) {
                (Some(key), Some(presented)) if same_credential(key, presented) => Ok(()),
                _ => Err(UpgradeRefusal::TOKEN_REFUSED),
            },
            (false, false) => Ok(()),
        }
    }

    /// A socket admitted by [`admit_socket`](Self::admit_socket) is open; it replaces the
    /// current one, if any (the driver closes that with
    /// [`CloseCode::REPLACED`](crate::proto::CloseCode::REPLACED)).
    pub fn socket_accepted(&mut self, now: Timestamp, req: &UpgradeRequest<'_>) {
        if self.link.is_up() {
            self.socket_closed(now, None);
        }
        if !req.is_resume() {
            self.role.key = req.key.map(str::to_owned);
        }
        self.role.counts.sockets += 1;
        self.socket_opened(now);
    }
}
