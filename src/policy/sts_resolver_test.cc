// Tests for policy::StsResolver: the RFC 8461 5.1 refresh rules (and the
// downgrade protection of 10.2) on top of a real PolicyCache in a temporary
// file, with fake DNS, HTTPS and clock.
//
// The rules, from policy.h and docs/mtasts.md:
//  1. an expired policy is never served;
//  2. during a failure back-off there is no network traffic; the cached
//     policy (if any) and the remembered failure are the answer; the back-off
//     starts at failure_backoff and doubles per consecutive failure up to
//     max_backoff;
//  3. the TXT id is checked on every lookup: same id -> cache, new id or
//     nothing cached -> fetch;
//  4. a failed fetch keeps the cached policy in force until it expires and
//     records the failure with its TLSRPT result-type;
//  5. a TXT record that disappeared never removes an unexpired enforce or
//     testing policy; a cached mode-none policy whose record is gone is removed;
//  6. a DNS failure, a bogus answer or an invalid record never erases or
//     weakens a cached policy.

#include <gtest/gtest.h>
#include <lmdb.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"
#include "mtasts/mtasts.h"
#include "net/net.h"
#include "policy/policy.h"
#include "store/store.h"
#include "testing/fakes.h"

namespace mxsec::policy {
namespace {

using mtasts::Phase;
using store::CacheEntry;
using store::PolicyCache;
using test::FakeClock;
using test::FakeHttpsClient;
using test::FakeResolver;
using test::ScopedTempDir;
using namespace std::chrono_literals;

constexpr std::string_view kDomain = "example.com";
constexpr std::string_view kTxtName = "_mta-sts.example.com";
constexpr std::string_view kPolicyHost = "mta-sts.example.com";
constexpr std::string_view kTlsrptName = "_smtp._tls.example.com";
constexpr int64_t kStart = 1'700'000'000;
constexpr int64_t kBackoff = 300;
constexpr int64_t kMaxBackoff = 3600;

std::string PolicyText(std::string_view mode, int64_t max_age, const std::vector<std::string>& mx) {
  std::string text = "version: STSv1\nmode: " + std::string(mode) + "\n";
  for (const auto& pattern : mx) text += "mx: " + pattern + "\n";
  text += "max_age: " + std::to_string(max_age) + "\n";
  return text;
}

const std::vector<std::string> kMx = {"mx1.example.com", "*.example.net"};

class StsResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    auto cache = PolicyCache::Open(dir_.File("mtasts.lmdb"));
    ASSERT_TRUE(cache.has_value()) << cache.error().detail;
    cache_ = std::move(*cache);
    options_.fetch.timeout = 1234ms;
    options_.failure_backoff = std::chrono::seconds(kBackoff);
    options_.max_backoff = std::chrono::seconds(kMaxBackoff);
    MakeResolver(cache_.get());
  }

  void MakeResolver(PolicyCache* cache) {
    sts_ = std::make_unique<StsResolver>(dns_, https_, cache, clock_, options_);
  }

  void PublishRecord(std::string_view id) { dns_.SetTxt(kTxtName, {"v=STSv1; id=" + std::string(id)}); }
  void ServePolicy(std::string_view mode, int64_t max_age = 86400, const std::vector<std::string>& mx = kMx) {
    https_.SetBody(kPolicyHost, PolicyText(mode, max_age, mx));
  }
  void ResetCounts() {
    dns_.ResetCounts();
    https_.ResetCounts();
  }
  int Network() const { return dns_.TotalLookups() + https_.Requests(); }

  StsAnswer Resolve() {
    auto answer = sts_->Resolve(kDomain);
    EXPECT_TRUE(answer.has_value()) << answer.error().detail;
    if (!answer) return StsAnswer{};
    EXPECT_EQ(answer->domain, kDomain);
    // An answer carries an entry exactly when a policy applies.
    EXPECT_EQ(answer->entry.has_value(), answer->source != Source::kNone) << SourceName(answer->source);
    if (answer->entry) {
      EXPECT_TRUE(answer->entry->HasPolicy());
    }
    return *answer;
  }

  std::optional<CacheEntry> Cached() {
    auto got = cache_->Get(kDomain);
    EXPECT_TRUE(got.has_value()) << got.error().detail;
    return got ? *got : std::nullopt;
  }
  // The cached entry, or (after reporting a failure) an empty one.
  CacheEntry MustCached() {
    auto cached = Cached();
    if (!cached) ADD_FAILURE() << "nothing cached for " << kDomain;
    return cached.value_or(CacheEntry{});
  }
  // The answer's entry, or (after reporting a failure) an empty one.
  static const CacheEntry& Entry(const StsAnswer& answer) {
    static const CacheEntry kEmpty;
    if (!answer.entry) ADD_FAILURE() << "answer without an entry, source " << SourceName(answer.source);
    return answer.entry ? *answer.entry : kEmpty;
  }
  std::string CachedText() { return cache_->GetPolicyText(kDomain).value_or("<error>"); }

  // Caches an enforce policy with id "one", fetched at the current time.
  void CacheEnforcePolicy(std::string_view mode = "enforce", int64_t max_age = 86400) {
    PublishRecord("one");
    ServePolicy(mode, max_age);
    StsAnswer answer = Resolve();
    ASSERT_EQ(SourceName(answer.source), SourceName(Source::kFetched));
    ASSERT_EQ(Entry(answer).mode, mode);
    ResetCounts();
  }

  ScopedTempDir dir_;
  FakeResolver dns_;
  FakeHttpsClient https_;
  FakeClock clock_{kStart};
  StsOptions options_;
  std::unique_ptr<PolicyCache> cache_;
  std::unique_ptr<StsResolver> sts_;
};

// ---- 1. First fetch, then the cache --------------------------------------------------

TEST_F(StsResolverTest, FetchesWhenNothingIsCached) {
  PublishRecord("20240101");
  ServePolicy("enforce", 86400);
  StsAnswer answer = Resolve();
  EXPECT_EQ(SourceName(answer.source), SourceName(Source::kFetched));
  EXPECT_FALSE(answer.error.has_value());
  ASSERT_TRUE(answer.entry.has_value());
  const CacheEntry& e = *answer.entry;
  EXPECT_EQ(e.mode, "enforce");
  EXPECT_EQ(e.mx, kMx);
  EXPECT_EQ(e.max_age, 86400);
  EXPECT_EQ(e.id, "20240101");
  EXPECT_EQ(e.fetched_at, kStart);
  EXPECT_EQ(e.expires, kStart + 86400);
  EXPECT_EQ(e.report, "");
  EXPECT_EQ(e.error_phase, "");
  EXPECT_EQ(e.failures, 0);
  EXPECT_EQ(e.retry_after, 0);
  EXPECT_EQ(mtasts::ModeName(answer.mode()), mtasts::ModeName(mtasts::Mode::kEnforce));
  EXPECT_EQ(https_.Requests(), 1);

  // Written to the cache, with the text as served.
  EXPECT_EQ(Cached(), e);
  EXPECT_EQ(CachedText(), PolicyText("enforce", 86400, kMx));
}

TEST_F(StsResolverTest, SecondLookupServesTheCacheAfterRecheckingTheId) {
  PublishRecord("20240101");
  ServePolicy("enforce", 86400);
  StsAnswer first = Resolve();
  ASSERT_EQ(SourceName(first.source), SourceName(Source::kFetched));
  clock_.Advance(600);
  StsAnswer second = Resolve();
  EXPECT_EQ(SourceName(second.source), SourceName(Source::kCache));
  EXPECT_FALSE(second.error.has_value());
  EXPECT_EQ(second.entry, first.entry);  // fetched_at stays the time of the fetch
  EXPECT_EQ(https_.Requests(), 1);
  // RFC 8461 5.1: the TXT record is checked on every lookup.
  EXPECT_EQ(dns_.Lookups(kTxtName, FakeResolver::Type::kTxt), 2);
}

// ---- 2. Same id, new id ----------------------------------------------------------------

TEST_F(StsResolverTest, SameIdNeverFetchesEvenWhenThePolicyChanged) {
  CacheEnforcePolicy();
  ServePolicy("testing", 600, {"other.example"});  // changed without a new id
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(3600);
    StsAnswer answer = Resolve();
    EXPECT_EQ(SourceName(answer.source), SourceName(Source::kCache));
    EXPECT_EQ(Entry(answer).mode, "enforce");
  }
  EXPECT_EQ(https_.Requests(), 0);
}

TEST_F(StsResolverTest, NewIdFetchesAndReplacesTheOldPolicy) {
  CacheEnforcePolicy();
  clock_.Advance(1000);
  PublishRecord("two");
  ServePolicy("testing", 3600, {"new.example.org"});
  StsAnswer answer = Resolve();
  EXPECT_EQ(SourceName(answer.source), SourceName(Source::kFetched));
  EXPECT_FALSE(answer.error.has_value());
  ASSERT_TRUE(answer.entry.has_value());
  EXPECT_EQ(Entry(answer).mode, "testing");
  EXPECT_EQ(Entry(answer).id, "two");
  EXPECT_EQ(Entry(answer).mx, std::vector<std::string>{"new.example.org"});
  EXPECT_EQ(Entry(answer).max_age, 3600);
  EXPECT_EQ(Entry(answer).fetched_at, kStart + 1000);
  EXPECT_EQ(Entry(answer).expires, kStart + 1000 + 3600);
  EXPECT_EQ(https_.Requests(), 1);
  EXPECT_EQ(Cached(), answer.entry);
  EXPECT_EQ(CachedText(), PolicyText("testing", 3600, {"new.example.org"}));
  // And the new id is now the cached one.
  EXPECT_EQ(SourceName(Resolve().source), SourceName(Source::kCache));
  EXPECT_EQ(https_.Requests(), 1);
}

// ---- 3. Fetch failures with a cached policy, back-off ----------------------------------

TEST_F(StsResolverTest, FailedFetchForNewIdKeepsServingTheOldPolicy) {
  CacheEnforcePolicy();
  const CacheEntry before = MustCached();
  const std::string text_before = CachedText();
  clock_.Advance(1000);
  const int64_t now = clock_.NowUnix();
  PublishRecord("two");
  https_.SetError(kPolicyHost, net::HttpsStage::kConnect, "connection refused");

  StsAnswer answer = Resolve();
  EXPECT_EQ(SourceName(answer.source), SourceName(Source::kCache));
  ASSERT_TRUE(answer.entry.has_value());
  EXPECT_EQ(Entry(answer).mode, "enforce");
  EXPECT_EQ(Entry(answer).id, "one");
  EXPECT_EQ(Entry(answer).mx, kMx);
  EXPECT_EQ(Entry(answer).expires, before.expires);
  ASSERT_TRUE(answer.error.has_value());
  EXPECT_EQ(mtasts::PhaseName(answer.error->phase), mtasts::PhaseName(Phase::kConnect));
  EXPECT_EQ(mtasts::TlsrptResultType(answer.error->phase), "sts-policy-fetch-error");
  EXPECT_NE(answer.error->error.detail.find("connection refused"), std::string::npos) << answer.error->error.detail;
  EXPECT_EQ(https_.Requests(), 1);

  auto cached = Cached();
  ASSERT_TRUE(cached.has_value());
  // The old policy, untouched ...
  EXPECT_EQ(cached->mode, before.mode);
  EXPECT_EQ(cached->mx, before.mx);
  EXPECT_EQ(cached->max_age, before.max_age);
  EXPECT_EQ(cached->id, before.id);
  EXPECT_EQ(cached->fetched_at, before.fetched_at);
  EXPECT_EQ(cached->expires, before.expires);
  EXPECT_EQ(CachedText(), text_before);
  // ... plus the failure.
  EXPECT_EQ(cached->error_phase, "connect");
  EXPECT_EQ(cached->error_type, "sts-policy-fetch-error");
  EXPECT_NE(cached->error_message.find("connection refused"), std::string::npos) << cached->error_message;
  EXPECT_EQ(cached->error_at, now);
  EXPECT_EQ(cached->failures, 1);
  EXPECT_EQ(cached->retry_after, now + kBackoff);
}

TEST_F(StsResolverTest, NoNetworkDuringBackoffThenRetry) {
  CacheEnforcePolicy();
  PublishRecord("two");
  https_.SetError(kPolicyHost, net::HttpsStage::kConnect, "connection refused");
  ASSERT_EQ(SourceName(Resolve().source), SourceName(Source::kCache));
  ResetCounts();

  for (int64_t step : {1, 100, 198}) {  // up to kBackoff - 1 seconds after the failure
    clock_.Advance(step);
    StsAnswer answer = Resolve();
    EXPECT_EQ(SourceName(answer.source), SourceName(Source::kCache));
    EXPECT_EQ(Entry(answer).id, "one");
    ASSERT_TRUE(answer.error.has_value());
    EXPECT_EQ(mtasts::PhaseName(answer.error->phase), mtasts::PhaseName(Phase::kConnect));
    EXPECT_EQ(Network(), 0) << "during back-off, " << step;
  }
  clock_.Advance(1);  // exactly kBackoff after the failure
  StsAnswer retried = Resolve();
  EXPECT_EQ(dns_.Lookups(kTxtName), 1);
  EXPECT_EQ(https_.Requests(), 1);
  EXPECT_EQ(SourceName(retried.source), SourceName(Source::kCache));
  EXPECT_EQ(MustCached().failures, 2);

  // The policy host is back: the new policy is fetched and the failure forgotten.
  ServePolicy("testing");
  clock_.Advance(2 * kBackoff);
  StsAnswer fixed = Resolve();
  EXPECT_EQ(SourceName(fixed.source), SourceName(Source::kFetched));
  EXPECT_FALSE(fixed.error.has_value());
  EXPECT_EQ(Entry(fixed).id, "two");
  auto cached = Cached();
  EXPECT_EQ(cached->failures, 0);
  EXPECT_EQ(cached->retry_after, 0);
  EXPECT_EQ(cached->error_phase, "");
}

TEST_F(StsResolverTest, BackoffDoublesPerConsecutiveFailureUpToTheMaximum) {
  CacheEnforcePolicy("enforce", 31557600);
  PublishRecord("two");
  https_.SetError(kPolicyHost, net::HttpsStage::kTimeout);
  const int64_t want[] = {300, 600, 1200, 2400, 3600, 3600, 3600, 3600};
  for (size_t i = 0; i < std::size(want); ++i) {
    SCOPED_TRACE("failure " + std::to_string(i + 1));
    const int64_t now = clock_.NowUnix();
    ResetCounts();
    StsAnswer answer = Resolve();
    EXPECT_EQ(https_.Requests(), 1);
    EXPECT_EQ(SourceName(answer.source), SourceName(Source::kCache));
    auto cached = Cached();
    ASSERT_TRUE(cached.has_value());
    EXPECT_EQ(cached->failures, static_cast<int>(i + 1));
    EXPECT_EQ(cached->retry_after - now, want[i]);
    // One second before the end of the back-off: still quiet.
    clock_.Advance(want[i] - 1);
    ResetCounts();
    Resolve();
    EXPECT_EQ(Network(), 0);
    clock_.Advance(1);
  }
  // After a success the back-off starts over.
  ServePolicy("enforce");
  ASSERT_EQ(SourceName(Resolve().source), SourceName(Source::kFetched));
  PublishRecord("three");
  https_.SetError(kPolicyHost, net::HttpsStage::kTimeout);
  const int64_t now = clock_.NowUnix();
  Resolve();
  EXPECT_EQ(MustCached().retry_after, now + kBackoff);
}

TEST_F(StsResolverTest, BackoffIsCappedByMaxBackoffFromTheStart) {
  options_.failure_backoff = 900s;
  options_.max_backoff = 600s;
  MakeResolver(cache_.get());
  PublishRecord("one");
  https_.SetError(kPolicyHost, net::HttpsStage::kConnect);
  Resolve();
  EXPECT_EQ(MustCached().retry_after, kStart + 600);
}

TEST_F(StsResolverTest, FailureWithNothingCachedBacksOffToo) {
  PublishRecord("one");
  https_.SetError(kPolicyHost, net::HttpsStage::kConnect);
  StsAnswer answer = Resolve();
  EXPECT_EQ(SourceName(answer.source), SourceName(Source::kNone));
  EXPECT_FALSE(answer.entry.has_value());
  ASSERT_TRUE(answer.error.has_value());
  EXPECT_EQ(mtasts::PhaseName(answer.error->phase), mtasts::PhaseName(Phase::kConnect));
  auto cached = Cached();
  ASSERT_TRUE(cached.has_value());
  EXPECT_FALSE(cached->HasPolicy());
  EXPECT_EQ(cached->retry_after, kStart + kBackoff);

  ResetCounts();
  clock_.Advance(kBackoff - 1);
  StsAnswer quiet = Resolve();
  EXPECT_EQ(Network(), 0);
  EXPECT_EQ(SourceName(quiet.source), SourceName(Source::kNone));
  ASSERT_TRUE(quiet.error.has_value());
  EXPECT_EQ(mtasts::PhaseName(quiet.error->phase), mtasts::PhaseName(Phase::kConnect));

  clock_.Advance(1);
  ServePolicy("enforce");
  StsAnswer fetched = Resolve();
  EXPECT_EQ(SourceName(fetched.source), SourceName(Source::kFetched));
  EXPECT_FALSE(fetched.error.has_value());
}

// policy.h: StsAnswer::error is "the failure met during this lookup or still
// in back-off". Once the back-off is over and the lookup succeeds (the TXT id
// is the cached one), there is no failure to report.
TEST_F(StsResolverTest, ErrorIsNotReportedAfterBackoffWhenTheLookupSucceeds) {
  CacheEnforcePolicy();
  dns_.SetError(kTxtName, FakeResolver::Type::kTxt, Code::kTempFail, "SERVFAIL");
  ASSERT_TRUE(Resolve().error.has_value());
  clock_.Advance(kBackoff);
  PublishRecord("one");  // DNS works again, same id
  StsAnswer answer = Resolve();
  EXPECT_EQ(SourceName(answer.source), SourceName(Source::kCache));
  EXPECT_EQ(dns_.Lookups(kTxtName), 2);
  EXPECT_FALSE(answer.error.has_value()) << answer.error->Message();
}

// docs/mtasts.md: the back-off "doubles per consecutive failure". A lookup
// that succeeded in between (TXT found, same id as cached) ends the run of
// failures, so the next failure starts again at failure_backoff.
TEST_F(StsResolverTest, SuccessfulIdCheckEndsTheRunOfFailures) {
  CacheEnforcePolicy();
  dns_.SetError(kTxtName, FakeResolver::Type::kTxt, Code::kTempFail, "SERVFAIL");
  Resolve();
  clock_.Advance(kBackoff);
  PublishRecord("one");
  ASSERT_EQ(SourceName(Resolve().source), SourceName(Source::kCache));
  clock_.Advance(86400 / 2);
  dns_.SetError(kTxtName, FakeResolver::Type::kTxt, Code::kTempFail, "SERVFAIL");
  const int64_t now = clock_.NowUnix();
  Resolve();
  auto cached = Cached();
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(cached->retry_after, now + kBackoff) << "failures=" << cached->failures;
}

// During back-off the remembered failure is the answer: it must read the same
// as when it happened (StsError::Message() is "<phase>: <detail>", and the
// CLI prints error.detail as last_error.message).
TEST_F(StsResolverTest, BackoffReportsTheFailureAsItWasReported) {
  CacheEnforcePolicy();
  PublishRecord("two");
  https_.SetError(kPolicyHost, net::HttpsStage::kConnect, "connection refused");
  StsAnswer failed = Resolve();
  ASSERT_TRUE(failed.error.has_value());
  clock_.Advance(10);
  StsAnswer remembered = Resolve();
  ASSERT_TRUE(remembered.error.has_value());
  EXPECT_EQ(mtasts::PhaseName(remembered.error->phase), mtasts::PhaseName(failed.error->phase));
  EXPECT_EQ(remembered.error->error.detail, failed.error->error.detail);
  EXPECT_EQ(remembered.error->Message(), failed.error->Message());
}

// The Code of an Error says what the caller should do (base.h): kPermFail
// for a bad certificate or an HTTP 404, kBogus for a DNSSEC failure ("treat
// as an attack, never as absent"). A remembered failure must keep its code;
// it must not turn into kTempFail while the back-off lasts.
TEST_F(StsResolverTest, BackoffKeepsTheErrorCode) {
  const struct {
    std::string name;
    std::function<void(FakeResolver&, FakeHttpsClient&)> fail;
    Code code;
  } cases[] = {
      {"certificate",
       [](FakeResolver&, FakeHttpsClient& h) { h.SetError(kPolicyHost, net::HttpsStage::kCertificate, "expired"); },
       Code::kPermFail},
      {"HTTP 404", [](FakeResolver&, FakeHttpsClient& h) { h.SetResponse(kPolicyHost, 404, "text/plain", ""); },
       Code::kPermFail},
      {"policy syntax", [](FakeResolver&, FakeHttpsClient& h) { h.SetBody(kPolicyHost, "version: STSv2\n"); },
       Code::kSyntax},
      {"DNSSEC bogus",
       [](FakeResolver& d, FakeHttpsClient&) { d.SetError(kTxtName, FakeResolver::Type::kTxt, Code::kBogus); },
       Code::kBogus},
      {"SERVFAIL",
       [](FakeResolver& d, FakeHttpsClient&) { d.SetError(kTxtName, FakeResolver::Type::kTxt, Code::kTempFail); },
       Code::kTempFail},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(cache_->Remove(kDomain).has_value());
    PublishRecord("one");
    c.fail(dns_, https_);
    StsAnswer failed = Resolve();
    ASSERT_TRUE(failed.error.has_value());
    ASSERT_EQ(CodeName(failed.error->error.code), CodeName(c.code));
    clock_.Advance(10);
    ResetCounts();
    StsAnswer remembered = Resolve();
    ASSERT_EQ(Network(), 0);  // in back-off
    ASSERT_TRUE(remembered.error.has_value());
    EXPECT_EQ(mtasts::PhaseName(remembered.error->phase), mtasts::PhaseName(failed.error->phase));
    EXPECT_EQ(CodeName(remembered.error->error.code), CodeName(c.code));
  }
}

// ---- 4. TXT record gone ----------------------------------------------------------------

struct GoneCase {
  std::string name;
  std::function<void(FakeResolver&)> remove;
};

std::vector<GoneCase> GoneCases() {
  return {
      {"nxdomain", [](FakeResolver& dns) { dns.Clear(kTxtName, FakeResolver::Type::kTxt); }},
      {"explicit not-found",
       [](FakeResolver& dns) { dns.SetError(kTxtName, FakeResolver::Type::kTxt, Code::kNotFound, "NODATA"); }},
      {"only non-STS TXT",
       [](FakeResolver& dns) { dns.SetTxt(kTxtName, {"v=spf1 -all", "v=STSv10; id=1", "v=STSv1"}); }},
      {"empty TXT set", [](FakeResolver& dns) { dns.SetTxt(kTxtName, {}); }},
  };
}

TEST_F(StsResolverTest, RecordGoneKeepsAnEnforceOrTestingPolicy) {
  for (std::string mode : {"enforce", "testing"}) {
    for (const auto& gone : GoneCases()) {
      SCOPED_TRACE(mode + ", " + gone.name);
      ASSERT_TRUE(cache_->Remove(kDomain).has_value());
      CacheEnforcePolicy(mode);
      const CacheEntry before = MustCached();
      gone.remove(dns_);
      clock_.Advance(3600);
      StsAnswer answer = Resolve();
      EXPECT_EQ(SourceName(answer.source), SourceName(Source::kCache));
      EXPECT_EQ(answer.entry, before);
      EXPECT_FALSE(answer.error.has_value());
      EXPECT_EQ(https_.Requests(), 0);
      EXPECT_EQ(Cached(), before);
      EXPECT_FALSE(CachedText().empty());
      // Still there on the next lookup.
      EXPECT_EQ(SourceName(Resolve().source), SourceName(Source::kCache));
    }
  }
}

TEST_F(StsResolverTest, RecordGoneRemovesAModeNonePolicy) {
  for (const auto& gone : GoneCases()) {
    SCOPED_TRACE(gone.name);
    CacheEnforcePolicy("none");
    gone.remove(dns_);
    clock_.Advance(60);
    StsAnswer answer = Resolve();
    EXPECT_EQ(SourceName(answer.source), SourceName(Source::kNone));
    EXPECT_FALSE(answer.entry.has_value());
    EXPECT_FALSE(answer.error.has_value());
    EXPECT_EQ(mtasts::ModeName(answer.mode()), mtasts::ModeName(mtasts::Mode::kNone));
    EXPECT_EQ(https_.Requests(), 0);
    EXPECT_EQ(Cached(), std::nullopt);
    EXPECT_EQ(CachedText(), "");
    auto domains = cache_->Domains();
    ASSERT_TRUE(domains.has_value());
    EXPECT_TRUE(domains->empty());
  }
}

TEST_F(StsResolverTest, RecordGoneWithNothingCachedIsNoPolicy) {
  StsAnswer answer = Resolve();
  EXPECT_EQ(SourceName(answer.source), SourceName(Source::kNone));
  EXPECT_FALSE(answer.error.has_value());
  EXPECT_EQ(https_.Requests(), 0);
  EXPECT_EQ(Cached(), std::nullopt);
}

TEST_F(StsResolverTest, RecordGoneForgetsARememberedFailure) {
  PublishRecord("one");
  https_.SetError(kPolicyHost, net::HttpsStage::kConnect);
  Resolve();
  ASSERT_TRUE(Cached().has_value());
  clock_.Advance(kBackoff);
  dns_.Clear(kTxtName, FakeResolver::Type::kTxt);
  StsAnswer answer = Resolve();
  EXPECT_EQ(SourceName(answer.source), SourceName(Source::kNone));
  EXPECT_FALSE(answer.error.has_value());
  EXPECT_EQ(Cached(), std::nullopt);
}

// ---- 5. DNS failures ---------------------------------------------------------------------

TEST_F(StsResolverTest, DnsFailureNeverWeakensACachedPolicy) {
  for (Code code : {Code::kTempFail, Code::kBogus}) {
    for (std::string mode : {"enforce", "testing", "none"}) {
      SCOPED_TRACE(std::string(CodeName(code)) + ", " + mode);
      ASSERT_TRUE(cache_->Remove(kDomain).has_value());
      CacheEnforcePolicy(mode);
      const CacheEntry before = MustCached();
      clock_.Advance(60);
      dns_.SetError(kTxtName, FakeResolver::Type::kTxt, code, "lookup failed");
      StsAnswer answer = Resolve();
      EXPECT_EQ(SourceName(answer.source), SourceName(Source::kCache));
      ASSERT_TRUE(answer.entry.has_value());
      EXPECT_EQ(Entry(answer).mode, before.mode);
      EXPECT_EQ(Entry(answer).mx, before.mx);
      EXPECT_EQ(Entry(answer).id, before.id);
      EXPECT_EQ(Entry(answer).expires, before.expires);
      ASSERT_TRUE(answer.error.has_value());
      EXPECT_EQ(mtasts::PhaseName(answer.error->phase), mtasts::PhaseName(Phase::kDns));
      EXPECT_EQ(CodeName(answer.error->error.code), CodeName(code));
      EXPECT_EQ(mtasts::TlsrptResultType(answer.error->phase), "sts-policy-fetch-error");
      EXPECT_EQ(https_.Requests(), 0);
      auto cached = Cached();
      ASSERT_TRUE(cached.has_value());
      EXPECT_EQ(cached->mode, before.mode);
      EXPECT_EQ(cached->id, before.id);
      EXPECT_EQ(cached->expires, before.expires);
      EXPECT_EQ(cached->error_phase, "dns");
      EXPECT_EQ(cached->error_type, "sts-policy-fetch-error");
      EXPECT_FALSE(CachedText().empty());
      clock_.Advance(kBackoff);  // past the back-off for the next round
      PublishRecord("one");
    }
  }
}

TEST_F(StsResolverTest, DnsFailureWithNothingCachedIsNoPolicyWithAnError) {
  for (Code code : {Code::kTempFail, Code::kBogus}) {
    SCOPED_TRACE(CodeName(code));
    ASSERT_TRUE(cache_->Remove(kDomain).has_value());
    dns_.SetError(kTxtName, FakeResolver::Type::kTxt, code);
    StsAnswer answer = Resolve();
    EXPECT_EQ(SourceName(answer.source), SourceName(Source::kNone));
    EXPECT_FALSE(answer.entry.has_value());
    ASSERT_TRUE(answer.error.has_value());
    EXPECT_EQ(mtasts::PhaseName(answer.error->phase), mtasts::PhaseName(Phase::kDns));
    EXPECT_EQ(https_.Requests(), 0);
    auto cached = Cached();
    ASSERT_TRUE(cached.has_value());
    EXPECT_FALSE(cached->HasPolicy());
    EXPECT_EQ(cached->error_phase, "dns");
  }
}

// ---- 6. Invalid or ambiguous record ----------------------------------------------------------

TEST_F(StsResolverTest, InvalidRecordKeepsTheCachedPolicy) {
  const struct {
    std::string name;
    std::vector<std::string> txt;
  } cases[] = {
      {"empty id", {"v=STSv1; id="}},
      {"id with punctuation", {"v=STSv1; id=bad-id!"}},
      {"no id", {"v=STSv1; ext=1"}},
      {"id too long", {"v=STSv1; id=" + std::string(33, 'a')}},
      {"two STS records", {"v=STSv1; id=one", "v=STSv1; id=two"}},
      {"two STS records, same id", {"v=STSv1; id=one", "v=STSv1; id=one"}},
      {"garbage after separator", {"v=STSv1; id=two; ;;"}},
  };
  CacheEnforcePolicy();
  const CacheEntry before = MustCached();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    dns_.SetTxt(kTxtName, c.txt);
    ResetCounts();
    StsAnswer answer = Resolve();
    EXPECT_EQ(SourceName(answer.source), SourceName(Source::kCache));
    ASSERT_TRUE(answer.entry.has_value());
    EXPECT_EQ(Entry(answer).mode, "enforce");
    EXPECT_EQ(Entry(answer).id, "one");
    ASSERT_TRUE(answer.error.has_value());
    EXPECT_EQ(mtasts::PhaseName(answer.error->phase), mtasts::PhaseName(Phase::kRecord));
    EXPECT_EQ(mtasts::TlsrptResultType(answer.error->phase), "sts-policy-invalid");
    EXPECT_EQ(https_.Requests(), 0);
    auto cached = Cached();
    ASSERT_TRUE(cached.has_value());
    EXPECT_EQ(cached->mode, before.mode);
    EXPECT_EQ(cached->id, before.id);
    EXPECT_EQ(cached->expires, before.expires);
    EXPECT_EQ(cached->error_phase, "record");
    EXPECT_EQ(cached->error_type, "sts-policy-invalid");
    clock_.Advance(kMaxBackoff);
  }
}

// ---- 7. Expiry -----------------------------------------------------------------------------

TEST_F(StsResolverTest, ExpiredPolicyIsNeverServedWhenTheFetchFails) {
  for (std::string id : {"one", "two"}) {  // same id as cached, and a new one
    SCOPED_TRACE(id);
    ASSERT_TRUE(cache_->Remove(kDomain).has_value());
    CacheEnforcePolicy("enforce", 3600);
    clock_.Advance(3601);
    PublishRecord(id);
    https_.SetError(kPolicyHost, net::HttpsStage::kConnect);
    StsAnswer answer = Resolve();
    EXPECT_EQ(SourceName(answer.source), SourceName(Source::kNone));
    EXPECT_FALSE(answer.entry.has_value());
    EXPECT_EQ(mtasts::ModeName(answer.mode()), mtasts::ModeName(mtasts::Mode::kNone));
    ASSERT_TRUE(answer.error.has_value());
    EXPECT_EQ(mtasts::PhaseName(answer.error->phase), mtasts::PhaseName(Phase::kConnect));
    EXPECT_EQ(https_.Requests(), 1);  // the same id does not save a fetch
    auto cached = Cached();
    ASSERT_TRUE(cached.has_value());
    EXPECT_FALSE(cached->HasPolicy());
    EXPECT_EQ(CachedText(), "");  // the Exim keys are gone with the policy
  }
}

TEST_F(StsResolverTest, ExpiredPolicyIsRefetchedForTheSameId) {
  CacheEnforcePolicy("enforce", 3600);
  clock_.Advance(3601);
  ServePolicy("testing", 7200);
  StsAnswer answer = Resolve();
  EXPECT_EQ(SourceName(answer.source), SourceName(Source::kFetched));
  EXPECT_EQ(Entry(answer).mode, "testing");
  EXPECT_EQ(Entry(answer).expires, kStart + 3601 + 7200);
  EXPECT_EQ(https_.Requests(), 1);
}

TEST_F(StsResolverTest, ExpiredPolicyIsNotServedOnADnsFailureOrAMissingRecord) {
  CacheEnforcePolicy("enforce", 3600);
  clock_.Advance(4000);
  dns_.SetError(kTxtName, FakeResolver::Type::kTxt, Code::kTempFail);
  StsAnswer dns_failure = Resolve();
  EXPECT_EQ(SourceName(dns_failure.source), SourceName(Source::kNone));
  ASSERT_TRUE(dns_failure.error.has_value());
  EXPECT_EQ(mtasts::PhaseName(dns_failure.error->phase), mtasts::PhaseName(Phase::kDns));

  ASSERT_TRUE(cache_->Remove(kDomain).has_value());
  clock_.SetUnix(kStart);
  CacheEnforcePolicy("enforce", 3600);
  clock_.Advance(4000);
  dns_.Clear(kTxtName, FakeResolver::Type::kTxt);
  StsAnswer gone = Resolve();
  EXPECT_EQ(SourceName(gone.source), SourceName(Source::kNone));
  EXPECT_FALSE(gone.error.has_value());
  EXPECT_EQ(Cached(), std::nullopt);
}

TEST_F(StsResolverTest, PolicyThatExpiresDuringBackoffIsNotServed) {
  CacheEnforcePolicy("enforce", 3600);
  clock_.Advance(3500);
  PublishRecord("two");
  https_.SetError(kPolicyHost, net::HttpsStage::kConnect);
  ASSERT_EQ(SourceName(Resolve().source), SourceName(Source::kCache));  // back-off until 3500 + 300
  clock_.Advance(200);                           // 3700: expired, still in back-off
  ResetCounts();
  StsAnswer answer = Resolve();
  EXPECT_EQ(SourceName(answer.source), SourceName(Source::kNone));
  EXPECT_FALSE(answer.entry.has_value());
  EXPECT_EQ(mtasts::ModeName(answer.mode()), mtasts::ModeName(mtasts::Mode::kNone));
  EXPECT_TRUE(answer.AllowsMx("anything.example"));
}

// ---- 8. Fetch failures by phase -------------------------------------------------------------

TEST_F(StsResolverTest, EachFetchFailureHasItsPhaseAndResultType) {
  const struct {
    std::string name;
    std::function<void(FakeHttpsClient&)> serve;
    Phase phase;
    std::string_view result_type;
  } cases[] = {
      {"HTTP 404", [](FakeHttpsClient& h) { h.SetResponse(kPolicyHost, 404, "text/plain", "not found"); },
       Phase::kHttp, "sts-policy-fetch-error"},
      {"HTTP 500", [](FakeHttpsClient& h) { h.SetResponse(kPolicyHost, 500, "text/plain", ""); }, Phase::kHttp,
       "sts-policy-fetch-error"},
      {"HTTP 301",
       [](FakeHttpsClient& h) {
         h.SetResponse(kPolicyHost, 301, "text/plain", PolicyText("enforce", 86400, kMx),
                       "https://elsewhere.example/mta-sts.txt");
       },
       Phase::kHttp, "sts-policy-fetch-error"},
      {"text/html",
       [](FakeHttpsClient& h) { h.SetResponse(kPolicyHost, 200, "text/html", PolicyText("enforce", 86400, kMx)); },
       Phase::kHttp, "sts-policy-fetch-error"},
      {"too large", [](FakeHttpsClient& h) { h.SetError(kPolicyHost, net::HttpsStage::kTooLarge); }, Phase::kHttp,
       "sts-policy-fetch-error"},
      {"timeout", [](FakeHttpsClient& h) { h.SetError(kPolicyHost, net::HttpsStage::kTimeout); }, Phase::kHttp,
       "sts-policy-fetch-error"},
      {"malformed HTTP", [](FakeHttpsClient& h) { h.SetError(kPolicyHost, net::HttpsStage::kHttp); }, Phase::kHttp,
       "sts-policy-fetch-error"},
      {"certificate", [](FakeHttpsClient& h) { h.SetError(kPolicyHost, net::HttpsStage::kCertificate); },
       Phase::kTls, "sts-webpki-invalid"},
      {"policy syntax",
       [](FakeHttpsClient& h) { h.SetBody(kPolicyHost, "version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n"); },
       Phase::kPolicy, "sts-policy-invalid"},
      {"policy without mx", [](FakeHttpsClient& h) { h.SetBody(kPolicyHost, "version: STSv1\nmode: enforce\nmax_age: 1\n"); },
       Phase::kPolicy, "sts-policy-invalid"},
      {"no address", [](FakeHttpsClient& h) { h.SetError(kPolicyHost, net::HttpsStage::kResolve); }, Phase::kConnect,
       "sts-policy-fetch-error"},
      {"unknown host", [](FakeHttpsClient& h) { h.Clear(kPolicyHost); }, Phase::kConnect, "sts-policy-fetch-error"},
      {"connection refused", [](FakeHttpsClient& h) { h.SetError(kPolicyHost, net::HttpsStage::kConnect); },
       Phase::kConnect, "sts-policy-fetch-error"},
      // No secure channel, but no certificate judged either: not a PKIX failure.
      {"TLS handshake", [](FakeHttpsClient& h) { h.SetError(kPolicyHost, net::HttpsStage::kTls); }, Phase::kConnect,
       "sts-policy-fetch-error"},
  };
  for (const auto& c : cases) {
    for (bool cached : {false, true}) {
      SCOPED_TRACE(c.name + (cached ? ", policy cached" : ", nothing cached"));
      ASSERT_TRUE(cache_->Remove(kDomain).has_value());
      if (cached) CacheEnforcePolicy();
      PublishRecord("new");
      c.serve(https_);
      ResetCounts();
      StsAnswer answer = Resolve();
      EXPECT_EQ(https_.Requests(), 1);
      EXPECT_EQ(SourceName(answer.source), SourceName(cached ? Source::kCache : Source::kNone));
      ASSERT_TRUE(answer.error.has_value());
      EXPECT_EQ(mtasts::PhaseName(answer.error->phase), mtasts::PhaseName(c.phase));
      EXPECT_EQ(mtasts::TlsrptResultType(answer.error->phase), c.result_type);
      EXPECT_FALSE(answer.error->error.detail.empty());
      auto entry = Cached();
      ASSERT_TRUE(entry.has_value());
      EXPECT_EQ(entry->HasPolicy(), cached);
      if (cached) {
        EXPECT_EQ(entry->id, "one");
      }
      EXPECT_EQ(entry->error_phase, mtasts::PhaseName(c.phase));
      EXPECT_EQ(entry->error_type, c.result_type);
      EXPECT_EQ(entry->failures, 1);
      clock_.Advance(kMaxBackoff);
    }
  }
}

TEST_F(StsResolverTest, TextPlainWithParametersIsAccepted) {
  PublishRecord("one");
  https_.SetResponse(kPolicyHost, 200, "Text/Plain; charset=utf-8", PolicyText("enforce", 86400, kMx));
  StsAnswer answer = Resolve();
  EXPECT_EQ(SourceName(answer.source), SourceName(Source::kFetched));
  EXPECT_FALSE(answer.error.has_value());
}

// ---- 9. The request ------------------------------------------------------------------------

TEST_F(StsResolverTest, RequestFollowsRfc8461Section33) {
  options_.fetch.ca_file = "/etc/mxsec/ca.pem";
  MakeResolver(cache_.get());
  PublishRecord("one");
  ServePolicy("enforce");
  Resolve();
  auto request = https_.LastRequest();
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->host, "mta-sts.example.com");
  EXPECT_EQ(request->port, 443);
  EXPECT_EQ(request->path, "/.well-known/mta-sts.txt");
  EXPECT_EQ(request->max_body, 65536u);
  EXPECT_EQ(request->timeout, 1234ms);
  EXPECT_EQ(request->ca_file, "/etc/mxsec/ca.pem");
}

TEST_F(StsResolverTest, RequestUsesTheTestPort) {
  options_.fetch.port = 8443;
  MakeResolver(cache_.get());
  PublishRecord("one");
  ServePolicy("enforce");
  Resolve();
  ASSERT_TRUE(https_.LastRequest().has_value());
  EXPECT_EQ(https_.LastRequest()->port, 8443);
}

// ---- 10. TLSRPT address --------------------------------------------------------------------------

TEST_F(StsResolverTest, ReportAddressFromTlsrptRecord) {
  const struct {
    std::string name;
    std::optional<std::vector<std::string>> txt;  // nullopt: NXDOMAIN
    std::string want;
  } cases[] = {
      {"mailto then https", {{"v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://x.example/r"}}, "tlsrpt@example.com"},
      {"https then mailto", {{"v=TLSRPTv1;rua=https://x.example/r, mailto:b@example.com"}}, "b@example.com"},
      {"first mailto of two", {{"v=TLSRPTv1; rua=mailto:a@example.com,mailto:b@example.com"}}, "a@example.com"},
      {"https only", {{"v=TLSRPTv1; rua=https://x.example/r"}}, ""},
      {"not TLSRPT", {{"v=spf1 -all"}}, ""},
      {"other records beside", {{"hello", "v=TLSRPTv1; rua=mailto:r@example.com"}}, "r@example.com"},
      {"absent", std::nullopt, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(cache_->Remove(kDomain).has_value());
    if (c.txt) {
      dns_.SetTxt(kTlsrptName, *c.txt);
    } else {
      dns_.Clear(kTlsrptName, FakeResolver::Type::kTxt);
    }
    PublishRecord("one");
    ServePolicy("enforce");
    StsAnswer answer = Resolve();
    ASSERT_EQ(SourceName(answer.source), SourceName(Source::kFetched));
    EXPECT_EQ(Entry(answer).report, c.want);
    EXPECT_EQ(MustCached().report, c.want);
  }
}

TEST_F(StsResolverTest, TlsrptLookupFailureOnlyMeansNoAddress) {
  dns_.SetError(kTlsrptName, FakeResolver::Type::kTxt, Code::kTempFail);
  PublishRecord("one");
  ServePolicy("enforce");
  StsAnswer answer = Resolve();
  EXPECT_EQ(SourceName(answer.source), SourceName(Source::kFetched));
  EXPECT_FALSE(answer.error.has_value());
  EXPECT_EQ(Entry(answer).report, "");
}

// ---- 11. No cache ------------------------------------------------------------------------------

TEST_F(StsResolverTest, WithoutACacheEveryLookupFetches) {
  MakeResolver(nullptr);
  PublishRecord("one");
  ServePolicy("enforce");
  for (int i = 1; i <= 3; ++i) {
    StsAnswer answer = Resolve();
    EXPECT_EQ(SourceName(answer.source), SourceName(Source::kFetched));
    EXPECT_EQ(https_.Requests(), i);
  }
  // Nothing was written.
  EXPECT_EQ(Cached(), std::nullopt);

  // Failures are reported, and without a cache there is no back-off.
  https_.SetError(kPolicyHost, net::HttpsStage::kConnect);
  for (int i = 1; i <= 2; ++i) {
    StsAnswer answer = Resolve();
    EXPECT_EQ(SourceName(answer.source), SourceName(Source::kNone));
    ASSERT_TRUE(answer.error.has_value());
    EXPECT_EQ(mtasts::PhaseName(answer.error->phase), mtasts::PhaseName(Phase::kConnect));
    EXPECT_EQ(https_.Requests(), 3 + i);
  }
  dns_.SetError(kTxtName, FakeResolver::Type::kTxt, Code::kBogus);
  StsAnswer bogus = Resolve();
  EXPECT_EQ(SourceName(bogus.source), SourceName(Source::kNone));
  ASSERT_TRUE(bogus.error.has_value());
  EXPECT_EQ(mtasts::PhaseName(bogus.error->phase), mtasts::PhaseName(Phase::kDns));
  dns_.Clear(kTxtName, FakeResolver::Type::kTxt);
  StsAnswer gone = Resolve();
  EXPECT_EQ(SourceName(gone.source), SourceName(Source::kNone));
  EXPECT_FALSE(gone.error.has_value());
  EXPECT_EQ(Cached(), std::nullopt);
}

// ---- Cache errors ----------------------------------------------------------------------------------

TEST_F(StsResolverTest, UnreadableCacheEntryIsAnError) {
  const std::string path = dir_.File("corrupt.lmdb");
  {
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    ASSERT_EQ(mdb_env_open(env, path.c_str(), MDB_NOSUBDIR, 0644), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi dbi = 0;
    ASSERT_EQ(mdb_dbi_open(txn, nullptr, 0, &dbi), 0);
    std::string key = "example.com:mxsec", value = "not an entry";
    MDB_val k{key.size(), key.data()}, v{value.size(), value.data()};
    ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  auto corrupt = PolicyCache::Open(path);
  ASSERT_TRUE(corrupt.has_value()) << corrupt.error().detail;
  MakeResolver(corrupt->get());
  PublishRecord("one");
  ServePolicy("enforce");
  auto answer = sts_->Resolve(kDomain);
  ASSERT_FALSE(answer.has_value());
  EXPECT_EQ(CodeName(answer.error().code), CodeName(Code::kIo));
  EXPECT_EQ(Network(), 0);
  sts_.reset();
}

TEST_F(StsResolverTest, UnwritableCacheIsAnError) {
  CacheEnforcePolicy();
  cache_.reset();
  auto read_only = PolicyCache::Open(dir_.File("mtasts.lmdb"), PolicyCache::Access::kReadOnly);
  ASSERT_TRUE(read_only.has_value()) << read_only.error().detail;
  cache_ = std::move(*read_only);
  MakeResolver(cache_.get());
  // Reading works: same id served from the cache.
  EXPECT_EQ(SourceName(Resolve().source), SourceName(Source::kCache));
  // A fetched policy cannot be stored.
  PublishRecord("two");
  auto fetched = sts_->Resolve(kDomain);
  ASSERT_FALSE(fetched.has_value());
  EXPECT_EQ(CodeName(fetched.error().code), CodeName(Code::kIo));
  // Nor can a failure.
  dns_.SetError(kTxtName, FakeResolver::Type::kTxt, Code::kTempFail);
  auto failed = sts_->Resolve(kDomain);
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(CodeName(failed.error().code), CodeName(Code::kIo));
}

// ---- 12. StsAnswer ---------------------------------------------------------------------------------

StsAnswer MakeAnswer(Source source, std::optional<std::string> mode, std::vector<std::string> mx = kMx) {
  StsAnswer answer;
  answer.domain = "example.com";
  answer.source = source;
  if (mode) {
    CacheEntry e;
    e.mode = *mode;
    e.mx = std::move(mx);
    answer.entry = e;
  }
  return answer;
}

TEST(StsAnswerTest, Mode) {
  EXPECT_EQ(mtasts::ModeName(MakeAnswer(Source::kNone, std::nullopt).mode()), mtasts::ModeName(mtasts::Mode::kNone));
  EXPECT_EQ(mtasts::ModeName(MakeAnswer(Source::kCache, "enforce").mode()), mtasts::ModeName(mtasts::Mode::kEnforce));
  EXPECT_EQ(mtasts::ModeName(MakeAnswer(Source::kFetched, "enforce").mode()), mtasts::ModeName(mtasts::Mode::kEnforce));
  EXPECT_EQ(mtasts::ModeName(MakeAnswer(Source::kCache, "testing").mode()), mtasts::ModeName(mtasts::Mode::kTesting));
  EXPECT_EQ(mtasts::ModeName(MakeAnswer(Source::kCache, "none").mode()), mtasts::ModeName(mtasts::Mode::kNone));
  // No policy applies when the source says so, whatever the entry holds.
  EXPECT_EQ(mtasts::ModeName(MakeAnswer(Source::kNone, "enforce").mode()), mtasts::ModeName(mtasts::Mode::kNone));
  // Defensive: a source without an entry, or an unknown mode.
  EXPECT_EQ(mtasts::ModeName(MakeAnswer(Source::kCache, std::nullopt).mode()), mtasts::ModeName(mtasts::Mode::kNone));
  EXPECT_EQ(mtasts::ModeName(MakeAnswer(Source::kCache, "Enforce").mode()), mtasts::ModeName(mtasts::Mode::kNone));
}

TEST(StsAnswerTest, AllowsMx) {
  const struct {
    std::string host;
    bool want;
  } hosts[] = {
      {"mx1.example.com", true}, {"MX1.Example.COM.", true},   {"a.example.net", true},
      {"b.a.example.net", false}, {"example.net", false},       {"mx2.example.com", false},
      {"example.com", false},     {"mx1.example.com.evil", false}, {"", false},
  };
  for (std::string mode : {"enforce", "testing"}) {
    const StsAnswer answer = MakeAnswer(Source::kCache, mode);
    for (const auto& h : hosts) {
      EXPECT_EQ(answer.AllowsMx(h.host), h.want) << mode << " " << h.host;
    }
  }
  // Mode none, or no policy at all: every host.
  for (const StsAnswer& answer : {MakeAnswer(Source::kCache, "none"), MakeAnswer(Source::kNone, std::nullopt),
                                  MakeAnswer(Source::kNone, "enforce"), MakeAnswer(Source::kCache, std::nullopt)}) {
    for (const auto& h : hosts) EXPECT_TRUE(answer.AllowsMx(h.host)) << h.host;
  }
  // An enforce policy whose mx list is empty allows nothing.
  EXPECT_FALSE(MakeAnswer(Source::kCache, "enforce", {}).AllowsMx("mx1.example.com"));
}

TEST(StsAnswerTest, SourceNames) {
  EXPECT_EQ(SourceName(Source::kNone), "none");
  EXPECT_EQ(SourceName(Source::kFetched), "fetched");
  EXPECT_EQ(SourceName(Source::kCache), "cache");
}

}  // namespace
}  // namespace mxsec::policy

namespace mxsec::policy {
namespace {

// RFC 8461 10.2: a policy in use is fetched again before it can lapse, even
// when the TXT id never changes; a failure then keeps the cached policy.
TEST_F(StsResolverTest, SameIdRefetchedAfterHalfItsLifetime) {
  CacheEnforcePolicy("enforce", 86400);
  clock_.Advance(43199);
  EXPECT_EQ(SourceName(Resolve().source), SourceName(Source::kCache));
  EXPECT_EQ(https_.Requests(), 0);
  clock_.Advance(1);
  StsAnswer refreshed = Resolve();
  EXPECT_EQ(SourceName(refreshed.source), SourceName(Source::kFetched));
  EXPECT_EQ(https_.Requests(), 1);
  EXPECT_EQ(Entry(refreshed).expires, kStart + 43200 + 86400);
}

TEST_F(StsResolverTest, LongPoliciesRefetchedDaily) {
  CacheEnforcePolicy("enforce", 31557600);
  clock_.Advance(86399);
  EXPECT_EQ(SourceName(Resolve().source), SourceName(Source::kCache));
  clock_.Advance(1);
  EXPECT_EQ(SourceName(Resolve().source), SourceName(Source::kFetched));
}

TEST_F(StsResolverTest, FailedRefreshKeepsTheSameIdPolicy) {
  CacheEnforcePolicy("enforce", 86400);
  clock_.Advance(50000);
  https_.SetError(kPolicyHost, net::HttpsStage::kConnect, "connection refused");
  StsAnswer answer = Resolve();
  EXPECT_EQ(SourceName(answer.source), SourceName(Source::kCache));
  EXPECT_EQ(Entry(answer).mode, "enforce");
  EXPECT_EQ(Entry(answer).expires, kStart + 86400);
  ASSERT_TRUE(answer.error.has_value());
  EXPECT_EQ(answer.error->phase, mtasts::Phase::kConnect);
}

}  // namespace
}  // namespace mxsec::policy
