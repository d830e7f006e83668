// dane: SMTP security via opportunistic DANE TLS, RFC 7672 (client side).
//
// TLSA lookup at `_25._tcp.<host>` with its DNSSEC status, the usability
// rules of RFC 7672 3.1.3 (only DANE-TA(2) and DANE-EE(3) count for SMTP),
// and verification of a presented certificate chain against the records
// with OpenSSL's DANE API: DANE-EE matches the leaf with no name or expiry
// checks (RFC 7672 3.1.1), DANE-TA needs a chain to the matched trust anchor
// and a leaf valid for one of the reference identifiers (3.1.2, 3.2.2).
//
// Verification is separate from the handshake so the same presented chain
// can be judged for PKIX and for DANE.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"
#include "dns/dns.h"

namespace mxsec::dane {

// "3 1 1 0123ab..." (lower-case hex), the presentation form of RFC 6698 2.2.
std::string TlsaText(const dns::Tlsa& record);
// The inverse, for tests and the command line; the data may contain spaces.
Result<dns::Tlsa> ParseTlsaText(std::string_view text);

// Why a record cannot be used for SMTP; empty when it can.
//   usage 0/1 (PKIX-TA/PKIX-EE): RFC 7672 3.1.3 says SMTP clients must treat them as unusable
//   selector > 1, matching type > 2, or a digest of the wrong length
std::string Unusable(const dns::Tlsa& record);

// `_25._tcp.<host>` (port 25 by default).
std::string TlsaName(std::string_view host, uint16_t port = 25);

struct Verification {
  size_t usable = 0;   // records OpenSSL accepted as usable
  bool valid = false;  // the chain matched a usable record (and, for DANE-TA, the names and dates)
  std::string matched;  // TlsaText of the matching record
  int depth = -1;       // where in the chain it matched: 0 the leaf
  std::string error;    // one line when !valid
};

// Verifies `chain` (DER certificates, leaf first, as the server presented
// them) against `records`. `names` are the reference identifiers for
// DANE-TA: the MX hostname, and the TLSA base domain when it differs.
// Records that are unusable are skipped; with no usable record the result
// is !valid with usable == 0. `now` (seconds since the epoch, 0: the real
// time) only matters for tests.
Verification Verify(const std::vector<std::string>& chain, const std::vector<dns::Tlsa>& records,
                    const std::vector<std::string>& names, int64_t now = 0);

}  // namespace mxsec::dane
