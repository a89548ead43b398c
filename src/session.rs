//! Per-session state: R/O or R/W, the active operations, and the cached
//! output that makes the PKCS#11 output-buffer convention work
//! (PKCS#11 3.0 §5.2: a length query or a too-small buffer leaves the
//! operation active, and the next call returns the same result).

use crate::device::{CipherOperation, DigestOperation, SignOperation, VerifyOperation};
use crate::error::{Error, Result};
use crate::object::Handle;
use cryptoki_sys::*;

/// An active operation and the output it produced but could not deliver yet.
pub struct Active<O: ?Sized> {
    pub operation: Box<O>,
    pending: Option<Vec<u8>>,
}

impl<O: ?Sized> Active<O> {
    pub fn new(operation: Box<O>) -> Self {
        Active {
            operation,
            pending: None,
        }
    }
}

/// The result of a call that produces output.
#[derive(Debug, PartialEq, Eq)]
pub enum Output {
    /// The whole output, delivered.
    Ready(Vec<u8>),
    /// The caller asked for the length (or gave too small a buffer):
    /// this many bytes are waiting, and the operation stays active.
    Pending(usize),
}

/// A `C_FindObjects` search in progress.
pub struct Search {
    handles: Vec<Handle>,
    position: usize,
}

impl Search {
    pub fn new(handles: Vec<Handle>) -> Self {
        Search {
            handles,
            position: 0,
        }
    }
    /// The next at most `count` handles.
    pub fn next(&mut self, count: usize) -> &[Handle] {
        let start = self.position;
        let end = start.saturating_add(count).min(self.handles.len());
        self.position = end;
        &self.handles[start..end]
    }
}

/// One open session.
pub struct Session {
    pub handle: CK_SESSION_HANDLE,
    pub read_write: bool,
    pub search: Option<Search>,
    pub encrypt: Option<Active<dyn CipherOperation>>,
    pub decrypt: Option<Active<dyn CipherOperation>>,
    pub digest: Option<Active<dyn DigestOperation>>,
    pub sign: Option<Active<dyn SignOperation>>,
    pub verify: Option<Active<dyn VerifyOperation>>,
}

impl Session {
    pub fn new(handle: CK_SESSION_HANDLE, read_write: bool) -> Self {
        Session {
            handle,
            read_write,
            search: None,
            encrypt: None,
            decrypt: None,
            digest: None,
            sign: None,
            verify: None,
        }
    }

    /// Ends every cryptographic operation (used on logout, where keys may become unusable).
    pub fn cancel_operations(&mut self) {
        self.encrypt = None;
        self.decrypt = None;
        self.digest = None;
        self.sign = None;
        self.verify = None;
    }
}

/// Fails with `CKR_OPERATION_ACTIVE` when `slot` holds an operation.
pub fn ensure_idle<T>(slot: &Option<T>) -> Result<()> {
    if slot.is_some() {
        return Err(Error::OperationActive);
    }
    Ok(())
}

/// Runs one output-producing step of the operation in `slot`.
///
/// `capacity` is the caller's buffer size (`None` for a length query).
/// Output that does not fit is kept for the next call, which then returns
/// it without computing again. With `finishes`, delivering the output ends
/// the operation. Any error ends the operation, as the specification says.
pub fn produce<O: ?Sized>(
    slot: &mut Option<Active<O>>,
    capacity: Option<usize>,
    finishes: bool,
    compute: impl FnOnce(&mut O) -> Result<Vec<u8>>,
) -> Result<Output> {
    let active = slot.as_mut().ok_or(Error::OperationNotInitialized)?;
    let output = match active.pending.take() {
        Some(output) => output,
        None => match compute(&mut active.operation) {
            Ok(output) => output,
            Err(error) => {
                *slot = None;
                return Err(error);
            }
        },
    };
    match capacity {
        Some(capacity) if capacity >= output.len() => {
            if finishes {
                *slot = None;
            }
            Ok(Output::Ready(output))
        }
        _ => {
            let length = output.len();
            active.pending = Some(output);
            Ok(Output::Pending(length))
        }
    }
}

/// Runs a step that produces no output; any error ends the operation.
pub fn consume<O: ?Sized>(
    slot: &mut Option<Active<O>>,
    finishes: bool,
    step: impl FnOnce(&mut O) -> Result<()>,
) -> Result<()> {
    let active = slot.as_mut().ok_or(Error::OperationNotInitialized)?;
    if active.pending.is_some() {
        // A multi-part step after a pending output is out of order.
        *slot = None;
        return Err(Error::OperationNotInitialized);
    }
    let result = step(&mut active.operation);
    if result.is_err() || finishes {
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
            produce(&mut s, None, true, |o| o.finish()).unwrap(),
            Output::Pending(32)
        );
        assert!(s.is_some());
        assert_eq!(
            produce(&mut s, Some(32), true, |o| o.finish()).unwrap(),
            Output::Ready(vec![7; 32])
        );
        assert!(s.is_none());
    }

    #[test]
    fn short_buffer_keeps_the_operation() {
        let mut s = slot();
        assert_eq!(
            produce(&mut s, Some(3), true, |o| o.finish()).unwrap(),
            Output::Pending(32)
        );
        assert!(s.is_some());
    }

    #[test]
    fn an_error_ends_the_operation() {
        let mut s = slot();
        let r = produce(&mut s, Some(64), true, |_| Err(Error::DataLenRange));
        assert!(matches!(r, Err(Error::DataLenRange)));
        assert!(s.is_none());
    }

    #[test]
    fn without_an_operation_it_is_not_initialized() {
        let mut s: Option<Active<dyn DigestOperation>> = None;
        assert!(matches!(
            produce(&mut s, None, true, |o| o.finish()),
            Err(Error::OperationNotInitialized)
        ));
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
