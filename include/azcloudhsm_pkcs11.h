/*
 * azcloudhsm_pkcs11.h - constants specific to the azcloudhsm-pkcs11 provider,
 * a drop-in for the Azure Cloud HSM PKCS#11 library. Included by cryptoki.h;
 * may also be included on its own.
 */
#ifndef AZCLOUDHSM_PKCS11_H
#define AZCLOUDHSM_PKCS11_H

#include "pkcs11t.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The slot the provider's token lives in. The vendor samples hard-code it
 * (as CAVIUM_SLOT), so the provider keeps the same number.
 */
#define AZCLOUDHSM_SLOT_ID 1UL

/*
 * X.509 certificate objects, stored as signed JWS blobs named
 * pkcs11_certificate_<handle> (handle in decimal), have handles in this
 * inclusive range; every other object's handle is below it. Token
 * certificate handles are unique across all processes sharing a container.
 */
#define AZCLOUDHSM_FIRST_CERTIFICATE_HANDLE 0xFFF00000UL
#define AZCLOUDHSM_LAST_CERTIFICATE_HANDLE  0xFFFFFFFEUL

/* Nonzero when the object handle h belongs to a certificate object. */
#define AZCLOUDHSM_IS_CERTIFICATE_HANDLE(h) \
    ((CK_ULONG)(h) >= AZCLOUDHSM_FIRST_CERTIFICATE_HANDLE && \
     (CK_ULONG)(h) <= AZCLOUDHSM_LAST_CERTIFICATE_HANDLE)

/* Prefix of the blob (or local file) name holding a certificate object. */
#define AZCLOUDHSM_CERTIFICATE_BLOB_PREFIX "pkcs11_certificate_"

/*
 * PKCS#11 defines no "certificate type invalid" return code. Creating a
 * certificate whose CKA_CERTIFICATE_TYPE is anything other than CKC_X_509
 * (for example CKC_X_509_ATTR_CERT or CKC_WTLS) fails with
 * CKR_ATTRIBUTE_VALUE_INVALID, the code PKCS#11 prescribes for an attribute
 * value the token does not accept. This name exists so code written against
 * the vendor's documentation compiles and compares against the right value.
 */
#ifndef CKR_CERTIFICATE_TYPE_INVALID
#define CKR_CERTIFICATE_TYPE_INVALID CKR_ATTRIBUTE_VALUE_INVALID
#endif

#ifdef __cplusplus
}
#endif

#endif /* AZCLOUDHSM_PKCS11_H */
