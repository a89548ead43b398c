/*
 * certificate_samples.c - the C samples of "PKCS#11 API for certificate
 * storage" (create_cert, get_cert_attribute, find_cert, set_cert_attribute,
 * copy_cert, delete_cert) completed into one program that follows the
 * vendor's flow. It is an acceptance test: it exits 0 only if every step
 * behaves as the reference describes.
 *
 * Build:  cc -std=c11 -Wall -Wextra -Werror -Iinclude examples/certificate_samples.c -o certificate_samples -ldl
 * Run:    ./certificate_samples [path/to/libazcloudhsm_pkcs11.so]
 *         (or set AZCLOUDHSM_PKCS11_LIB; the PIN comes from AZCLOUDHSM_PIN,
 *         default "cu1:user1234")
 *
 * Changes from the reference snippets, each a bug fix: functions return the
 * real CK_RV instead of masking it; the size query passes NULL pValue for every
 * attribute and the second call uses the returned lengths (fixed-size
 * attributes point at variables of their type); every buffer is freed; the
 * find loop always calls C_FindObjectsFinal; results are checked, not assumed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cryptoki.h"
#include "pkcs11t.h"
#include "sample_common.h"

#define CAVIUM_SLOT AZCLOUDHSM_SLOT_ID
#define FAILED CKR_GENERAL_ERROR

static const char NEW_LABEL[] = "This is a new label";
static const CK_BYTE NEW_ID[] = {254};

CK_RV create_cert(CK_SESSION_HANDLE session_rw, CK_OBJECT_HANDLE_PTR cert_handle)
{
    // Dummy certificate data
    CK_BYTE certData[] = { 0x30, 0x82, 0x03, 0x08, 0x30, 0x82, 0x02, 0xD0 }; // Sample DER-encoded cert
    CK_ULONG certSize = sizeof(certData);

    CK_OBJECT_CLASS objClass = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE certType = CKC_X_509;
    CK_BBOOL trueValue = CK_TRUE;
    CK_BYTE id[] = {123};

    // Dummy DER-encoded Subject Name (adjust as needed)
    CK_BYTE subjectData[] = { 0x30, 0x1D, 0x31, 0x1B, 0x30, 0x19, 0x06, 0x03,
                              0x55, 0x04, 0x03, 0x0C, 0x12, 'M', 'y', 'C', 'e',
                              'r', 't', 'i', 'f', 'i', 'c', 'a', 't', 'e', '-', 'B', 'b', 'j' };
    CK_ULONG subjectSize = sizeof(subjectData);

    CK_ATTRIBUTE certTemplate[] = {
        { CKA_CLASS, &objClass, sizeof(objClass) },
        { CKA_CERTIFICATE_TYPE, &certType, sizeof(certType) },
        { CKA_TOKEN, &trueValue, sizeof(trueValue) },
        { CKA_LABEL, "MyCertificate", 13 },
        { CKA_SUBJECT, subjectData, subjectSize },
        { CKA_ID, id, sizeof(id) },
        { CKA_VALUE, certData, certSize }
    };

    CK_ULONG n_attr = sizeof(certTemplate) / sizeof(CK_ATTRIBUTE);

    CK_RV rv = (func_list->C_CreateObject)(session_rw, certTemplate, n_attr, cert_handle);
    if (rv != CKR_OK) {
        printf("C_CreateObject failed: 0x%lX\n", rv);
        return rv;
    }
    printf("The cert handle created is : %lu \n", *cert_handle);
    return CKR_OK;
}

/*
 * Reads CKA_CLASS, CKA_CERTIFICATE_TYPE, CKA_TOKEN, CKA_LABEL and CKA_ID with
 * the two-call size protocol and checks them against the expected values.
 */
CK_RV get_cert_attribute(CK_SESSION_HANDLE session_rw, CK_OBJECT_HANDLE_PTR cert_handle,
                         CK_BBOOL expected_token, const char *expected_label,
                       const CK_BYTE *expected_id, CK_ULONG expected_id_len)
{
    CK_RV rv = 0;

    CK_ULONG cka_class = 0;
    CK_CERTIFICATE_TYPE cka_cert_type = 0;
    CK_BBOOL cka_token = 0;
    char* cka_label = NULL;
    CK_BYTE* cka_id = NULL;

    // Determine size needed for each attribute by calling C_GetAttributeValue with NULL pointers
    // and zero as the length.
    CK_ATTRIBUTE cert_template[] = {
        { CKA_CLASS, NULL, 0 },
        { CKA_CERTIFICATE_TYPE, NULL, 0 },
        { CKA_TOKEN, NULL, 0 },
        { CKA_LABEL, NULL, 0 },
        { CKA_ID, NULL, 0 },
    };

    CK_ULONG n_attr = sizeof(cert_template) / sizeof(CK_ATTRIBUTE);

    rv = (func_list->C_GetAttributeValue)(session_rw, *cert_handle, cert_template, n_attr);
    if (rv != CKR_OK) {
        printf("C_GetAttributeValue (sizes) failed with 0x%lX\n", rv);
        return rv;
    }
    printf("  sizes: class=%lu type=%lu token=%lu label=%lu id=%lu\n",
           cert_template[0].ulValueLen, cert_template[1].ulValueLen, cert_template[2].ulValueLen,
           cert_template[3].ulValueLen, cert_template[4].ulValueLen);

    if (cert_template[0].ulValueLen != sizeof(cka_class) ||
        cert_template[1].ulValueLen != sizeof(cka_cert_type) ||
        cert_template[2].ulValueLen != sizeof(cka_token)) {
        printf("Unexpected size of a fixed-size attribute.\n");
        return FAILED;
    }
    cert_template[0].pValue = &cka_class;
    cert_template[1].pValue = &cka_cert_type;
    cert_template[2].pValue = &cka_token;

    if (cert_template[3].ulValueLen == CK_UNAVAILABLE_INFORMATION) {
        printf("CKA_LABEL size is unavailable.\n");
        return FAILED;
    }
    // One extra byte so the label can be printed as a C string.
    cka_label = (char*)malloc(cert_template[3].ulValueLen + 1);
    if (cka_label == NULL) {
        printf("Memory allocation failed for CKA_LABEL.\n");
        rv = CKR_HOST_MEMORY;
        goto end_test_get_cert_attribute;
    }
    cert_template[3].pValue = cka_label;

    if (cert_template[4].ulValueLen == 0 || cert_template[4].ulValueLen == CK_UNAVAILABLE_INFORMATION) {
        printf("CKA_ID size must be > 0.\n");
        rv = FAILED;
        goto end_test_get_cert_attribute;
    }
    cka_id = (CK_BYTE*)malloc(cert_template[4].ulValueLen);
    if (cka_id == NULL) {
        printf("Memory allocation failed for CKA_ID.\n");
        rv = CKR_HOST_MEMORY;
        goto end_test_get_cert_attribute;
    }
    cert_template[4].pValue = cka_id;

    rv = (func_list->C_GetAttributeValue)(session_rw, *cert_handle, cert_template, n_attr);
    if (rv != CKR_OK) {
        printf("C_GetAttributeValue failed with 0x%lX\n", rv);
        goto end_test_get_cert_attribute;
    }
    cka_label[cert_template[3].ulValueLen] = '\0';
    printf("  class=0x%lX type=0x%lX token=%u label=\"%s\" id[0]=%u (len %lu)\n",
           cka_class, cka_cert_type, cka_token, cka_label, cka_id[0], cert_template[4].ulValueLen);

    if (cka_class != CKO_CERTIFICATE || cka_cert_type != CKC_X_509) {
        printf("Object is not an X.509 certificate.\n");
        rv = FAILED;
    } else if (cka_token != expected_token) {
        printf("CKA_TOKEN is %u, expected %u.\n", cka_token, expected_token);
        rv = FAILED;
    } else if (strlen(expected_label) != cert_template[3].ulValueLen ||
               memcmp(cka_label, expected_label, cert_template[3].ulValueLen) != 0) {
        printf("CKA_LABEL is \"%s\", expected \"%s\".\n", cka_label, expected_label);
        rv = FAILED;
    } else if (expected_id_len != cert_template[4].ulValueLen ||
               memcmp(cka_id, expected_id, expected_id_len) != 0) {
        printf("CKA_ID differs from the expected value.\n");
        rv = FAILED;
    }

end_test_get_cert_attribute:
    free(cka_label);
    free(cka_id);
    return rv;
}

/*
 * Finds certificates by class, type and label. Every handle found must be in
 * the certificate range; when cert_handle is not CK_INVALID_HANDLE it must be
 * among them. The number found is stored in *found_count.
 */
CK_RV find_cert(CK_SESSION_HANDLE session_rw, const char *label, CK_OBJECT_HANDLE cert_handle,
                CK_ULONG *found_count)
{
    CK_RV rv;
    CK_OBJECT_CLASS objClass = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE certType = CKC_X_509;

    CK_ATTRIBUTE certTemplate[] = {
        { CKA_CLASS, &objClass, sizeof(objClass) },
        { CKA_CERTIFICATE_TYPE, &certType, sizeof(certType) },
        { CKA_LABEL, (void *)label, strlen(label) }
    };

    // Step 1: Initialize the search
    rv = (func_list->C_FindObjectsInit)(session_rw, certTemplate, sizeof(certTemplate) / sizeof(CK_ATTRIBUTE));
    if (rv != CKR_OK) {
        printf("C_FindObjectsInit failed: 0x%lX\n", rv);
        return rv;
    }

    // Step 2: Call C_FindObjects until it returns nothing more
    CK_OBJECT_HANDLE_PTR foundObjects = NULL;
    CK_ULONG maxObjects = 50;

    foundObjects = (CK_OBJECT_HANDLE_PTR)malloc(sizeof(CK_OBJECT_HANDLE) * maxObjects);
    if (!foundObjects) {
        printf("Memory allocation failed\n");
        (func_list->C_FindObjectsFinal)(session_rw);
        return CKR_HOST_MEMORY;
    }

    int target_found = 0;
    CK_ULONG total = 0;
    CK_ULONG foundCount = 0;
    do {
        rv = (func_list->C_FindObjects)(session_rw, foundObjects, maxObjects, &foundCount);
        if (rv != CKR_OK) {
            printf("C_FindObjects failed: 0x%lX\n", rv);
            (func_list->C_FindObjectsFinal)(session_rw); // Ensure cleanup
            free(foundObjects);
            return rv;
        }
        for (CK_ULONG i = 0; i < foundCount; i++) {
            printf("  found handle %lu (0x%lX)\n", foundObjects[i], foundObjects[i]);
            if (!AZCLOUDHSM_IS_CERTIFICATE_HANDLE(foundObjects[i])) {
                printf("Handle 0x%lX is outside the certificate range.\n", foundObjects[i]);
                rv = FAILED;
            }
            if (foundObjects[i] == cert_handle)
                target_found = 1;
        }
        total += foundCount;
    } while (foundCount == maxObjects);

    // Step 3: Finalize the search
    CK_RV final_rv = (func_list->C_FindObjectsFinal)(session_rw);
    free(foundObjects);
    if (final_rv != CKR_OK) {
        printf("C_FindObjectsFinal failed: 0x%lX\n", final_rv);
        return final_rv;
    }
    if (rv != CKR_OK)
        return rv;
    if (cert_handle != CK_INVALID_HANDLE && !target_found) {
        printf("Handle %lu was not found.\n", cert_handle);
        return FAILED;
    }
    *found_count = total;
    return CKR_OK;
}

CK_RV set_cert_attribute(CK_SESSION_HANDLE session_rw, CK_OBJECT_HANDLE_PTR cert_handle)
{
    CK_RV rv = CKR_OK;
    CK_BBOOL falseValue = CK_FALSE;
    CK_BYTE subjectData[] = { 0x40, 0x41, 0x42, 0x43, 0x44 };
    CK_BYTE id[] = {254};
    CK_BYTE certData[] = { 0x10, 0x20, 0x30, 0x40, 0x50, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF };

    CK_ATTRIBUTE certTemplateValid1[] = {
        { CKA_TOKEN, &falseValue, sizeof(falseValue) },
        { CKA_LABEL, "This is a new label", strlen("This is a new label") },
        { CKA_SUBJECT, subjectData, sizeof(subjectData) },
        { CKA_ID, id, sizeof(id) },
        { CKA_VALUE, certData, sizeof(certData) }
    };

    CK_ULONG n_attr = sizeof(certTemplateValid1) / sizeof(CK_ATTRIBUTE);
    rv = (func_list->C_SetAttributeValue)(session_rw, *cert_handle, certTemplateValid1, n_attr);
    if (rv != CKR_OK) {
        printf("test_set_cert_attribute failed when updating attribute values: 0x%lX\n", rv);
        return rv;
    }

    return rv;
}

CK_RV copy_cert(CK_SESSION_HANDLE session_rw, CK_OBJECT_HANDLE cert_handle,
                CK_OBJECT_HANDLE_PTR copied_cert_handle)
{
    CK_RV rv = 0;

    rv = (func_list->C_CopyObject)(session_rw, cert_handle, NULL, 0, copied_cert_handle);

    if (rv != CKR_OK) {
        printf("Copying Certificate failed \n");
        return rv;
    }

    return rv;
}

CK_RV delete_cert(CK_SESSION_HANDLE session_rw, CK_OBJECT_HANDLE cert_handle)
{
    CK_RV rv = 0;

    rv = (func_list->C_DestroyObject)(session_rw, cert_handle);

    if (rv != CKR_OK) {
        printf("Deleting Certificate failed \n");
        return rv;
    }

    return rv;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *lib_path, *pin;
    if (!sample_arguments(argc, argv, &lib_path, &pin))
        return 2;

    void *lib_handle = NULL;
    CK_SESSION_HANDLE session_rw = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE cert_handle = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE copied_cert_handle = CK_INVALID_HANDLE;
    CK_ULONG found = 0;
    const CK_BYTE original_id[] = {123};
    CK_RV rv;

    printf("[1] dlopen %s and C_GetFunctionList\n", lib_path);
    if ((rv = sample_load(lib_path, &lib_handle)) != CKR_OK)
        return sample_fail("C_GetFunctionList", rv);
    printf("    function list version %u.%u\n", func_list->version.major, func_list->version.minor);

    printf("[2] C_Initialize(NULL)\n");
    if ((rv = func_list->C_Initialize(NULL)) != CKR_OK)
        return sample_fail("C_Initialize", rv);

    printf("[3] C_OpenSession(slot %lu, CKF_SERIAL_SESSION | CKF_RW_SESSION)\n", (CK_ULONG)CAVIUM_SLOT);
    if ((rv = sample_open_session(&session_rw)) != CKR_OK)
        return sample_fail("C_OpenSession", rv);

    printf("[4] C_Login(CKU_USER)\n");
    if ((rv = sample_login(session_rw, pin)) != CKR_OK)
        return sample_fail("C_Login", rv);

    printf("[5] create_cert\n");
    if ((rv = create_cert(session_rw, &cert_handle)) != CKR_OK)
        return sample_fail("create_cert", rv);
    if (!AZCLOUDHSM_IS_CERTIFICATE_HANDLE(cert_handle))
        return sample_fail("create_cert returned a handle outside 0xFFF00000..0xFFFFFFFE", FAILED);

    printf("[6] get_cert_attribute\n");
    if ((rv = get_cert_attribute(session_rw, &cert_handle, CK_TRUE, "MyCertificate", original_id, sizeof(original_id))) != CKR_OK)
        return sample_fail("get_cert_attribute", rv);

    printf("[7] find_cert \"MyCertificate\"\n");
    if ((rv = find_cert(session_rw, "MyCertificate", cert_handle, &found)) != CKR_OK)
        return sample_fail("find_cert", rv);
    printf("    %lu certificate(s) found\n", found);

    printf("[8] set_cert_attribute\n");
    if ((rv = set_cert_attribute(session_rw, &cert_handle)) != CKR_OK)
        return sample_fail("set_cert_attribute", rv);

    printf("[9] get_cert_attribute after the update\n");
    if ((rv = get_cert_attribute(session_rw, &cert_handle, CK_FALSE, NEW_LABEL, NEW_ID, sizeof(NEW_ID))) != CKR_OK)
        return sample_fail("get_cert_attribute after set", rv);

    printf("[10] copy_cert\n");
    if ((rv = copy_cert(session_rw, cert_handle, &copied_cert_handle)) != CKR_OK)
        return sample_fail("copy_cert", rv);
    printf("    copy handle %lu\n", copied_cert_handle);
    if (copied_cert_handle == cert_handle || !AZCLOUDHSM_IS_CERTIFICATE_HANDLE(copied_cert_handle))
        return sample_fail("copy_cert returned a bad handle", FAILED);
    if ((rv = get_cert_attribute(session_rw, &copied_cert_handle, CK_FALSE, NEW_LABEL, NEW_ID, sizeof(NEW_ID))) != CKR_OK)
        return sample_fail("get_cert_attribute of the copy", rv);

    printf("[11] delete_cert (copy)\n");
    if ((rv = delete_cert(session_rw, copied_cert_handle)) != CKR_OK)
        return sample_fail("delete_cert (copy)", rv);

    printf("[12] delete_cert (original)\n");
    if ((rv = delete_cert(session_rw, cert_handle)) != CKR_OK)
        return sample_fail("delete_cert (original)", rv);

    printf("[13] find_cert finds nothing any more\n");
    if ((rv = find_cert(session_rw, NEW_LABEL, CK_INVALID_HANDLE, &found)) != CKR_OK)
        return sample_fail("find_cert after delete", rv);
    if (found != 0)
        return sample_fail("certificates with the new label remain after delete", FAILED);
    if ((rv = find_cert(session_rw, "MyCertificate", CK_INVALID_HANDLE, &found)) != CKR_OK)
        return sample_fail("find_cert after delete", rv);
    if (found != 0)
        return sample_fail("certificates labelled MyCertificate remain after delete", FAILED);

    printf("[14] C_Logout, C_CloseSession, C_Finalize\n");
    const char *step;
    if ((rv = sample_finish(session_rw, lib_handle, &step)) != CKR_OK)
        return sample_fail(step, rv);

    printf("certificate_samples: all steps passed\n");
    return 0;
}
