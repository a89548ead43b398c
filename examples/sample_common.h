/*
 * sample_common.h - what every sample program does the same way: find the
 * library and the PIN, load the library, initialise it, open a R/W session
 * in the Azure Cloud HSM slot and log in as the user, and at the end log
 * out, close the session, finalise and unload.
 *
 * Each function returns the real CK_RV; the ones doing several calls name
 * the call that failed in *step, for the program's own error message.
 * Include it after the POSIX feature macros a program needs (C11, no
 * extensions of its own).
 */
#ifndef SAMPLE_COMMON_H
#define SAMPLE_COMMON_H

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cryptoki.h"

#define SAMPLE_DEFAULT_PIN "cu1:user1234"

/* The library's function list, set by sample_load. */
static CK_FUNCTION_LIST_PTR func_list = NULL;

/* Prints the failed step and its return value; returns the exit status 1. */
static inline int sample_fail(const char *step, CK_RV rv)
{
    fprintf(stderr, "FAILED: %s: CK_RV 0x%08lX\n", step, rv);
    return 1;
}

/* The library: the first argument, else AZCLOUDHSM_PKCS11_LIB (NULL if neither). */
static inline const char *sample_library_path(int argc, char **argv)
{
    return argc > 1 ? argv[1] : getenv("AZCLOUDHSM_PKCS11_LIB");
}

/* The user PIN: AZCLOUDHSM_PIN, else the samples' default. */
static inline const char *sample_pin(void)
{
    const char *pin = getenv("AZCLOUDHSM_PIN");
    return pin != NULL ? pin : SAMPLE_DEFAULT_PIN;
}

/* The library and the PIN of a program whose only argument is the library;
 * prints the usage and returns 0 when there is no library. */
static inline int sample_arguments(int argc, char **argv, const char **lib_path, const char **pin)
{
    *lib_path = sample_library_path(argc, argv);
    *pin = sample_pin();
    if (*lib_path == NULL) {
        fprintf(stderr, "usage: %s <libazcloudhsm_pkcs11.so> (or set AZCLOUDHSM_PKCS11_LIB)\n", argv[0]);
        return 0;
    }
    return 1;
}

/* dlopen the library and set func_list from its C_GetFunctionList. */
static inline CK_RV sample_load(const char *lib_path, void **lib_handle)
{
    *lib_handle = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL);
    if (*lib_handle == NULL) {
        fprintf(stderr, "dlopen(%s): %s\n", lib_path, dlerror());
        return CKR_GENERAL_ERROR;
    }
    CK_C_GetFunctionList get_function_list = (CK_C_GetFunctionList)dlsym(*lib_handle, "C_GetFunctionList");
    if (get_function_list == NULL) {
        fprintf(stderr, "dlsym(C_GetFunctionList): %s\n", dlerror());
        return CKR_GENERAL_ERROR;
    }
    CK_RV rv = get_function_list(&func_list);
    if (rv == CKR_OK && func_list == NULL)
        rv = CKR_GENERAL_ERROR;
    return rv;
}

/* C_OpenSession: a R/W session in the Azure Cloud HSM slot. */
static inline CK_RV sample_open_session(CK_SESSION_HANDLE *session)
{
    return func_list->C_OpenSession(AZCLOUDHSM_SLOT_ID, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, session);
}

/* C_Login as the normal user. */
static inline CK_RV sample_login(CK_SESSION_HANDLE session, const char *pin)
{
    return func_list->C_Login(session, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
}

/* sample_open_session, then sample_login. */
static inline CK_RV sample_open_and_login(const char *pin, CK_SESSION_HANDLE *session, const char **step)
{
    CK_RV rv;
    *step = "C_OpenSession";
    if ((rv = sample_open_session(session)) != CKR_OK)
        return rv;
    *step = "C_Login";
    return sample_login(*session, pin);
}

/* sample_load, C_Initialize(NULL), then sample_open_and_login. */
static inline CK_RV sample_start(const char *lib_path, const char *pin, void **lib_handle,
                                 CK_SESSION_HANDLE *session, const char **step)
{
    CK_RV rv;
    *step = "load the library (C_GetFunctionList)";
    if ((rv = sample_load(lib_path, lib_handle)) != CKR_OK)
        return rv;
    *step = "C_Initialize";
    if ((rv = func_list->C_Initialize(NULL)) != CKR_OK)
        return rv;
    return sample_open_and_login(pin, session, step);
}

/* C_Logout, C_CloseSession, C_Finalize(NULL), then dlclose. */
static inline CK_RV sample_finish(CK_SESSION_HANDLE session, void *lib_handle, const char **step)
{
    CK_RV rv;
    *step = "C_Logout";
    if ((rv = func_list->C_Logout(session)) != CKR_OK)
        return rv;
    *step = "C_CloseSession";
    if ((rv = func_list->C_CloseSession(session)) != CKR_OK)
        return rv;
    *step = "C_Finalize";
    if ((rv = func_list->C_Finalize(NULL)) != CKR_OK)
        return rv;
    dlclose(lib_handle);
    return CKR_OK;
}

#endif /* SAMPLE_COMMON_H */
