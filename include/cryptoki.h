/*
 * cryptoki.h - the header C programs include to use the azcloudhsm-pkcs11
 * provider (libazcloudhsm_pkcs11.so), with no other PKCS#11 headers needed.
 *
 *     #include "cryptoki.h"
 *     gcc app.c -I<this directory> -ldl
 *
 * It brings in the PKCS#11 types and constants (pkcs11t.h), the entry points
 * and function lists (pkcs11f.h) and the provider's own constants
 * (azcloudhsm_pkcs11.h). Including pkcs11t.h as well, before or after this
 * file, is harmless: every header has an include guard.
 *
 * ABI: Linux LP64 conventions for PKCS#11 - CK_ULONG is unsigned long,
 * structures use natural alignment (no packing pragmas), entry points use the
 * platform's default C calling convention.
 */
#ifndef AZCLOUDHSM_CRYPTOKI_H
#define AZCLOUDHSM_CRYPTOKI_H

#include "pkcs11t.h"
#include "pkcs11f.h"
#include "azcloudhsm_pkcs11.h"

#endif /* AZCLOUDHSM_CRYPTOKI_H */
