//! Time as the sans-IO core sees it: a number the driver hands in.

use core::ops::Add;
use core::time::Duration;

/// A point in time, in milliseconds since an epoch of the driver's choosing.
///
/// The core never reads a clock: every call that depends on time takes a `Timestamp`, and
/// every deadline it reports is one. Drivers pick any monotonic epoch (process start, the
/// Durable Object's `Date.now()`), as long as they use the same one for a session's life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The timestamp `ms` milliseconds after the epoch.
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;

    fn add(self, rhs: Duration) -> Timestamp {
        let ms = u64::try_from(rhs.as_millis()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_add(ms))
    }
}
