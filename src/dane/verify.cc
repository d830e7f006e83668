// DANE verification with OpenSSL's API, outside a handshake: an SSL object
// carries the TLSA records and the reference identifiers (as Postfix sets
// them up), and X509_verify_cert runs over the presented chain with that
// object's DANE state, which is what OpenSSL itself does during a handshake.
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <memory>

#include "dane/dane.h"
#include "dane/x509_internal.h"

namespace mxsec::dane {
namespace {

using x509::Owned;

constexpr char kHex[] = "0123456789abcdef";

size_t DigestLength(uint8_t matching_type) {
  switch (matching_type) {
    case 1: return 32;  // SHA2-256
    case 2: return 64;  // SHA2-512
    default: return 0;
  }
}

// One context for every verification: it only enables DANE.
SSL_CTX* DaneContext() {
  static SSL_CTX* ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    if (c != nullptr) SSL_CTX_dane_enable(c);
    return c;
  }();
  return ctx;
}

}  // namespace

std::string TlsaText(const dns::Tlsa& record) {
  std::string text = std::to_string(record.usage) + " " + std::to_string(record.selector) + " " +
                     std::to_string(record.matching_type) + " ";
  for (uint8_t byte : record.data) {
    text.push_back(kHex[byte >> 4]);
    text.push_back(kHex[byte & 0xf]);
  }
  return text;
}

Result<dns::Tlsa> ParseTlsaText(std::string_view text) {
  dns::Tlsa record;
  uint8_t* fields[] = {&record.usage, &record.selector, &record.matching_type};
  size_t pos = 0;
  auto skip = [&] {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
  };
  for (uint8_t* field : fields) {
    skip();
    int value = 0;
    size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9' && pos - start < 3) {
      value = value * 10 + (text[pos++] - '0');
    }
    if (pos == start || value > 255) return Fail(Code::kSyntax, "TLSA: expected \"usage selector type data\"");
    *field = static_cast<uint8_t>(value);
  }
  std::string hex;
  for (; pos < text.size(); ++pos) {
    char c = text[pos];
    if (c == ' ' || c == '\t') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return Fail(Code::kSyntax, "TLSA: data is not hex");
    hex.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (hex.empty() || hex.size() % 2 != 0) return Fail(Code::kSyntax, "TLSA: data must be an even number of hex digits");
  for (size_t i = 0; i < hex.size(); i += 2) {
    auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    record.data.push_back(static_cast<uint8_t>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  }
  return record;
}

std::string Unusable(const dns::Tlsa& record) {
  if (record.usage == 0 || record.usage == 1) {
    return "usage " + std::to_string(record.usage) + " (PKIX-" + (record.usage == 0 ? "TA" : "EE") +
           ") is not used for SMTP (RFC 7672 3.1.3)";
  }
  if (record.usage > 3) return "unknown usage " + std::to_string(record.usage);
  if (record.selector > 1) return "unknown selector " + std::to_string(record.selector);
  if (record.matching_type > 2) return "unknown matching type " + std::to_string(record.matching_type);
  size_t want = DigestLength(record.matching_type);
  if (want != 0 && record.data.size() != want) {
    return "digest of " + std::to_string(record.data.size()) + " bytes, matching type " +
           std::to_string(record.matching_type) + " needs " + std::to_string(want);
  }
  if (record.data.empty()) return "empty certificate association data";
  return "";
}

std::string TlsaName(std::string_view host, uint16_t port) {
  return "_" + std::to_string(port) + "._tcp." + FoldDomain(host);
}

Verification Verify(const std::vector<std::string>& chain, const std::vector<dns::Tlsa>& records,
                    const std::vector<std::string>& names, int64_t now) {
  Verification result;
  if (chain.empty()) {
    result.error = "no certificate presented";
    return result;
  }
  SSL_CTX* ctx = DaneContext();
  if (ctx == nullptr) {
    result.error = "internal: cannot create an OpenSSL context";
    return result;
  }
  Owned<SSL> ssl(SSL_new(ctx));
  const std::string base = names.empty() ? std::string() : FoldDomain(names.front());
  if (!ssl || SSL_dane_enable(ssl.get(), base.empty() ? nullptr : base.c_str()) <= 0) {
    result.error = "internal: cannot enable DANE";
    return result;
  }
  for (size_t i = 1; i < names.size(); ++i) SSL_add1_host(ssl.get(), FoldDomain(names[i]).c_str());
  // RFC 7672 3.1.1: DANE-EE(3) binds the key; names and dates do not matter.
  SSL_dane_set_flags(ssl.get(), DANE_FLAG_NO_DANE_EE_NAMECHECKS);
  for (const auto& record : records) {
    if (!Unusable(record).empty()) continue;
    if (SSL_dane_tlsa_add(ssl.get(), record.usage, record.selector, record.matching_type, record.data.data(),
                          record.data.size()) > 0) {
      ++result.usable;
    }
  }
  if (result.usable == 0) {
    result.error = "no usable TLSA records";
    return result;
  }

  Owned<STACK_OF(X509)> untrusted = x509::DecodeChain(chain);
  if (!untrusted) {
    result.error = "a presented certificate does not parse";
    return result;
  }
  Owned<X509_STORE> store(X509_STORE_new());  // DANE brings its own anchors
  Owned<X509_STORE_CTX> verify(X509_STORE_CTX_new());
  if (!store || !verify ||
      X509_STORE_CTX_init(verify.get(), store.get(), sk_X509_value(untrusted.get(), 0), untrusted.get()) != 1) {
    result.error = "internal: cannot set up verification";
    return result;
  }
  X509_STORE_CTX_set_default(verify.get(), "ssl_server");
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(verify.get());
  X509_VERIFY_PARAM_set1(param, SSL_get0_param(ssl.get()));
  if (now != 0) X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(now));
  X509_STORE_CTX_set0_dane(verify.get(), SSL_get0_dane(ssl.get()));

  const bool ok = X509_verify_cert(verify.get()) == 1;
  if (!ok) {
    const int error = X509_STORE_CTX_get_error(verify.get());
    result.error = error == X509_V_ERR_DANE_NO_MATCH ? "no TLSA record matches the presented chain"
                                                     : std::string("verification failed: ") +
                                                           X509_verify_cert_error_string(error) + " (depth " +
                                                           std::to_string(X509_STORE_CTX_get_error_depth(verify.get())) + ")";
    return result;
  }
  uint8_t usage = 0, selector = 0, matching = 0;
  const unsigned char* data = nullptr;
  size_t length = 0;
  result.depth = SSL_get0_dane_tlsa(ssl.get(), &usage, &selector, &matching, &data, &length);
  if (result.depth < 0 || data == nullptr) {
    result.error = "verified, but OpenSSL reports no matching TLSA record";
    return result;
  }
  result.valid = true;
  result.matched = TlsaText(dns::Tlsa{usage, selector, matching, std::vector<uint8_t>(data, data + length)});
  return result;
}

}  // namespace mxsec::dane
