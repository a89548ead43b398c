use super::*;
use openssl::rsa::Padding;

/// An RSA-2048 key made for these tests.
const KEY_PEM: &[u8] = include_bytes!("testdata/rsa2048_implicit_rejection.pem");
/// Decryptions of ciphertexts under that key by OpenSSL 3.5.5 (implicit
/// rejection on by default), one per line: name, ciphertext, message (`-`
/// for an empty one). Made by a program that calls `RSA_private_decrypt`
/// with `RSA_PKCS1_PADDING` on well-formed, badly padded and short
/// ciphertexts (see the first line for the version).
const VECTORS: &str = include_str!("testdata/rsa2048_implicit_rejection.txt");

fn key() -> PKey<Private> {
    PKey::private_key_from_pem(KEY_PEM).unwrap()
}

fn hex(text: &str) -> Vec<u8> {
    if text == "-" {
        return Vec::new();
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// The raw RSA decryption, as the device computes it before decoding.
fn raw_decrypt(key: &PKey<Private>, ciphertext: &[u8]) -> Vec<u8> {
    let rsa = key.rsa().unwrap();
    let mut em = vec![0u8; rsa.size() as usize];
    let len = rsa
        .private_decrypt(ciphertext, &mut em, Padding::NONE)
        .unwrap();
    em.truncate(len);
    em
}

fn decrypt(key: &PKey<Private>, ciphertext: &[u8]) -> Vec<u8> {
    decode_with_key(key, ciphertext, &raw_decrypt(key, ciphertext))
        .unwrap()
        .to_vec()
}

#[test]
fn every_decryption_matches_openssl_3_5_with_implicit_rejection() {
    let key = key();
    let mut checked = 0;
    for line in VECTORS.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.split(' ').collect();
        let [name, ciphertext, message] = fields.as_slice() else {
            panic!("bad line {line}");
        };
        assert_eq!(decrypt(&key, &hex(ciphertext)), hex(message), "{name}");
        checked += 1;
    }
    assert!(checked >= 10, "{checked} vectors");
    assert!(
        VECTORS.starts_with("# OpenSSL 3."),
        "the vectors name their source"
    );
}

#[test]
fn a_bad_padding_gives_the_same_key_dependent_message_every_time() {
    let key = key();
    let rsa = key.rsa().unwrap();
    let k = rsa.size() as usize;
    let mut em = vec![0x5Au8; k];
    em[0] = 0;
    em[1] = 1;
    let mut ciphertext = vec![0u8; k];
    rsa.public_encrypt(&em, &mut ciphertext, Padding::NONE)
        .unwrap();
    let first = decrypt(&key, &ciphertext);
    assert_eq!(decrypt(&key, &ciphertext), first, "deterministic");
    // Another key's exponent, the same raw block: another message.
    let other = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let other_d = other.rsa().unwrap().d().to_vec_padded(k as i32).unwrap();
    assert_ne!(decode(&other_d, &ciphertext, &em).unwrap().to_vec(), first);
    // Another ciphertext, another message.
    let mut changed = ciphertext.clone();
    changed[k - 1] ^= 1;
    if raw_decrypt(&key, &changed)[..2] != [0, 2] {
        assert_ne!(decrypt(&key, &changed), first);
    }
}

#[test]
fn a_well_formed_block_gives_its_message() {
    let key = key();
    let rsa = key.rsa().unwrap();
    let mut ciphertext = vec![0u8; rsa.size() as usize];
    let len = rsa
        .public_encrypt(b"the message", &mut ciphertext, Padding::PKCS1)
        .unwrap();
    assert_eq!(decrypt(&key, &ciphertext[..len]), b"the message");
}

#[test]
fn the_masks_are_all_ones_or_all_zeros() {
    assert_eq!(is_zero(0), u32::MAX);
    for byte in 1..=255u8 {
        assert_eq!(is_zero(byte), 0, "{byte}");
    }
    assert_eq!(equals(2, 2), u32::MAX);
    assert_eq!(equals(2, 3), 0);
    assert_eq!(below(9, 10), u32::MAX);
    assert_eq!(below(10, 10), 0);
    assert_eq!(at_least(10, 10), u32::MAX);
    assert_eq!(at_least(9, 10), 0);
    assert_eq!(select(u32::MAX, 7, 9), 7);
    assert_eq!(select(0, 7, 9), 9);
    assert_eq!(select_byte(u32::MAX, 7, 9), 7);
    assert_eq!(select_byte(0, 7, 9), 9);
}

#[test]
fn the_prepared_hmac_matches_openssls() {
    let key = [0x0bu8; 32];
    let mut mac = HmacSha256::new(&key).start();
    mac.update(b"Hi There");
    let ours = mac.finish();
    let pkey = PKey::hmac(&key).unwrap();
    let mut signer =
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &pkey).unwrap();
    signer.update(b"Hi There").unwrap();
    assert_eq!(ours.to_vec(), signer.sign_to_vec().unwrap());
}
