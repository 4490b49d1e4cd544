//! The run's `--jobs` slots.
//!
//! A step holds a slot while it works (merging its inputs, resetting its worktree,
//! running its tool and tests, committing) and gives it back while it only waits: the
//! backoff before a retry, a rate limit's reset, a circuit breaker's cooldown, a tool's
//! `max_concurrent` or `requests_per_minute`. Meanwhile the scheduler starts other ready
//! steps in that slot, so `--jobs 2` with one step backing off for a minute still runs
//! two steps at a time. After waiting, a step queues for a slot again; waiting steps get
//! freed slots before the scheduler starts new steps (tokio's semaphore hands released
//! permits to queued waiters first).
//!
//! The slot travels with the step's task in a task-local, so the code that waits
//! ([`while_waiting`]) needs no slot argument; code outside a step task waits as is.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

tokio::task_local! {
    static SLOT: RefCell<JobSlot>;
}

/// The slots of one run: `jobs` permits, and a signal for the scheduler when a waiting
/// step gives one back.
#[derive(Debug, Clone)]
pub(crate) struct JobSlots {
    semaphore: Arc<Semaphore>,
    freed: Arc<Notify>,
}

/// A step's hold on a slot (or, while it waits, the means to take one again).
#[derive(Debug)]
pub(crate) struct JobSlot {
    slots: JobSlots,
    permit: Option<OwnedSemaphorePermit>,
}

impl JobSlots {
    /// `jobs` slots (at least one).
    pub(crate) fn new(jobs: usize) -> JobSlots {
        JobSlots {
            semaphore: Arc::new(Semaphore::new(jobs.max(1))),
            freed: Arc::new(Notify::new()),
        }
    }

    /// A free slot, if any (none while steps that finished waiting are queued for one).
    pub(crate) fn try_take(&self) -> Option<JobSlot> {
        let permit = self.semaphore.clone().try_acquire_owned().ok()?;
        Some(JobSlot {
            slots: self.clone(),
            permit: Some(permit),
        })
    }

    /// Completes when a waiting step has given its slot back (possibly spuriously).
    pub(crate) async fn freed(&self) {
        self.freed.notified().await
    }
}

/// Runs `step` (a step's whole execution) holding `slot`; the slot is given back when
/// the step ends, and around every [`while_waiting`] inside it.
pub(crate) async fn hold<F: Future>(slot: JobSlot, step: F) -> F::Output {
    SLOT.scope(RefCell::new(slot), step).await
}

/// Awaits `wait` without holding the step's job slot, then takes a slot again. `None`
/// when the run is cancelled while queued for the slot. Outside a step task (no slot)
/// it just awaits `wait`.
pub(crate) async fn while_waiting<F: Future>(
    cancel: &CancellationToken,
    wait: F,
) -> Option<F::Output> {
    let lent = lend_slot();
    let output = wait.await;
    take_slot_again(cancel, lent).await.then_some(output)
}

/// Gives the step's slot back to the scheduler (a step awaiting approval holds none).
/// Returns the slots to take one from again with [`take_slot_again`], `None` outside a
/// step task or when the step holds no slot.
pub(crate) fn lend_slot() -> Option<JobSlots> {
    SLOT.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        slot.permit.take().map(|permit| {
            drop(permit);
            slot.slots.freed.notify_one();
            slot.slots.clone()
        })
    })
    .ok()
    .flatten()
}

/// The run's slots as the current step task holds them, for work a step fans out
/// (best-of-N candidates: each takes a slot of its own with [`JobSlots::take`]). `None`
/// outside a step task.
pub(crate) fn current_slots() -> Option<JobSlots> {
    SLOT.try_with(|slot| slot.borrow().slots.clone()).ok()
}

impl JobSlots {
    /// Queues for a slot and returns it (given back when dropped); `None` when the run is
    /// cancelled first. For work inside a step that lent its own slot ([`lend_slot`]).
    pub(crate) async fn take(&self, cancel: &CancellationToken) -> Option<OwnedSemaphorePermit> {
        tokio::select! {
            permit = self.semaphore.clone().acquire_owned() => permit.ok(),
            _ = cancel.cancelled() => None,
        }
    }

    /// Gives back a slot from [`JobSlots::take`] and tells the scheduler, which may
    /// start a ready step in it.
    pub(crate) fn give_back(&self, permit: OwnedSemaphorePermit) {
        drop(permit);
        self.freed.notify_one();
    }
}

/// Queues for a slot of `lent` (from [`lend_slot`]) and holds it for the rest of the
/// step. False when the run is cancelled first; true at once when nothing was lent.
pub(crate) async fn take_slot_again(cancel: &CancellationToken, lent: Option<JobSlots>) -> bool {
    let Some(slots) = lent else {
        return true;
    };
    let permit = tokio::select! {
        permit = slots.semaphore.acquire_owned() => permit.ok(),
        _ = cancel.cancelled() => return false,
    };
    let _ = SLOT.try_with(|slot| slot.borrow_mut().permit = permit);
    true
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_waiting_step_lends_its_slot_and_queues_before_new_steps() {
        let slots = JobSlots::new(1);
        let cancel = CancellationToken::new();
        let first = slots.try_take().expect("one slot");
        assert!(slots.try_take().is_none(), "the only slot is held");
        let (lent_tx, lent_rx) = tokio::sync::oneshot::channel();
        let (resume_tx, resume_rx) = tokio::sync::oneshot::channel::<()>();
        let waiter = tokio::spawn({
            let cancel = cancel.clone();
            hold(first, async move {
                while_waiting(&cancel, async move {
                    let _ = lent_tx.send(());
                    let _ = resume_rx.await;
                })
                .await
            })
        });
        lent_rx.await.expect("the step waits");
        tokio::time::timeout(Duration::from_secs(5), slots.freed())
            .await
            .expect("the scheduler is told");
        let other = slots.try_take().expect("the lent slot");
        resume_tx.send(()).expect("end the wait");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "queued until the slot comes back");
        drop(other);
        let waited = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("took the slot back")
            .expect("task");
        assert_eq!(waited, Some(()));
        assert!(slots.try_take().is_some(), "the step's end freed the slot");
    }

    #[tokio::test]
    async fn cancelling_while_queued_for_a_slot_gives_none() {
        let slots = JobSlots::new(1);
        let cancel = CancellationToken::new();
        let first = slots.try_take().expect("slot");
        let task = tokio::spawn({
            let cancel = cancel.clone();
            let slots = slots.clone();
            hold(first, async move {
                while_waiting(&cancel, async {
                    // Someone else takes the slot while this step waits.
                    std::mem::forget(slots.try_take().expect("lent slot"));
                })
                .await
            })
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        cancel.cancel();
        let outcome = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("returns on cancel")
            .expect("task");
        assert_eq!(outcome, None);
    }

    #[tokio::test]
    async fn work_a_step_fans_out_takes_slots_of_its_own_and_gives_them_back() {
        let slots = JobSlots::new(2);
        let cancel = CancellationToken::new();
        let step = slots.try_take().expect("the step's slot");
        let fanned = hold(step, async {
            let slots = current_slots().expect("inside a step task");
            let lent = lend_slot();
            let a = slots.take(&cancel).await.expect("first slot");
            let b = slots
                .take(&cancel)
                .await
                .expect("second slot (the lent one)");
            assert!(slots.try_take().is_none(), "both slots are taken");
            slots.give_back(a);
            tokio::time::timeout(Duration::from_secs(5), slots.freed())
                .await
                .expect("the scheduler is told");
            assert!(slots.try_take().is_some(), "a given-back slot is free");
            drop(b);
            take_slot_again(&cancel, lent).await
        })
        .await;
        assert!(fanned, "the step took its slot again");
        assert!(current_slots().is_none(), "no slots outside a step task");
        cancel.cancel();
        let slots = JobSlots::new(1);
        let _held = slots.try_take().expect("slot");
        assert!(
            slots.take(&cancel).await.is_none(),
            "cancelled while queued"
        );
    }

    #[tokio::test]
    async fn outside_a_step_waiting_just_waits() {
        let cancel = CancellationToken::new();
        assert_eq!(while_waiting(&cancel, async { 7 }).await, Some(7));
    }
}
