// Test certificates made in memory with OpenSSL, header-only: keys, a CA,
// leaves with chosen names and dates, and the digests TLSA records use.
//
//   auto ca = test::MakeCa("Test CA");
//   auto leaf = test::MakeLeaf(ca, {"mx.example.com"});
//   std::vector<std::string> chain = {leaf.der, ca.der};
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

namespace mxsec::test {

struct TestCert {
  std::shared_ptr<EVP_PKEY> key;
  std::shared_ptr<X509> cert;
  std::string der;  // the certificate
  std::string Pem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, cert.get());
    char* data = nullptr;
    long length = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<size_t>(length));
    BIO_free(bio);
    return pem;
  }
};

inline std::shared_ptr<EVP_PKEY> MakeKey() {
  return std::shared_ptr<EVP_PKEY>(EVP_EC_gen("P-256"), EVP_PKEY_free);
}

struct CertSpec {
  std::string common_name;
  std::vector<std::string> dns_names;  // SAN dNSNames; none: no SAN extension
  int64_t not_before_offset = -3600;   // seconds from now
  int64_t not_after_offset = 365 * 86400;
  bool ca = false;
};

// Signs with `issuer` (nullptr: self-signed with the new key).
inline TestCert MakeCert(const CertSpec& spec, const TestCert* issuer, std::shared_ptr<EVP_PKEY> key = nullptr) {
  static long serial = 1000;
  TestCert out;
  out.key = key ? key : MakeKey();
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial);
  X509_gmtime_adj(X509_getm_notBefore(x), static_cast<long>(spec.not_before_offset));
  X509_gmtime_adj(X509_getm_notAfter(x), static_cast<long>(spec.not_after_offset));
  X509_set_pubkey(x, out.key.get());
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(spec.common_name.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->cert.get()) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer ? issuer->cert.get() : x, x, nullptr, nullptr, 0);
  auto add = [&](int nid, const std::string& value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  };
  if (spec.ca) {
    add(NID_basic_constraints, "critical,CA:TRUE");
    add(NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add(NID_basic_constraints, "CA:FALSE");
    add(NID_ext_key_usage, "serverAuth");
  }
  add(NID_subject_key_identifier, "hash");
  if (!spec.dns_names.empty()) {
    std::string sans;
    for (const auto& n : spec.dns_names) sans += (sans.empty() ? "DNS:" : ",DNS:") + n;
    add(NID_subject_alt_name, sans);
  }
  X509_sign(x, issuer ? issuer->key.get() : out.key.get(), EVP_sha256());
  out.cert = std::shared_ptr<X509>(x, X509_free);
  unsigned char* der = nullptr;
  int length = i2d_X509(x, &der);
  out.der.assign(reinterpret_cast<char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return out;
}

inline TestCert MakeCa(const std::string& name) { return MakeCert({name, {}, -3600, 3650L * 86400, true}, nullptr); }

inline TestCert MakeLeaf(const TestCert& ca, std::vector<std::string> names, int64_t not_after_offset = 365 * 86400,
                         int64_t not_before_offset = -3600) {
  return MakeCert({names.empty() ? "leaf" : names.front(), names, not_before_offset, not_after_offset, false}, &ca);
}

inline std::vector<uint8_t> Sha256(const std::string& bytes) {
  std::vector<uint8_t> digest(SHA256_DIGEST_LENGTH);
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest.data());
  return digest;
}

inline std::vector<uint8_t> Sha512(const std::string& bytes) {
  std::vector<uint8_t> digest(SHA512_DIGEST_LENGTH);
  SHA512(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest.data());
  return digest;
}

// DER of the SubjectPublicKeyInfo (TLSA selector 1).
inline std::string SpkiDer(const TestCert& cert) {
  unsigned char* der = nullptr;
  int length = i2d_PUBKEY(X509_get0_pubkey(cert.cert.get()), &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return out;
}

}  // namespace mxsec::test
