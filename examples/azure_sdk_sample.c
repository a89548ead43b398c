/*
 * azure_sdk_sample.c - the Azure Cloud HSM SDK's full certificate-storage
 * flow with a real certificate: load a PEM file with OpenSSL, generate an
 * RSA-2048 key pair, find the private key, store the certificate as a token
 * object whose CKA_ID is the private key's handle in decimal text, read it
 * back byte for byte, find it by CKA_ID, destroy it.
 *
 * Build:  cc -std=c11 -Wall -Wextra -Werror -Iinclude examples/azure_sdk_sample.c -o azure_sdk_sample -ldl -lcrypto
 * Run:    ./azure_sdk_sample [libazcloudhsm_pkcs11.so] [certificate.pem]
 *         (or AZCLOUDHSM_PKCS11_LIB and AZCLOUDHSM_CERT_PEM; the PIN comes
 *         from AZCLOUDHSM_PIN, default "cu1:user1234")
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cryptoki.h"
#include "pkcs11t.h"
#include "sample_common.h"

#define CAVIUM_SLOT AZCLOUDHSM_SLOT_ID
#define KEY_LABEL "sample-key"
#define CERT_LABEL "sample-certificate"

/* DER encodings of the certificate and of its subject name, from a PEM file. */
struct der_certificate {
    unsigned char *value;
    int value_len;
    unsigned char *subject;
    int subject_len;
};

static int load_certificate(const char *pem_path, struct der_certificate *out)
{
    FILE *fp = fopen(pem_path, "r");
    if (fp == NULL) {
        perror(pem_path);
        return 0;
    }
    X509 *cert = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    if (cert == NULL) {
        fprintf(stderr, "PEM_read_X509(%s) failed\n", pem_path);
        return 0;
    }
    out->value = NULL;
    out->subject = NULL;
    out->value_len = i2d_X509(cert, &out->value);
    out->subject_len = i2d_X509_NAME(X509_get_subject_name(cert), &out->subject);
    X509_free(cert);
    if (out->value_len <= 0 || out->subject_len <= 0) {
        fprintf(stderr, "DER encoding of %s failed\n", pem_path);
        return 0;
    }
    return 1;
}

static CK_RV generate_rsa_key_pair(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE *public_key,
                                   CK_OBJECT_HANDLE *private_key)
{
    CK_MECHANISM mechanism = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
    CK_ULONG modulus_bits = 2048;
    CK_BYTE public_exponent[] = { 0x01, 0x00, 0x01 };
    CK_BBOOL yes = CK_TRUE;
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE public_template[] = {
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_LABEL, KEY_LABEL, strlen(KEY_LABEL) },
        { CKA_VERIFY, &yes, sizeof(yes) },
        { CKA_ENCRYPT, &yes, sizeof(yes) },
        { CKA_MODULUS_BITS, &modulus_bits, sizeof(modulus_bits) },
        { CKA_PUBLIC_EXPONENT, public_exponent, sizeof(public_exponent) },
    };
    CK_ATTRIBUTE private_template[] = {
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_PRIVATE, &yes, sizeof(yes) },
        { CKA_SENSITIVE, &yes, sizeof(yes) },
        { CKA_EXTRACTABLE, &no, sizeof(no) },
        { CKA_LABEL, KEY_LABEL, strlen(KEY_LABEL) },
        { CKA_SIGN, &yes, sizeof(yes) },
        { CKA_DECRYPT, &yes, sizeof(yes) },
    };
    return func_list->C_GenerateKeyPair(session, &mechanism,
                                        public_template, sizeof(public_template) / sizeof(CK_ATTRIBUTE),
                                        private_template, sizeof(private_template) / sizeof(CK_ATTRIBUTE),
                                        public_key, private_key);
}

/* Runs one search and stores up to `max` handles; *count gets the number found. */
static CK_RV find_objects(CK_SESSION_HANDLE session, CK_ATTRIBUTE *template, CK_ULONG template_len,
                          CK_OBJECT_HANDLE *found, CK_ULONG max, CK_ULONG *count)
{
    CK_RV rv = func_list->C_FindObjectsInit(session, template, template_len);
    if (rv != CKR_OK)
        return rv;
    rv = func_list->C_FindObjects(session, found, max, count);
    CK_RV final_rv = func_list->C_FindObjectsFinal(session);
    return rv != CKR_OK ? rv : final_rv;
}

static CK_RV find_private_key(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE *private_key)
{
    CK_OBJECT_CLASS key_class = CKO_PRIVATE_KEY;
    CK_KEY_TYPE key_type = CKK_RSA;
    CK_ATTRIBUTE template[] = {
        { CKA_CLASS, &key_class, sizeof(key_class) },
        { CKA_KEY_TYPE, &key_type, sizeof(key_type) },
        { CKA_LABEL, KEY_LABEL, strlen(KEY_LABEL) },
    };
    CK_ULONG count = 0;
    CK_RV rv = find_objects(session, template, sizeof(template) / sizeof(CK_ATTRIBUTE), private_key, 1, &count);
    if (rv == CKR_OK && count != 1)
        rv = CKR_GENERAL_ERROR;
    return rv;
}

static CK_RV create_certificate(CK_SESSION_HANDLE session, const struct der_certificate *der,
                                const char *key_id, CK_OBJECT_HANDLE *cert_handle)
{
    CK_OBJECT_CLASS cert_class = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE cert_type = CKC_X_509;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE template[] = {
        { CKA_CLASS, &cert_class, sizeof(cert_class) },
        { CKA_CERTIFICATE_TYPE, &cert_type, sizeof(cert_type) },
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_LABEL, CERT_LABEL, strlen(CERT_LABEL) },
        { CKA_SUBJECT, der->subject, (CK_ULONG)der->subject_len },
        { CKA_ID, (void *)key_id, strlen(key_id) },
        { CKA_VALUE, der->value, (CK_ULONG)der->value_len },
    };
    return func_list->C_CreateObject(session, template, sizeof(template) / sizeof(CK_ATTRIBUTE), cert_handle);
}

/* Reads CKA_VALUE with the two-call protocol and compares it to the DER. */
static CK_RV check_value(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE cert_handle,
                         const struct der_certificate *der)
{
    CK_ATTRIBUTE attribute = { CKA_VALUE, NULL, 0 };
    CK_RV rv = func_list->C_GetAttributeValue(session, cert_handle, &attribute, 1);
    if (rv != CKR_OK)
        return rv;
    printf("    CKA_VALUE is %lu bytes (DER is %d)\n", attribute.ulValueLen, der->value_len);
    if (attribute.ulValueLen != (CK_ULONG)der->value_len)
        return CKR_GENERAL_ERROR;
    attribute.pValue = malloc(attribute.ulValueLen);
    if (attribute.pValue == NULL)
        return CKR_HOST_MEMORY;
    rv = func_list->C_GetAttributeValue(session, cert_handle, &attribute, 1);
    if (rv == CKR_OK && memcmp(attribute.pValue, der->value, (size_t)der->value_len) != 0) {
        printf("    CKA_VALUE differs from the DER certificate\n");
        rv = CKR_GENERAL_ERROR;
    }
    free(attribute.pValue);
    return rv;
}

static CK_RV find_certificates_by_id(CK_SESSION_HANDLE session, const char *key_id,
                                     CK_OBJECT_HANDLE *found, CK_ULONG max, CK_ULONG *count)
{
    CK_OBJECT_CLASS cert_class = CKO_CERTIFICATE;
    CK_ATTRIBUTE template[] = {
        { CKA_CLASS, &cert_class, sizeof(cert_class) },
        { CKA_ID, (void *)key_id, strlen(key_id) },
    };
    return find_objects(session, template, sizeof(template) / sizeof(CK_ATTRIBUTE), found, max, count);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *lib_path = sample_library_path(argc, argv);
    const char *pem_path = argc > 2 ? argv[2] : getenv("AZCLOUDHSM_CERT_PEM");
    const char *pin = sample_pin();
    if (lib_path == NULL || pem_path == NULL) {
        fprintf(stderr, "usage: %s <libazcloudhsm_pkcs11.so> <certificate.pem>\n"
                        "   (or set AZCLOUDHSM_PKCS11_LIB and AZCLOUDHSM_CERT_PEM)\n", argv[0]);
        return 2;
    }

    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE public_key = CK_INVALID_HANDLE, private_key = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE cert_handle = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE found[8];
    CK_ULONG count = 0;
    struct der_certificate der;
    char key_id[256];
    const char *step;
    CK_RV rv;

    printf("[1] load %s with OpenSSL\n", pem_path);
    if (!load_certificate(pem_path, &der))
        return sample_fail("load certificate", CKR_GENERAL_ERROR);
    printf("    certificate %d bytes, subject %d bytes\n", der.value_len, der.subject_len);

    printf("[2] dlopen %s and C_GetFunctionList\n", lib_path);
    void *lib_handle = NULL;
    if ((rv = sample_load(lib_path, &lib_handle)) != CKR_OK)
        return sample_fail("C_GetFunctionList", rv);

    printf("[3] C_Initialize, C_OpenSession(slot %lu), C_Login(CKU_USER)\n", (CK_ULONG)CAVIUM_SLOT);
    if ((rv = func_list->C_Initialize(NULL)) != CKR_OK)
        return sample_fail("C_Initialize", rv);
    if ((rv = sample_open_and_login(pin, &session, &step)) != CKR_OK)
        return sample_fail(step, rv);

    printf("[4] C_GenerateKeyPair RSA-2048 \"%s\"\n", KEY_LABEL);
    if ((rv = generate_rsa_key_pair(session, &public_key, &private_key)) != CKR_OK)
        return sample_fail("C_GenerateKeyPair", rv);

    printf("[5] find the private key by label\n");
    CK_OBJECT_HANDLE found_private_key = CK_INVALID_HANDLE;
    if ((rv = find_private_key(session, &found_private_key)) != CKR_OK)
        return sample_fail("find private key", rv);
    if (found_private_key != private_key)
        return sample_fail("the private key found is not the one generated", CKR_GENERAL_ERROR);

    memset(key_id, 0, sizeof(key_id));
    snprintf(key_id, sizeof(key_id), "%lu", found_private_key);
    printf("[6] C_CreateObject token certificate, CKA_ID \"%s\"\n", key_id);
    if ((rv = create_certificate(session, &der, key_id, &cert_handle)) != CKR_OK)
        return sample_fail("C_CreateObject", rv);
    printf("    certificate handle %lu\n", cert_handle);
    if (!AZCLOUDHSM_IS_CERTIFICATE_HANDLE(cert_handle))
        return sample_fail("certificate handle outside 0xFFF00000..0xFFFFFFFE", CKR_GENERAL_ERROR);

    printf("[7] read back CKA_VALUE\n");
    if ((rv = check_value(session, cert_handle, &der)) != CKR_OK)
        return sample_fail("CKA_VALUE read back", rv);

    printf("[8] find the certificate by CKA_ID\n");
    if ((rv = find_certificates_by_id(session, key_id, found, 8, &count)) != CKR_OK)
        return sample_fail("find by CKA_ID", rv);
    if (count != 1 || found[0] != cert_handle)
        return sample_fail("find by CKA_ID did not return exactly the new certificate", CKR_GENERAL_ERROR);

    printf("[9] C_DestroyObject certificate, then it is gone\n");
    if ((rv = func_list->C_DestroyObject(session, cert_handle)) != CKR_OK)
        return sample_fail("C_DestroyObject certificate", rv);
    if ((rv = find_certificates_by_id(session, key_id, found, 8, &count)) != CKR_OK)
        return sample_fail("find by CKA_ID after destroy", rv);
    if (count != 0)
        return sample_fail("certificate still found after destroy", CKR_GENERAL_ERROR);

    printf("[10] destroy the key pair, C_Logout, C_CloseSession, C_Finalize\n");
    if ((rv = func_list->C_DestroyObject(session, private_key)) != CKR_OK)
        return sample_fail("C_DestroyObject private key", rv);
    if ((rv = func_list->C_DestroyObject(session, public_key)) != CKR_OK)
        return sample_fail("C_DestroyObject public key", rv);
    if ((rv = sample_finish(session, lib_handle, &step)) != CKR_OK)
        return sample_fail(step, rv);
    OPENSSL_free(der.value);
    OPENSSL_free(der.subject);

    printf("azure_sdk_sample: all steps passed\n");
    return 0;
}
