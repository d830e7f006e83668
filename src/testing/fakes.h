// Test doubles behind mxsec's interfaces, header-only (every .cc under src/
// that is not a *_test.cc is left out of the test binary).
//
//   FakeResolver     dns::Resolver from a table of (name, type) -> answer or error
//   FakeHttpsClient  net::HttpsClient from a table of host -> response or error
//   FakeSmtpProber   net::SmtpProber from a table of address -> probe result
//   FakeClock        Clock that only moves when told to
//   ScopedTempDir    a fresh directory under testing::TempDir(), removed afterwards
//   PrintTo(store::CacheEntry) so failed comparisons show the fields
//
// All fakes are thread-safe (a mutex each) so they can stand in for the real
// implementations in concurrent tests too.
//
// The namespace is mxsec::test, not mxsec::testing: the latter would hide
// GoogleTest's ::testing inside namespace mxsec.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <ostream>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "base/base.h"
#include "dns/dns.h"
#include "net/net.h"
#include "store/store.h"

namespace mxsec::test {

// ---- DNS ------------------------------------------------------------------------

// Answers lookups from a table. A (name, type) that was never set is NXDOMAIN
// (Code::kNotFound). Names are compared folded (ASCII lower case, no trailing
// dot), like DNS does. Every lookup is counted, per folded name and type.
class FakeResolver : public dns::Resolver {
 public:
  enum class Type { kTxt, kMx, kA, kAaaa, kTlsa };

  // ---- Programming the answers.
  void SetTxt(std::string_view name, std::vector<std::string> records,
              dns::Security security = dns::Security::kInsecure, uint32_t ttl = 300) {
    Set(strings_, name, Type::kTxt, MakeAnswer(name, std::move(records), security, ttl));
  }
  void SetA(std::string_view name, std::vector<std::string> addresses,
            dns::Security security = dns::Security::kInsecure, uint32_t ttl = 300) {
    Set(strings_, name, Type::kA, MakeAnswer(name, std::move(addresses), security, ttl));
  }
  void SetAaaa(std::string_view name, std::vector<std::string> addresses,
               dns::Security security = dns::Security::kInsecure, uint32_t ttl = 300) {
    Set(strings_, name, Type::kAaaa, MakeAnswer(name, std::move(addresses), security, ttl));
  }
  void SetMx(std::string_view name, std::vector<dns::Mx> records, dns::Security security = dns::Security::kInsecure,
             uint32_t ttl = 300) {
    Set(mxs_, name, Type::kMx, MakeAnswer(name, std::move(records), security, ttl));
  }
  void SetTlsa(std::string_view name, std::vector<dns::Tlsa> records,
               dns::Security security = dns::Security::kInsecure, uint32_t ttl = 300) {
    Set(tlsas_, name, Type::kTlsa, MakeAnswer(name, std::move(records), security, ttl));
  }
  // Any answer, e.g. one with a canonical_name after a CNAME.
  void SetTxtAnswer(std::string_view name, dns::Answer<std::string> answer) {
    Set(strings_, name, Type::kTxt, std::move(answer));
  }
  // A failure (kNotFound, kTempFail, kBogus, ...) for one name and type.
  void SetError(std::string_view name, Type type, Code code, std::string detail = "") {
    if (detail.empty()) detail = "fake " + std::string(CodeName(code)) + " for " + FoldDomain(name);
    Error error{code, std::move(detail)};
    switch (type) {
      case Type::kTxt:
      case Type::kA:
      case Type::kAaaa: Set(strings_, name, type, tl::unexpected(std::move(error))); break;
      case Type::kMx: Set(mxs_, name, type, tl::unexpected(std::move(error))); break;
      case Type::kTlsa: Set(tlsas_, name, type, tl::unexpected(std::move(error))); break;
    }
  }
  // Back to NXDOMAIN.
  void Clear(std::string_view name, Type type) {
    std::lock_guard lock(mutex_);
    const Key key{FoldDomain(name), type};
    strings_.erase(key);
    mxs_.erase(key);
    tlsas_.erase(key);
  }

  // ---- Counters.
  int Lookups(std::string_view name) const {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (const auto& [key, count] : counts_) {
      if (key.first == FoldDomain(name)) n += count;
    }
    return n;
  }
  int Lookups(std::string_view name, Type type) const {
    std::lock_guard lock(mutex_);
    auto it = counts_.find(Key{FoldDomain(name), type});
    return it == counts_.end() ? 0 : it->second;
  }
  int TotalLookups() const {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (const auto& [key, count] : counts_) n += count;
    return n;
  }
  void ResetCounts() {
    std::lock_guard lock(mutex_);
    counts_.clear();
  }

  // ---- dns::Resolver.
  Result<dns::Answer<std::string>> LookupTxt(std::string_view name) override {
    return Get(strings_, name, Type::kTxt);
  }
  Result<dns::Answer<dns::Mx>> LookupMx(std::string_view name) override { return Get(mxs_, name, Type::kMx); }
  Result<dns::Answer<std::string>> LookupA(std::string_view name) override { return Get(strings_, name, Type::kA); }
  Result<dns::Answer<std::string>> LookupAaaa(std::string_view name) override {
    return Get(strings_, name, Type::kAaaa);
  }
  Result<dns::Answer<dns::Tlsa>> LookupTlsa(std::string_view name) override {
    return Get(tlsas_, name, Type::kTlsa);
  }

 private:
  using Key = std::pair<std::string, Type>;
  template <typename T>
  using Table = std::map<Key, Result<dns::Answer<T>>>;

  template <typename T>
  static dns::Answer<T> MakeAnswer(std::string_view name, std::vector<T> records, dns::Security security,
                                   uint32_t ttl) {
    dns::Answer<T> answer;
    answer.records = std::move(records);
    answer.security = security;
    answer.ttl = ttl;
    answer.canonical_name = FoldDomain(name);
    return answer;
  }

  template <typename T>
  void Set(Table<T>& table, std::string_view name, Type type, std::type_identity_t<Result<dns::Answer<T>>> value) {
    std::lock_guard lock(mutex_);
    table.insert_or_assign(Key{FoldDomain(name), type}, std::move(value));
  }

  template <typename T>
  Result<dns::Answer<T>> Get(const Table<T>& table, std::string_view name, Type type) {
    std::lock_guard lock(mutex_);
    Key key{FoldDomain(name), type};
    ++counts_[key];
    auto it = table.find(key);
    if (it == table.end()) return Fail(Code::kNotFound, "fake NXDOMAIN for " + key.first);
    return it->second;
  }

  mutable std::mutex mutex_;
  Table<std::string> strings_;  // TXT, A, AAAA
  Table<dns::Mx> mxs_;
  Table<dns::Tlsa> tlsas_;
  std::map<Key, int> counts_;
};

// ---- HTTPS ----------------------------------------------------------------------

// Answers GETs by host (compared folded). A host that was never set fails at
// HttpsStage::kResolve, as a host without addresses would.
class FakeHttpsClient : public net::HttpsClient {
 public:
  using Outcome = tl::expected<net::HttpsResponse, net::HttpsError>;

  void SetResponse(std::string_view host, net::HttpsResponse response) {
    std::lock_guard lock(mutex_);
    outcomes_.insert_or_assign(FoldDomain(host), Outcome(std::move(response)));
  }
  void SetResponse(std::string_view host, unsigned status, std::string content_type, std::string body,
                   std::string location = "") {
    net::HttpsResponse response;
    response.status = status;
    response.content_type = std::move(content_type);
    response.body = std::move(body);
    response.location = std::move(location);
    SetResponse(host, std::move(response));
  }
  // 200, text/plain.
  void SetBody(std::string_view host, std::string body) {
    SetResponse(host, 200, "text/plain", std::move(body));
  }
  void SetError(std::string_view host, net::HttpsStage stage, std::string detail = "") {
    if (detail.empty()) detail = "fake " + std::string(net::HttpsStageName(stage)) + " failure";
    std::lock_guard lock(mutex_);
    outcomes_.insert_or_assign(FoldDomain(host), Outcome(tl::unexpected(net::HttpsError{stage, std::move(detail)})));
  }
  void Clear(std::string_view host) {
    std::lock_guard lock(mutex_);
    outcomes_.erase(FoldDomain(host));
  }

  int Requests() const {
    std::lock_guard lock(mutex_);
    return total_;
  }
  int Requests(std::string_view host) const {
    std::lock_guard lock(mutex_);
    auto it = counts_.find(FoldDomain(host));
    return it == counts_.end() ? 0 : it->second;
  }
  std::optional<net::HttpsRequest> LastRequest() const {
    std::lock_guard lock(mutex_);
    return last_;
  }
  void ResetCounts() {
    std::lock_guard lock(mutex_);
    total_ = 0;
    counts_.clear();
    last_.reset();
  }

  Outcome Get(const net::HttpsRequest& request) override {
    std::lock_guard lock(mutex_);
    ++total_;
    const std::string host = FoldDomain(request.host);
    ++counts_[host];
    last_ = request;
    auto it = outcomes_.find(host);
    if (it == outcomes_.end()) {
      return tl::unexpected(net::HttpsError{net::HttpsStage::kResolve, "fake: no address for " + host});
    }
    return it->second;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Outcome> outcomes_;
  std::map<std::string, int> counts_;
  int total_ = 0;
  std::optional<net::HttpsRequest> last_;
};

// ---- SMTP -----------------------------------------------------------------------

// Answers probes by address from a table. An address never set is refused
// at kConnect. A probe offering exactly one legacy version (min == max ==
// TLS 1.0 or 1.1) is answered from SetLegacy (default: refused at kTls).
// Counts probes and the most sessions one address had at once; `delay`
// keeps each session open that long, to observe concurrency.
class FakeSmtpProber : public net::SmtpProber {
 public:
  void Set(std::string_view address, net::SmtpProbeResult result) {
    std::lock_guard lock(mutex_);
    results_.insert_or_assign(std::string(address), std::move(result));
  }
  void SetLegacy(std::string_view address, net::TlsVersion version, bool accepted) {
    std::lock_guard lock(mutex_);
    legacy_.insert_or_assign({std::string(address), static_cast<int>(version)}, accepted);
  }
  void SetDelay(std::chrono::milliseconds delay) { delay_ = delay; }

  net::SmtpProbeResult Probe(const net::SmtpProbeRequest& request) override {
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
      int now = ++active_[request.address];
      max_active_[request.address] = std::max(max_active_[request.address], now);
    }
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    std::lock_guard lock(mutex_);
    --active_[request.address];
    auto it = results_.find(request.address);
    if (it == results_.end()) {
      net::SmtpProbeResult refused;
      refused.failed = net::SmtpStage::kConnect;
      refused.error = request.address + ":25: Connection refused";
      return refused;
    }
    net::SmtpProbeResult result = it->second;
    const bool legacy = request.min_version == request.max_version &&
                        (request.min_version == net::TlsVersion::kTls10 || request.min_version == net::TlsVersion::kTls11);
    if (legacy && result.tls) {
      auto l = legacy_.find({request.address, static_cast<int>(request.min_version)});
      if (l == legacy_.end() || !l->second) {
        result.tls = false;
        result.failed = net::SmtpStage::kTls;
        result.error = "TLS handshake failed: unsupported protocol";
      } else {
        result.tls_version = std::string(net::TlsVersionName(request.min_version));
      }
    }
    return result;
  }

  std::vector<net::SmtpProbeRequest> Requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  int MaxActive(const std::string& address) const {
    std::lock_guard lock(mutex_);
    auto it = max_active_.find(address);
    return it == max_active_.end() ? 0 : it->second;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, net::SmtpProbeResult> results_;
  std::map<std::pair<std::string, int>, bool> legacy_;
  std::vector<net::SmtpProbeRequest> requests_;
  std::map<std::string, int> active_, max_active_;
  std::chrono::milliseconds delay_{0};
};

// ---- Clock ----------------------------------------------------------------------

class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t unix_seconds = 1'700'000'000) { SetUnix(unix_seconds); }

  SystemTime Now() const override { return SystemTime(SystemTime::duration(ticks_.load())); }
  int64_t NowUnix() const { return ToUnix(Now()); }

  void Set(SystemTime t) { ticks_.store(t.time_since_epoch().count()); }
  void SetUnix(int64_t seconds) { Set(FromUnix(seconds)); }
  void Advance(std::chrono::seconds seconds) {
    ticks_.fetch_add(std::chrono::duration_cast<SystemTime::duration>(seconds).count());
  }
  void Advance(int64_t seconds) { Advance(std::chrono::seconds(seconds)); }

 private:
  std::atomic<SystemTime::rep> ticks_{0};
};

// ---- Files ------------------------------------------------------------------------

// A fresh directory under testing::TempDir(), removed with its contents.
class ScopedTempDir {
 public:
  ScopedTempDir() {
    std::string tmpl = ::testing::TempDir();
    if (!tmpl.empty() && tmpl.back() != '/') tmpl.push_back('/');
    tmpl += "mxsec_test_XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp(" << tmpl << ") failed";
      return;
    }
    path_ = tmpl;
  }
  ~ScopedTempDir() {
    if (path_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name
  std::string File(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

}  // namespace mxsec::test

// ---- Printers -----------------------------------------------------------------------
// Readable failure messages for EXPECT_EQ on these types (found by ADL).

namespace mxsec::store {
inline void PrintTo(const CacheEntry& e, std::ostream* os) {
  *os << "{mode='" << e.mode << "' mx=[";
  for (size_t i = 0; i < e.mx.size(); ++i) *os << (i ? "," : "") << e.mx[i];
  *os << "] max_age=" << e.max_age << " id='" << e.id << "' fetched_at=" << e.fetched_at
      << " expires=" << e.expires << " report='" << e.report << "' error_phase='" << e.error_phase
      << "' error_type='" << e.error_type << "' error_message='" << e.error_message << "' error_at=" << e.error_at
      << " retry_after=" << e.retry_after << " failures=" << e.failures << "}";
}
}  // namespace mxsec::store
