//! Key material at rest: a copy of the token directory without a PIN
//! reveals no key.

use super::*;

/// Every byte of every file in the token directory (database, WAL, shared memory).
fn directory_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        all.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// A token RSA private key imported from `rsa`, with CKA_ID "rest".
fn rsa_import_template(
    rsa: &openssl::rsa::Rsa<openssl::pkey::Private>,
) -> Vec<crate::object::Attribute> {
    vec![
        ulong(CKA_CLASS, CKO_PRIVATE_KEY),
        ulong(CKA_KEY_TYPE, CKK_RSA),
        boolean(CKA_TOKEN, true),
        bytes(CKA_ID, b"rest"),
        bytes(CKA_MODULUS, &rsa.n().to_vec()),
        bytes(CKA_PUBLIC_EXPONENT, &rsa.e().to_vec()),
        bytes(CKA_PRIVATE_EXPONENT, &rsa.d().to_vec()),
        bytes(CKA_PRIME_1, &rsa.p().unwrap().to_vec()),
        bytes(CKA_PRIME_2, &rsa.q().unwrap().to_vec()),
        bytes(CKA_EXPONENT_1, &rsa.dmp1().unwrap().to_vec()),
        bytes(CKA_EXPONENT_2, &rsa.dmq1().unwrap().to_vec()),
        bytes(CKA_COEFFICIENT, &rsa.iqmp().unwrap().to_vec()),
    ]
}

#[test]
fn secret_values_and_private_exponents_never_reach_the_disk_in_clear() {
    let (dir, device) = logged_in();
    let aes_value: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    create(
        &device,
        &aes_template(&aes_value, &[boolean(CKA_SENSITIVE, false)]),
    );
    let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
    create(&device, &rsa_import_template(&rsa));
    drop(device);
    let stored = directory_bytes(dir.path());
    // The public modulus is stored in clear: finding it proves the search works.
    assert!(contains(&stored, &rsa.n().to_vec()[..32]));
    assert!(
        !contains(&stored, &aes_value),
        "AES key value found in the token directory"
    );
    assert!(
        !contains(&stored, &rsa.d().to_vec()[..32]),
        "private exponent found in the token directory"
    );
    assert!(
        !contains(&stored, &rsa.p().unwrap().to_vec()[..32]),
        "prime found in the token directory"
    );
}

#[test]
fn a_copy_of_the_directory_opened_without_a_pin_reveals_no_key() {
    let (dir, device) = logged_in();
    let handle = create_readable_aes(&device, &[9u8; 16]);
    drop(device);
    let copy = TempDir::new().unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, copy.path().join(path.file_name().unwrap())).unwrap();
    }
    let thief = open(copy.path());
    // Even a provider that wrongly claimed a login gets nothing: the key is sealed.
    let result = thief.get_attributes(&user_rw(), handle, &[CKA_VALUE]);
    assert!(
        matches!(result, Err(crate::error::Error::UserNotLoggedIn)),
        "{result:?}"
    );
}
