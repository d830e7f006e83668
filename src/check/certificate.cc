// Judging a presented certificate chain: PKIX against a trust store, names
// (RFC 6125 through OpenSSL), dates, key and signature algorithm.
#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "check/check.h"
#include "dane/x509_internal.h"

namespace mxsec::check {
namespace {

using x509::Owned;

std::string NameText(const X509_NAME* name) {
  if (name == nullptr) return "";
  char buffer[512];
  X509_NAME_oneline(name, buffer, sizeof buffer);
  return buffer;
}

// Seconds since the epoch of an ASN1_TIME (UTCTime or GeneralizedTime).
int64_t Unix(const ASN1_TIME* time) {
  struct tm tm {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

std::vector<std::string> DnsNames(X509* cert) {
  std::vector<std::string> names;
  Owned<GENERAL_NAMES> sans(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans.get(), i);
      if (name->type != GEN_DNS) continue;
      const ASN1_IA5STRING* dns = name->d.dNSName;
      names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                         static_cast<size_t>(ASN1_STRING_length(dns)));
    }
    return names;  // RFC 6125 6.4.4: with a SAN, the CN is not a reference
  }
  X509_NAME* subject = X509_get_subject_name(cert);
  int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index >= 0) {
    ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    unsigned char* utf8 = nullptr;
    int length = ASN1_STRING_to_UTF8(&utf8, cn);
    if (length > 0) names.emplace_back(reinterpret_cast<char*>(utf8), static_cast<size_t>(length));
    OPENSSL_free(utf8);
  }
  return names;
}

}  // namespace

Result<std::shared_ptr<TrustStore>> TrustStore::Load(const std::string& ca_file) {
  X509_STORE* store = X509_STORE_new();
  if (store == nullptr) return Fail(Code::kInternal, "cannot create an X509 store");
  const int ok = ca_file.empty() ? X509_STORE_set_default_paths(store)
                                 : X509_STORE_load_file(store, ca_file.c_str());
  if (ok != 1) {
    X509_STORE_free(store);
    return Fail(Code::kIo, "cannot load the trust store " + (ca_file.empty() ? std::string("(system)") : ca_file));
  }
  return std::shared_ptr<TrustStore>(new TrustStore(store));
}

TrustStore::~TrustStore() { X509_STORE_free(static_cast<X509_STORE*>(store_)); }

Certificate AnalyzeCertificate(const std::vector<std::string>& chain, const TrustStore& trust,
                               std::string_view hostname, int64_t now) {
  Certificate result;
  Owned<STACK_OF(X509)> certs = x509::DecodeChain(chain);
  if (!certs) {
    result.pkix_error = "a presented certificate does not parse";
    return result;
  }
  if (sk_X509_num(certs.get()) == 0) {
    result.pkix_error = "no certificate presented";
    return result;
  }
  X509* leaf = sk_X509_value(certs.get(), 0);
  result.present = true;
  result.chain_length = static_cast<size_t>(sk_X509_num(certs.get()));
  result.names = DnsNames(leaf);
  result.subject = NameText(X509_get_subject_name(leaf));
  result.issuer = NameText(X509_get_issuer_name(leaf));
  result.self_signed = X509_check_issued(leaf, leaf) == X509_V_OK;
  const int64_t not_before = Unix(X509_get0_notBefore(leaf));
  const int64_t not_after = Unix(X509_get0_notAfter(leaf));
  result.not_before = FormatRfc3339(FromUnix(not_before));
  result.not_after = FormatRfc3339(FromUnix(not_after));
  // Whole days, rounded down; an expired certificate has a negative count.
  const int64_t left = not_after - now;
  result.days_left = left >= 0 ? left / 86400 : -((-left + 86399) / 86400);
  if (EVP_PKEY* key = X509_get0_pubkey(leaf)) {
    const int id = EVP_PKEY_get_base_id(key);
    result.key_type = id == EVP_PKEY_RSA ? "RSA" : id == EVP_PKEY_EC ? "EC" : id == EVP_PKEY_ED25519 ? "Ed25519"
                      : id == EVP_PKEY_ED448 ? "Ed448" : id == EVP_PKEY_DSA ? "DSA"
                      : (EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "unknown");
    result.key_bits = EVP_PKEY_get_bits(key);
  }
  result.signature_algorithm = OBJ_nid2ln(X509_get_signature_nid(leaf));
  result.matches_hostname =
      !hostname.empty() && X509_check_host(leaf, hostname.data(), hostname.size(),
                                           X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;

  Owned<X509_STORE_CTX> verify(X509_STORE_CTX_new());
  if (!verify || X509_STORE_CTX_init(verify.get(), static_cast<X509_STORE*>(trust.native()), leaf,
                                     certs.get()) != 1) {
    result.pkix_error = "internal: cannot set up verification";
    return result;
  }
  X509_STORE_CTX_set_default(verify.get(), "ssl_server");
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(verify.get()), static_cast<time_t>(now));
  result.pkix_valid = X509_verify_cert(verify.get()) == 1;
  if (!result.pkix_valid) {
    result.pkix_error = X509_verify_cert_error_string(X509_STORE_CTX_get_error(verify.get()));
  }
  return result;
}

}  // namespace mxsec::check
