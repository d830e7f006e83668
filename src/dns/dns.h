// dns: DNS lookups with DNSSEC status, for MTA-STS, DANE and TLSRPT.
//
// Resolver is the interface every protocol part uses; MakeUnboundResolver
// returns the libunbound implementation, a validating stub resolver that
// forwards to the configured servers (or /etc/resolv.conf) and validates
// DNSSEC itself from a trust anchor file.
//
// Every successful answer carries its Security. Failures are values:
//   kNotFound  NXDOMAIN or NODATA: the name or type definitely does not exist
//   kTempFail  SERVFAIL, REFUSED, timeout, network trouble: retry later
//   kBogus     DNSSEC validation failed: an attack or a broken zone, never "absent"
// CNAMEs are followed; Answer::canonical_name tells where they led.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"

namespace mxsec::dns {

// Ordered from best to worst.
enum class Security { kSecure, kInsecure, kBogus };
std::string_view SecurityName(Security security);  // "secure", "insecure", "bogus"

template <typename T>
struct Answer {
  std::vector<T> records;
  Security security = Security::kInsecure;
  uint32_t ttl = 0;
  std::string canonical_name;  // the name the data was found at, after CNAMEs
};

struct Mx {
  uint16_t preference = 0;
  std::string host;  // folded: lower case, no trailing dot; "" for a null MX (RFC 7505)
};

struct Tlsa {
  uint8_t usage = 0;
  uint8_t selector = 0;
  uint8_t matching_type = 0;
  std::vector<uint8_t> data;
};

class Resolver {
 public:
  virtual ~Resolver() = default;
  // TXT: each record's character-strings concatenated in order (RFC 7208 3.3 style).
  virtual Result<Answer<std::string>> LookupTxt(std::string_view name) = 0;
  virtual Result<Answer<Mx>> LookupMx(std::string_view name) = 0;
  // A and AAAA as printable addresses.
  virtual Result<Answer<std::string>> LookupA(std::string_view name) = 0;
  virtual Result<Answer<std::string>> LookupAaaa(std::string_view name) = 0;
  virtual Result<Answer<Tlsa>> LookupTlsa(std::string_view name) = 0;
};

struct ResolverOptions {
  std::vector<std::string> servers;  // "IP" or "IP@PORT"; empty: /etc/resolv.conf
  std::string trust_anchor;          // file of DS/DNSKEY records; empty: no validation
  std::chrono::milliseconds timeout{10000};  // per query
};

// Thread-safe: one resolver may be shared by all threads. Errors: kIo when
// the trust anchor file cannot be read, kInvalidArgument for a bad server.
Result<std::unique_ptr<Resolver>> MakeUnboundResolver(const ResolverOptions& options);

// Addresses of a host, A then AAAA, for connecting. kNotFound only when both
// are absent; kTempFail/kBogus when a lookup failed and nothing was found.
Result<std::vector<std::string>> LookupAddresses(Resolver& resolver, std::string_view host);

}  // namespace mxsec::dns
