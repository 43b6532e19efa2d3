//! One memory budget that the sessions of a process (a gateway's isolate) share
//! (docs/protocol.md, "Flow control"; docs/performance.md, "Memory per isolate").
//!
//! A session can be made to hold up to its announced window for a slow reader, and many
//! sessions share one isolate, so windows alone do not bound the isolate. The budget does,
//! in two ways that need no change on the wire:
//!
//! - **Admission.** A new session announces the window the budget has free (no more than its
//!   configured one, no less than [`MIN_SESSION_WINDOW`]). A window, once announced, is the
//!   session's, so the sessions of an isolate can make it hold at most the budget plus
//!   [`MIN_SESSION_WINDOW`] for each session admitted once the budget was spent.
//! - **Sharing.** Every live session is given a [buffer limit](super::Session::set_buffer_limit)
//!   of an equal share of the budget (never below [`MIN_SESSION_WINDOW`]): past its share it
//!   withholds acks as its reader consumes, so a busy isolate's sessions shrink towards their
//!   shares and what they give back is free for new ones.
//!
//! The driver reports each session's [footprint](super::Session::buffer_footprint) after it
//! moved and releases it when the session ends. The footprint counts what the session keeps
//! for the function too (request frames until acknowledged, up to the function's window), so
//! admission sees it, but the budget does not cap it: only what a side receives is limited
//! (see [`Session::set_buffer_limit`](super::Session::set_buffer_limit)).

use super::config::{Config, MIN_MAX_PAYLOAD};

/// Default budget for the buffers of one isolate's sessions: a quarter of Cloudflare's
/// 128 MB isolate limit, so 8 sessions at the default 4 MiB window run at full speed and 200
/// slow readers stay near 45 MiB (docs/benchmarks.md, "Memory per isolate").
pub const DEFAULT_BUFFER_BUDGET: u64 = 32 * 1024 * 1024;
/// Smallest budget a gateway may be configured with.
pub const MIN_BUFFER_BUDGET: u64 = 1024 * 1024;
/// Largest budget a gateway may be configured with (an isolate's whole memory).
pub const MAX_BUFFER_BUDGET: u64 = 128 * 1024 * 1024;
/// No session is admitted with a window, or given a limit, below this: enough for a frame
/// in flight while the previous one is read.
pub const MIN_SESSION_WINDOW: u32 = 64 * 1024;

/// The ledger of one budget: how many sessions share it and what they can hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BufferBudget {
    total: u64,
    sessions: u64,
    reserved: u64,
}

impl BufferBudget {
    /// A budget of `total` bytes with no session yet.
    pub const fn new(total: u64) -> Self {
        Self {
            total,
            sessions: 0,
            reserved: 0,
        }
    }

    /// The budget's size.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Resizes the budget (a setting changed); sessions adapt at their next report.
    pub fn set_total(&mut self, total: u64) {
        self.total = total;
    }

    /// Live sessions.
    pub fn sessions(&self) -> u64 {
        self.sessions
    }

    /// The sum of the live sessions' footprints.
    pub fn reserved(&self) -> u64 {
        self.reserved
    }

    /// Admits a session configured as `config`: its window (and, if the window is smaller
    /// than the frames, its `max_payload`) shrunk to what the budget has free, never below
    /// [`MIN_SESSION_WINDOW`]. Returns the session's config; its footprint (the window) is
    /// counted from now until [`leave`](Self::leave).
    pub fn admit(&mut self, config: &Config) -> Config {
        let free = self.total.saturating_sub(self.reserved);
        let floor = MIN_SESSION_WINDOW.min(config.window);
        let window = free.clamp(u64::from(floor), u64::from(config.window)) as u32;
        let mut admitted = config.clone();
        admitted.window = window;
        admitted.max_payload = config.max_payload.min(window).max(MIN_MAX_PAYLOAD);
        self.sessions += 1;
        self.reserved += u64::from(window);
        admitted
    }

    /// Each live session's share: what [`Session::set_buffer_limit`](super::Session::set_buffer_limit)
    /// is given.
    pub fn limit(&self) -> u64 {
        (self.total / self.sessions.max(1)).max(u64::from(MIN_SESSION_WINDOW))
    }

    /// A session's footprint went from `before` to `after`.
    pub fn update(&mut self, before: u64, after: u64) {
        self.reserved = (self.reserved + after).saturating_sub(before);
    }

    /// A session whose last reported footprint was `footprint` ended.
    pub fn leave(&mut self, footprint: u64) {
        self.sessions = self.sessions.saturating_sub(1);
        self.reserved = self.reserved.saturating_sub(footprint);
    }
}

impl Default for BufferBudget {
    fn default() -> Self {
        Self::new(DEFAULT_BUFFER_BUDGET)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn sessions_get_full_windows_while_the_budget_has_room_then_the_floor() {
        let mut budget = BufferBudget::new(16 * MIB);
        let config = Config::default();
        let windows: Vec<u32> = (0..6).map(|_| budget.admit(&config).window).collect();
        assert_eq!(windows[..4], [config.window; 4]);
        assert_eq!(windows[4..], [MIN_SESSION_WINDOW; 2]);
        assert_eq!(budget.reserved(), 16 * MIB + 2 * u64::from(MIN_SESSION_WINDOW));
        assert_eq!(budget.sessions(), 6);
    }

    #[test]
    fn a_window_between_the_floor_and_a_frame_takes_the_frame_size_down_with_it() {
        let mut budget = BufferBudget::new(MIB + 100 * 1024);
        let config = Config::default();
        budget.admit(&Config {
            window: MIB as u32,
            ..config.clone()
        });
        let admitted = budget.admit(&config);
        assert_eq!(admitted.window, 100 * 1024);
        assert_eq!(admitted.max_payload, 100 * 1024);
        admitted.validate().unwrap();
    }

    #[test]
    fn shares_shrink_as_sessions_join_and_what_they_give_back_is_free_for_new_ones() {
        let mut budget = BufferBudget::new(8 * MIB);
        let config = Config::default();
        let floor = u64::from(MIN_SESSION_WINDOW);
        assert_eq!(budget.admit(&config).window as u64, 4 * MIB);
        assert_eq!(budget.limit(), 8 * MIB);
        assert_eq!(budget.admit(&config).window as u64, 4 * MIB);
        assert_eq!(budget.limit(), 4 * MIB);
        assert_eq!(budget.admit(&config).window as u64, floor);
        assert_eq!(budget.limit(), 8 * MIB / 3);
        // The first session's reader caught up and its withheld acks shrank it to 1 MiB.
        budget.update(4 * MIB, MIB);
        assert_eq!(budget.admit(&config).window as u64, 3 * MIB - floor);
        // The second one ended.
        budget.leave(4 * MIB);
        assert_eq!(budget.admit(&config).window as u64, 4 * MIB);
        assert_eq!(budget.sessions(), 4);
        assert_eq!(budget.reserved(), MIB + floor + (3 * MIB - floor) + 4 * MIB);
        for _ in 0..1000 {
            budget.admit(&config);
        }
        assert_eq!(budget.limit(), floor);
    }
}
