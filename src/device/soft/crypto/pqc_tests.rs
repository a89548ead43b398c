//! ML-DSA and ML-KEM against the NIST ACVP vectors (tests/data/acvp).
