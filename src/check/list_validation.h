// check/list_validation: does a domain, as `mxsec check` saw it, meet its
// entry in the STARTTLS-Everywhere policy list? These are the checks the EFF
// runs before adding a domain and daily afterwards (VALIDATION.md "Manual
// addition", RULES.md "senders will expect"), applied to every MX host:
//
//   1. The domain has MX records (RULES 1: "resolves to an MX hostname"): a
//      null MX (RFC 7505), no MX at all (the implicit MX of RFC 5321 5.1) or
//      a failed MX lookup is a problem.
//   2. Every MX hostname matches one of the entry's mxs patterns, with the
//      schema's semantics (policylist::MatchesMx: ".x" at any depth).
//   3. Every MX host answers on port 25 and offers STARTTLS.
//   4. TLS 1.2 or newer is negotiated (RULES 3).
//   5. The certificate is PKIX-valid: a chain served by the server to a
//      trusted root, within its validity dates (RULES 2b, 2c). Revocation is
//      not checked (the checker does not fetch OCSP or CRLs). A DANE-valid
//      host without PKIX still fails: the list is enforced with PKIX.
//   6. The certificate names the MX hostname (RFC 6125, as the checker
//      computed in Certificate::matches_hostname; VALIDATION "should match
//      the server's MX hostname"), AND one of its names is covered by one
//      of the entry's patterns (RULES mxs: "at least one of the names on
//      each mailserver's certificate should match one of these patterns").
//      Both, because the two kinds of senders check different things:
//      Postfix with the list (`mxsec list postfix`, `mxsec serve`: `secure
//      match=PATTERNS`) compares certificate names with the patterns and
//      never looks at the MX hostname, while VALIDATION.md and MTA-STS-style
//      senders want the MX hostname. Coverage follows Postfix's
//      match_servername(): ".x" covers any name ending in ".x" (also "*.x"
//      and "*.sub.x"); "mx.x" covers "mx.x" and the wildcard "*.x", whose
//      "*" stands for one label (RFC 6125 6.4.3; stricter than Postfix's
//      default tls_wildcard_matches_multiple_labels = yes).
//
// Which addresses count: an MX host passes 3-6 when every address that
// answered passes (a sender may reach any of them); an address that did not
// answer while another one of the host did is a note, an MX host none of
// whose addresses answered is a problem (it could not be validated). Mode
// does not change the verdict: a testing entry is validated like an enforce
// one (the EFF validates both), and the caller reports the mode.
//
// Pure function of its inputs, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "check/check.h"
#include "policylist/policylist.h"

namespace mxsec::check {

// One address of an MX host (checks 3-6).
struct ListAddressValidation {
  std::string address;
  bool answered = false;  // a 220 greeting came
  bool starttls = false;
  std::string tls_version;  // negotiated ("TLSv1.3"); empty when TLS failed or was not tried
  bool tls_ok = false;      // TLS 1.2 or newer negotiated
  bool certificate_present = false;
  bool certificate_valid = false;   // PKIX: chain to a trusted root, within its dates
  bool matches_hostname = false;    // a certificate name matches the MX hostname
  std::string certificate_pattern;  // the first of the entry's mxs a certificate name matches; empty: none
  std::string certificate_name;     // that certificate name
  std::vector<std::string> names;   // the certificate's names (SAN dNSNames, else the CN)
  bool valid = false;               // answered and all of the above
};

// One MX host (checks 2-6).
struct ListMxValidation {
  std::string hostname;
  uint16_t preference = 0;
  bool implicit = false;                         // no MX records: the domain's own address
  std::string pattern;                           // the first of the entry's mxs the hostname matches; empty: none
  bool answered = false;                         // at least one address answered
  std::vector<ListAddressValidation> addresses;  // one per address checked
  bool valid = false;                            // pattern matched, answered, and every answering address valid
};

struct ListValidation {
  std::string domain;
  policylist::Mode mode = policylist::Mode::kTesting;
  std::vector<std::string> mxs;  // the entry's patterns, as published
  std::vector<ListMxValidation> mx;
  bool valid = false;  // problems is empty
  // One line each: what, where, and how to fix it, e.g. "mx2.example.com is
  // not covered by the list's mxs (.example.com, mx.example.net): add it to
  // the list entry or change the MX records". Empty exactly when valid.
  std::vector<std::string> problems;
  // Observations that do not change the verdict (an address that did not
  // answer while another did, a certificate about to expire, an MTA-STS
  // policy that differs from the entry), one line each.
  std::vector<std::string> notes;
};

// Judges `result` (Checker::Check of the listed domain) against `policy`
// (its list entry). Never fails: everything the check could not establish
// becomes a problem.
ListValidation ValidateAgainstList(const DomainResult& result, const policylist::Policy& policy);

// Whether a certificate name (possibly "*.x") is covered by a list pattern,
// as Postfix's `match=` compares them (see check 6 above). Case and a
// trailing dot are ignored.
bool CertificateNameMatchesPattern(std::string_view pattern, std::string_view name);

}  // namespace mxsec::check
