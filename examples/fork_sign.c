/*
 * fork_sign.c - signing before and after fork().
 *
 * PKCS#11 (2.40 §6.7.6.1, 3.0 §5.4) says a child process must call
 * C_Initialize again before using the library; the provider must then work
 * in the child and must keep working in the parent. The parent generates an
 * EC P-256 token key pair and signs with CKM_ECDSA_SHA256; the child
 * re-initialises (CKR_OK is required: CKR_CRYPTOKI_ALREADY_INITIALIZED would
 * mean the provider carried the parent's state across fork), logs in, finds
 * the keys by label, verifies the parent's signature, signs and verifies its
 * own. The parent checks the child's exit status, then signs again.
 *
 * Build:  cc -std=c11 -Wall -Wextra -Werror -Iinclude examples/fork_sign.c -o fork_sign -ldl
 * Run:    ./fork_sign [libazcloudhsm_pkcs11.so]   (or AZCLOUDHSM_PKCS11_LIB;
 *         PIN from AZCLOUDHSM_PIN, default "cu1:user1234")
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cryptoki.h"
#include "sample_common.h"

#define KEY_LABEL "fork-sign-key"

static const char *who = "parent";

/* DER OBJECT IDENTIFIER 1.2.840.10045.3.1.7 (prime256v1 / P-256). */
static CK_BYTE P256_PARAMS[] = { 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07 };
static CK_BYTE MESSAGE[] = "message signed on both sides of fork()";

static int fail(const char *step, CK_RV rv)
{
    fprintf(stderr, "FAILED (%s, pid %ld): %s: CK_RV 0x%08lX\n", who, (long)getpid(), step, rv);
    return 1;
}

static CK_RV generate_ec_key_pair(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE *public_key,
                                  CK_OBJECT_HANDLE *private_key)
{
    CK_MECHANISM mechanism = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE public_template[] = {
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_LABEL, KEY_LABEL, strlen(KEY_LABEL) },
        { CKA_VERIFY, &yes, sizeof(yes) },
        { CKA_EC_PARAMS, P256_PARAMS, sizeof(P256_PARAMS) },
    };
    CK_ATTRIBUTE private_template[] = {
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_PRIVATE, &yes, sizeof(yes) },
        { CKA_SENSITIVE, &yes, sizeof(yes) },
        { CKA_LABEL, KEY_LABEL, strlen(KEY_LABEL) },
        { CKA_SIGN, &yes, sizeof(yes) },
    };
    return func_list->C_GenerateKeyPair(session, &mechanism,
                                        public_template, sizeof(public_template) / sizeof(CK_ATTRIBUTE),
                                        private_template, sizeof(private_template) / sizeof(CK_ATTRIBUTE),
                                        public_key, private_key);
}

static CK_RV find_key(CK_SESSION_HANDLE session, CK_OBJECT_CLASS key_class, CK_OBJECT_HANDLE *key)
{
    CK_ATTRIBUTE template[] = {
        { CKA_CLASS, &key_class, sizeof(key_class) },
        { CKA_LABEL, KEY_LABEL, strlen(KEY_LABEL) },
    };
    CK_ULONG count = 0;
    CK_RV rv = func_list->C_FindObjectsInit(session, template, sizeof(template) / sizeof(CK_ATTRIBUTE));
    if (rv != CKR_OK)
        return rv;
    rv = func_list->C_FindObjects(session, key, 1, &count);
    CK_RV final_rv = func_list->C_FindObjectsFinal(session);
    if (rv == CKR_OK)
        rv = final_rv;
    if (rv == CKR_OK && count != 1)
        rv = CKR_KEY_HANDLE_INVALID;
    return rv;
}

static CK_RV sign(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE private_key, CK_BYTE *signature, CK_ULONG *length)
{
    CK_MECHANISM mechanism = { CKM_ECDSA_SHA256, NULL, 0 };
    CK_RV rv = func_list->C_SignInit(session, &mechanism, private_key);
    if (rv != CKR_OK)
        return rv;
    rv = func_list->C_Sign(session, MESSAGE, sizeof(MESSAGE) - 1, signature, length);
    if (rv == CKR_OK && *length != 64)
        rv = CKR_SIGNATURE_LEN_RANGE;
    return rv;
}

static CK_RV verify(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE public_key, CK_BYTE *signature, CK_ULONG length)
{
    CK_MECHANISM mechanism = { CKM_ECDSA_SHA256, NULL, 0 };
    CK_RV rv = func_list->C_VerifyInit(session, &mechanism, public_key);
    if (rv != CKR_OK)
        return rv;
    return func_list->C_Verify(session, MESSAGE, sizeof(MESSAGE) - 1, signature, length);
}

/* Everything the child does; returns the process exit status. */
static int child(const char *pin, CK_BYTE *parent_signature, CK_ULONG parent_signature_length)
{
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE public_key, private_key;
    CK_BYTE signature[256];
    CK_ULONG length = sizeof(signature);
    const char *step;
    CK_RV rv;

    who = "child";
    printf("[child] C_Initialize(NULL) again, as PKCS#11 requires after fork()\n");
    rv = func_list->C_Initialize(NULL);
    if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
        return fail("C_Initialize in the child returned CKR_CRYPTOKI_ALREADY_INITIALIZED "
                    "(provider bug: state survived fork)", rv);
    if (rv != CKR_OK)
        return fail("C_Initialize", rv);
    printf("[child] open session and log in\n");
    if ((rv = sample_open_and_login(pin, &session, &step)) != CKR_OK)
        return fail(step, rv);
    printf("[child] find the key pair by label\n");
    if ((rv = find_key(session, CKO_PRIVATE_KEY, &private_key)) != CKR_OK)
        return fail("find private key", rv);
    if ((rv = find_key(session, CKO_PUBLIC_KEY, &public_key)) != CKR_OK)
        return fail("find public key", rv);
    printf("[child] verify the parent's signature\n");
    if ((rv = verify(session, public_key, parent_signature, parent_signature_length)) != CKR_OK)
        return fail("C_Verify of the parent's signature", rv);
    printf("[child] sign and verify\n");
    if ((rv = sign(session, private_key, signature, &length)) != CKR_OK)
        return fail("C_Sign", rv);
    if ((rv = verify(session, public_key, signature, length)) != CKR_OK)
        return fail("C_Verify", rv);
    if ((rv = func_list->C_CloseSession(session)) != CKR_OK)
        return fail("C_CloseSession", rv);
    if ((rv = func_list->C_Finalize(NULL)) != CKR_OK)
        return fail("C_Finalize", rv);
    printf("[child] done\n");
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *lib_path, *pin;
    if (!sample_arguments(argc, argv, &lib_path, &pin))
        return 2;

    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE public_key = CK_INVALID_HANDLE, private_key = CK_INVALID_HANDLE;
    CK_BYTE signature[256];
    CK_ULONG length = sizeof(signature);
    void *lib_handle = NULL;
    const char *step;
    CK_RV rv;

    printf("[parent] dlopen %s, C_GetFunctionList, C_Initialize\n", lib_path);
    if ((rv = sample_start(lib_path, pin, &lib_handle, &session, &step)) != CKR_OK)
        return fail(step, rv);

    printf("[parent] generate an EC P-256 key pair \"%s\"\n", KEY_LABEL);
    if ((rv = generate_ec_key_pair(session, &public_key, &private_key)) != CKR_OK)
        return fail("C_GenerateKeyPair", rv);
    printf("[parent] sign and verify with CKM_ECDSA_SHA256\n");
    if ((rv = sign(session, private_key, signature, &length)) != CKR_OK)
        return fail("C_Sign", rv);
    if ((rv = verify(session, public_key, signature, length)) != CKR_OK)
        return fail("C_Verify", rv);

    printf("[parent] fork()\n");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return fail("fork", CKR_GENERAL_ERROR);
    }
    if (pid == 0) {
        int status = child(pin, signature, length);
        fflush(NULL);
        _exit(status);
    }

    int status = 0;
    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        return fail("waitpid", CKR_GENERAL_ERROR);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFSIGNALED(status))
            fprintf(stderr, "child killed by signal %d\n", WTERMSIG(status));
        return fail("child process failed", CKR_GENERAL_ERROR);
    }
    printf("[parent] child exited with status 0\n");

    printf("[parent] sign and verify again after fork()\n");
    length = sizeof(signature);
    if ((rv = sign(session, private_key, signature, &length)) != CKR_OK)
        return fail("C_Sign after fork", rv);
    if ((rv = verify(session, public_key, signature, length)) != CKR_OK)
        return fail("C_Verify after fork", rv);

    printf("[parent] destroy the key pair, C_Logout, C_CloseSession, C_Finalize\n");
    if ((rv = func_list->C_DestroyObject(session, private_key)) != CKR_OK)
        return fail("C_DestroyObject private key", rv);
    if ((rv = func_list->C_DestroyObject(session, public_key)) != CKR_OK)
        return fail("C_DestroyObject public key", rv);
    if ((rv = sample_finish(session, lib_handle, &step)) != CKR_OK)
        return fail(step, rv);

    printf("fork_sign: all steps passed\n");
    return 0;
}
