//! A token credential that can be told its last token was refused.
//!
//! The SDK's credentials cache their tokens until five minutes before the
//! expiry the token service stated, and offer no way to drop that cache. A
//! token the storage service refuses before then (revoked, or its own
//! lifetime shorter than the one stated) would be sent again until it ages
//! out. [`RenewingCredential`] builds its credential again when told so:
//! the next token comes from the token service itself.

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Builds a fresh SDK credential (with an empty cache).
pub type BuildCredential =
    Box<dyn Fn() -> azure_core::Result<Arc<dyn TokenCredential>> + Send + Sync>;

/// Delegates to an SDK credential; [`RenewingCredential::renew`] makes
/// the next token request go to a new one.
pub struct RenewingCredential {
    build: BuildCredential,
    current: Mutex<Arc<dyn TokenCredential>>,
    renew: AtomicBool,
}

impl std::fmt::Debug for RenewingCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenewingCredential").finish_non_exhaustive()
    }
}

impl RenewingCredential {
    pub fn new(build: BuildCredential) -> azure_core::Result<Arc<RenewingCredential>> {
        let current = build()?;
        Ok(Arc::new(RenewingCredential {
            build,
            current: Mutex::new(current),
            renew: AtomicBool::new(false),
        }))
    }

    /// The service refused the current token: get a new one next time.
    pub fn renew(&self) {
        self.renew.store(true, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl TokenCredential for RenewingCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        if self.renew.swap(false, Ordering::SeqCst) {
            let fresh = (self.build)()?;
            *self.current.lock() = fresh;
        }
        // Not held across the request: a clone of the current credential.
        let current = self.current.lock().clone();
        current.get_token(scopes, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::credentials::Secret;
    use azure_core::time::{Duration, OffsetDateTime};
    use std::sync::atomic::AtomicU32;

    type Options<'a> = Option<TokenRequestOptions<'a>>;

    /// Hands out "token-<n>" from a counter shared by every instance, and
    /// caches its token like the SDK's credentials do.
    #[derive(Debug)]
    struct Counting {
        issued: Arc<AtomicU32>,
        cached: Mutex<Option<AccessToken>>,
    }

    #[async_trait::async_trait]
    impl TokenCredential for Counting {
        async fn get_token(&self, _: &[&str], _: Options<'_>) -> azure_core::Result<AccessToken> {
            let mut cached = self.cached.lock();
            let token = cached.get_or_insert_with(|| {
                let n = self.issued.fetch_add(1, Ordering::SeqCst);
                AccessToken::new(
                    Secret::new(format!("token-{n}")),
                    OffsetDateTime::now_utc() + Duration::hours(1),
                )
            });
            Ok(token.clone())
        }
    }

    #[test]
    fn a_renewed_credential_gets_a_new_token_once() {
        let issued = Arc::new(AtomicU32::new(0));
        let counter = issued.clone();
        let credential = RenewingCredential::new(Box::new(move || {
            Ok(Arc::new(Counting {
                issued: counter.clone(),
                cached: Mutex::new(None),
            }) as Arc<dyn TokenCredential>)
        }))
        .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let token = |credential: &RenewingCredential| {
            runtime
                .block_on(credential.get_token(&["scope"], None))
                .unwrap()
                .token
                .secret()
                .to_string()
        };
        assert_eq!(token(&credential), "token-0");
        assert_eq!(token(&credential), "token-0");
        credential.renew();
        assert_eq!(token(&credential), "token-1");
        assert_eq!(token(&credential), "token-1");
        assert_eq!(issued.load(Ordering::SeqCst), 2);
    }
}
