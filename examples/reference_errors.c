/*
 * reference_errors.c - the error codes the reference and the PKCS#11
 * specification promise for certificate objects:
 *
 *   - C_CopyObject of a certificate with a non-empty template is refused
 *     (the reference: "does not support modifying attributes during the copy");
 *   - C_CreateObject without CKA_VALUE -> CKR_TEMPLATE_INCOMPLETE;
 *   - CKA_CERTIFICATE_TYPE CKC_X_509_ATTR_CERT -> CKR_CERTIFICATE_TYPE_INVALID
 *     (= CKR_ATTRIBUTE_VALUE_INVALID, see azcloudhsm_pkcs11.h);
 *   - CKA_SIGN in a certificate template -> CKR_ATTRIBUTE_TYPE_INVALID, and
 *     reading CKA_SIGN of a certificate -> CKR_ATTRIBUTE_TYPE_INVALID with
 *     ulValueLen = CK_UNAVAILABLE_INFORMATION.
 *
 * Build:  cc -std=c11 -Wall -Wextra -Werror -Iinclude examples/reference_errors.c -o reference_errors -ldl
 * Run:    ./reference_errors [libazcloudhsm_pkcs11.so]   (or AZCLOUDHSM_PKCS11_LIB;
 *         PIN from AZCLOUDHSM_PIN, default "cu1:user1234")
 */
#include <stdio.h>
#include <string.h>

#include "cryptoki.h"
#include "pkcs11t.h"
#include "sample_common.h"

#define LABEL "reference-errors"

static int failures = 0;

static void expect(const char *what, CK_RV got, CK_RV wanted)
{
    if (got == wanted) {
        printf("    ok: %s -> 0x%lX\n", what, got);
    } else {
        printf("    WRONG: %s -> 0x%lX, expected 0x%lX\n", what, got, wanted);
        failures++;
    }
}

/* Creates a certificate from the dummy values of the reference's create_cert,
 * leaving out CKA_VALUE when with_value is 0 and adding `extra` if given. */
static CK_RV create(CK_SESSION_HANDLE session, CK_CERTIFICATE_TYPE cert_type, int with_value,
                    CK_ATTRIBUTE *extra, CK_OBJECT_HANDLE *handle)
{
    static CK_BYTE cert_data[] = { 0x30, 0x82, 0x03, 0x08, 0x30, 0x82, 0x02, 0xD0 };
    static CK_BYTE subject[] = { 0x30, 0x0F, 0x31, 0x0D, 0x30, 0x0B, 0x06, 0x03,
                                 0x55, 0x04, 0x03, 0x0C, 0x04, 'T', 'e', 's', 't' };
    CK_OBJECT_CLASS cert_class = CKO_CERTIFICATE;
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE template[8] = {
        { CKA_CLASS, &cert_class, sizeof(cert_class) },
        { CKA_CERTIFICATE_TYPE, &cert_type, sizeof(cert_type) },
        { CKA_TOKEN, &no, sizeof(no) },
        { CKA_LABEL, LABEL, strlen(LABEL) },
        { CKA_SUBJECT, subject, sizeof(subject) },
    };
    CK_ULONG count = 5;
    if (with_value)
        template[count++] = (CK_ATTRIBUTE){ CKA_VALUE, cert_data, sizeof(cert_data) };
    if (extra != NULL)
        template[count++] = *extra;
    *handle = CK_INVALID_HANDLE;
    return func_list->C_CreateObject(session, template, count, handle);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *lib_path, *pin;
    if (!sample_arguments(argc, argv, &lib_path, &pin))
        return 2;

    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE certificate = CK_INVALID_HANDLE, other = CK_INVALID_HANDLE;
    CK_BBOOL yes = CK_TRUE;
    void *lib_handle = NULL;
    const char *step;
    CK_RV rv;

    printf("[1] dlopen, C_GetFunctionList, C_Initialize, C_OpenSession, C_Login\n");
    if ((rv = sample_start(lib_path, pin, &lib_handle, &session, &step)) != CKR_OK)
        return sample_fail(step, rv);

    printf("[2] a valid certificate to work on\n");
    if ((rv = create(session, CKC_X_509, 1, NULL, &certificate)) != CKR_OK)
        return sample_fail("C_CreateObject of a valid certificate", rv);

    printf("[3] C_CopyObject with a non-empty template\n");
    CK_ATTRIBUTE copy_template[] = { { CKA_LABEL, "copy", 4 } };
    rv = func_list->C_CopyObject(session, certificate, copy_template, 1, &other);
    if (rv == CKR_OK) {
        printf("    WRONG: copy with a template was accepted (handle %lu)\n", other);
        func_list->C_DestroyObject(session, other);
        failures++;
    } else {
        printf("    ok: refused with 0x%lX\n", rv);
    }

    printf("[4] C_CreateObject without CKA_VALUE\n");
    rv = create(session, CKC_X_509, 0, NULL, &other);
    expect("create without CKA_VALUE", rv, CKR_TEMPLATE_INCOMPLETE);
    if (rv == CKR_OK)
        func_list->C_DestroyObject(session, other);

    printf("[5] C_CreateObject with CKC_X_509_ATTR_CERT\n");
    rv = create(session, CKC_X_509_ATTR_CERT, 1, NULL, &other);
    expect("create with CKC_X_509_ATTR_CERT", rv, CKR_CERTIFICATE_TYPE_INVALID);
    if (rv == CKR_OK)
        func_list->C_DestroyObject(session, other);

    printf("[6] CKA_SIGN on a certificate\n");
    CK_ATTRIBUTE sign = { CKA_SIGN, &yes, sizeof(yes) };
    rv = create(session, CKC_X_509, 1, &sign, &other);
    expect("create with CKA_SIGN", rv, CKR_ATTRIBUTE_TYPE_INVALID);
    if (rv == CKR_OK)
        func_list->C_DestroyObject(session, other);
    CK_BBOOL value = 0;
    CK_ATTRIBUTE read = { CKA_SIGN, &value, sizeof(value) };
    rv = func_list->C_GetAttributeValue(session, certificate, &read, 1);
    expect("C_GetAttributeValue(CKA_SIGN)", rv, CKR_ATTRIBUTE_TYPE_INVALID);
    if (read.ulValueLen != CK_UNAVAILABLE_INFORMATION) {
        printf("    WRONG: ulValueLen is %lu, expected CK_UNAVAILABLE_INFORMATION\n", read.ulValueLen);
        failures++;
    }
    rv = func_list->C_SetAttributeValue(session, certificate, &sign, 1);
    if (rv == CKR_OK) {
        printf("    WRONG: C_SetAttributeValue(CKA_SIGN) was accepted\n");
        failures++;
    } else {
        printf("    ok: C_SetAttributeValue(CKA_SIGN) refused with 0x%lX\n", rv);
    }

    printf("[7] clean up\n");
    if ((rv = func_list->C_DestroyObject(session, certificate)) != CKR_OK)
        return sample_fail("C_DestroyObject", rv);
    if ((rv = sample_finish(session, lib_handle, &step)) != CKR_OK)
        return sample_fail(step, rv);

    if (failures != 0) {
        fprintf(stderr, "FAILED: %d check(s) returned the wrong code\n", failures);
        return 1;
    }
    printf("reference_errors: all checks passed\n");
    return 0;
}
