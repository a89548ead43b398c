#!/usr/bin/env python3
"""Generate include/pkcs11t.h, include/pkcs11f.h and tests/c/abi_layout.c.

The input is the x86_64 Linux bindings of the `cryptoki-sys` crate, which
record the PKCS#11 ABI as facts: constant values, typedefs, struct layouts
(with bindgen's own size/alignment/offset assertions) and the order of the
function lists. This script turns those facts into C declarations of our own
wording, so a C program can be compiled against the provider with no other
PKCS#11 headers installed.

Usage (from the repository root):

    python3 include/tools/gen_pkcs11_headers.py [path/to/x86_64-unknown-linux-gnu.rs]

With no argument the newest cryptoki-sys 0.5.x in ~/.cargo/registry is used.
The output is committed; rerun only when upgrading cryptoki-sys.
"""

import glob
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

RAW_TYPES = {
    "::std::os::raw::c_void": "void",
    "::std::os::raw::c_uchar": "unsigned char",
    "::std::os::raw::c_char": "char",
    "::std::os::raw::c_ulong": "unsigned long",
    "::std::os::raw::c_long": "long",
    "::std::os::raw::c_uint": "unsigned int",
    "::std::os::raw::c_int": "int",
    "u8": "unsigned char",
}

# Rust renamed these C field names because they are Rust keywords.
FIELD_RENAMES = {"type_": "type"}

# bindgen artefacts with no meaning for C callers.
SKIP = {"specifiedParams", "specifiedParams_PTR", "specifiedParams_PTR_PTR"}

# Function lists whose members get C prototypes: the ones this provider
# exports (PKCS#11 2.40, the 3.0 additions and the 3.2 additions).
PROTOTYPE_SOURCE = "CK_FUNCTION_LIST_3_2"
FUNCTION_LISTS = ("CK_FUNCTION_LIST", "CK_FUNCTION_LIST_3_0", "CK_FUNCTION_LIST_3_2")

# Parameter names for the prototypes (the bindings only say arg1, arg2, ...).
S = "hSession"
PARAMETER_NAMES = {
    "C_Initialize": "pInitArgs", "C_Finalize": "pReserved", "C_GetInfo": "pInfo",
    "C_GetFunctionList": "ppFunctionList", "C_GetSlotList": "tokenPresent pSlotList pulCount",
    "C_GetSlotInfo": "slotID pInfo", "C_GetTokenInfo": "slotID pInfo",
    "C_GetMechanismList": "slotID pMechanismList pulCount", "C_GetMechanismInfo": "slotID type pInfo",
    "C_InitToken": "slotID pPin ulPinLen pLabel", "C_InitPIN": S + " pPin ulPinLen",
    "C_SetPIN": S + " pOldPin ulOldLen pNewPin ulNewLen",
    "C_OpenSession": "slotID flags pApplication Notify phSession", "C_CloseSession": S,
    "C_CloseAllSessions": "slotID", "C_GetSessionInfo": S + " pInfo",
    "C_GetOperationState": S + " pOperationState pulOperationStateLen",
    "C_SetOperationState": S + " pOperationState ulOperationStateLen hEncryptionKey hAuthenticationKey",
    "C_Login": S + " userType pPin ulPinLen", "C_Logout": S,
    "C_CreateObject": S + " pTemplate ulCount phObject",
    "C_CopyObject": S + " hObject pTemplate ulCount phNewObject", "C_DestroyObject": S + " hObject",
    "C_GetObjectSize": S + " hObject pulSize", "C_GetAttributeValue": S + " hObject pTemplate ulCount",
    "C_SetAttributeValue": S + " hObject pTemplate ulCount", "C_FindObjectsInit": S + " pTemplate ulCount",
    "C_FindObjects": S + " phObject ulMaxObjectCount pulObjectCount", "C_FindObjectsFinal": S,
    "C_EncryptInit": S + " pMechanism hKey", "C_Encrypt": S + " pData ulDataLen pEncryptedData pulEncryptedDataLen",
    "C_EncryptUpdate": S + " pPart ulPartLen pEncryptedPart pulEncryptedPartLen",
    "C_EncryptFinal": S + " pLastEncryptedPart pulLastEncryptedPartLen",
    "C_DecryptInit": S + " pMechanism hKey", "C_Decrypt": S + " pEncryptedData ulEncryptedDataLen pData pulDataLen",
    "C_DecryptUpdate": S + " pEncryptedPart ulEncryptedPartLen pPart pulPartLen",
    "C_DecryptFinal": S + " pLastPart pulLastPartLen",
    "C_DigestInit": S + " pMechanism", "C_Digest": S + " pData ulDataLen pDigest pulDigestLen",
    "C_DigestUpdate": S + " pPart ulPartLen", "C_DigestKey": S + " hKey", "C_DigestFinal": S + " pDigest pulDigestLen",
    "C_SignInit": S + " pMechanism hKey", "C_Sign": S + " pData ulDataLen pSignature pulSignatureLen",
    "C_SignUpdate": S + " pPart ulPartLen", "C_SignFinal": S + " pSignature pulSignatureLen",
    "C_SignRecoverInit": S + " pMechanism hKey", "C_SignRecover": S + " pData ulDataLen pSignature pulSignatureLen",
    "C_VerifyInit": S + " pMechanism hKey", "C_Verify": S + " pData ulDataLen pSignature ulSignatureLen",
    "C_VerifyUpdate": S + " pPart ulPartLen", "C_VerifyFinal": S + " pSignature ulSignatureLen",
    "C_VerifyRecoverInit": S + " pMechanism hKey", "C_VerifyRecover": S + " pSignature ulSignatureLen pData pulDataLen",
    "C_DigestEncryptUpdate": S + " pPart ulPartLen pEncryptedPart pulEncryptedPartLen",
    "C_DecryptDigestUpdate": S + " pEncryptedPart ulEncryptedPartLen pPart pulPartLen",
    "C_SignEncryptUpdate": S + " pPart ulPartLen pEncryptedPart pulEncryptedPartLen",
    "C_DecryptVerifyUpdate": S + " pEncryptedPart ulEncryptedPartLen pPart pulPartLen",
    "C_GenerateKey": S + " pMechanism pTemplate ulCount phKey",
    "C_GenerateKeyPair": S + " pMechanism pPublicKeyTemplate ulPublicKeyAttributeCount"
                         " pPrivateKeyTemplate ulPrivateKeyAttributeCount phPublicKey phPrivateKey",
    "C_WrapKey": S + " pMechanism hWrappingKey hKey pWrappedKey pulWrappedKeyLen",
    "C_UnwrapKey": S + " pMechanism hUnwrappingKey pWrappedKey ulWrappedKeyLen pTemplate ulAttributeCount phKey",
    "C_DeriveKey": S + " pMechanism hBaseKey pTemplate ulAttributeCount phKey",
    "C_SeedRandom": S + " pSeed ulSeedLen", "C_GenerateRandom": S + " pRandomData ulRandomLen",
    "C_GetFunctionStatus": S, "C_CancelFunction": S, "C_WaitForSlotEvent": "flags pSlot pReserved",
    "C_GetInterfaceList": "pInterfacesList pulCount",
    "C_GetInterface": "pInterfaceName pVersion ppInterface flags",
    "C_LoginUser": S + " userType pPin ulPinLen pUsername ulUsernameLen", "C_SessionCancel": S + " flags",
    "C_MessageEncryptInit": S + " pMechanism hKey",
    "C_EncryptMessage": S + " pParameter ulParameterLen pAssociatedData ulAssociatedDataLen"
                        " pPlaintext ulPlaintextLen pCiphertext pulCiphertextLen",
    "C_EncryptMessageBegin": S + " pParameter ulParameterLen pAssociatedData ulAssociatedDataLen",
    "C_EncryptMessageNext": S + " pParameter ulParameterLen pPlaintextPart ulPlaintextPartLen"
                            " pCiphertextPart pulCiphertextPartLen flags",
    "C_MessageEncryptFinal": S, "C_MessageDecryptInit": S + " pMechanism hKey",
    "C_DecryptMessage": S + " pParameter ulParameterLen pAssociatedData ulAssociatedDataLen"
                        " pCiphertext ulCiphertextLen pPlaintext pulPlaintextLen",
    "C_DecryptMessageBegin": S + " pParameter ulParameterLen pAssociatedData ulAssociatedDataLen",
    "C_DecryptMessageNext": S + " pParameter ulParameterLen pCiphertextPart ulCiphertextPartLen"
                            " pPlaintextPart pulPlaintextPartLen flags",
    "C_MessageDecryptFinal": S, "C_MessageSignInit": S + " pMechanism hKey",
    "C_SignMessage": S + " pParameter ulParameterLen pData ulDataLen pSignature pulSignatureLen",
    "C_SignMessageBegin": S + " pParameter ulParameterLen",
    "C_SignMessageNext": S + " pParameter ulParameterLen pData ulDataLen pSignature pulSignatureLen",
    "C_MessageSignFinal": S, "C_MessageVerifyInit": S + " pMechanism hKey",
    "C_VerifyMessage": S + " pParameter ulParameterLen pData ulDataLen pSignature ulSignatureLen",
    "C_VerifyMessageBegin": S + " pParameter ulParameterLen",
    "C_VerifyMessageNext": S + " pParameter ulParameterLen pData ulDataLen pSignature ulSignatureLen",
    "C_MessageVerifyFinal": S,
    "C_EncapsulateKey": S + " pMechanism hPublicKey pTemplate ulAttributeCount pCiphertext pulCiphertextLen phKey",
    "C_DecapsulateKey": S + " pMechanism hPrivateKey pTemplate ulAttributeCount pCiphertext ulCiphertextLen phKey",
    "C_VerifySignatureInit": S + " pMechanism hKey pSignature ulSignatureLen",
    "C_VerifySignature": S + " pData ulDataLen",
    "C_VerifySignatureUpdate": S + " pPart ulPartLen",
    "C_VerifySignatureFinal": S,
    "C_GetSessionValidationFlags": S + " type pFlags",
    "C_AsyncComplete": S + " pFunctionName pResult",
    "C_AsyncGetID": S + " pFunctionName pulID",
    "C_AsyncJoin": S + " pFunctionName ulID pData ulData",
    "C_WrapKeyAuthenticated": S + " pMechanism hWrappingKey hKey pAssociatedData ulAssociatedDataLen pWrappedKey pulWrappedKeyLen",
    "C_UnwrapKeyAuthenticated": S + " pMechanism hUnwrappingKey pWrappedKey ulWrappedKeyLen pTemplate ulAttributeCount pAssociatedData ulAssociatedDataLen phKey",
}


def prototype(fname, rust):
    """`CK_RV C_X(type name, ...)` from a function pointer type and PARAMETER_NAMES."""
    m = re.fullmatch(r"::std::option::Option<\s*unsafe extern \"C\" fn\s*\((.*)\)\s*=>\s*(.+?)\s*,?\s*>", rust, re.S)
    types = [a.split(":", 1)[1] for a in split_top(m.group(1))]
    names = PARAMETER_NAMES[fname].split()
    if len(names) != len(types):
        raise SystemExit(f"{fname}: {len(types)} parameters, {len(names)} names")
    params = ", ".join(c_decl(t, n) for t, n in zip(types, names))
    return f"{c_decl(m.group(2))} {fname}({params})"


def find_bindings():
    pattern = os.path.expanduser(
        "~/.cargo/registry/src/*/cryptoki-sys-0.5.*/src/bindings/x86_64-unknown-linux-gnu.rs"
    )
    found = sorted(glob.glob(pattern))
    if not found:
        sys.exit("cryptoki-sys 0.5 bindings not found; pass the path")
    return found[-1]


def split_top(text, sep=","):
    """Split on `sep` outside of (), [], <> nesting."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "([<":
            depth += 1
        elif ch in ")]>":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def c_decl(rust, name=""):
    """C declaration of `name` having Rust type `rust` (arrows pre-replaced by '=>')."""
    rust = rust.strip()
    m = re.fullmatch(r"::std::option::Option<\s*unsafe extern \"C\" fn\s*\((.*)\)\s*(?:=>\s*(.+?))?\s*,?\s*>", rust, re.S)
    if m:
        args = [c_decl(a.split(":", 1)[1]) for a in split_top(m.group(1))]
        ret = c_decl(m.group(2)) if m.group(2) else "void"
        return f"{ret} (*{name})({', '.join(args) or 'void'})"
    m = re.fullmatch(r"\*(mut|const)\s+(.+)", rust, re.S)
    if m:
        inner = c_decl(m.group(2))
        const = "const " if m.group(1) == "const" else ""
        return f"{const}{inner} *{name}".rstrip() if not inner.endswith("*") else f"{const}{inner}*{name}"
    m = re.fullmatch(r"\[(.+);\s*(\d+)usize\]", rust, re.S)
    if m:
        return f"{c_decl(m.group(1))} {name}[{m.group(2)}]"
    base = RAW_TYPES.get(rust, rust)
    return f"{base} {name}".rstrip()


def parse(text):
    text = text.replace("->", "=>")
    consts = re.findall(r"^pub const (\w+): (\w+) = (\d+);", text, re.M)
    aliases = []  # (name, rust type), file order
    for m in re.finditer(r"^pub type (\w+) =\s*(.*?);\s*$", text, re.M | re.S):
        aliases.append((m.group(1), " ".join(m.group(2).split())))
    structs = {}
    order = []
    for m in re.finditer(r"^pub (struct|union) (\w+) \{(.*?)^\}", text, re.M | re.S):
        kind, name, body = m.groups()
        fields = []
        for f in split_top(" ".join(body.split())):
            fm = re.fullmatch(r"pub (\w+): (.+)", f)
            if fm:
                fields.append((FIELD_RENAMES.get(fm.group(1), fm.group(1)), fm.group(2)))
        # Only PKCS#11 structures; the crate's own loader struct is not ABI.
        if name.startswith("CK_") and name not in structs:
            structs[name] = (kind, fields)
            order.append(name)
    layouts = {}
    for m in re.finditer(r'\["Size of (\w+)"\]\[::std::mem::size_of::<\w+>\(\) - (\d+)usize\]', text):
        layouts.setdefault(m.group(1), {})["size"] = int(m.group(2))
    for m in re.finditer(r'\["Alignment of (\w+)"\]\[::std::mem::align_of::<\w+>\(\) - (\d+)usize\]', text):
        layouts.setdefault(m.group(1), {})["align"] = int(m.group(2))
    for m in re.finditer(r'\["Offset of field: (\w+)::(\w+)"\]\s*\[::std::mem::offset_of!\(\w+, \w+\) - (\d+)usize\]', text):
        layouts.setdefault(m.group(1), {}).setdefault("offsets", []).append(
            (FIELD_RENAMES.get(m.group(2), m.group(2)), int(m.group(3)))
        )
    return consts, aliases, structs, order, layouts


def topo(names, deps):
    """Order `names` so each comes after the names it depends on (stable)."""
    done, out = set(), []

    def visit(n, stack=()):
        if n in done or n not in deps:
            return
        if n in stack:
            raise SystemExit(f"dependency cycle through {n}")
        for d in deps[n]:
            visit(d, stack + (n,))
        done.add(n)
        out.append(n)

    for n in names:
        visit(n)
    return out


def words(rust):
    return set(re.findall(r"\b[A-Za-z_]\w*\b", rust))


def define(name, ctype, value):
    if ctype in ("CK_BYTE", "CK_BBOOL"):
        return f"#define {name} {value}"
    v = int(value)
    return f"#define {name} 0x{v:08X}UL" if v > 9 else f"#define {name} {v}UL"


GENERATED = "/* Generated by include/tools/gen_pkcs11_headers.py from the cryptoki-sys ABI facts. Do not edit. */"


def render_struct(name, kind, fields):
    lines = [f"{kind} {name} {{"]
    for fname, ftype in fields:
        lines.append(f"    {c_decl(ftype, fname)};")
    lines.append("};")
    return "\n".join(lines)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else find_bindings()
    with open(path) as f:
        consts, aliases, structs, struct_order, layouts = parse(f.read())

    alias_map = dict(aliases)
    is_fn_ptr = lambda t: t.startswith("::std::option::Option")
    is_ptr = lambda t: t.startswith("*")

    scalar = [n for n, t in aliases if not is_fn_ptr(t) and not is_ptr(t) and n not in SKIP]
    pointers = [n for n, t in aliases if is_ptr(t) and n not in SKIP]
    callbacks = [n for n, t in aliases if is_fn_ptr(t) and not n.startswith("CK_C_")]
    entry_points = [n for n, t in aliases if is_fn_ptr(t) and n.startswith("CK_C_")]

    plain_structs = [s for s in struct_order if s not in SKIP and s not in FUNCTION_LISTS]
    # A struct needs the full definition of every struct it holds by value.
    deps = {}
    for s in plain_structs:
        needed = set()
        for _, ftype in structs[s][1]:
            if not ftype.startswith("*") and not is_fn_ptr(alias_map.get(ftype, "")):
                needed |= {w for w in words(ftype) if w in structs}
        deps[s] = needed
    plain_structs = topo(plain_structs, deps)
    scalar = topo(scalar, {n: {w for w in words(alias_map[n]) if w in alias_map} for n in scalar})

    # ---------------- pkcs11t.h ----------------
    out = [GENERATED, PKCS11T_PREAMBLE]
    out.append("/* Basic and enumeration types. */")
    for n in scalar:
        out.append(f"typedef {c_decl(alias_map[n], n)};")
    out.append("\n/* Constants: versions, booleans, object classes, attributes, mechanisms, flags, return values. */")
    for name, ctype, value in consts:
        out.append(define(name, ctype, value))
    out.append(UNAVAILABLE)
    out.append("\n/* Every structure is declared first so pointer types can name it. */")
    for s in struct_order:
        if s not in SKIP:
            out.append(f"typedef {structs[s][0]} {s} {s};")
    out.append("\n/* Pointer types. */")
    for n in pointers:
        out.append(f"typedef {c_decl(alias_map[n], n)};")
    out.append("\n/* Application callbacks. */")
    for n in callbacks:
        out.append(f"typedef {c_decl(alias_map[n], n)};")
    out.append("\n/* Structures. */")
    for s in plain_structs:
        out.append(render_struct(s, *structs[s]))
    out.append(PKCS11T_POSTAMBLE)
    write("include/pkcs11t.h", "\n".join(out) + "\n")

    # ---------------- pkcs11f.h ----------------
    out = [GENERATED, PKCS11F_PREAMBLE]
    out.append("/* Pointer types of every entry point, as stored in the function lists. */")
    for n in entry_points:
        out.append(f"typedef {c_decl(alias_map[n], n)};")
    out.append("\n/* Entry points exported by the provider (PKCS#11 2.40, the 3.0 and the 3.2 additions). */")
    for fname, ftype in structs[PROTOTYPE_SOURCE][1]:
        if not fname.startswith("C_"):
            continue
        out.append(f"extern {prototype(fname, alias_map[ftype])};")
    out.append("\n/* Function lists, member order fixed by the ABI. */")
    for s in FUNCTION_LISTS:
        out.append(render_struct(s, *structs[s]))
    out.append(PKCS11F_POSTAMBLE)
    write("include/pkcs11f.h", "\n".join(out) + "\n")

    # ---------------- tests/c/abi_layout.c ----------------
    out = [GENERATED, ABI_PREAMBLE]
    for s in struct_order:
        if s in SKIP or s not in layouts:
            continue
        lay = layouts[s]
        if "size" in lay:
            out.append(f'_Static_assert(sizeof({s}) == {lay["size"]}, "size of {s}");')
        if "align" in lay:
            out.append(f'_Static_assert(_Alignof({s}) == {lay["align"]}, "alignment of {s}");')
        for fname, off in lay.get("offsets", []):
            out.append(f'_Static_assert(offsetof({s}, {fname}) == {off}, "offset of {s}.{fname}");')
    out.append(ABI_POSTAMBLE)
    write("tests/c/abi_layout.c", "\n".join(out) + "\n")


def write(rel, content):
    full = os.path.join(ROOT, rel)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(content)
    print(f"wrote {rel} ({content.count(chr(10))} lines)")


PKCS11T_PREAMBLE = r"""
/*
 * pkcs11t.h - PKCS#11 types, constants and structures for the azcloudhsm-pkcs11
 * provider (Linux, LP64: CK_ULONG is unsigned long, natural alignment, no packing).
 *
 * Complete for PKCS#11 2.40, 3.0 and 3.2 (the version 3.2 function list and
 * ML-DSA/ML-KEM); constants and structures of other revisions
 * revisions known to cryptoki-sys are included too. This header stands on its
 * own; programs normally include "cryptoki.h", which includes this one.
 */
#ifndef AZCLOUDHSM_PKCS11T_H
#define AZCLOUDHSM_PKCS11T_H

#ifdef __cplusplus
extern "C" {
#endif

/* Platform macros expected by portable PKCS#11 code. */
#ifndef CK_PTR
#define CK_PTR *
#endif
#ifndef CK_DECLARE_FUNCTION
#define CK_DECLARE_FUNCTION(returnType, name) returnType name
#endif
#ifndef CK_DECLARE_FUNCTION_POINTER
#define CK_DECLARE_FUNCTION_POINTER(returnType, name) returnType (*name)
#endif
#ifndef CK_CALLBACK_FUNCTION
#define CK_CALLBACK_FUNCTION(returnType, name) returnType (*name)
#endif
#ifndef CK_DEFINE_FUNCTION
#define CK_DEFINE_FUNCTION(returnType, name) returnType name
#endif
#ifndef NULL_PTR
#define NULL_PTR 0
#endif
"""

UNAVAILABLE = """
/* Returned in ulValueLen when an attribute cannot be revealed or does not exist. */
#define CK_UNAVAILABLE_INFORMATION (~0UL)"""

PKCS11T_POSTAMBLE = r"""
#ifdef __cplusplus
}
#endif

#endif /* AZCLOUDHSM_PKCS11T_H */"""

PKCS11F_PREAMBLE = r"""
/*
 * pkcs11f.h - PKCS#11 entry points and function lists for the azcloudhsm-pkcs11
 * provider. Programs normally include "cryptoki.h", which includes this one.
 *
 * Programs that dlopen the library call C_GetFunctionList (or C_GetInterface)
 * and use the function list; the prototypes are for programs linking directly.
 */
#ifndef AZCLOUDHSM_PKCS11F_H
#define AZCLOUDHSM_PKCS11F_H

#include "pkcs11t.h"

#ifdef __cplusplus
extern "C" {
#endif
"""

PKCS11F_POSTAMBLE = r"""
#ifdef __cplusplus
}
#endif

#endif /* AZCLOUDHSM_PKCS11F_H */"""

ABI_PREAMBLE = r"""
/*
 * Compile-time proof that include/ matches the PKCS#11 ABI on x86_64 Linux:
 * every size, alignment and field offset that cryptoki-sys asserts for its own
 * bindings is asserted here for our C declarations. Compiled (not run) by
 * tests/c_programs.rs; a mismatch is a compile error.
 */
#include <stddef.h>
#include "cryptoki.h"
#include "pkcs11t.h"
#include "azcloudhsm_pkcs11.h"

_Static_assert(sizeof(CK_ULONG) == sizeof(unsigned long), "CK_ULONG is unsigned long");
_Static_assert(sizeof(CK_BBOOL) == 1, "CK_BBOOL is one byte");

/* Values a drop-in provider's callers depend on, written out by hand. */
_Static_assert(sizeof(CK_FUNCTION_LIST) == 552, "2.40 function list: version + 68 entry points");
_Static_assert(sizeof(CK_FUNCTION_LIST_3_0) == 744, "3.0 function list: version + 92 entry points");
_Static_assert(sizeof(CK_INTERFACE) == 24, "CK_INTERFACE");
_Static_assert(sizeof(CK_C_INITIALIZE_ARGS) == 48, "CK_C_INITIALIZE_ARGS");
_Static_assert(sizeof(CK_DATE) == 8, "CK_DATE");
_Static_assert(sizeof(CK_ATTRIBUTE) == 24, "CK_ATTRIBUTE");
_Static_assert(sizeof(CK_MECHANISM) == 24, "CK_MECHANISM");
_Static_assert(sizeof(CK_TOKEN_INFO) == 208, "CK_TOKEN_INFO");
_Static_assert(offsetof(CK_FUNCTION_LIST_3_0, C_GetInterfaceList) == 552, "3.0 additions follow the 2.40 list");
_Static_assert(sizeof(CK_FUNCTION_LIST_3_2) == 840, "3.2 function list: version + 104 entry points");
_Static_assert(offsetof(CK_FUNCTION_LIST_3_2, C_EncapsulateKey) == 744, "3.2 additions follow the 3.0 list");
_Static_assert(offsetof(CK_FUNCTION_LIST_3_2, C_DecapsulateKey) == 752, "C_DecapsulateKey");
_Static_assert(sizeof(CK_SIGN_ADDITIONAL_CONTEXT) == 24, "CK_SIGN_ADDITIONAL_CONTEXT");
_Static_assert(CKK_ML_DSA == 0x4AUL && CKK_ML_KEM == 0x49UL, "ML-DSA and ML-KEM key types");
_Static_assert(CKM_ML_DSA == 0x1DUL && CKM_ML_KEM == 0x17UL, "ML-DSA and ML-KEM mechanisms");
_Static_assert(CKA_PARAMETER_SET == 0x61DUL && CKA_SEED == 0x637UL, "3.2 key attributes");
_Static_assert(CKA_ENCAPSULATE == 0x633UL && CKA_DECAPSULATE == 0x634UL, "3.2 usage attributes");
_Static_assert(CKR_PIN_INCORRECT == 0xA0UL, "CKR_PIN_INCORRECT (0xA3 is CKR_PIN_EXPIRED)");
_Static_assert(CKR_ATTRIBUTE_VALUE_INVALID == 0x13UL, "CKR_ATTRIBUTE_VALUE_INVALID");
_Static_assert(CKR_CERTIFICATE_TYPE_INVALID == CKR_ATTRIBUTE_VALUE_INVALID, "provider alias");
_Static_assert(CKA_WRAP_TEMPLATE == (CKF_ARRAY_ATTRIBUTE | 0x211UL), "array attribute flag");
_Static_assert(CKM_ECDSA_SHA256 == 0x1044UL, "CKM_ECDSA_SHA256");
_Static_assert(AZCLOUDHSM_FIRST_CERTIFICATE_HANDLE == 4293918720UL, "first certificate handle");
_Static_assert(AZCLOUDHSM_LAST_CERTIFICATE_HANDLE - AZCLOUDHSM_FIRST_CERTIFICATE_HANDLE + 1 == 1048575UL,
               "documented capacity of 1,048,575 certificates");
"""

ABI_POSTAMBLE = r"""
int main(void) { return 0; }"""

if __name__ == "__main__":
    main()
