/*
 * vendor_shim.c - a PKCS#11 module for tests of DEVICE=pkcs11: it forwards
 * every call to another module (the file SHIM_TARGET names, SoftHSM2 in the
 * tests) and changes two things a test can observe:
 *
 *  - every object handle the target returns is shown plus SHIM_HANDLE_OFFSET
 *    (and taken back minus it), so a vendor can be made to hand out
 *    handles in the provider's certificate range 0xFFF00000..0xFFFFFFFE;
 *  - every attribute type C_GetAttributeValue is asked for is appended to
 *    the file SHIM_LOG, one "0x<type>" line each, so a test can see what
 *    the provider asked the vendor for.
 *
 * Built by tests/vendor_device.rs with cc -shared -fPIC.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include "cryptoki.h"

static CK_FUNCTION_LIST *target;
static CK_FUNCTION_LIST shim;
static CK_ULONG offset;

#define IN(h) ((h) == CK_INVALID_HANDLE ? (h) : (h) - offset)
#define OUT(h) ((h) == CK_INVALID_HANDLE ? (h) : (h) + offset)

static void record_types(CK_ATTRIBUTE *template, CK_ULONG count)
{
    const char *path = getenv("SHIM_LOG");
    if (path == NULL || template == NULL)
        return;
    FILE *log = fopen(path, "a");
    if (log == NULL)
        return;
    for (CK_ULONG i = 0; i < count; i++)
        fprintf(log, "0x%lx\n", template[i].type);
    fclose(log);
}

static CK_RV shim_CreateObject(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *h)
{
    CK_RV rv = target->C_CreateObject(s, t, n, h);
    if (rv == CKR_OK) *h = OUT(*h);
    return rv;
}

static CK_RV shim_CopyObject(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *h)
{
    CK_RV rv = target->C_CopyObject(s, IN(o), t, n, h);
    if (rv == CKR_OK) *h = OUT(*h);
    return rv;
}

static CK_RV shim_DestroyObject(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o)
{
    return target->C_DestroyObject(s, IN(o));
}

static CK_RV shim_GetObjectSize(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ULONG *size)
{
    return target->C_GetObjectSize(s, IN(o), size);
}

static CK_RV shim_GetAttributeValue(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE *t, CK_ULONG n)
{
    record_types(t, n);
    return target->C_GetAttributeValue(s, IN(o), t, n);
}

static CK_RV shim_SetAttributeValue(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE *t, CK_ULONG n)
{
    return target->C_SetAttributeValue(s, IN(o), t, n);
}

static CK_RV shim_FindObjects(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *found, CK_ULONG max, CK_ULONG *count)
{
    CK_RV rv = target->C_FindObjects(s, found, max, count);
    if (rv == CKR_OK)
        for (CK_ULONG i = 0; i < *count; i++)
            found[i] = OUT(found[i]);
    return rv;
}

#define KEYED_INIT(name)                                                              \
    static CK_RV shim_##name(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE k) \
    {                                                                                 \
        return target->C_##name(s, m, IN(k));                                         \
    }
KEYED_INIT(EncryptInit)
KEYED_INIT(DecryptInit)
KEYED_INIT(SignInit)
KEYED_INIT(SignRecoverInit)
KEYED_INIT(VerifyInit)
KEYED_INIT(VerifyRecoverInit)

static CK_RV shim_DigestKey(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k)
{
    return target->C_DigestKey(s, IN(k));
}

static CK_RV shim_GenerateKey(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *h)
{
    CK_RV rv = target->C_GenerateKey(s, m, t, n, h);
    if (rv == CKR_OK) *h = OUT(*h);
    return rv;
}

static CK_RV shim_GenerateKeyPair(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_ATTRIBUTE *pt, CK_ULONG pn,
                                  CK_ATTRIBUTE *vt, CK_ULONG vn, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    CK_RV rv = target->C_GenerateKeyPair(s, m, pt, pn, vt, vn, pub, priv);
    if (rv == CKR_OK) {
        *pub = OUT(*pub);
        *priv = OUT(*priv);
    }
    return rv;
}

static CK_RV shim_WrapKey(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE w, CK_OBJECT_HANDLE k,
                          CK_BYTE *out, CK_ULONG *len)
{
    return target->C_WrapKey(s, m, IN(w), IN(k), out, len);
}

static CK_RV shim_UnwrapKey(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE u, CK_BYTE *wrapped,
                            CK_ULONG wlen, CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *h)
{
    CK_RV rv = target->C_UnwrapKey(s, m, IN(u), wrapped, wlen, t, n, h);
    if (rv == CKR_OK) *h = OUT(*h);
    return rv;
}

static CK_RV shim_DeriveKey(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE b, CK_ATTRIBUTE *t,
                            CK_ULONG n, CK_OBJECT_HANDLE *h)
{
    CK_RV rv = target->C_DeriveKey(s, m, IN(b), t, n, h);
    if (rv == CKR_OK) *h = OUT(*h);
    return rv;
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST **list)
{
    if (list == NULL)
        return CKR_ARGUMENTS_BAD;
    if (target == NULL) {
        const char *path = getenv("SHIM_TARGET");
        const char *shift = getenv("SHIM_HANDLE_OFFSET");
        void *library = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
        CK_C_GetFunctionList get = library ? (CK_C_GetFunctionList)dlsym(library, "C_GetFunctionList") : NULL;
        if (get == NULL || get(&target) != CKR_OK || target == NULL)
            return CKR_GENERAL_ERROR;
        offset = shift ? strtoul(shift, NULL, 0) : 0;
        shim = *target;
        shim.C_GetFunctionList = C_GetFunctionList;
        shim.C_CreateObject = shim_CreateObject;
        shim.C_CopyObject = shim_CopyObject;
        shim.C_DestroyObject = shim_DestroyObject;
        shim.C_GetObjectSize = shim_GetObjectSize;
        shim.C_GetAttributeValue = shim_GetAttributeValue;
        shim.C_SetAttributeValue = shim_SetAttributeValue;
        shim.C_FindObjects = shim_FindObjects;
        shim.C_EncryptInit = shim_EncryptInit;
        shim.C_DecryptInit = shim_DecryptInit;
        shim.C_SignInit = shim_SignInit;
        shim.C_SignRecoverInit = shim_SignRecoverInit;
        shim.C_VerifyInit = shim_VerifyInit;
        shim.C_VerifyRecoverInit = shim_VerifyRecoverInit;
        shim.C_DigestKey = shim_DigestKey;
        shim.C_GenerateKey = shim_GenerateKey;
        shim.C_GenerateKeyPair = shim_GenerateKeyPair;
        shim.C_WrapKey = shim_WrapKey;
        shim.C_UnwrapKey = shim_UnwrapKey;
        shim.C_DeriveKey = shim_DeriveKey;
    }
    *list = &shim;
    return CKR_OK;
}
