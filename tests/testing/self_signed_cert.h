// A self-signed TLS certificate for tests that need a real HTTPS server on loopback.
#ifndef MUSIC_TESTS_TESTING_SELF_SIGNED_CERT_H_
#define MUSIC_TESTS_TESTING_SELF_SIGNED_CERT_H_

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>

namespace music::testing {

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};

/// Writes a P-256 certificate for 127.0.0.1 and localhost (PEM) and its key. The certificate is
/// its own CA, so it doubles as a client's CA file. False when OpenSSL fails.
inline bool WriteSelfSignedCert(const std::string& cert_path, const std::string& key_path) {
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(EVP_EC_gen("P-256"));
  std::unique_ptr<X509, X509Deleter> cert(X509_new());
  if (key == nullptr || cert == nullptr) return false;
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(getpid()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  const std::pair<int, const char*> extensions[] = {
      {NID_basic_constraints, "critical,CA:TRUE"},
      {NID_subject_key_identifier, "hash"},
      {NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost"},
  };
  for (const auto& [nid, value] : extensions) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (ext == nullptr) return false;
    const int added = X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
    if (added != 1) return false;
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return false;
  std::unique_ptr<BIO, BioDeleter> cert_out(BIO_new_file(cert_path.c_str(), "w"));
  std::unique_ptr<BIO, BioDeleter> key_out(BIO_new_file(key_path.c_str(), "w"));
  return cert_out != nullptr && key_out != nullptr &&
         PEM_write_bio_X509(cert_out.get(), cert.get()) == 1 &&
         PEM_write_bio_PrivateKey(key_out.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                  nullptr) == 1;
}

}  // namespace music::testing

#endif  // MUSIC_TESTS_TESTING_SELF_SIGNED_CERT_H_
