//! Password checks on threads of their own. Argon2 takes tens of milliseconds and 19 MiB of
//! memory per check. Run on tokio's blocking pool, a burst of failed sign-ins had hundreds of
//! threads hashing at once, each holding a database connection and growing its own malloc
//! arena, and the process kept the gigabytes after the burst. Here one thread per core takes
//! checks from a bounded queue: a request first takes a slot ([`Hashers::slot`]), and when
//! none is free it is told to come back (503 with `Retry-After`) instead of waiting without
//! bound; the check runs with no database connection held.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads and their queue.
#[derive(Debug)]
pub struct Hashers {
    jobs: mpsc::SyncSender<Job>,
    slots: Arc<Semaphore>,
}

/// A place in the queue, taken before any other work of the request.
#[derive(Debug)]
pub struct Slot {
    /// Given back when the slot is dropped, after its check.
    _permit: OwnedSemaphorePermit,
}

/// Why a check did not run.
#[derive(Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// Every thread is busy and the queue is full: come back in a second.
    Busy,
    /// The check failed (it panicked) or the threads are gone.
    Lost,
}

impl Hashers {
    /// `threads` hashing threads (at least one) with room for `queued` more checks waiting.
    pub fn new(threads: usize, queued: usize) -> Result<Self, String> {
        let threads = threads.max(1);
        let room = threads + queued;
        // Room for every slot, and a thread's own between its check and its next receive.
        let (jobs, receive) = mpsc::sync_channel::<Job>(room + threads);
        let receive = Arc::new(Mutex::new(receive));
        for i in 0..threads {
            let receive = Arc::clone(&receive);
            std::thread::Builder::new()
                .name(format!("aftercare-hash-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is let go before the job runs.
                        let job = match receive.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        // A check that panics loses its answer, not the thread.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                })
                .map_err(|e| format!("cannot start a password-hashing thread: {e}"))?;
        }
        Ok(Hashers {
            jobs,
            slots: Arc::new(Semaphore::new(room)),
        })
    }

    /// One thread per core, and sixteen checks per thread waiting at most.
    pub fn per_core() -> Result<Self, String> {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Self::new(cores, 16 * cores)
    }

    /// A place in the queue, or [`Unavailable::Busy`] at once.
    pub fn slot(&self) -> Result<Slot, Unavailable> {
        Arc::clone(&self.slots)
            .try_acquire_owned()
            .map(|permit| Slot { _permit: permit })
            .map_err(|_| Unavailable::Busy)
    }

    /// Runs `f` on a hashing thread in the place `slot` holds; the slot is free again when
    /// `f` is done.
    pub async fn run<T: Send + 'static>(
        &self,
        slot: Slot,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Unavailable> {
        self.submit(slot, f)?.await.map_err(|_| Unavailable::Lost)
    }

    /// Queues `f` in the place `slot` holds; its answer comes on the channel returned.
    pub fn submit<T: Send + 'static>(
        &self,
        slot: Slot,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<tokio::sync::oneshot::Receiver<T>, Unavailable> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.jobs
            .try_send(Box::new(move || {
                let out = f();
                // The place is free before the answer is: whoever got the answer may take
                // the place again at once (a panic in `f` frees it while unwinding).
                drop(slot);
                let _ = answer.send(out);
            }))
            .map_err(|e| match e {
                mpsc::TrySendError::Full(_) => Unavailable::Busy,
                mpsc::TrySendError::Disconnected(_) => Unavailable::Lost,
            })?;
        Ok(answered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn checks_run_on_their_own_threads_and_a_full_queue_says_busy() {
        let hashers = Hashers::new(1, 1).unwrap_or_else(|e| unreachable!("{e}"));
        let caller = std::thread::current().id();
        let slot = hashers.slot().unwrap_or_else(|_| unreachable!());
        let ran_on = hashers.run(slot, || std::thread::current().id()).await;
        assert!(ran_on.is_ok_and(|id| id != caller));
        // One running and one waiting take both places; a third is refused at once.
        let (first, second) = (hashers.slot(), hashers.slot());
        assert!(first.is_ok() && second.is_ok());
        assert_eq!(hashers.slot().err(), Some(Unavailable::Busy));
        drop((first, second));
        assert!(hashers.slot().is_ok());
        // A check that panics loses its answer, not the thread.
        let slot = hashers.slot().unwrap_or_else(|_| unreachable!());
        let lost: Result<(), Unavailable> = hashers
            .run(slot, || std::panic::panic_any("a check that fails"))
            .await;
        assert_eq!(lost.err(), Some(Unavailable::Lost));
        let slot = hashers.slot().unwrap_or_else(|_| unreachable!());
        assert_eq!(hashers.run(slot, || 42).await.ok(), Some(42));
    }
}
