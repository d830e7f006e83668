// OpenSSL object ownership and DER chain decoding, shared by the DANE
// verification here and the certificate analysis of src/check.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

namespace mxsec::x509 {

struct Free {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
  void operator()(SSL* p) const { SSL_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
  void operator()(STACK_OF(X509)* p) const { sk_X509_pop_free(p, X509_free); }
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

// The certificates of `chain` (DER, leaf first) in order; nullptr when one
// does not parse. An empty chain gives an empty stack.
inline Owned<STACK_OF(X509)> DecodeChain(const std::vector<std::string>& chain) {
  Owned<STACK_OF(X509)> certs(sk_X509_new_null());
  if (!certs) return nullptr;
  for (const auto& der : chain) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
    if (cert == nullptr) return nullptr;
    sk_X509_push(certs.get(), cert);
  }
  return certs;
}

}  // namespace mxsec::x509
