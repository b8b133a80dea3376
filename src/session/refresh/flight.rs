//! Sharing finished refreshes: what a refresh ran for and produced, which waiting or late
//! request it may serve instead of a grant of its own, and the per-session flight.

use std::sync::Mutex;
use std::time::Duration;

use super::outcome::Outcome;
use crate::session::Session;
use crate::util::hex_sha256 as digest;

/// How long a finished refresh is shared with requests that still carry what it replaced
/// or the refresh token it rotated away (concurrent requests whose cookies predate it).
pub(super) const SHARE_WINDOW: Duration = Duration::from_secs(30);

/// Finished refreshes remembered per session in one process.
const REMEMBERED: usize = 4;

/// A finished refresh as it is shared (sealed in the shared store across instances).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Finished {
    /// Names this refresh (random), so a request can tell which ones it saw on arrival.
    pub(super) id: u64,
    /// The key of the request that ran it (see [`flight_key`]).
    key: String,
    /// Digest of the refresh token it spent.
    spent: String,
    /// Whether the OP answered with another refresh token: `spent` is then rotated away
    /// and can never succeed at the OP again.
    rotated: bool,
    pub(super) outcome: Outcome,
    /// When it finished, milliseconds since the epoch (only bounds the share window).
    finished_ms: u64,
    /// Whether what the key names was certainly replaced by it (a different access
    /// token; for a session without one, a rotated refresh token). When not, the result
    /// is shared only with requests that were waiting while it ran.
    replaced: bool,
}

/// What a request asking for a refresh carries, and which refreshes had finished when it
/// arrived.
pub(super) struct Ask {
    pub(super) key: String,
    pub(super) spent: String,
    pub(super) seen: Vec<u64>,
}

impl Finished {
    /// The record of a refresh this request ran for `ask`, spending `refresh_token`.
    pub(super) fn new(ask: &Ask, refresh_token: &str, outcome: Outcome) -> Self {
        Finished {
            id: rand::random(),
            replaced: replaces(&ask.key, refresh_token, &outcome),
            rotated: matches!(&outcome, Outcome::Refreshed(t)
                if t.refresh_token.as_deref().is_some_and(|rt| rt != refresh_token)),
            key: ask.key.clone(),
            spent: ask.spent.clone(),
            outcome,
            finished_ms: now_ms(),
        }
    }

    fn fresh(&self) -> bool {
        now_ms().saturating_sub(self.finished_ms) < SHARE_WINDOW.as_millis() as u64
    }

    /// Whether the request `ask` may take this result instead of a grant of its own.
    fn serves(&self, ask: &Ask) -> bool {
        self.fresh()
            && ((self.rotated && self.spent == ask.spent)
                || (self.key == ask.key && (self.replaced || !ask.seen.contains(&self.id))))
    }
}

/// The newest of `done` that serves `ask`.
pub(super) fn pick<'a>(done: &'a [Finished], ask: &Ask) -> Option<&'a Finished> {
    done.iter().rev().find(|d| d.serves(ask))
}

/// Adds `done` to a session's remembered refreshes, dropping stale and old ones.
pub(super) fn remember(list: &mut Vec<Finished>, done: Finished) {
    list.retain(Finished::fresh);
    list.push(done);
    if list.len() > REMEMBERED {
        list.drain(..list.len() - REMEMBERED);
    }
}

#[derive(Default)]
pub(super) struct Flight {
    /// Held while one request of this session refreshes (or looks for a shared result).
    pub(super) queue: tokio::sync::Mutex<()>,
    /// The last few finished refreshes of this session in this process.
    last: Mutex<Vec<Finished>>,
}

impl Flight {
    pub(super) fn last(&self) -> std::sync::MutexGuard<'_, Vec<Finished>> {
        match self.last.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

pub(super) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The sharing key of a refresh of `session` (not its lock, which is per session): the
/// digest of the access token it replaces, or (no access token held, e.g. after `/bff/revoke`) of the refresh token
/// spent, under a distinct prefix so the two can never collide.
pub(super) fn flight_key(session: &Session, refresh_token: &str) -> String {
    match &session.access_token {
        Some(at) => format!("at:{}", digest(at)),
        None => format!("rt:{}", digest(refresh_token)),
    }
}

/// Whether `tokens` certainly replaced what `key` names (see [`Finished::replaced`]).
fn replaces(key: &str, spent_refresh_token: &str, outcome: &Outcome) -> bool {
    match outcome {
        // An ended session stays ended: share that with everyone of this key.
        Outcome::Ended => true,
        Outcome::Refreshed(t) => match key.strip_prefix("at:") {
            Some(old) => digest(&t.access_token) != old,
            None => t
                .refresh_token
                .as_deref()
                .is_some_and(|rt| rt != spent_refresh_token),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(key: &str, spent: &str, rotated: bool, replaced: bool, ms: u64) -> Finished {
        Finished {
            id: 7,
            key: key.into(),
            spent: digest(spent),
            rotated,
            outcome: Outcome::Ended,
            finished_ms: ms,
            replaced,
        }
    }

    fn ask(key: &str, spent: &str, seen: &[u64]) -> Ask {
        Ask {
            key: key.into(),
            spent: digest(spent),
            seen: seen.to_vec(),
        }
    }

    // f17: a refresh that did not certainly replace what its key names (the OP answered
    // with the same access token) is shared only with requests that were waiting while it
    // ran, never with one that arrived after it finished, whatever the clock of the
    // instance that ran it says (here: 5 s ahead).
    #[test]
    fn an_unreplaced_result_serves_only_requests_that_arrived_before_it_finished() {
        let ahead = now_ms() + 5_000;
        let same_token = finished("at:k", "r", false, false, ahead);
        assert!(same_token.serves(&ask("at:k", "r", &[])), "was waiting");
        assert!(
            !same_token.serves(&ask("at:k", "r", &[7])),
            "arrived after it finished"
        );
        assert!(
            !same_token.serves(&ask("at:other", "r", &[])),
            "another key"
        );
        let replaced = finished("at:k", "r", false, true, now_ms());
        assert!(
            replaced.serves(&ask("at:k", "r", &[7])),
            "carries what it replaced"
        );
    }

    #[test]
    fn a_rotated_away_refresh_token_is_served_under_any_key_within_the_window() {
        let rotated = finished("at:k", "r1", true, true, now_ms());
        assert!(rotated.serves(&ask("rt:r1", "r1", &[7])));
        assert!(
            !rotated.serves(&ask("rt:r2", "r2", &[])),
            "another refresh token"
        );
        let kept = finished("at:k", "r1", false, true, now_ms());
        assert!(
            !kept.serves(&ask("rt:r1", "r1", &[])),
            "not rotated: its own grant"
        );
        let old = finished("at:k", "r1", true, true, now_ms() - 31_000);
        assert!(
            !old.serves(&ask("rt:r1", "r1", &[])),
            "past the share window"
        );
    }
}
