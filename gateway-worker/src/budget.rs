//! The isolate's buffer budget (docs/performance.md, "Memory per isolate"): Durable Objects
//! of one class may share an isolate, and its 128 MB hold every session's buffers. Each
//! session is admitted with the window the budget has free and is given an equal share of
//! it as its buffer limit ([`proto::BufferBudget`]); a session that ends gives its part back
//! at once.
//!
//! A session held below its window by its share looks at the budget again every
//! [`RECHECK`], so the acks it withholds go out soon after others left. It cannot be woken by
//! the session that leaves: each Durable Object's I/O (its socket) belongs to its own
//! context, and a send from another object's fails.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::Duration;

use lambda_relay::proto::{self, BufferBudget, GatewaySession};
use wasm_bindgen_futures::spawn_local;

use crate::driver::{drive, Driver, DriverRef};

thread_local! {
    static BUDGET: RefCell<BufferBudget> = RefCell::new(BufferBudget::default());
}

/// How often a session held below its window looks at the budget again.
pub(crate) const RECHECK: Duration = Duration::from_millis(100);

/// A session's place in the isolate's budget: the footprint it last reported. Dropping it is
/// the session's leaving.
pub(crate) struct Share {
    footprint: u64,
    window: u64,
    /// Whether its limit (as the session applies it) is below its window: it withholds acks.
    constrained: bool,
    /// Whether a recheck task runs for it (one at a time).
    rechecking: bool,
}

/// Admits a new session into the isolate's budget of `total` bytes: its config, with the
/// window the budget has free, and its share.
pub(crate) fn admit(config: &proto::Config, total: u64) -> (proto::Config, Share) {
    BUDGET.with_borrow_mut(|budget| {
        budget.set_total(total);
        let admitted = budget.admit(config);
        let window = u64::from(admitted.window);
        let share = Share {
            footprint: window,
            window,
            constrained: false,
            rechecking: false,
        };
        (admitted, share)
    })
}

impl Share {
    /// The session moved: its footprint is counted anew and its limit is its share now.
    pub(crate) fn update(&mut self, driver: &DriverRef, session: &mut GatewaySession) {
        let footprint = session.buffer_footprint();
        let limit = BUDGET.with_borrow_mut(|budget| {
            budget.update(self.footprint, footprint);
            budget.limit()
        });
        self.footprint = footprint;
        session.set_buffer_limit(limit);
        // The limit as the session applies it: raised to a whole frame, it may withhold nothing.
        self.constrained = session.buffer_limit() < self.window;
        if self.constrained && !self.rechecking {
            // From this session's own context, so the acks it sends later are its own I/O.
            self.rechecking = true;
            spawn_local(recheck(Rc::downgrade(driver)));
        }
    }

    /// A recheck task's question after it drove the session: go on? When not, the next
    /// constraint starts a new task.
    pub(crate) fn keep_rechecking(&mut self) -> bool {
        self.rechecking = self.constrained;
        self.rechecking
    }
}

/// Drives a constrained session every [`RECHECK`] until it is not constrained any more (or
/// over), so a share that grew is used.
async fn recheck(driver: Weak<RefCell<Driver>>) {
    loop {
        worker::Delay::from(RECHECK).await;
        let Some(driver) = driver.upgrade() else { return };
        drive(&driver);
        if !driver.borrow_mut().keep_rechecking() {
            return;
        }
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        // `try_with`: a share dropped while the isolate tears down must not panic.
        let _ = BUDGET.try_with(|budget| budget.borrow_mut().leave(self.footprint));
    }
}
