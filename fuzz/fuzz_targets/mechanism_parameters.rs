//! Mechanism parameters: a `CK_MECHANISM` of an advertised (or any)
//! mechanism type whose parameter is a well-formed structure of its type
//! with fuzzed fields and nested buffers (`CK_GCM_PARAMS`,
//! `CK_AES_CTR_PARAMS`, `CK_RSA_PKCS_OAEP_PARAMS`, `CK_RSA_PKCS_PSS_PARAMS`,
//! `CK_ECDH1_DERIVE_PARAMS`, `CK_EDDSA_PARAMS`, `CK_RSA_AES_KEY_WRAP_PARAMS`,
//! `CK_KEY_DERIVATION_STRING_DATA`, `CK_AES_CBC_ENCRYPT_DATA_PARAMS`, and
//! the one-`CK_ULONG` parameters), the bytes of such a
//! structure cut short or padded, raw bytes, or NULL with any length; used
//! with one of the set-up keys to encrypt, decrypt, sign, verify (single-
//! and multi-part), digest, wrap, unwrap or derive, with output buffers of
//! fuzzed sizes.
//!
//! Beyond "no crash, no hang, no leak" (a parameter shorter than its
//! structure that were read anyway is an over-read AddressSanitizer
//! reports), it checks that no call answers bad input with an internal
//! failure.
#![no_main]

use azcloudhsm_pkcs11::ffi::{decrypt, digest, encrypt, key, sign, verify};
use azcloudhsm_pkcs11_fuzz::*;
use cryptoki_sys::*;
use libfuzzer_sys::fuzz_target;
use std::mem::size_of;
use std::ptr;

/// A parameter the harness owns: the structure's bytes and the buffers its
/// pointers point at, all alive for the whole case.
struct Parameter {
    bytes: Option<Vec<u8>>,
    length: CK_ULONG,
    _nested: Vec<Buffer>,
}

impl Parameter {
    fn null(length: CK_ULONG) -> Parameter {
        Parameter {
            bytes: None,
            length,
            _nested: Vec::new(),
        }
    }

    fn of_struct<T>(value: &T, nested: Vec<Buffer>, reader: &mut Reader<'_>) -> Parameter {
        // SAFETY: `value` is a plain C structure of `size_of::<T>()` bytes.
        let raw =
            unsafe { std::slice::from_raw_parts(value as *const T as *const u8, size_of::<T>()) };
        let mut bytes = raw.to_vec();
        match reader.byte() {
            // Cut short: a provider that read the whole structure anyway
            // would read past the caller's buffer.
            0..=15 => bytes.truncate(usize::from(reader.byte()) % size_of::<T>()),
            16..=23 => bytes.extend(std::iter::repeat_n(0, 1 + usize::from(reader.byte() % 16))),
            _ => {}
        }
        Parameter {
            length: bytes.len() as CK_ULONG,
            bytes: Some(bytes),
            _nested: nested,
        }
    }

    fn read(reader: &mut Reader<'_>, mechanism: CK_MECHANISM_TYPE) -> Parameter {
        match reader.byte() % 8 {
            0 => Parameter::null(reader.length()),
            1 => {
                let length = usize::from(reader.byte());
                let mut bytes = reader.bytes(length).to_vec();
                // Raw bytes the size of a structure that holds pointers
                // would hand the provider wild pointers, which no caller
                // may do and no provider can detect: make them one longer,
                // so they stay a wrongly sized parameter.
                if Some(bytes.len()) == size_with_pointers(mechanism) {
                    bytes.push(reader.byte());
                }
                Parameter {
                    length: bytes.len() as CK_ULONG,
                    bytes: Some(bytes),
                    _nested: Vec::new(),
                }
            }
            _ => Parameter::typed(reader, mechanism),
        }
    }

    /// The structure of `mechanism`'s type, or raw bytes for the others (a
    /// CBC IV, an HMAC output length).
    fn typed(reader: &mut Reader<'_>, mechanism: CK_MECHANISM_TYPE) -> Parameter {
        match mechanism {
            CKM_AES_GCM => {
                let mut iv = Buffer::read(reader);
                let mut aad = Buffer::read(reader);
                let value = CK_GCM_PARAMS {
                    pIv: iv.pointer(),
                    ulIvLen: iv.length(),
                    ulIvBits: reader.length(),
                    pAAD: aad.pointer(),
                    ulAADLen: aad.length(),
                    ulTagBits: reader.pick(&[0, 32, 64, 96, 104, 112, 120, 128, 129, 256]),
                };
                Parameter::of_struct(&value, vec![iv, aad], reader)
            }
            CKM_AES_CTR => {
                let mut block = [0u8; 16];
                let taken = reader.bytes(16);
                block[..taken.len()].copy_from_slice(taken);
                let value = CK_AES_CTR_PARAMS {
                    ulCounterBits: reader.pick(&[0, 1, 8, 32, 64, 127, 128, 129]),
                    cb: block,
                };
                Parameter::of_struct(&value, Vec::new(), reader)
            }
            CKM_RSA_PKCS_OAEP => {
                let mut label = Buffer::read(reader);
                let value = CK_RSA_PKCS_OAEP_PARAMS {
                    hashAlg: reader.pick(HASHES),
                    mgf: reader.pick(MGFS),
                    source: reader.pick(&[0, CKZ_DATA_SPECIFIED, 2]),
                    pSourceData: label.pointer() as *mut _,
                    ulSourceDataLen: label.length(),
                };
                Parameter::of_struct(&value, vec![label], reader)
            }
            CKM_RSA_AES_KEY_WRAP => {
                let mut label = Buffer::read(reader);
                let oaep = CK_RSA_PKCS_OAEP_PARAMS {
                    hashAlg: reader.pick(HASHES),
                    mgf: reader.pick(MGFS),
                    source: reader.pick(&[0, CKZ_DATA_SPECIFIED, 2]),
                    pSourceData: label.pointer() as *mut _,
                    ulSourceDataLen: label.length(),
                };
                // SAFETY: `oaep` is a plain C structure of its size.
                let oaep_bytes = unsafe {
                    std::slice::from_raw_parts(
                        &oaep as *const CK_RSA_PKCS_OAEP_PARAMS as *const u8,
                        size_of::<CK_RSA_PKCS_OAEP_PARAMS>(),
                    )
                };
                let mut nested = Buffer::of(oaep_bytes);
                let value = CK_RSA_AES_KEY_WRAP_PARAMS {
                    ulAESKeyBits: reader.pick(&[0, 128, 192, 256, 257, CK_ULONG::MAX]),
                    pOAEPParams: match reader.byte() % 8 {
                        0 => ptr::null_mut(),
                        _ => nested.pointer() as *mut _,
                    },
                };
                Parameter::of_struct(&value, vec![label, nested], reader)
            }
            CKM_CONCATENATE_BASE_AND_DATA
            | CKM_CONCATENATE_DATA_AND_BASE
            | CKM_XOR_BASE_AND_DATA
            | CKM_AES_ECB_ENCRYPT_DATA => {
                let mut data = Buffer::read(reader);
                let value = CK_KEY_DERIVATION_STRING_DATA {
                    pData: data.pointer(),
                    ulLen: data.length(),
                };
                Parameter::of_struct(&value, vec![data], reader)
            }
            CKM_AES_CBC_ENCRYPT_DATA => {
                let mut iv = [0u8; 16];
                let taken = reader.bytes(16);
                iv[..taken.len()].copy_from_slice(taken);
                let mut data = Buffer::read(reader);
                let value = CK_AES_CBC_ENCRYPT_DATA_PARAMS {
                    iv,
                    pData: data.pointer(),
                    length: data.length(),
                };
                Parameter::of_struct(&value, vec![data], reader)
            }
            CKM_CONCATENATE_BASE_AND_KEY => {
                let value: CK_OBJECT_HANDLE = match reader.byte() % 4 {
                    0 => reader.ulong(),
                    _ => reader.pick(&provider().all()),
                };
                Parameter::of_struct(&value, Vec::new(), reader)
            }
            CKM_SP800_108_COUNTER_KDF | CKM_SP800_108_FEEDBACK_KDF => {
                Parameter::kbkdf(reader, mechanism)
            }
            CKM_EXTRACT_KEY_FROM_KEY | CKM_AES_CMAC_GENERAL => {
                let value: CK_ULONG = reader.pick(&[0, 1, 7, 16, 17, 255, 256, CK_ULONG::MAX]);
                Parameter::of_struct(&value, Vec::new(), reader)
            }
            CKM_RSA_PKCS_PSS
            | CKM_SHA1_RSA_PKCS_PSS
            | CKM_SHA224_RSA_PKCS_PSS
            | CKM_SHA256_RSA_PKCS_PSS
            | CKM_SHA384_RSA_PKCS_PSS
            | CKM_SHA512_RSA_PKCS_PSS
            | CKM_SHA3_224_RSA_PKCS_PSS
            | CKM_SHA3_256_RSA_PKCS_PSS
            | CKM_SHA3_384_RSA_PKCS_PSS
            | CKM_SHA3_512_RSA_PKCS_PSS => {
                let value = CK_RSA_PKCS_PSS_PARAMS {
                    hashAlg: reader.pick(HASHES),
                    mgf: reader.pick(MGFS),
                    sLen: reader.pick(&[0, 20, 32, 64, 222, 223, 1000, CK_ULONG::MAX]),
                };
                Parameter::of_struct(&value, Vec::new(), reader)
            }
            CKM_ECDH1_DERIVE | CKM_ECDH1_COFACTOR_DERIVE => {
                let mut shared = Buffer::read(reader);
                let mut public = match reader.byte() % 4 {
                    0 => Buffer::read(reader),
                    _ => Buffer::of(&mutated(&provider().ec_point, reader)),
                };
                let value = CK_ECDH1_DERIVE_PARAMS {
                    kdf: reader.pick(&[CKD_NULL, CKD_SHA1_KDF, CKD_SHA256_KDF, 0x77]),
                    ulSharedDataLen: shared.length(),
                    pSharedData: shared.pointer(),
                    ulPublicDataLen: public.length(),
                    pPublicData: public.pointer(),
                };
                Parameter::of_struct(&value, vec![shared, public], reader)
            }
            CKM_EDDSA => {
                let mut context = Buffer::read(reader);
                let value = CK_EDDSA_PARAMS {
                    phFlag: reader.pick(&[CK_FALSE, CK_TRUE, 7]),
                    ulContextDataLen: context.length(),
                    pContextData: context.pointer(),
                };
                Parameter::of_struct(&value, vec![context], reader)
            }
            _ => {
                let length = reader.pick(&[0usize, 8, 16, 17, size_of::<CK_ULONG>()]);
                let mut bytes = reader.bytes(length).to_vec();
                // As in `read`: never the exact size of a structure with pointers.
                if Some(bytes.len()) == size_with_pointers(mechanism) {
                    bytes.push(reader.byte());
                }
                Parameter {
                    length: bytes.len() as CK_ULONG,
                    bytes: Some(bytes),
                    _nested: Vec::new(),
                }
            }
        }
    }

    /// A `CK_SP800_108_KDF_PARAMS` or `CK_SP800_108_FEEDBACK_KDF_PARAMS`:
    /// up to six data parameters of fuzzed types, formats and values, an
    /// IV, and up to two additional keys with fuzzed templates, each with a
    /// place for its handle. Every count matches the array it describes,
    /// or the array is NULL.
    fn kbkdf(reader: &mut Reader<'_>, mechanism: CK_MECHANISM_TYPE) -> Parameter {
        let mut nested = Vec::new();
        let mut items = Vec::new();
        for _ in 0..reader.byte() % 7 {
            let type_ = reader.pick(&[
                CK_SP800_108_ITERATION_VARIABLE,
                CK_SP800_108_COUNTER,
                CK_SP800_108_DKM_LENGTH,
                CK_SP800_108_BYTE_ARRAY,
                CK_SP800_108_KEY_HANDLE,
                0x77,
            ]);
            let widths = [0, 4, 8, 12, 16, 24, 32, 40, 64, 65, CK_ULONG::MAX];
            let mut value = match (type_, reader.byte() % 8) {
                (_, 0) => Buffer::read(reader),
                (CK_SP800_108_ITERATION_VARIABLE | CK_SP800_108_COUNTER, _) => {
                    bytes_of(&CK_SP800_108_COUNTER_FORMAT {
                        bLittleEndian: reader.pick(&[CK_FALSE, CK_TRUE, 2]),
                        ulWidthInBits: reader.pick(&widths),
                    })
                }
                (CK_SP800_108_DKM_LENGTH, _) => bytes_of(&CK_SP800_108_DKM_LENGTH_FORMAT {
                    dkmLengthMethod: reader.pick(&[
                        CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS,
                        CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS,
                        9,
                    ]),
                    bLittleEndian: reader.pick(&[CK_FALSE, CK_TRUE]),
                    ulWidthInBits: reader.pick(&widths),
                }),
                (CK_SP800_108_KEY_HANDLE, _) => bytes_of(&reader.pick(&provider().all())),
                _ => Buffer::read(reader),
            };
            items.push(CK_PRF_DATA_PARAM {
                type_,
                pValue: value.pointer() as *mut _,
                ulValueLen: value.length(),
            });
            nested.push(value);
        }
        let mut keys = Vec::new();
        for _ in 0..reader.byte() % 3 {
            let (mut template, count, values) = derived_key_template(reader);
            let mut handle = bytes_of(&CK_INVALID_HANDLE);
            keys.push(CK_DERIVED_KEY {
                pTemplate: template.pointer() as *mut CK_ATTRIBUTE,
                ulAttributeCount: count,
                phKey: match reader.byte() % 8 {
                    0 => ptr::null_mut(),
                    _ => handle.pointer() as *mut CK_OBJECT_HANDLE,
                },
            });
            nested.push(handle);
            nested.push(template);
            nested.extend(values);
        }
        let mut items = bytes_of_slice(&items);
        let mut keys_buffer = bytes_of_slice(&keys);
        let (items_pointer, keys_pointer) = (items.pointer(), keys_buffer.pointer());
        let mut iv = Buffer::read(reader);
        let prf = reader.pick(&[
            CKM_SHA256_HMAC,
            CKM_SHA512_HMAC,
            CKM_SHA3_256_HMAC,
            CKM_AES_CMAC,
            CKM_SHA256,
            0x77,
        ]);
        let data = (items_pointer as *mut CK_PRF_DATA_PARAM, items.length());
        let keys_field = (keys_pointer as *mut CK_DERIVED_KEY, keys.len() as CK_ULONG);
        let iv_field = (iv.pointer(), iv.length());
        nested.extend([items, keys_buffer, iv]);
        let data_count = data.1 / size_of::<CK_PRF_DATA_PARAM>() as CK_ULONG;
        if mechanism == CKM_SP800_108_FEEDBACK_KDF {
            let value = CK_SP800_108_FEEDBACK_KDF_PARAMS {
                prfType: prf,
                ulNumberOfDataParams: data_count,
                pDataParams: data.0,
                ulIVLen: iv_field.1,
                pIV: iv_field.0,
                ulAdditionalDerivedKeys: keys_field.1,
                pAdditionalDerivedKeys: keys_field.0,
            };
            Parameter::of_struct(&value, nested, reader)
        } else {
            let value = CK_SP800_108_KDF_PARAMS {
                prfType: prf,
                ulNumberOfDataParams: data_count,
                pDataParams: data.0,
                ulAdditionalDerivedKeys: keys_field.1,
                pAdditionalDerivedKeys: keys_field.0,
            };
            Parameter::of_struct(&value, nested, reader)
        }
    }

    fn mechanism(&mut self, kind: CK_MECHANISM_TYPE) -> CK_MECHANISM {
        let pointer = match &mut self.bytes {
            Some(bytes) if bytes.is_empty() => ptr::NonNull::<u8>::dangling().as_ptr(),
            Some(bytes) => bytes.as_mut_ptr(),
            None => ptr::null_mut(),
        };
        CK_MECHANISM {
            mechanism: kind,
            pParameter: pointer as *mut _,
            ulParameterLen: self.length,
        }
    }
}

/// The size of `mechanism`'s parameter structure when that structure
/// holds pointers the provider follows.
fn size_with_pointers(mechanism: CK_MECHANISM_TYPE) -> Option<usize> {
    match mechanism {
        CKM_AES_GCM => Some(size_of::<CK_GCM_PARAMS>()),
        CKM_RSA_PKCS_OAEP => Some(size_of::<CK_RSA_PKCS_OAEP_PARAMS>()),
        CKM_ECDH1_DERIVE => Some(size_of::<CK_ECDH1_DERIVE_PARAMS>()),
        CKM_EDDSA => Some(size_of::<CK_EDDSA_PARAMS>()),
        CKM_RSA_AES_KEY_WRAP => Some(size_of::<CK_RSA_AES_KEY_WRAP_PARAMS>()),
        CKM_CONCATENATE_BASE_AND_DATA
        | CKM_CONCATENATE_DATA_AND_BASE
        | CKM_XOR_BASE_AND_DATA
        | CKM_AES_ECB_ENCRYPT_DATA => Some(size_of::<CK_KEY_DERIVATION_STRING_DATA>()),
        CKM_AES_CBC_ENCRYPT_DATA => Some(size_of::<CK_AES_CBC_ENCRYPT_DATA_PARAMS>()),
        CKM_SP800_108_COUNTER_KDF => Some(size_of::<CK_SP800_108_KDF_PARAMS>()),
        CKM_SP800_108_FEEDBACK_KDF => Some(size_of::<CK_SP800_108_FEEDBACK_KDF_PARAMS>()),
        _ => None,
    }
}

/// The template of an additional derived key: a session key with up to
/// four attributes of fuzzed types and typical or fuzzed values. Returns
/// the `CK_ATTRIBUTE` array, its count, and the values it points at.
fn derived_key_template(reader: &mut Reader<'_>) -> (Buffer, CK_ULONG, Vec<Buffer>) {
    let mut values = vec![Buffer::of(&[CK_FALSE])];
    let mut attributes = vec![(CKA_TOKEN, 0)];
    for _ in 0..reader.byte() % 5 {
        let kind = reader.pick(&[
            CKA_CLASS,
            CKA_KEY_TYPE,
            CKA_VALUE_LEN,
            CKA_SENSITIVE,
            CKA_EXTRACTABLE,
            CKA_VALUE,
        ]);
        let value = match reader.byte() % 4 {
            0 => Buffer::read(reader),
            _ => Buffer::of(&typical_value(reader, kind)),
        };
        attributes.push((kind, values.len()));
        values.push(value);
    }
    let raw: Vec<CK_ATTRIBUTE> = attributes
        .iter()
        .map(|&(kind, index)| CK_ATTRIBUTE {
            type_: kind,
            pValue: values[index].pointer() as *mut _,
            ulValueLen: values[index].length(),
        })
        .collect();
    (bytes_of_slice(&raw), raw.len() as CK_ULONG, values)
}

/// A plain C value's bytes, owned.
fn bytes_of<T>(value: &T) -> Buffer {
    bytes_of_slice(std::slice::from_ref(value))
}

/// A plain C array's bytes, owned.
fn bytes_of_slice<T>(values: &[T]) -> Buffer {
    // SAFETY: `values` are plain C structures, `size_of_val` bytes in all.
    let raw = unsafe {
        std::slice::from_raw_parts(values.as_ptr() as *const u8, std::mem::size_of_val(values))
    };
    Buffer::of(raw)
}

const HASHES: &[CK_MECHANISM_TYPE] = &[
    CKM_SHA_1,
    CKM_SHA224,
    CKM_SHA256,
    CKM_SHA384,
    CKM_SHA512,
    CKM_SHA3_256,
    CKM_MD5,
    0x1234,
];
const MGFS: &[CK_RSA_PKCS_MGF_TYPE] = &[
    CKG_MGF1_SHA1,
    CKG_MGF1_SHA224,
    CKG_MGF1_SHA256,
    CKG_MGF1_SHA384,
    CKG_MGF1_SHA512,
    CKG_MGF1_SHA3_256,
    0,
    0x99,
];

/// `value` with a few bytes changed, cut or extended.
fn mutated(value: &[u8], reader: &mut Reader<'_>) -> Vec<u8> {
    let mut value = value.to_vec();
    for _ in 0..reader.byte() % 4 {
        match reader.byte() % 3 {
            0 if !value.is_empty() => {
                let at = usize::from(reader.byte()) % value.len();
                value[at] ^= reader.byte() | 1;
            }
            1 => value.truncate(usize::from(reader.byte())),
            _ => value.push(reader.byte()),
        }
    }
    value
}

/// An output buffer: NULL (a length query) or a real one of a fuzzed size.
struct Output {
    bytes: Option<Vec<u8>>,
    length: CK_ULONG,
}

impl Output {
    fn read(reader: &mut Reader<'_>) -> Output {
        let bytes = match reader.byte() % 4 {
            0 => None,
            1 => Some(vec![0u8; usize::from(reader.byte())]),
            _ => Some(vec![0u8; 1024]),
        };
        Output {
            length: bytes
                .as_ref()
                .map_or_else(|| reader.length(), |b| b.len() as CK_ULONG),
            bytes,
        }
    }
    fn pointer(&mut self) -> *mut u8 {
        match &mut self.bytes {
            Some(bytes) if bytes.is_empty() => ptr::NonNull::dangling().as_ptr(),
            Some(bytes) => bytes.as_mut_ptr(),
            None => ptr::null_mut(),
        }
    }
    /// Checks the length the provider wrote back on a success.
    fn check(&self, what: &str, rv: CK_RV) {
        if rv == CKR_OK {
            if let Some(bytes) = &self.bytes {
                assert!(
                    self.length as usize <= bytes.len(),
                    "{what} claims {} bytes in a buffer of {}",
                    self.length,
                    bytes.len()
                );
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let keys = provider();
    let mut reader = Reader::new(data);
    let kind = match reader.byte() {
        0..=239 => reader.pick(&keys.mechanisms),
        _ => reader.ulong(),
    };
    let mut parameter = Parameter::read(&mut reader, kind);
    let mut mechanism = parameter.mechanism(kind);
    let mechanism_pointer = if reader.byte() == 0 {
        ptr::null_mut()
    } else {
        &mut mechanism as *mut CK_MECHANISM
    };
    let operation = reader.byte() % 10;
    let key_handle = reader.pick(&keys.all());
    let mut input = Buffer::read(&mut reader);
    let mut output = Output::read(&mut reader);
    let session = open_session();
    // SAFETY (every call): pointers are NULL or live for their lengths.
    unsafe {
        let out = output.pointer();
        match operation {
            0 => {
                let rv = encrypt::C_EncryptInit(session, mechanism_pointer, key_handle);
                assert_expected("C_EncryptInit", rv);
                if rv == CKR_OK {
                    let rv = encrypt::C_Encrypt(
                        session,
                        input.pointer(),
                        input.length(),
                        out,
                        &mut output.length,
                    );
                    assert_expected("C_Encrypt", rv);
                    output.check("C_Encrypt", rv);
                }
            }
            1 => {
                let rv = decrypt::C_DecryptInit(session, mechanism_pointer, key_handle);
                assert_expected("C_DecryptInit", rv);
                if rv == CKR_OK {
                    let rv = decrypt::C_Decrypt(
                        session,
                        input.pointer(),
                        input.length(),
                        out,
                        &mut output.length,
                    );
                    assert_expected("C_Decrypt", rv);
                    output.check("C_Decrypt", rv);
                }
            }
            2 => {
                let rv = encrypt::C_EncryptInit(session, mechanism_pointer, key_handle);
                assert_expected("C_EncryptInit", rv);
                if rv == CKR_OK {
                    let rv = encrypt::C_EncryptUpdate(
                        session,
                        input.pointer(),
                        input.length(),
                        out,
                        &mut output.length,
                    );
                    assert_expected("C_EncryptUpdate", rv);
                    output.check("C_EncryptUpdate", rv);
                    let mut last = Output::read(&mut reader);
                    let rv = encrypt::C_EncryptFinal(session, last.pointer(), &mut last.length);
                    assert_expected("C_EncryptFinal", rv);
                    last.check("C_EncryptFinal", rv);
                }
            }
            3 => {
                let rv = decrypt::C_DecryptInit(session, mechanism_pointer, key_handle);
                assert_expected("C_DecryptInit", rv);
                if rv == CKR_OK {
                    let rv = decrypt::C_DecryptUpdate(
                        session,
                        input.pointer(),
                        input.length(),
                        out,
                        &mut output.length,
                    );
                    assert_expected("C_DecryptUpdate", rv);
                    output.check("C_DecryptUpdate", rv);
                    let mut last = Output::read(&mut reader);
                    let rv = decrypt::C_DecryptFinal(session, last.pointer(), &mut last.length);
                    assert_expected("C_DecryptFinal", rv);
                    last.check("C_DecryptFinal", rv);
                }
            }
            4 => {
                let rv = sign::C_SignInit(session, mechanism_pointer, key_handle);
                assert_expected("C_SignInit", rv);
                if rv == CKR_OK {
                    let rv = if reader.byte() % 2 == 0 {
                        sign::C_Sign(
                            session,
                            input.pointer(),
                            input.length(),
                            out,
                            &mut output.length,
                        )
                    } else {
                        let rv = sign::C_SignUpdate(session, input.pointer(), input.length());
                        assert_expected("C_SignUpdate", rv);
                        sign::C_SignFinal(session, out, &mut output.length)
                    };
                    assert_expected("C_Sign", rv);
                    output.check("C_Sign", rv);
                }
            }
            5 => {
                let rv = verify::C_VerifyInit(session, mechanism_pointer, key_handle);
                assert_expected("C_VerifyInit", rv);
                if rv == CKR_OK {
                    let mut signature = Buffer::read(&mut reader);
                    let rv = if reader.byte() % 2 == 0 {
                        verify::C_Verify(
                            session,
                            input.pointer(),
                            input.length(),
                            signature.pointer(),
                            signature.length(),
                        )
                    } else {
                        let rv = verify::C_VerifyUpdate(session, input.pointer(), input.length());
                        assert_expected("C_VerifyUpdate", rv);
                        verify::C_VerifyFinal(session, signature.pointer(), signature.length())
                    };
                    assert_expected("C_Verify", rv);
                    assert_ne!(rv, CKR_OK, "a fuzzed signature verified");
                }
            }
            6 => {
                let rv = digest::C_DigestInit(session, mechanism_pointer);
                assert_expected("C_DigestInit", rv);
                if rv == CKR_OK {
                    let rv = digest::C_Digest(
                        session,
                        input.pointer(),
                        input.length(),
                        out,
                        &mut output.length,
                    );
                    assert_expected("C_Digest", rv);
                    output.check("C_Digest", rv);
                }
            }
            7 => {
                let wrapped = reader.pick(&keys.all());
                let rv = key::C_WrapKey(
                    session,
                    mechanism_pointer,
                    key_handle,
                    wrapped,
                    out,
                    &mut output.length,
                );
                assert_expected("C_WrapKey", rv);
                output.check("C_WrapKey", rv);
            }
            8 => {
                let truth: CK_BBOOL = CK_TRUE;
                let class: CK_OBJECT_CLASS = CKO_SECRET_KEY;
                let key_type: CK_KEY_TYPE = CKK_GENERIC_SECRET;
                let mut template = usage_template(&[CKA_SIGN], &truth);
                template.push(ulong_attribute(CKA_CLASS, &class));
                template.push(ulong_attribute(CKA_KEY_TYPE, &key_type));
                let mut handle = 0;
                let rv = key::C_UnwrapKey(
                    session,
                    mechanism_pointer,
                    key_handle,
                    input.pointer(),
                    input.length(),
                    template.as_mut_ptr(),
                    template.len() as CK_ULONG,
                    &mut handle,
                );
                assert_expected("C_UnwrapKey", rv);
            }
            _ => {
                let truth: CK_BBOOL = CK_TRUE;
                let class: CK_OBJECT_CLASS = CKO_SECRET_KEY;
                let key_type: CK_KEY_TYPE = CKK_GENERIC_SECRET;
                let length: CK_ULONG = 32;
                let mut template = usage_template(&[CKA_SIGN], &truth);
                template.push(ulong_attribute(CKA_CLASS, &class));
                template.push(ulong_attribute(CKA_KEY_TYPE, &key_type));
                template.push(ulong_attribute(CKA_VALUE_LEN, &length));
                let mut handle = 0;
                let rv = key::C_DeriveKey(
                    session,
                    mechanism_pointer,
                    key_handle,
                    template.as_mut_ptr(),
                    template.len() as CK_ULONG,
                    &mut handle,
                );
                assert_expected("C_DeriveKey", rv);
            }
        }
    }
    // Ends every operation and destroys the case's session objects.
    close_session(session);
});
