//! Per-session state: R/O or R/W, the active operations, and the cached
//! output that makes the PKCS#11 output-buffer convention work
//! (PKCS#11 3.0 §5.2: a length query or a too-small buffer leaves the
//! operation active, and the next call returns the same result).

use crate::device::{CipherOperation, DigestOperation, SignOperation, VerifyOperation};
use crate::error::{Error, Result};
use crate::object::Handle;
use cryptoki_sys::*;

/// Which call of an operation is running (PKCS#11 3.0 §5.2): the
/// single-part call (`C_Sign`), a multi-part update (`C_SignUpdate`), or
/// the call that finishes a multi-part operation (`C_SignFinal`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Single,
    Update,
    Final,
}

/// An active operation, whether it has become multi-part, and the output
/// one of its calls produced but could not deliver yet.
pub(crate) struct Active<O: ?Sized> {
    pub operation: Box<O>,
    multi_part: bool,
    pending: Option<(Step, Vec<u8>)>,
}

impl<O: ?Sized> Active<O> {
    pub(crate) fn new(operation: Box<O>) -> Self {
        Active {
            operation,
            multi_part: false,
            pending: None,
        }
    }

    /// Refuses a call out of order: the single-part call once an update
    /// has run ("C_Sign ... MUST be called after C_SignInit without
    /// intervening C_SignUpdate calls"), and any call but the one whose
    /// output is waiting to be collected.
    fn admit(&self, step: Step) -> Result<()> {
        if step == Step::Single && self.multi_part {
            return Err(Error::OperationActive);
        }
        match &self.pending {
            Some((waiting, _)) if *waiting != step => Err(Error::OperationActive),
            _ => Ok(()),
        }
    }
}

/// The result of a call that produces output.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Output {
    /// The whole output, delivered.
    Ready(Vec<u8>),
    /// The caller asked for the length (or gave too small a buffer):
    /// this many bytes are waiting, and the operation stays active.
    Pending(usize),
}

/// A `C_FindObjects` search in progress.
pub(crate) struct Search {
    handles: Vec<Handle>,
    position: usize,
}

impl Search {
    pub(crate) fn new(handles: Vec<Handle>) -> Self {
        Search {
            handles,
            position: 0,
        }
    }
    /// The next at most `count` handles.
    pub(crate) fn next(&mut self, count: usize) -> &[Handle] {
        let start = self.position;
        let end = start.saturating_add(count).min(self.handles.len());
        self.position = end;
        &self.handles[start..end]
    }
}

/// Declares the cryptographic operations a session can hold at once, each
/// with the `CKF_*` flag that `C_SessionCancel` names it by. A new kind of
/// operation is one line here; [`Operations::any`] and
/// [`Operations::cancel`] follow from the list.
macro_rules! operations {
    ($($(#[$doc:meta])* $name:ident: $operation:ty = $flag:ident,)+) => {
        /// The active cryptographic operations of one session, at most one
        /// of each kind (PKCS#11 3.0 §5.2).
        #[derive(Default)]
        pub(crate) struct Operations {
            $($(#[$doc])* pub(crate) $name: Option<Active<$operation>>,)+
        }

        impl Operations {
            /// True while any of them is active.
            pub(crate) fn any(&self) -> bool {
                false $(|| self.$name.is_some())+
            }

            /// Ends those whose flag is in `flags`.
            pub(crate) fn cancel(&mut self, flags: CK_FLAGS) {
                $(if flags & $flag != 0 {
                    self.$name = None;
                })+
            }

            /// Every flag of the list: [`Operations::cancel`] with it ends all.
            pub(crate) const ALL: CK_FLAGS = 0 $(| $flag)+;
        }
    };
}

operations! {
    /// `C_EncryptInit` .. `C_EncryptFinal`.
    encrypt: dyn CipherOperation = CKF_ENCRYPT,
    /// `C_DecryptInit` .. `C_DecryptFinal`.
    decrypt: dyn CipherOperation = CKF_DECRYPT,
    /// `C_DigestInit` .. `C_DigestFinal`.
    digest: dyn DigestOperation = CKF_DIGEST,
    /// `C_SignInit` .. `C_SignFinal`.
    sign: dyn SignOperation = CKF_SIGN,
    /// `C_VerifyInit` .. `C_VerifyFinal`.
    verify: dyn VerifyOperation = CKF_VERIFY,
    /// `C_MessageEncryptInit` .. `C_MessageEncryptFinal`.
    message_encrypt: crate::provider::MessageCipher = CKF_MESSAGE_ENCRYPT,
    /// `C_MessageDecryptInit` .. `C_MessageDecryptFinal`.
    message_decrypt: crate::provider::MessageCipher = CKF_MESSAGE_DECRYPT,
}

/// One open session.
pub(crate) struct Session {
    pub(crate) read_write: bool,
    pub(crate) search: Option<Search>,
    pub(crate) operations: Operations,
}

/// Which of a session's two cipher operations a call drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Encrypt,
    Decrypt,
}

impl Session {
    pub(crate) fn new(read_write: bool) -> Self {
        Session {
            read_write,
            search: None,
            operations: Operations::default(),
        }
    }

    /// True while any cryptographic operation (not a search) is active.
    pub(crate) fn has_cryptographic_operation(&self) -> bool {
        self.operations.any()
    }

    /// Ends every cryptographic operation (used on logout, where keys may become unusable).
    pub(crate) fn cancel_operations(&mut self) {
        self.operations.cancel(Operations::ALL);
    }
}

/// Fails with `CKR_OPERATION_ACTIVE` when `slot` holds an operation.
pub(crate) fn ensure_idle<T>(slot: &Option<T>) -> Result<()> {
    if slot.is_some() {
        return Err(Error::OperationActive);
    }
    Ok(())
}

/// Runs one output-producing call of the operation in `slot`.
///
/// `capacity` is the caller's buffer size (`None` for a length query).
/// Output that does not fit is kept for the next call of the same `step`,
/// which then returns it without computing again. Delivering the output of
/// a [`Step::Single`] or [`Step::Final`] call ends the operation. Any error,
/// a call out of order included, ends the operation, as the specification
/// says of every call but a length query or `CKR_BUFFER_TOO_SMALL`.
pub(crate) fn produce<O: ?Sized>(
    slot: &mut Option<Active<O>>,
    step: Step,
    capacity: Option<usize>,
    compute: impl FnOnce(&mut O) -> Result<Vec<u8>>,
) -> Result<Output> {
    let active = slot.as_mut().ok_or(Error::OperationNotInitialized)?;
    if let Err(error) = active.admit(step) {
        *slot = None;
        return Err(error);
    }
    let output = match active.pending.take() {
        Some((_, output)) => output,
        None => match compute(&mut active.operation) {
            Ok(output) => output,
            Err(error) => {
                *slot = None;
                return Err(error);
            }
        },
    };
    if step == Step::Update {
        active.multi_part = true;
    }
    match capacity {
        Some(capacity) if capacity >= output.len() => {
            if step != Step::Update {
                *slot = None;
            }
            Ok(Output::Ready(output))
        }
        _ => {
            let length = output.len();
            active.pending = Some((step, output));
            Ok(Output::Pending(length))
        }
    }
}

/// Runs a call that produces no output (an update, or a verification).
/// A [`Step::Single`] or [`Step::Final`] call ends the operation; so does
/// any error, a call out of order included.
pub(crate) fn consume<O: ?Sized>(
    slot: &mut Option<Active<O>>,
    step: Step,
    call: impl FnOnce(&mut O) -> Result<()>,
) -> Result<()> {
    let active = slot.as_mut().ok_or(Error::OperationNotInitialized)?;
    if let Err(error) = active.admit(step) {
        *slot = None;
        return Err(error);
    }
    if step == Step::Update {
        active.multi_part = true;
    }
    let result = call(&mut active.operation);
    if result.is_err() || step != Step::Update {
        *slot = None;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Vec<u8>, usize);
    impl DigestOperation for Fixed {
        fn update(&mut self, _data: &[u8]) -> Result<()> {
            Ok(())
        }
        fn finish(&mut self) -> Result<Vec<u8>> {
            self.1 += 1;
            Ok(self.0.clone())
        }
    }

    fn slot() -> Option<Active<dyn DigestOperation>> {
        Some(Active::new(Box::new(Fixed(vec![7; 32], 0))))
    }

    #[test]
    fn length_query_keeps_the_operation_and_the_result() {
        let mut s = slot();
        assert_eq!(
            produce(&mut s, Step::Final, None, |o| o.finish()).unwrap(),
            Output::Pending(32)
        );
        assert!(s.is_some());
        assert_eq!(
            produce(&mut s, Step::Final, Some(32), |o| o.finish()).unwrap(),
            Output::Ready(vec![7; 32])
        );
        assert!(s.is_none());
    }

    #[test]
    fn short_buffer_keeps_the_operation() {
        let mut s = slot();
        assert_eq!(
            produce(&mut s, Step::Final, Some(3), |o| o.finish()).unwrap(),
            Output::Pending(32)
        );
        assert!(s.is_some());
    }

    #[test]
    fn an_error_ends_the_operation() {
        let mut s = slot();
        let r = produce(&mut s, Step::Final, Some(64), |_| Err(Error::DataLenRange));
        assert!(matches!(r, Err(Error::DataLenRange)));
        assert!(s.is_none());
    }

    #[test]
    fn without_an_operation_it_is_not_initialized() {
        let mut s: Option<Active<dyn DigestOperation>> = None;
        assert!(matches!(
            produce(&mut s, Step::Final, None, |o| o.finish()),
            Err(Error::OperationNotInitialized)
        ));
    }

    #[test]
    fn single_part_call_after_an_update_is_refused_and_ends_the_operation() {
        let mut s = slot();
        consume(&mut s, Step::Update, |o| o.update(b"part")).unwrap();
        let r = produce(&mut s, Step::Single, Some(64), |o| o.finish());
        assert!(matches!(r, Err(Error::OperationActive)));
        assert!(s.is_none());
    }

    #[test]
    fn pending_output_is_only_collected_by_the_same_call() {
        let mut s = slot();
        produce(&mut s, Step::Single, None, |o| o.finish()).unwrap();
        let r = produce(&mut s, Step::Final, Some(64), |o| o.finish());
        assert!(matches!(r, Err(Error::OperationActive)));
        assert!(s.is_none());
    }

    #[test]
    fn search_with_the_largest_count_does_not_overflow() {
        let mut search = Search::new(vec![1, 2, 3]);
        assert_eq!(search.next(usize::MAX), &[1, 2, 3]);
        assert!(search.next(usize::MAX).is_empty());
    }

    #[test]
    fn session_cancel_ends_the_operations_its_flags_name_and_no_other() {
        let mut session = Session::new(false);
        session.operations.digest = slot();
        assert!(session.has_cryptographic_operation());
        session.operations.cancel(CKF_SIGN | CKF_FIND_OBJECTS);
        assert!(session.operations.digest.is_some());
        session.operations.cancel(CKF_DIGEST);
        assert!(!session.has_cryptographic_operation());
        session.operations.digest = slot();
        session.cancel_operations();
        assert!(!session.has_cryptographic_operation());
        assert_eq!(
            Operations::ALL,
            CKF_ENCRYPT
                | CKF_DECRYPT
                | CKF_DIGEST
                | CKF_SIGN
                | CKF_VERIFY
                | CKF_MESSAGE_ENCRYPT
                | CKF_MESSAGE_DECRYPT
        );
    }

    #[test]
    fn search_pages_through_handles() {
        let mut search = Search::new(vec![1, 2, 3, 4, 5]);
        assert_eq!(search.next(2), &[1, 2]);
        assert_eq!(search.next(2), &[3, 4]);
        assert_eq!(search.next(2), &[5]);
        assert!(search.next(2).is_empty());
    }
}
