#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/seeds/<target>/.

Each seed is a case the target's reader (fuzz/src/lib.rs) turns into a
meaningful call: a certificate that is created, a GCM parameter that
encrypts, a blob that verifies. Run from fuzz/: python3 seeds/make_seeds.py
(needs the `cryptography` module and fuzz/src/blob_signing_key.pem).
"""
import base64
import datetime
import json
import os
import struct

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))

# Indices into ATTRIBUTE_TYPES (fuzz/src/lib.rs).
ATTRIBUTE_TYPES = [
    "CLASS", "TOKEN", "PRIVATE", "LABEL", "APPLICATION", "VALUE", "OBJECT_ID",
    "CERTIFICATE_TYPE", "ISSUER", "SERIAL_NUMBER", "AC_ISSUER", "OWNER",
    "ATTR_TYPES", "TRUSTED", "CERTIFICATE_CATEGORY", "JAVA_MIDP_SECURITY_DOMAIN",
    "URL", "HASH_OF_SUBJECT_PUBLIC_KEY", "HASH_OF_ISSUER_PUBLIC_KEY",
    "NAME_HASH_ALGORITHM", "CHECK_VALUE", "KEY_TYPE", "SUBJECT", "ID",
    "SENSITIVE", "ENCRYPT", "DECRYPT", "WRAP", "UNWRAP", "SIGN", "SIGN_RECOVER",
    "VERIFY", "VERIFY_RECOVER", "DERIVE", "START_DATE", "END_DATE", "MODULUS",
    "MODULUS_BITS", "PUBLIC_EXPONENT", "PRIVATE_EXPONENT", "PRIME_1", "PRIME_2",
    "EXPONENT_1", "EXPONENT_2", "COEFFICIENT", "PUBLIC_KEY_INFO", "VALUE_LEN",
    "EXTRACTABLE", "LOCAL", "NEVER_EXTRACTABLE", "ALWAYS_SENSITIVE",
    "KEY_GEN_MECHANISM", "MODIFIABLE", "COPYABLE", "DESTROYABLE", "EC_PARAMS",
    "EC_POINT", "ALWAYS_AUTHENTICATE", "WRAP_WITH_TRUSTED", "WRAP_TEMPLATE",
    "UNWRAP_TEMPLATE", "ALLOWED_MECHANISMS", "UNIQUE_ID", "VENDOR_DEFINED",
    "VENDOR_DEFINED_1234", "UNKNOWN_7777",
]


def kind(name):
    return ATTRIBUTE_TYPES.index(name)


def typed(name, choice=0):
    """An attribute with a typical value: its type, mode < 128, the pick."""
    return bytes([kind(name), 0, choice])


def raw(name, value):
    """An attribute with raw bytes: its type, mode >= 128, a real buffer."""
    return bytes([kind(name), 200, 1, len(value)]) + value


def template(*attributes):
    return bytes([len(attributes)]) + b"".join(attributes) + b"\x10"


def write(target, name, data):
    directory = os.path.join(HERE, target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def certificate():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "seed")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(42)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER), name.public_bytes()


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def c_abi_template():
    get = b"\x03" + bytes([kind("VALUE"), 2, kind("LABEL"), 0, kind("SENSITIVE"), 3])
    # 0: a token certificate (typical CKA_VALUE and CKA_SUBJECT), read back.
    certificate_template = template(
        typed("CLASS", 0), typed("CERTIFICATE_TYPE", 0), typed("TOKEN", 0),
        bytes([kind("VALUE"), 0, 0]), bytes([kind("SUBJECT"), 0, 0]),
        raw("LABEL", b"seed certificate"),
    )
    write("c_abi_template", "create_token_certificate",
          b"\x00" + certificate_template + get + b"\x01" + raw("LABEL", b"changed") + b"\x10")
    # 1: a session AES key from a value.
    write("c_abi_template", "create_aes_key_from_value", b"\x01" + template(
        typed("CLASS", 1), typed("KEY_TYPE", 0), raw("VALUE", bytes(range(32))),
        typed("SENSITIVE", 1), typed("EXTRACTABLE", 0)) + get)
    # 2: a search by class.
    write("c_abi_template", "find_certificates", b"\x02" + template(typed("CLASS", 0)))
    # 3: AES generation with a length.
    write("c_abi_template", "generate_aes", b"\x03" + template(
        typed("VALUE_LEN", 6), typed("ENCRYPT", 0), typed("SENSITIVE", 1)) + b"\x00" + get)
    # 4: an EC pair on P-256.
    write("c_abi_template", "generate_ec_pair", b"\x04" + template(
        typed("EC_PARAMS", 0), typed("VERIFY", 0)) + b"\x00" + template(
        typed("SIGN", 0), typed("PRIVATE", 0)) + get)
    # 5: unwrap as non-sensitive and extractable.
    write("c_abi_template", "unwrap_non_sensitive", b"\x05" + template(
        typed("CLASS", 1), typed("KEY_TYPE", 0), typed("SENSITIVE", 1),
        typed("EXTRACTABLE", 0)) + get)
    # 6: ECDH into a generic secret.
    write("c_abi_template", "derive_generic_secret", b"\x06" + template(
        typed("CLASS", 1), typed("KEY_TYPE", 1), typed("VALUE_LEN", 6)) + get)
    # 7: the set-up keys' attributes, with small buffers.
    write("c_abi_template", "read_setup_keys", b"\x07\x00\x00\x03" + bytes(
        [kind("VALUE"), 1, 4, kind("MODULUS"), 1, 8, kind("EC_POINT"), 2]))


CKM = {
    "AES_GCM": 0x1087, "AES_CTR": 0x1086, "AES_CBC_PAD": 0x1085, "RSA_PKCS_OAEP": 9,
    "SHA256_RSA_PKCS_PSS": 0x43, "ECDH1_DERIVE": 0x1050, "EDDSA": 0x1057,
    "SHA256_HMAC": 0x251, "SHA256": 0x250, "AES_KEY_WRAP_PAD": 0x210A,
}


def mechanism(name, parameter, operation, key, data=b"0123456789abcdef"):
    """A mechanism given by type (0xF0 then 8 bytes), its parameter, the
    operation, the key (index into Keys::all) and the input."""
    return (b"\xf0" + struct.pack("<Q", CKM[name]) + parameter + b"\x01"
            + bytes([operation, key]) + b"\x01" + bytes([len(data)]) + data + b"\x02")


def buffer(data):
    return b"\x01" + bytes([len(data)]) + data


def mechanism_parameters():
    gcm = b"\x02" + buffer(bytes(12)) + buffer(b"aad") + b"\x00" + b"\x07" + b"\x20"
    write("mechanism_parameters", "aes_gcm_encrypt", mechanism("AES_GCM", gcm, 0, 0))
    write("mechanism_parameters", "aes_gcm_cut_short",
          mechanism("AES_GCM", gcm[:-1] + b"\x05\x07", 1, 0))
    ctr = b"\x02" + bytes(16) + b"\x06" + b"\x20"
    write("mechanism_parameters", "aes_ctr_multi_part", mechanism("AES_CTR", ctr, 2, 0))
    cbc = b"\x02" + bytes(16)
    write("mechanism_parameters", "aes_cbc_pad_decrypt", mechanism("AES_CBC_PAD", cbc, 3, 0))
    oaep = b"\x02" + buffer(b"label") + b"\x02\x02\x01" + b"\x20"
    write("mechanism_parameters", "rsa_oaep_encrypt", mechanism("RSA_PKCS_OAEP", oaep, 0, 2))
    pss = b"\x02\x02\x02\x02" + b"\x20"
    write("mechanism_parameters", "rsa_pss_sign", mechanism("SHA256_RSA_PKCS_PSS", pss, 4, 3))
    ecdh = b"\x02" + buffer(b"") + b"\x01" + b"\x00" + b"\x20"
    write("mechanism_parameters", "ecdh_derive", mechanism("ECDH1_DERIVE", ecdh, 9, 5))
    eddsa = b"\x02" + buffer(b"context") + b"\x01" + b"\x20"
    write("mechanism_parameters", "eddsa_ctx_sign", mechanism("EDDSA", eddsa, 4, 7))
    write("mechanism_parameters", "hmac_verify", mechanism("SHA256_HMAC", b"\x00\x00", 5, 1))
    write("mechanism_parameters", "sha256_digest", mechanism("SHA256", b"\x00\x00", 6, 0))
    write("mechanism_parameters", "aes_wrap_pad", mechanism("AES_KEY_WRAP_PAD", b"\x00\x00", 7, 0))


def blob_jws():
    value, subject = certificate()
    handle = 0xFFF00000
    payload = json.dumps({
        "format": 1,
        "handle": handle,
        "attributes": {
            "CKA_CLASS": 1, "CKA_CERTIFICATE_TYPE": 0, "CKA_TOKEN": True,
            "CKA_PRIVATE": False, "CKA_LABEL": "seed", "CKA_ID": b64(b"\x01"),
            "CKA_SUBJECT": b64(subject), "CKA_VALUE": b64(value),
            "CKA_TRUSTED": False, "CKA_CERTIFICATE_CATEGORY": 0,
        },
    }, separators=(",", ":")).encode()
    with open(os.path.join(HERE, "..", "src", "blob_signing_key.pem"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    header = b'{"alg":"RS512","kid":"fuzz-blob-signing-key"}'
    signing_input = (b64(header) + "." + b64(payload)).encode()
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA512())
    blob = signing_input + b"." + b64(signature).encode()
    write("blob_jws", "signed_blob", b"\x00\x00" + blob)
    write("blob_jws", "signed_payload", b"\x01\x00" + payload)
    write("blob_jws", "payload_for_another_handle", b"\x01\x02" + payload)
    write("blob_jws", "header_and_payload", b"\x02\x00" + bytes([len(header)]) + header + payload)
    write("blob_jws", "base64url", b"\x03\x00" + b64(payload).encode())


def azure_listing_metadata():
    name = b"pkcs11_certificate_4293918720"
    lines = ("format=1\ncka_class=1\ncka_certificate_type=0\ncka_token=true\n"
             "cka_private=false\ncka_label=" + b64(b"seed") + "\ncka_id=" + b64(b"\x01")
             + "\n").encode()
    write("azure_listing_metadata", "certificate",
          bytes([len(name)]) + name + struct.pack("<Q", 0xFFF00001) + lines)
    write("azure_listing_metadata", "leading_zero",
          b"\x1epkcs11_certificate_04293918720" + struct.pack("<Q", 0xFFFFFFFE) + b"format=1\n")


def config_parser():
    with open(os.path.join(HERE, "..", "..", "azcloudhsm_application.cfg.sample"), "rb") as f:
        write("config_parser", "sample", f.read())
    write("config_parser", "local_store",
          b"CERTSTORAGE_URL=file:///var/lib/azcloudhsm/certificates\nSOFT_TOKEN_DIR=/tmp/t\n"
          b"SOFT_KDF_ITERATIONS=100000\nPIN_MAX_FAILURES=3\nLOG_LEVEL=\"debug\"\n")
    write("config_parser", "azure_sas",
          b"CERTSTORAGE_URL=https://account.blob.core.windows.net/certificates\n"
          b"CERTSTORAGE_AUTH=sas\nCERTSTORAGE_SAS=sv=2022&sig=S3CR3T\n"
          b"CERTSTORAGE_TIMEOUT_SECONDS=30\nCERTSTORAGE_RETRIES=3\n")
    write("config_parser", "vendor_device",
          b"DEVICE=pkcs11\nDEVICE_MODULE=/opt/vendor/lib/libvendor.so\nDEVICE_TOKEN_LABEL=hsm\n")
    write("config_parser", "secret_in_a_bad_line", b"LOG_LEVEL=S3CR3T\nS3CR3T\nS3CR3T=1\n")


def token_database_record():
    record = b""
    for kind_value, value in [(0, struct.pack("<Q", 4)), (1, b"\x01"), (3, b"label"),
                              (0x162, b"\x00"), (0x4000_0211, b"\x01" * 16)]:
        record += struct.pack("<QI", kind_value, len(value)) + value
    write("token_database_record", "secret_key", record)
    write("token_database_record", "truncated", record[:-3])


if __name__ == "__main__":
    c_abi_template()
    mechanism_parameters()
    blob_jws()
    azure_listing_metadata()
    config_parser()
    token_database_record()
