// Java 17 SunPKCS11 against the azcloudhsm provider.
//
//   java InteropCheck.java <sunpkcs11.cfg> <user PIN> <extra certificate, DER or PEM>
//
// Expects the token to hold an RSA and an EC private key, each paired (by
// CKA_ID) with a certificate. Signs with SHA256withRSA and SHA256withECDSA
// through SunPKCS11, verifies with the certificate's public key in Java's own
// providers, then stores the extra certificate (issued for the EC key's public
// key) as a new chain with setKeyEntry, reloads the KeyStore, compares the
// encodings byte for byte, signs again and deletes the entry.
// Prints "ok: ..." per check; exits 1 at the first failure.

import java.io.FileInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.Security;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

public class InteropCheck {
    private static final String EXTRA_ALIAS = "extra";

    private static void ok(String what) {
        System.out.println("ok: " + what);
    }

    private static void check(boolean condition, String what) {
        if (!condition) {
            System.out.println("FAIL: " + what);
            System.exit(1);
        }
        ok(what);
    }

    private static KeyStore load(Provider provider, char[] pin) throws Exception {
        KeyStore keyStore = KeyStore.getInstance("PKCS11", provider);
        keyStore.load(null, pin);
        return keyStore;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: java InteropCheck.java <sunpkcs11.cfg> <PIN> <extra-cert>");
            System.exit(2);
        }
        char[] pin = args[1].toCharArray();

        Provider provider = Security.getProvider("SunPKCS11").configure(args[0]);
        Security.addProvider(provider);
        check(provider.getName().equals("SunPKCS11-azcloudhsm"),
                "SunPKCS11 configured from " + args[0] + " as " + provider.getName());

        KeyStore keyStore = load(provider, pin);
        ok("KeyStore PKCS11 loaded with the PIN");
        List<String> aliases = Collections.list(keyStore.aliases());
        System.out.println("   aliases: " + aliases);

        byte[] data = "data signed by a token key through SunPKCS11".getBytes(StandardCharsets.UTF_8);
        List<String> signedWith = new ArrayList<>();
        for (String alias : aliases) {
            if (!keyStore.isKeyEntry(alias)) {
                continue;
            }
            PrivateKey key = (PrivateKey) keyStore.getKey(alias, null);
            X509Certificate certificate = (X509Certificate) keyStore.getCertificate(alias);
            check(certificate != null, "key entry '" + alias + "' (" + key.getAlgorithm()
                    + ") comes with its certificate " + (certificate == null ? "" : certificate.getSubjectX500Principal()));
            String algorithm;
            String softwareProvider;
            switch (key.getAlgorithm()) {
                case "RSA" -> { algorithm = "SHA256withRSA"; softwareProvider = "SunRsaSign"; }
                case "EC" -> { algorithm = "SHA256withECDSA"; softwareProvider = "SunEC"; }
                default -> { System.out.println("   skipping key type " + key.getAlgorithm()); continue; }
            }
            Signature signer = Signature.getInstance(algorithm, provider);
            signer.initSign(key);
            signer.update(data);
            byte[] signature = signer.sign();
            ok(algorithm + " signature with the token key '" + alias + "' (" + signature.length + " bytes)");

            Signature verifier = Signature.getInstance(algorithm, softwareProvider);
            verifier.initVerify(certificate.getPublicKey());
            verifier.update(data);
            check(verifier.verify(signature), softwareProvider + " verifies it with the certificate's public key");

            verifier.initVerify(certificate.getPublicKey());
            verifier.update("other data".getBytes(StandardCharsets.UTF_8));
            check(!verifier.verify(signature), softwareProvider + " rejects it over other data");

            Signature tokenVerifier = Signature.getInstance(algorithm, provider);
            tokenVerifier.initVerify(certificate.getPublicKey());
            tokenVerifier.update(data);
            check(tokenVerifier.verify(signature), "SunPKCS11 verifies it too");
            signedWith.add(key.getAlgorithm());
        }
        check(signedWith.contains("RSA"), "an RSA key entry was found and signed with");
        check(signedWith.contains("EC"), "an EC key entry was found and signed with");

        // SunPKCS11 refuses setCertificateEntry ("trusted certificates may
        // only be set by token initialization application") for any token
        // but NSS, so a certificate is stored the way keytool -importcert of
        // a CA reply does it: a new chain for a token key, setKeyEntry, which
        // creates the certificate object on the token (C_CreateObject).
        X509Certificate extra;
        try (InputStream in = new FileInputStream(args[2])) {
            extra = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
        String owner = null;
        for (String alias : aliases) {
            if (keyStore.isKeyEntry(alias)
                    && keyStore.getCertificate(alias).getPublicKey().equals(extra.getPublicKey())) {
                owner = alias;
            }
        }
        check(owner != null, "the extra certificate's public key belongs to the token key '" + owner + "'");
        check(!keyStore.containsAlias(EXTRA_ALIAS), "no '" + EXTRA_ALIAS + "' entry yet");
        PrivateKey ownerKey = (PrivateKey) keyStore.getKey(owner, null);
        keyStore.setKeyEntry(EXTRA_ALIAS, ownerKey, null, new Certificate[] {extra});
        ok("setKeyEntry(\"" + EXTRA_ALIAS + "\", token key, null, {extra}) stored the certificate on the token");

        KeyStore reloaded = load(provider, pin);
        System.out.println("   aliases after the reload: " + Collections.list(reloaded.aliases()));
        check(reloaded.isKeyEntry(EXTRA_ALIAS), "a reloaded KeyStore has the key entry '" + EXTRA_ALIAS + "'");
        Certificate back = reloaded.getCertificate(EXTRA_ALIAS);
        check(back != null && Arrays.equals(back.getEncoded(), extra.getEncoded()),
                "its certificate read back has the same encoding, byte for byte");
        PrivateKey again = (PrivateKey) reloaded.getKey(EXTRA_ALIAS, null);
        Signature signer = Signature.getInstance("SHA256withECDSA", provider);
        signer.initSign(again);
        signer.update(data);
        byte[] signature = signer.sign();
        Signature verifier = Signature.getInstance("SHA256withECDSA", "SunEC");
        verifier.initVerify(back.getPublicKey());
        verifier.update(data);
        check(verifier.verify(signature), "the key under '" + EXTRA_ALIAS + "' signs, and its new certificate verifies");
        for (String alias : aliases) {
            if (!alias.equals(owner)) {
                check(reloaded.isKeyEntry(alias), "the entry '" + alias + "' is untouched");
            }
        }

        reloaded.deleteEntry(EXTRA_ALIAS);
        ok("deleteEntry(\"" + EXTRA_ALIAS + "\") (the key and its certificate)");
        KeyStore afterDelete = load(provider, pin);
        System.out.println("   aliases after the delete: " + Collections.list(afterDelete.aliases()));
        check(!afterDelete.containsAlias(EXTRA_ALIAS), "a reloaded KeyStore no longer has '" + EXTRA_ALIAS + "'");
        for (String alias : aliases) {
            if (!alias.equals(owner)) {
                check(afterDelete.isKeyEntry(alias), "the entry '" + alias + "' remains");
            }
        }
        System.out.println("InteropCheck: all checks passed");
    }
}
