//! Tests of ECDH derivation (with the X9.63 KDFs) and of digests.

use super::mechanisms::Hash;
use super::test_support::*;
use super::wrap::x963_kdf;
use super::{der, digest_init, ecdh_derive, public_attributes_of_private};
use crate::device::{Mechanism, MechanismParameter};
use crate::error::Error;
use crate::object::Attribute;
use cryptoki_sys::*;
use openssl::derive::Deriver;

fn ecdh(kdf: CK_ULONG, shared_data: &[u8], public_data: &[u8]) -> Mechanism {
    Mechanism {
        kind: CKM_ECDH1_DERIVE,
        parameter: MechanismParameter::Ecdh {
            kdf,
            shared_data: shared_data.to_vec(),
            public_data: public_data.to_vec(),
        },
        caller_parameter: None,
    }
}

/// The CKA_EC_POINT of a key, DER-wrapped and raw.
fn points(params: &[u8], index: usize) -> (Vec<u8>, Vec<u8>) {
    let key = if index == 0 {
        ec_private(params)
    } else {
        super::generate_ec(params).unwrap()
    };
    let der_point = public_attributes_of_private(&key)
        .unwrap()
        .get(CKA_EC_POINT)
        .unwrap()
        .to_vec();
    let raw = der::decode_octet_string(&der_point).unwrap().to_vec();
    (der_point, raw)
}

#[test]
fn ecdh_gives_both_sides_the_same_secret_as_openssl() {
    for (params, len) in [(P256, 32), (P384, 48), (P521, 66)] {
        let alice = ec_private(params);
        let bob = super::generate_ec(params).unwrap();
        let bob_point = public_attributes_of_private(&bob)
            .unwrap()
            .get(CKA_EC_POINT)
            .unwrap()
            .to_vec();
        let alice_point = public_attributes_of_private(&alice)
            .unwrap()
            .get(CKA_EC_POINT)
            .unwrap()
            .to_vec();
        let from_alice = ecdh_derive(
            &ecdh(CKD_NULL, &[], &bob_point),
            &loaded_private(alice.clone()),
            0,
        )
        .unwrap();
        let raw_alice_point = der::decode_octet_string(&alice_point).unwrap();
        let from_bob = ecdh_derive(
            &ecdh(CKD_NULL, &[], raw_alice_point),
            &loaded_private(bob.clone()),
            0,
        )
        .unwrap();
        assert_eq!(from_alice.len(), len);
        assert_eq!(from_alice, from_bob);
        let mut deriver = Deriver::new(&alice).unwrap();
        deriver.set_peer(&bob).unwrap();
        assert_eq!(deriver.derive_to_vec().unwrap(), from_alice);
    }
}

#[test]
fn ecdh_value_length_keeps_the_last_bytes_and_refuses_more_than_the_secret() {
    let (der_point, _) = points(P256, 1);
    let key = ec(P256);
    let whole = ecdh_derive(&ecdh(CKD_NULL, &[], &der_point), &key, 0).unwrap();
    assert_eq!(
        ecdh_derive(&ecdh(CKD_NULL, &[], &der_point), &key, 16).unwrap(),
        whole[16..]
    );
    assert_eq!(
        ecdh_derive(&ecdh(CKD_NULL, &[], &der_point), &key, 32).unwrap(),
        whole
    );
    assert_fails!(
        ecdh_derive(&ecdh(CKD_NULL, &[], &der_point), &key, 33),
        Error::KeySizeRange
    );
}

/// A NIST CAVP ECC CDH primitive vector (CAVS 14.1, `KAS_ECC_CDH_PrimitiveTest.txt`,
/// SP 800-56A §5.7.1.2): the IUT's private key and public point, the CAVS
/// peer's public point and the shared secret `x`.
struct CdhVector {
    params: &'static [u8],
    d_iut: &'static str,
    q_iut: (&'static str, &'static str),
    q_cavs: (&'static str, &'static str),
    z_iut: &'static str,
}

/// COUNT = 0 of [P-256], [P-384] and [P-521]. The file writes P-521's
/// coordinates and scalar with two extra leading zero bytes (68 bytes); they
/// are dropped here, as SEC 1 encodes field elements in 66.
const CDH_VECTORS: [CdhVector; 3] = [
    CdhVector {
        params: P256,
        d_iut: "7d7dc5f71eb29ddaf80d6214632eeae03d9058af1fb6d22ed80badb62bc1a534",
        q_iut: (
            "ead218590119e8876b29146ff89ca61770c4edbbf97d38ce385ed281d8a6b230",
            "28af61281fd35e2fa7002523acc85a429cb06ee6648325389f59edfce1405141",
        ),
        q_cavs: (
            "700c48f77f56584c5cc632ca65640db91b6bacce3a4df6b42ce7cc838833d287",
            "db71e509e3fd9b060ddb20ba5c51dcc5948d46fbf640dfe0441782cab85fa4ac",
        ),
        z_iut: "46fc62106420ff012e54a434fbdd2d25ccc5852060561e68040dd7778997bd7b",
    },
    CdhVector {
        params: P384,
        d_iut: "3cc3122a68f0d95027ad38c067916ba0eb8c38894d22e1b15618b6818a661774\
                ad463b205da88cf699ab4d43c9cf98a1",
        q_iut: (
            "9803807f2f6d2fd966cdd0290bd410c0190352fbec7ff6247de1302df86f25d3\
             4fe4a97bef60cff548355c015dbb3e5f",
            "ba26ca69ec2f5b5d9dad20cc9da711383a9dbe34ea3fa5a2af75b46502629ad5\
             4dd8b7d73a8abb06a3a3be47d650cc99",
        ),
        q_cavs: (
            "a7c76b970c3b5fe8b05d2838ae04ab47697b9eaf52e764592efda27fe7513272\
             734466b400091adbf2d68c58e0c50066",
            "ac68f19f2e1cb879aed43a9969b91a0839c4c38a49749b661efedf243451915e\
             d0905a32b060992b468c64766fc8437a",
        ),
        z_iut: "5f9d29dc5e31a163060356213669c8ce132e22f57c9a04f40ba7fcead493b457\
                e5621e766c40a2e3d4d6a04b25e533f1",
    },
    CdhVector {
        params: P521,
        d_iut: "017eecc07ab4b329068fba65e56a1f8890aa935e57134ae0ffcce802735151f4\
                eac6564f6ee9974c5e6887a1fefee5743ae2241bfeb95d5ce31ddcb6f9edb4d6fc47",
        q_iut: (
            "00602f9d0cf9e526b29e22381c203c48a886c2b0673033366314f1ffbcba240b\
             a42f4ef38a76174635f91e6b4ed34275eb01c8467d05ca80315bf1a7bbd945f550a5",
            "01b7c85f26f5d4b2d7355cf6b02117659943762b6d1db5ab4f1dbc44ce7b2946\
             eb6c7de342962893fd387d1b73d7a8672d1f236961170b7eb3579953ee5cdc88cd2d",
        ),
        q_cavs: (
            "00685a48e86c79f0f0875f7bc18d25eb5fc8c0b07e5da4f4370f3a9490340854\
             334b1e1b87fa395464c60626124a4e70d0f785601d37c09870ebf176666877a2046d",
            "01ba52c56fc8776d9e8f5db4f0cc27636d0b741bbe05400697942e80b739884a\
             83bde99e0f6716939e632bc8986fa18dccd443a348b6c3e522497955a4f3c302f676",
        ),
        z_iut: "005fc70477c3e63bc3954bd0df3ea0d1f41ee21746ed95fc5e1fdf90930d5e13\
                6672d72cc770742d1711c3c3a4c334a0ad9759436a4d3c5bf6e74b9578fac148c831",
    },
];

/// An uncompressed SEC 1 point, as a peer sends it.
fn uncompressed(x: &str, y: &str) -> Vec<u8> {
    let mut point = vec![0x04];
    point.extend(hex(x));
    point.extend(hex(y));
    point
}

/// The private key of a vector, imported as `C_CreateObject` would.
fn cdh_private_key(vector: &CdhVector) -> openssl::pkey::PKey<openssl::pkey::Private> {
    super::import_private(
        CKK_EC,
        &[
            Attribute::new(CKA_EC_PARAMS, vector.params.to_vec()),
            Attribute::new(CKA_VALUE, hex(vector.d_iut)),
        ],
    )
    .unwrap()
}

#[test]
fn ecdh_matches_the_nist_cavp_ecc_cdh_primitive_vectors() {
    for vector in &CDH_VECTORS {
        let key = cdh_private_key(vector);
        let public_point = public_attributes_of_private(&key)
            .unwrap()
            .get(CKA_EC_POINT)
            .unwrap()
            .to_vec();
        assert_eq!(
            der::decode_octet_string(&public_point).unwrap(),
            uncompressed(vector.q_iut.0, vector.q_iut.1),
            "QIUT"
        );
        let peer = uncompressed(vector.q_cavs.0, vector.q_cavs.1);
        let z = ecdh_derive(&ecdh(CKD_NULL, &[], &peer), &loaded_private(key), 0).unwrap();
        assert_eq!(z, hex(vector.z_iut), "ZIUT");
    }
}

#[test]
fn x963_kdf_matches_the_nist_cavp_ansx963_vectors() {
    // NIST CAVP `ansx963_2001.rsp` (SP 800-135 component tests), [SHA-256],
    // [shared secret length = 192]: COUNT = 0 of [SharedInfo length = 0]
    // [key data length = 128], one block; and COUNT = 0 of
    // [SharedInfo length = 128] [key data length = 1024], four blocks.
    let cases = [
        (
            "96c05619d56c328ab95fe84b18264b08725b85e33fd34f08",
            "",
            "443024c3dae66b95e6f5670601558f71",
        ),
        (
            "22518b10e70f2a3f243810ae3254139efbee04aa57c7af7d",
            "75eef81aa3041e33b80971203d2c0c52",
            "c498af77161cc59f2962b9a713e2b215152d139766ce34a776df11866a69bf2e\
             52a13d9c7c6fc878c50c5ea0bc7b00e0da2447cfd874f6cf92f30d0097111485\
             500c90c3af8b487872d04685d14c8d1dc8d7fa08beb0ce0ababc11f0bd496269\
             142d43525a78e5bc79a17f59676a5706dc54d54d4d1f0bd7e386128ec26afc21",
        ),
    ];
    let sha256 = Hash::from_mechanism(CKM_SHA256).unwrap();
    for (z, shared_info, key_data) in cases {
        let expected = hex(key_data);
        assert_eq!(
            x963_kdf(sha256, &hex(z), &hex(shared_info), expected.len()).unwrap(),
            expected
        );
    }
}

#[test]
fn ecdh_with_the_x963_kdfs_derives_the_known_bytes() {
    // Z is the P-256 COUNT = 0 ZIUT above; each expected output was computed
    // outside this crate (`openssl kdf -keylen 100 -kdfopt digest:SHA256
    // -kdfopt hexkey:<ZIUT> -kdfopt hexinfo:696e666f X963KDF`, and Python
    // `cryptography`'s X963KDF gives the same bytes).
    let vector = &CDH_VECTORS[0];
    let key = loaded_private(cdh_private_key(vector));
    let peer = uncompressed(vector.q_cavs.0, vector.q_cavs.1);
    for (kdf, hash_len, expected) in [
        (
            CKD_SHA1_KDF,
            20,
            "5a7e2abfac9f6662ac88bb6022419eeb1eea2c7a2b912b7e7634e56c7b1e3342\
             5afff836f95e30af9fbe09cd44ccdaea3d20ecf1835e86f3d4b0d91b03217086\
             3cb2a5b85bfb4eb4b92e00b5475806ed43714aa9a9eda61d081dbb01dd6c1ba6\
             9d435680",
        ),
        (
            CKD_SHA224_KDF,
            28,
            "5e9ff427b1fc7863a2e76ea2081f258cf17027fa4753eb32b8c0f8228bbbeef4\
             81bbab4e26a02b5f9dc6616031ebc1c513e496794eb5277e7cb457d81e854e5b\
             299ea3e6d7f5819d071acca23d7f718c6ff51452c42e07d60b936b2ff330ad17\
             e372f6ca",
        ),
        (
            CKD_SHA256_KDF,
            32,
            "f87806b6d3d9be93f74348b49c85c2d3272f04ed3cffd0c93500bd0e16a09d0a\
             590c5fd6c74554f752348b5999a8f76ff7255c4313619bbc39f31c4d833e9f27\
             4d3213384c4b496041ffa44a7dabd2cb098af954e6f2ec17faad8037709ccc91\
             28b87702",
        ),
        (
            CKD_SHA384_KDF,
            48,
            "c877f720e9b482f7ef0c5458670d82cbe2fab864b313f6a9c809f5d79a779a3f\
             867830eeb67893e962232d7acf0cd0782cbb438a31156a9e05b3cdd44c996ff8\
             9f2c02129d562c7ae52aac73914b5d755896ae1b6c9e3fe407dcb931f3bdef88\
             de4245e9",
        ),
        (
            CKD_SHA512_KDF,
            64,
            "04164434f4bee40a7879920275118276cf9c079ef24b10d6bcfba35b59714d3c\
             f3a742854fd156f644ea40ff0eef4d2b122c99f5b5e80c78d3e020ce6559e631\
             d9069c26b7ca30c6cc4058adc3dc6bc9d4344ac5ae170e1f3f69e8ac3007b33c\
             ac60a8c3",
        ),
    ] {
        let expected = hex(expected);
        assert_eq!(expected.len(), 100);
        let derived = ecdh_derive(&ecdh(kdf, b"info", &peer), &key, 100).unwrap();
        assert_eq!(derived, expected, "KDF {kdf}, 100 bytes");
        let default = ecdh_derive(&ecdh(kdf, b"info", &peer), &key, 0).unwrap();
        assert_eq!(default, expected[..hash_len], "KDF {kdf}, default length");
    }
}

#[test]
fn ecdh_with_bad_parameters_is_refused() {
    let (der_point, raw) = points(P256, 1);
    let (p384_point, _) = points(P384, 0);
    let mut off_curve = raw.clone();
    off_curve[5] ^= 1;
    for mechanism in [
        Mechanism::new(CKM_ECDH1_DERIVE),
        ecdh(CKD_NULL, b"shared", &der_point),
        ecdh(CKD_SHA1_KDF_ASN1, &[], &der_point),
        ecdh(CKD_SHA256_KDF_SP800, &[], &der_point),
        ecdh(CKD_NULL, &[], &off_curve),
        ecdh(CKD_NULL, &[], &p384_point),
        ecdh(CKD_NULL, &[], &[]),
    ] {
        assert_fails!(
            ecdh_derive(&mechanism, &ec(P256), 0),
            Error::MechanismParamInvalid(_),
            "{mechanism:?}"
        );
    }
}

#[test]
fn ecdh_needs_an_ec_private_key() {
    let (der_point, _) = points(P256, 1);
    let mechanism = ecdh(CKD_NULL, &[], &der_point);
    assert_fails!(
        ecdh_derive(&mechanism, &rsa(), 0),
        Error::KeyTypeInconsistent
    );
    assert_fails!(
        ecdh_derive(&mechanism, &loaded_public(&ec_private(P256)), 0),
        Error::KeyTypeInconsistent
    );
    assert_fails!(
        ecdh_derive(&Mechanism::new(CKM_ECDH1_COFACTOR_DERIVE), &ec(P256), 0),
        Error::MechanismInvalid(_)
    );
}

#[test]
fn digests_match_the_fips_180_abc_vectors() {
    let vectors = [
        (CKM_SHA_1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (CKM_SHA224, "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"),
        (CKM_SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (CKM_SHA384, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"),
        (
            CKM_SHA512,
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
    ];
    for (kind, expected) in vectors {
        let mut digest = digest_init(&Mechanism::new(kind)).unwrap();
        digest.update(b"a").unwrap();
        digest.update(b"bc").unwrap();
        assert_eq!(digest.finish().unwrap(), hex(expected));
    }
}

#[test]
fn digest_mechanisms_outside_sha1_sha2_and_sha3_are_invalid() {
    for kind in [CKM_MD5, CKM_RIPEMD160, CKM_SHA512_224, CKM_SHA256_HMAC] {
        assert!(
            matches!(digest_init(&Mechanism::new(kind)), Err(Error::MechanismInvalid(k)) if k == kind)
        );
    }
}
