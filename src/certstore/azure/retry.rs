//! Time limits and retries around every request to the service.
//!
//! The SDK's own retry policy is switched off so that one place decides:
//! each attempt is cut off after the configured timeout, timeouts and
//! transient failures (no HTTP status, 408, 429, 5xx) are retried with
//! exponential backoff, everything else is final at once. The worst-case
//! duration of a call is therefore bounded, see [`Retry::worst_case`].

use azure_core::http::StatusCode;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The first backoff; it doubles with every retry up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Called when the service answers 401 Unauthorized: the credential's
/// token was refused, and the next attempt must get a new one.
#[derive(Clone)]
pub struct OnUnauthorized(pub Arc<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for OnUnauthorized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnUnauthorized")
    }
}

/// How long one attempt may take and how often it is repeated.
#[derive(Clone, Debug)]
pub struct Retry {
    /// The limit of one attempt.
    pub timeout: Duration,
    /// The number of retries after the first attempt.
    pub retries: u32,
    /// With a token credential: a 401 answer is followed by this and one
    /// more attempt (not counted among the retries).
    pub on_unauthorized: Option<OnUnauthorized>,
}

/// Why a request finally failed.
#[derive(Debug)]
pub enum Failure {
    /// The last attempt did not finish within the timeout.
    TimedOut(Duration),
    /// The last attempt failed with this error.
    Service(azure_core::Error),
}

impl Failure {
    /// The HTTP status of the failure, if the service answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Failure::TimedOut(_) => None,
            Failure::Service(error) => error.http_status(),
        }
    }
}

impl Retry {
    /// The longest a call with this policy can take: every attempt timing
    /// out, plus every backoff.
    pub fn worst_case(&self) -> Duration {
        // The backoff after the last attempt is never waited, but counting it
        // keeps the bound simple and safe.
        let renewal = match self.on_unauthorized {
            Some(_) => self.timeout,
            None => Duration::ZERO,
        };
        (0..=self.retries)
            .map(|attempt| self.timeout + backoff_base(attempt).mul_f64(1.25))
            .sum::<Duration>()
            + renewal
    }

    /// Runs `attempt(n)` for n = 0, 1, ... until it succeeds, fails for
    /// good, or the retries are spent. `attempt` learns its number so that
    /// a conditional write can tell "refused because my own earlier,
    /// unanswered attempt succeeded" from a real conflict.
    pub async fn run<T, F, Fut>(&self, mut attempt: F) -> Result<T, Failure>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = azure_core::Result<T>>,
    {
        let mut number = 0;
        let mut renewed = false;
        loop {
            let failure = match tokio::time::timeout(self.timeout, attempt(number)).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(error))
                    if error.http_status() == Some(StatusCode::Unauthorized) && !renewed =>
                {
                    let Some(OnUnauthorized(renew)) = &self.on_unauthorized else {
                        return Err(Failure::Service(error));
                    };
                    tracing::info!(
                        "certificate storage refused the token (HTTP 401): getting a new one and trying once more"
                    );
                    renew();
                    renewed = true;
                    continue;
                }
                Ok(Err(error)) if !is_transient(&error) => return Err(Failure::Service(error)),
                Ok(Err(error)) => Failure::Service(error),
                Err(_) => Failure::TimedOut(self.timeout),
            };
            if number >= self.retries {
                return Err(failure);
            }
            tracing::debug!(
                attempt = number,
                "certificate storage request failed transiently; retrying"
            );
            tokio::time::sleep(backoff(number)).await;
            number += 1;
        }
    }
}

/// Whether another attempt may succeed where this one failed.
pub fn is_transient(error: &azure_core::Error) -> bool {
    match error.http_status() {
        Some(status) => is_transient_status(status),
        None => match error.kind() {
            // No answer at all: the connection was refused, reset or cut.
            azure_core::error::ErrorKind::Io | azure_core::error::ErrorKind::Connection => true,
            // No token: transient when getting it failed transiently (the
            // credential's own requests are not retried by the SDK).
            azure_core::error::ErrorKind::Credential => std::error::Error::source(error)
                .and_then(|cause| cause.downcast_ref::<azure_core::Error>())
                .is_some_and(is_transient),
            _ => false,
        },
    }
}

/// Whether a service answer with this status may change on a retry:
/// timeouts, throttling and server errors, but not "not implemented".
pub fn is_transient_status(status: StatusCode) -> bool {
    let code = u16::from(status);
    code == 408 || code == 429 || ((500..600).contains(&code) && code != 501 && code != 505)
}

/// The wait after attempt `number`: doubling, capped, with up to a quarter
/// of jitter so that many clients do not retry in step.
fn backoff(number: u32) -> Duration {
    let base = backoff_base(number);
    let jitter_percent = u64::from(azure_core::Uuid::new_v4().as_bytes()[0] % 25);
    base + base.mul_f64(jitter_percent as f64 / 100.0)
}

/// The wait after attempt `number`, before jitter.
fn backoff_base(number: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1u32 << number.min(10))
        .min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::error::ErrorKind;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn http_error(code: u16) -> azure_core::Error {
        azure_core::Error::with_message(
            ErrorKind::HttpResponse {
                status: StatusCode::from(code),
                error_code: None,
                raw_response: None,
            },
            "test",
        )
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    #[test]
    fn server_errors_and_throttling_are_transient_client_errors_are_not() {
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(is_transient(&http_error(code)), "{code}");
        }
        for code in [400, 401, 403, 404, 409, 412, 501] {
            assert!(!is_transient(&http_error(code)), "{code}");
        }
        assert!(is_transient(&azure_core::Error::with_message(
            ErrorKind::Io,
            "connection refused"
        )));
        assert!(!is_transient(&azure_core::Error::with_message(
            ErrorKind::Credential,
            "no identity"
        )));
        // A token endpoint that did not answer, or answered 503: retried;
        // one that refused: not.
        let no_token =
            |cause| azure_core::Error::with_error(ErrorKind::Credential, cause, "no token");
        assert!(is_transient(&no_token(azure_core::Error::with_message(
            ErrorKind::Io,
            "connection refused"
        ))));
        assert!(is_transient(&no_token(http_error(503))));
        assert!(!is_transient(&no_token(http_error(400))));
    }

    /// Runs a request that always fails with HTTP `status` under `retries`
    /// retries: the final failure and how many attempts were made.
    fn always_failing(status: u16, retries: u32) -> (Failure, u32) {
        let calls = AtomicU32::new(0);
        let retry = Retry {
            timeout: Duration::from_secs(1),
            retries,
            on_unauthorized: None,
        };
        let result: Result<(), Failure> = runtime().block_on(retry.run(|_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move { Err(http_error(status)) }
        }));
        (result.unwrap_err(), calls.load(Ordering::SeqCst))
    }

    #[test]
    fn transient_failures_are_retried_up_to_the_limit() {
        let (failure, calls) = always_failing(503, 2);
        assert_eq!(failure.status(), Some(StatusCode::from(503)));
        assert_eq!(calls, 3);
    }

    #[test]
    fn final_errors_are_not_retried() {
        let (failure, calls) = always_failing(403, 5);
        assert_eq!(failure.status(), Some(StatusCode::from(403)));
        assert_eq!(calls, 1);
    }

    #[test]
    fn a_refused_token_is_renewed_once_and_the_request_tried_once_more() {
        let renewals = Arc::new(AtomicU32::new(0));
        let counter = renewals.clone();
        let retry = Retry {
            timeout: Duration::from_secs(1),
            retries: 0,
            on_unauthorized: Some(OnUnauthorized(Arc::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            }))),
        };
        // 401, then success: one renewal, two attempts, though no retries.
        let calls = AtomicU32::new(0);
        let result = runtime().block_on(retry.run(|_| {
            let call = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                match call {
                    0 => Err(http_error(401)),
                    _ => Ok("listed"),
                }
            }
        }));
        assert_eq!(result.unwrap(), "listed");
        assert_eq!(
            (
                calls.load(Ordering::SeqCst),
                renewals.load(Ordering::SeqCst)
            ),
            (2, 1)
        );
        // 401 twice: the second is final.
        let calls = AtomicU32::new(0);
        let result: Result<(), Failure> = runtime().block_on(retry.run(|_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(http_error(401)) }
        }));
        assert_eq!(result.unwrap_err().status(), Some(StatusCode::from(401)));
        assert_eq!(
            (
                calls.load(Ordering::SeqCst),
                renewals.load(Ordering::SeqCst)
            ),
            (2, 2)
        );
        // Without a token credential a 401 is final at once.
        let plain = Retry {
            on_unauthorized: None,
            ..retry
        };
        let calls = AtomicU32::new(0);
        let _: Result<(), Failure> = runtime().block_on(plain.run(|_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(http_error(401)) }
        }));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_hanging_attempt_is_cut_off_and_the_next_one_can_succeed() {
        let retry = Retry {
            timeout: Duration::from_millis(50),
            retries: 1,
            on_unauthorized: None,
        };
        let value = runtime().block_on(retry.run(|number| async move {
            if number == 0 {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Ok(number)
        }));
        assert_eq!(value.unwrap(), 1);
    }

    #[test]
    fn every_attempt_timing_out_ends_in_a_timeout() {
        let retry = Retry {
            timeout: Duration::from_millis(20),
            retries: 1,
            on_unauthorized: None,
        };
        let result: Result<(), Failure> = runtime().block_on(retry.run(|_| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        }));
        assert!(matches!(result, Err(Failure::TimedOut(_))));
    }

    #[test]
    fn worst_case_covers_every_attempt_and_backoff() {
        let retry = Retry {
            timeout: Duration::from_secs(2),
            retries: 3,
            on_unauthorized: None,
        };
        assert!(retry.worst_case() >= Duration::from_secs(8));
        assert!(retry.worst_case() <= Duration::from_secs(8) + MAX_BACKOFF.mul_f64(1.25) * 4);
    }
}
