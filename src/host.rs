//! Host adapters (feature `std`): a runtime-agnostic `DelayNs` for the async stack.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use std::vec::Vec;

/// `embedded_hal_async::delay::DelayNs` on any executor: one shared timer thread wakes the
/// waiting futures, so it works under tokio, async-std, `futures::executor` or a hand-rolled
/// loop alike.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdDelay;

struct Timer {
    queue: Mutex<BinaryHeap<Reverse<Entry>>>,
    changed: Condvar,
}

struct Entry {
    at: Instant,
    waker: Waker,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.at.cmp(&other.at)
    }
}

fn timer() -> &'static Arc<Timer> {
    static TIMER: OnceLock<Arc<Timer>> = OnceLock::new();
    TIMER.get_or_init(|| {
        let t = Arc::new(Timer {
            queue: Mutex::new(BinaryHeap::new()),
            changed: Condvar::new(),
        });
        let worker = Arc::clone(&t);
        std::thread::Builder::new()
            .name("bc20-timer".into())
            .spawn(move || worker.run())
            .ok();
        t
    })
}

impl Timer {
    fn run(&self) {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let now = Instant::now();
            let mut due = Vec::new();
            while queue.peek().is_some_and(|Reverse(e)| e.at <= now) {
                if let Some(Reverse(e)) = queue.pop() {
                    due.push(e.waker);
                }
            }
            if !due.is_empty() {
                drop(queue);
                due.into_iter().for_each(Waker::wake);
                queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                continue;
            }
            queue = match queue.peek() {
                Some(Reverse(e)) => {
                    let wait = e.at.saturating_duration_since(now);
                    self.changed
                        .wait_timeout(queue, wait)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|p| p.into_inner().0)
                }
                None => self.changed.wait(queue).unwrap_or_else(|p| p.into_inner()),
            };
        }
    }
}

/// A future that completes at an instant.
struct Sleep {
    at: Instant,
}

impl Future for Sleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.at {
            return Poll::Ready(());
        }
        let t = timer();
        t.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Reverse(Entry {
                at: self.at,
                waker: cx.waker().clone(),
            }));
        t.changed.notify_one();
        Poll::Pending
    }
}

impl embedded_hal_async::delay::DelayNs for StdDelay {
    async fn delay_ns(&mut self, ns: u32) {
        Sleep {
            at: Instant::now() + Duration::from_nanos(u64::from(ns)),
        }
        .await
    }

    async fn delay_ms(&mut self, ms: u32) {
        Sleep {
            at: Instant::now() + Duration::from_millis(u64::from(ms)),
        }
        .await
    }
}
