//! What the built `libazcloudhsm_pkcs11.so` exports, read from the file an
//! application loads rather than from the crate's Rust items: its dynamic
//! symbol table must define exactly the PKCS#11 functions (PKCS#11 2.40 §5
//! and the functions PKCS#11 3.0 §5 and 3.2 added) and nothing else, since any other
//! exported symbol (a Rust runtime hook, a bundled OpenSSL or SQLite
//! function) could be bound by a host application or clash with its own
//! copy. The table is read three ways: parsed as ELF here, listed by
//! `nm -D --defined-only`, and resolved with `dlsym`.

mod common;

use std::collections::BTreeSet;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::Path;
use std::process::Command;

/// The 68 functions of PKCS#11 2.40 (§5.4 to §5.15), in the specification's order.
const PKCS11_2_40: [&str; 68] = [
    "C_Initialize",
    "C_Finalize",
    "C_GetInfo",
    "C_GetFunctionList",
    "C_GetSlotList",
    "C_GetSlotInfo",
    "C_GetTokenInfo",
    "C_WaitForSlotEvent",
    "C_GetMechanismList",
    "C_GetMechanismInfo",
    "C_InitToken",
    "C_InitPIN",
    "C_SetPIN",
    "C_OpenSession",
    "C_CloseSession",
    "C_CloseAllSessions",
    "C_GetSessionInfo",
    "C_GetOperationState",
    "C_SetOperationState",
    "C_Login",
    "C_Logout",
    "C_CreateObject",
    "C_CopyObject",
    "C_DestroyObject",
    "C_GetObjectSize",
    "C_GetAttributeValue",
    "C_SetAttributeValue",
    "C_FindObjectsInit",
    "C_FindObjects",
    "C_FindObjectsFinal",
    "C_EncryptInit",
    "C_Encrypt",
    "C_EncryptUpdate",
    "C_EncryptFinal",
    "C_DecryptInit",
    "C_Decrypt",
    "C_DecryptUpdate",
    "C_DecryptFinal",
    "C_DigestInit",
    "C_Digest",
    "C_DigestUpdate",
    "C_DigestKey",
    "C_DigestFinal",
    "C_SignInit",
    "C_Sign",
    "C_SignUpdate",
    "C_SignFinal",
    "C_SignRecoverInit",
    "C_SignRecover",
    "C_VerifyInit",
    "C_Verify",
    "C_VerifyUpdate",
    "C_VerifyFinal",
    "C_VerifyRecoverInit",
    "C_VerifyRecover",
    "C_DigestEncryptUpdate",
    "C_DecryptDigestUpdate",
    "C_SignEncryptUpdate",
    "C_DecryptVerifyUpdate",
    "C_GenerateKey",
    "C_GenerateKeyPair",
    "C_WrapKey",
    "C_UnwrapKey",
    "C_DeriveKey",
    "C_SeedRandom",
    "C_GenerateRandom",
    "C_GetFunctionStatus",
    "C_CancelFunction",
];

/// The 24 functions PKCS#11 3.0 added: interfaces, `C_LoginUser`,
/// `C_SessionCancel` and the message-based functions (§5.4, §5.6, §5.11 to §5.15).
const PKCS11_3_0_ADDED: [&str; 24] = [
    "C_GetInterfaceList",
    "C_GetInterface",
    "C_LoginUser",
    "C_SessionCancel",
    "C_MessageEncryptInit",
    "C_EncryptMessage",
    "C_EncryptMessageBegin",
    "C_EncryptMessageNext",
    "C_MessageEncryptFinal",
    "C_MessageDecryptInit",
    "C_DecryptMessage",
    "C_DecryptMessageBegin",
    "C_DecryptMessageNext",
    "C_MessageDecryptFinal",
    "C_MessageSignInit",
    "C_SignMessage",
    "C_SignMessageBegin",
    "C_SignMessageNext",
    "C_MessageSignFinal",
    "C_MessageVerifyInit",
    "C_VerifyMessage",
    "C_VerifyMessageBegin",
    "C_VerifyMessageNext",
    "C_MessageVerifyFinal",
];

/// The 12 functions PKCS#11 3.2 added: the KEMs, verification with the
/// signature first, session validation flags, asynchronous operations and
/// authenticated wrapping.
const PKCS11_3_2_ADDED: [&str; 12] = [
    "C_EncapsulateKey",
    "C_DecapsulateKey",
    "C_VerifySignatureInit",
    "C_VerifySignature",
    "C_VerifySignatureUpdate",
    "C_VerifySignatureFinal",
    "C_GetSessionValidationFlags",
    "C_AsyncComplete",
    "C_AsyncGetID",
    "C_AsyncJoin",
    "C_WrapKeyAuthenticated",
    "C_UnwrapKeyAuthenticated",
];

/// Every function the library must export: 2.40, 3.0 and 3.2, 104 names.
fn expected_exports() -> BTreeSet<String> {
    let names: BTreeSet<String> = PKCS11_2_40
        .iter()
        .chain(PKCS11_3_0_ADDED.iter())
        .chain(PKCS11_3_2_ADDED.iter())
        .map(|name| name.to_string())
        .collect();
    assert_eq!(
        names.len(),
        PKCS11_2_40.len() + PKCS11_3_0_ADDED.len() + PKCS11_3_2_ADDED.len(),
        "the expected lists repeat a name"
    );
    names
}

/// Fails with the names missing from `actual` and the names it has beyond
/// the PKCS#11 functions.
#[track_caller]
fn assert_exactly_the_pkcs11_functions(source: &str, actual: &BTreeSet<String>) {
    let expected = expected_exports();
    let missing: Vec<&String> = expected.difference(actual).collect();
    let extra: Vec<&String> = actual.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{source}: the library's defined dynamic symbols are not exactly the {} PKCS#11 \
         functions\nmissing: {missing:?}\nexported beyond PKCS#11: {extra:?}",
        expected.len()
    );
}

/// One defined symbol of the ELF dynamic symbol table.
#[derive(Debug)]
struct DynamicSymbol {
    name: String,
    /// `STT_*`: 2 is a function.
    kind: u8,
    /// `STB_*`: 1 is global, 2 weak.
    binding: u8,
}

const SHT_DYNSYM: u32 = 11;
const SHN_UNDEF: u16 = 0;
const STT_FUNC: u8 = 2;
const STB_GLOBAL: u8 = 1;

fn u16_at(bytes: &[u8], offset: usize) -> u16 {
    u16::from_le_bytes(bytes[offset..offset + 2].try_into().expect("2 bytes"))
}
fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(bytes[offset..offset + 4].try_into().expect("4 bytes"))
}
fn u64_at(bytes: &[u8], offset: usize) -> usize {
    let value = u64::from_le_bytes(bytes[offset..offset + 8].try_into().expect("8 bytes"));
    usize::try_from(value).expect("an offset that fits in usize")
}

/// The bytes of `library`, checked to be a little-endian 64-bit ELF file
/// (the only kind read here).
fn read_elf(library: &Path) -> Vec<u8> {
    let elf = std::fs::read(library).unwrap_or_else(|e| panic!("read {}: {e}", library.display()));
    assert_eq!(&elf[..4], b"\x7fELF", "{} is not ELF", library.display());
    assert_eq!(elf[4], 2, "only 64-bit ELF is read here (EI_CLASS)");
    assert_eq!(elf[5], 1, "only little-endian ELF is read here (EI_DATA)");
    elf
}

/// The section headers of an ELF file from [`read_elf`], in index order.
fn section_headers(elf: &[u8]) -> Vec<&[u8]> {
    let table = u64_at(elf, 0x28);
    let size = usize::from(u16_at(elf, 0x3A));
    (0..usize::from(u16_at(elf, 0x3C)))
        .map(|index| &elf[table + index * size..][..size])
        .collect()
}

/// The value of the `DT_FLAGS_1` entry of the `SHT_DYNAMIC` section of a
/// little-endian 64-bit ELF file (the System V gABI, "Dynamic Section"),
/// or 0 when there is none.
fn dynamic_flags_1(library: &Path) -> u64 {
    let elf = read_elf(library);
    let dynamic = *section_headers(&elf)
        .iter()
        .find(|header| u32_at(header, 4) == SHT_DYNAMIC)
        .expect("a .dynamic section");
    elf[u64_at(dynamic, 24)..][..u64_at(dynamic, 32)]
        .chunks_exact(16)
        .find(|entry| u64::from_le_bytes(entry[..8].try_into().expect("8 bytes")) == DT_FLAGS_1)
        .map_or(0, |entry| {
            u64::from_le_bytes(entry[8..].try_into().expect("8 bytes"))
        })
}

const SHT_DYNAMIC: u32 = 6;
const DT_FLAGS_1: u64 = 0x6fff_fffb;
const DF_1_NODELETE: u64 = 0x8;

/// The library is linked `-z nodelete`, so `dlclose` never unmaps it: the
/// bundled OpenSSL keeps per-thread state whose exit handler lives in the
/// library, and a thread that used the provider and ends after the
/// application's last `dlclose` would jump into unmapped code. Before the
/// flag, an ordinary process happened to keep the library mapped (OpenSSL
/// takes a reference to the library it is linked into), but the set-uid
/// one of `tests/token_on_disk.rs::a_set_uid_process_ignores_the_azcloudhsm_environment`
/// did not, and crashed with SIGSEGV when its thread ended.
#[test]
fn the_library_is_never_unmapped_by_dlclose() {
    let flags = dynamic_flags_1(&common::library_path());
    assert_ne!(
        flags & DF_1_NODELETE,
        0,
        "DT_FLAGS_1 is {flags:#x}, without DF_1_NODELETE"
    );
}

/// The defined symbols of the `SHT_DYNSYM` section of a little-endian
/// 64-bit ELF file (the System V gABI, "Sections" and "Symbol Table").
fn defined_dynamic_symbols(library: &Path) -> Vec<DynamicSymbol> {
    let elf = read_elf(library);
    let sections = section_headers(&elf);
    let dynsym = *sections
        .iter()
        .find(|header| u32_at(header, 4) == SHT_DYNSYM)
        .expect("a .dynsym section");
    let (symbols_at, symbols_size, symbol_size) =
        (u64_at(dynsym, 24), u64_at(dynsym, 32), u64_at(dynsym, 56));
    let strings = sections[u32_at(dynsym, 40) as usize];
    let strings = &elf[u64_at(strings, 24)..][..u64_at(strings, 32)];
    assert_eq!(symbol_size, 24, "Elf64_Sym is 24 bytes");
    elf[symbols_at..symbols_at + symbols_size]
        .chunks_exact(symbol_size)
        .filter(|symbol| u16_at(symbol, 6) != SHN_UNDEF)
        .map(|symbol| {
            let name = CStr::from_bytes_until_nul(&strings[u32_at(symbol, 0) as usize..])
                .expect("a NUL-terminated symbol name");
            DynamicSymbol {
                name: name.to_string_lossy().into_owned(),
                kind: symbol[4] & 0xf,
                binding: symbol[4] >> 4,
            }
        })
        .collect()
}

#[test]
fn the_dynamic_symbol_table_defines_exactly_the_pkcs11_functions() {
    let symbols = defined_dynamic_symbols(&common::library_path());
    let names: BTreeSet<String> = symbols.iter().map(|s| s.name.clone()).collect();
    assert_eq!(names.len(), symbols.len(), "a symbol is defined twice");
    assert_exactly_the_pkcs11_functions(".dynsym", &names);
    let not_global_functions: Vec<&DynamicSymbol> = symbols
        .iter()
        .filter(|s| s.kind != STT_FUNC || s.binding != STB_GLOBAL)
        .collect();
    assert!(
        not_global_functions.is_empty(),
        "every export is a global function: {not_global_functions:?}"
    );
}

#[test]
fn nm_lists_exactly_the_pkcs11_functions_as_defined_dynamic_symbols() {
    let library = common::library_path();
    let output = match Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&library)
        .output()
    {
        Ok(output) => output,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("nm (binutils) must run under CI: {e}")
        }
        Err(e) => {
            eprintln!("skipped: cannot run nm (install binutils): {e}");
            return;
        }
    };
    assert!(
        output.status.success(),
        "nm -D --defined-only {}: {}\n{}",
        library.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let listing = String::from_utf8(output.stdout).expect("nm prints UTF-8");
    // "<address> <type> <name>"; type `T` is a global symbol in the text section.
    let lines: Vec<Vec<&str>> = listing
        .lines()
        .map(|line| line.split_whitespace().collect())
        .filter(|fields: &Vec<&str>| !fields.is_empty())
        .collect();
    let names: BTreeSet<String> = lines
        .iter()
        .map(|fields| fields.last().expect("a non-empty line").to_string())
        .collect();
    assert_exactly_the_pkcs11_functions("nm -D --defined-only", &names);
    let not_global_functions: Vec<&Vec<&str>> = lines
        .iter()
        .filter(|fields| !matches!(fields[..], [_, "T", _]))
        .collect();
    assert!(
        not_global_functions.is_empty(),
        "every export is a global function (nm type T): {not_global_functions:?}"
    );
}

extern "C" {
    fn dlopen(filename: *const c_char, flags: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    fn dlerror() -> *mut c_char;
}
const RTLD_NOW: c_int = 2;

/// The reason the last `dl*` call failed.
fn dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string valid until the next dl* call.
    let message = unsafe { dlerror() };
    if message.is_null() {
        "no dlerror message".to_string()
    } else {
        // SAFETY: non-NULL, NUL-terminated (see above), copied before any other dl* call.
        unsafe { CStr::from_ptr(message) }
            .to_string_lossy()
            .into_owned()
    }
}

#[test]
fn every_pkcs11_function_resolves_through_dlsym() {
    let _lock = common::lock();
    let path = CString::new(common::library_path().into_os_string().into_encoded_bytes())
        .expect("a library path without NUL");
    // SAFETY: a NUL-terminated path; loading the provider runs no code that
    // needs arguments. The handle is never closed (a Rust library with thread
    // locals must not be unloaded while threads may still use them).
    let library = unsafe { dlopen(path.as_ptr(), RTLD_NOW) };
    assert!(
        !library.is_null(),
        "dlopen {path:?} with RTLD_NOW: {}",
        dl_error()
    );
    let resolves = |name: &str| {
        let symbol = CString::new(name).expect("a name without NUL");
        // SAFETY: a handle from dlopen and a NUL-terminated name.
        !unsafe { dlsym(library, symbol.as_ptr()) }.is_null()
    };
    let unresolved: Vec<String> = expected_exports()
        .into_iter()
        .filter(|name| !resolves(name))
        .collect();
    assert!(
        unresolved.is_empty(),
        "dlsym found no address for {unresolved:?}"
    );
    assert!(
        !resolves("C_NotAPkcs11Function"),
        "dlsym resolved a name nobody defines, so it proves nothing about the others"
    );
}
