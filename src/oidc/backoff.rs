//! The one retry backoff for calls to the OP at start-up (discovery, dynamic client
//! registration): 0.5 s, doubling, at most 30 s.

use std::time::Duration;

const FIRST: Duration = Duration::from_millis(500);
const MAX: Duration = Duration::from_secs(30);

/// Exponential backoff: [`Backoff::delay`] is the wait before the next attempt.
pub struct Backoff {
    delay: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { delay: FIRST }
    }
}

impl Backoff {
    /// The current wait.
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// Waits the current delay, then doubles it (up to the maximum).
    pub async fn wait(&mut self) {
        actix_rt::time::sleep(self.delay).await;
        self.advance();
    }

    fn advance(&mut self) {
        self.delay = (self.delay * 2).min(MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_maximum() {
        let mut b = Backoff::default();
        assert_eq!(b.delay(), Duration::from_millis(500));
        b.advance();
        assert_eq!(b.delay(), Duration::from_secs(1));
        for _ in 0..10 {
            b.advance();
        }
        assert_eq!(b.delay(), MAX);
    }
}
