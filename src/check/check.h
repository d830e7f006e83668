// check: a transport-security check of mail domains, as a careful sender
// sees them: MX (with DNSSEC status, null MX, implicit MX), each MX host and
// address over SMTP with STARTTLS (protocol, cipher, key exchange, whether
// TLS 1.0/1.1 are still accepted), the certificate (PKIX, names, expiry,
// key), DANE (RFC 7672), MTA-STS (RFC 8461) and TLSRPT (RFC 8460).
//
// Statuses are ordered Success < Warning < Failure < Error; every finding
// carries one, and the worst one wins upward (address -> MX -> domain). The
// MX part of a domain's status comes from its most-preferred MX hosts that
// answered (docs/check.md). Error means the check could not be completed
// (no answer, a misbehaving peer, a DNS failure); Failure means it was and
// mail to the domain cannot be delivered securely.
//
// Checker is thread-safe: one instance serves a whole scan, sharing the
// results of MX hosts that several domains use.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"
#include "dns/dns.h"

namespace mxsec::net {
class HttpsClient;
class SmtpProber;
}  // namespace mxsec::net

namespace mxsec::check {

enum class Status { kSuccess = 0, kWarning = 1, kFailure = 2, kError = 3 };
std::string_view StatusName(Status status);  // "success", "warning", "failure", "error"
inline Status Worst(Status a, Status b) { return a > b ? a : b; }

// One non-success (or noteworthy) observation: what, and how to fix it.
struct Finding {
  std::string check;  // "mx", "smtp", "starttls", "tls", "certificate", "dane", "mta-sts", "tlsrpt"
  Status status = Status::kSuccess;
  std::string message;  // one line
  std::string hint;     // one line remediation, may be empty
};

// ---- Certificates -------------------------------------------------------------

struct Certificate {
  bool present = false;
  bool pkix_valid = false;       // chain to a trusted root, dates valid (names not included)
  std::string pkix_error;        // OpenSSL's reason when !pkix_valid
  bool matches_hostname = false;  // RFC 6125 against the MX hostname
  std::vector<std::string> names;  // SAN dNSNames; the CN only when there is no SAN
  std::string subject;
  std::string issuer;
  std::string not_before;  // RFC 3339, UTC
  std::string not_after;
  int64_t days_left = 0;   // negative when expired
  std::string key_type;    // "RSA", "EC", "Ed25519", ...
  int key_bits = 0;
  std::string signature_algorithm;  // "ecdsa-with-SHA256", ...
  bool self_signed = false;
  size_t chain_length = 0;
};

// A trust store for PKIX checks, loaded once. Empty path: the system store.
class TrustStore {
 public:
  static Result<std::shared_ptr<TrustStore>> Load(const std::string& ca_file);
  ~TrustStore();
  void* native() const { return store_; }  // X509_STORE*

 private:
  explicit TrustStore(void* store) : store_(store) {}
  void* store_;
};

// Judges a presented chain (DER, leaf first). `now` is seconds since the epoch.
Certificate AnalyzeCertificate(const std::vector<std::string>& chain, const TrustStore& trust,
                               std::string_view hostname, int64_t now);

// ---- Results --------------------------------------------------------------------

struct TlsProbe {
  std::string version;       // negotiated with the widest offer
  std::string cipher;
  std::string key_exchange;
  // Whether an offer of exactly that version was accepted; empty: not probed
  // (the widest offer already negotiated it or lower) or the probe failed.
  std::optional<bool> tls10_accepted;
  std::optional<bool> tls11_accepted;
};

struct Dane {
  std::string dnssec;             // "secure", "insecure", "bogus", "" when the lookup failed
  std::vector<std::string> tlsa;  // TlsaText of every record found
  bool usable = false;            // secure and at least one usable record
  bool valid = false;             // the presented chain matched
  std::string matched;            // TlsaText of the matching record
  std::string error;
};

struct AddressResult {
  std::string address;
  bool connected = false;
  bool answered = false;  // a 220 banner came
  std::string banner;
  bool starttls = false;
  bool tls_ok = false;
  TlsProbe tls;
  Certificate certificate;
  Dane dane;
  Status status = Status::kSuccess;
  std::vector<Finding> findings;
  int64_t elapsed_ms = 0;
};

struct MxResult {
  std::string hostname;
  uint16_t preference = 0;
  bool implicit = false;  // no MX: the domain's own address (RFC 5321 5.1)
  std::string dnssec;     // of the host's address records
  std::vector<std::string> addresses;
  std::vector<AddressResult> results;  // one per address
  // The summary of the first address that answered (else the first).
  bool answered = false;
  bool starttls = false;
  bool policy_match = false;  // the hostname matches the MTA-STS policy's patterns
  Dane dane;
  Status status = Status::kSuccess;
  std::vector<Finding> findings;  // host-level (DNS, TLSA, policy)
};

struct MtaStsResult {
  std::string record;   // the TXT record as published
  std::string id;
  std::string policy;   // the policy text as served
  std::string mode;     // "enforce", "testing", "none"; "" without a policy
  std::vector<std::string> mx;  // policy patterns
  int64_t max_age = 0;
  bool valid = false;   // record and policy found and valid
  bool mx_ok = false;   // testing/enforce: every MX matches and offers STARTTLS with a PKIX-valid certificate
  std::string error;
  Status status = Status::kSuccess;
};

struct TlsrptResult {
  std::string record;
  std::vector<std::string> rua;
  bool valid = false;
  std::string error;
  Status status = Status::kSuccess;
};

struct DomainResult {
  std::string domain;
  Status status = Status::kSuccess;
  std::string mx_dnssec;  // of the MX RRset
  bool null_mx = false;
  std::vector<MxResult> mx;
  MtaStsResult mta_sts;
  TlsrptResult tlsrpt;
  std::vector<Finding> findings;  // domain-level and every finding below, in order
  std::string started;            // RFC 3339
  int64_t elapsed_ms = 0;
};

// ---- The checker ----------------------------------------------------------------

struct CheckOptions {
  std::string ehlo_name;  // empty: this host's name
  uint16_t port = 25;
  std::string ca_file;    // PKIX trust; empty: system store (also for MTA-STS fetches)
  std::chrono::milliseconds connect_timeout{30000};  // one SMTP session
  std::chrono::milliseconds domain_timeout{120000};  // a whole domain
  std::chrono::milliseconds https_timeout{10000};    // the MTA-STS policy fetch
  bool probe_legacy_tls = true;  // also offer only TLS 1.0, only TLS 1.1
  int per_address_limit = 4;     // concurrent SMTP sessions per IP address
  int max_mx = 10;               // MX hosts checked per domain (by preference)
  bool ipv6 = true;              // also connect to AAAA addresses
};

class Checker {
 public:
  // Every reference must outlive the checker.
  Checker(dns::Resolver& resolver, net::SmtpProber& prober, net::HttpsClient& https,
          std::shared_ptr<TrustStore> trust, CheckOptions options, const Clock& clock);
  ~Checker();
  DomainResult Check(std::string_view domain);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- Output ---------------------------------------------------------------------

// The JSON document of docs/check-json.md (schema "mxsec.check/1").
std::string ToJson(const DomainResult& result, bool pretty);
// Readable text; `colour` adds ANSI colours.
std::string ToText(const DomainResult& result, bool colour);

// ---- Scans ----------------------------------------------------------------------

struct ScanSummary {
  size_t attempted = 0;
  size_t with_mx = 0;          // at least one MX host (or the implicit one) with addresses
  size_t null_mx = 0;
  size_t starttls = 0;         // every MX that answered offers STARTTLS
  size_t valid_certificates = 0;  // every MX that answered has a PKIX-valid certificate for its name
  size_t dane_valid = 0;       // every MX that answered is DANE-valid
  std::vector<std::string> mta_sts_testing;
  std::vector<std::string> mta_sts_enforce;
  size_t by_status[4] = {0, 0, 0, 0};
  double seconds = 0;
  void Add(const DomainResult& result);
};
std::string SummaryJson(const ScanSummary& summary);
// Runs checker.Check for each domain `next` yields (std::nullopt: no more),
// `concurrency` at a time. `done` is called for every result, one call at a
// time (under a lock), in the order the checks finish.
void Scan(Checker& checker, const std::function<std::optional<std::string>()>& next, int concurrency,
          const std::function<void(const DomainResult&)>& done);
std::string SummaryText(const ScanSummary& summary);

}  // namespace mxsec::check
