//! The one retry policy of collection: how many times a kind of failure is retried and how long
//! to wait before each retry (exponential, capped, with jitter), with the server's `Retry-After`
//! taking precedence when it sends one. Every retry in `ingest` counts its attempts with
//! [`Attempts`] under one of the policies below, so the schedules are written down in one place.
//!
//! A local type rather than a crate (`backon`, `backoff`): one request loop keeps separate
//! budgets for throttling and for transient failures, refreshes the token once after a 401,
//! and takes its wait from `Retry-After`; a 60-line type says that more plainly than adapting
//! a generic retry combinator to it.

use std::time::Duration;

/// The longest wait honoured, whatever `Retry-After` says.
pub const MAX_WAIT: Duration = Duration::from_secs(120);

/// How a kind of failure is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The wait before the first retry; it doubles with every retry.
    pub base: Duration,
    /// The longest computed wait.
    pub cap: Duration,
    /// Up to this much is added at random, so clients that failed together do not retry together.
    pub jitter: Duration,
}

impl Backoff {
    /// Connection errors, timeouts and 5xx answers.
    pub const TRANSIENT: Backoff = Backoff {
        retries: 5,
        base: Duration::from_millis(250),
        cap: Duration::from_secs(30),
        jitter: Duration::from_millis(250),
    };
    /// 429 and AF429: waits as long as `Retry-After` says, else 2 s doubling.
    pub const THROTTLED: Backoff =
        Backoff { retries: 8, base: Duration::from_secs(2), cap: Duration::from_secs(64), jitter: Duration::ZERO };
    /// A body that arrived cut off or garbled (a page, a blob, a token answer): fetched again.
    pub const BODY: Backoff =
        Backoff { retries: 3, base: Duration::from_secs(1), cap: Duration::from_secs(8), jitter: Duration::ZERO };

    /// The wait before retry `n` (0 for the first retry), or `None` when the retries are spent.
    /// `hint` is the server's `Retry-After`, honoured up to [`MAX_WAIT`].
    pub fn delay(&self, n: u32, hint: Option<Duration>) -> Option<Duration> {
        if n >= self.retries {
            return None;
        }
        if let Some(hint) = hint {
            return Some(hint.min(MAX_WAIT));
        }
        let computed = self.base.saturating_mul(2u32.saturating_pow(n.min(16))).min(self.cap);
        let jitter = if self.jitter.is_zero() {
            Duration::ZERO
        } else {
            Duration::from_millis(rand::random::<u64>() % self.jitter.as_millis().max(1) as u64)
        };
        Some(computed + jitter)
    }
}

/// The retries used so far under one policy.
#[derive(Clone, Debug)]
pub struct Attempts {
    policy: Backoff,
    used: u32,
}

impl Attempts {
    pub fn new(policy: Backoff) -> Self {
        Self { policy, used: 0 }
    }

    /// Retries used so far.
    pub fn used(&self) -> u32 {
        self.used
    }

    /// Waits before the next retry and returns `true`, or returns `false` at once when the
    /// retries are spent.
    pub async fn wait(&mut self, hint: Option<Duration>) -> bool {
        match self.policy.delay(self.used, hint) {
            Some(wait) => {
                self.used += 1;
                tokio::time::sleep(wait).await;
                true
            }
            None => false,
        }
    }
}

/// The `Retry-After` of an answer, in seconds (the form Microsoft sends).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_end_after_the_retries() {
        let p =
            Backoff { retries: 4, base: Duration::from_secs(1), cap: Duration::from_secs(5), jitter: Duration::ZERO };
        let waits: Vec<_> = (0..5).map(|n| p.delay(n, None)).collect();
        assert_eq!(
            waits,
            vec![
                Some(Duration::from_secs(1)),
                Some(Duration::from_secs(2)),
                Some(Duration::from_secs(4)),
                Some(Duration::from_secs(5)),
                None
            ]
        );
    }

    #[test]
    fn retry_after_wins_but_is_capped() {
        let p = Backoff::THROTTLED;
        assert_eq!(p.delay(0, Some(Duration::from_secs(7))), Some(Duration::from_secs(7)));
        assert_eq!(p.delay(3, Some(Duration::from_secs(3600))), Some(MAX_WAIT));
        assert_eq!(p.delay(p.retries, Some(Duration::from_secs(1))), None);
    }

    #[test]
    fn jitter_stays_within_its_bound() {
        for n in 0..5 {
            let wait = Backoff::TRANSIENT.delay(n, None).unwrap();
            let base = Duration::from_millis(250) * 2u32.pow(n);
            assert!(wait >= base && wait < base + Duration::from_millis(250), "{n}: {wait:?}");
        }
    }
}
