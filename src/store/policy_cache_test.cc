// Tests for store::PolicyCache (the LMDB file Exim reads) and the
// DOMAIN:mxsec line format (EncodeEntry / DecodeEntry).
//
// Every test works on a fresh directory. LMDB must not have the same file
// open twice in one process, so the raw LMDB helpers below (which read the
// file the way Exim's lmdb lookup does) are only called while no
// PolicyCache on that file is open; cross-process behaviour is checked in a
// forked child.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/base.h"
#include "store/store.h"
#include "testing/fakes.h"

namespace mxsec::store {
namespace {

using test::ScopedTempDir;

// ---- Helpers ------------------------------------------------------------------------

// An entry with every field set to something other than its default.
CacheEntry FullEntry() {
  CacheEntry e;
  e.mode = "enforce";
  e.mx = {"mx1.example.com", "*.example.net", "mx2.example.org"};
  e.max_age = 604800;
  e.id = "20240101T120000";
  e.fetched_at = 1'700'000'000;
  e.expires = 1'700'604'800;
  e.report = "tlsrpt@example.com";
  e.error_phase = "http";
  e.error_type = "sts-policy-fetch-error";
  e.error_code = "perm-fail";
  e.error_message = "https://mta-sts.example.com/.well-known/mta-sts.txt: HTTP status 404";
  e.error_at = 1'700'000'100;
  e.retry_after = 1'700'000'700;
  e.failures = 3;
  return e;
}

CacheEntry FailureOnlyEntry() {
  CacheEntry e;
  e.error_phase = "dns";
  e.error_type = "sts-policy-fetch-error";
  e.error_code = "temp-fail";
  e.error_message = "TXT _mta-sts.example.com: server failure (SERVFAIL)";
  e.error_at = 1'700'000'000;
  e.retry_after = 1'700'000'300;
  e.failures = 1;
  return e;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(out.good()) << path;
}

using RawDb = std::map<std::string, std::string>;

// Every key and value of the unnamed database, opened as Exim opens it:
// mdb_env_open(MDB_NOSUBDIR | MDB_RDONLY), mdb_dbi_open(NULL).
// Returns std::nullopt (after reporting a failure) when LMDB refuses.
std::optional<RawDb> ReadRaw(const std::string& path) {
  MDB_env* env = nullptr;
  if (int rc = mdb_env_create(&env); rc != 0) {
    ADD_FAILURE() << "mdb_env_create: " << mdb_strerror(rc);
    return std::nullopt;
  }
  std::unique_ptr<MDB_env, decltype(&mdb_env_close)> owned_env(env, &mdb_env_close);
  if (int rc = mdb_env_open(env, path.c_str(), MDB_NOSUBDIR | MDB_RDONLY, 0664); rc != 0) {
    ADD_FAILURE() << "mdb_env_open(" << path << "): " << mdb_strerror(rc);
    return std::nullopt;
  }
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn); rc != 0) {
    ADD_FAILURE() << "mdb_txn_begin: " << mdb_strerror(rc);
    return std::nullopt;
  }
  std::unique_ptr<MDB_txn, decltype(&mdb_txn_abort)> owned_txn(txn, &mdb_txn_abort);
  MDB_dbi dbi = 0;
  if (int rc = mdb_dbi_open(txn, nullptr, 0, &dbi); rc != 0) {
    ADD_FAILURE() << "mdb_dbi_open: " << mdb_strerror(rc);
    return std::nullopt;
  }
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn, dbi, &cursor); rc != 0) {
    ADD_FAILURE() << "mdb_cursor_open: " << mdb_strerror(rc);
    return std::nullopt;
  }
  std::unique_ptr<MDB_cursor, decltype(&mdb_cursor_close)> owned_cursor(cursor, &mdb_cursor_close);
  RawDb out;
  MDB_val k, v;
  for (int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    out.emplace(std::string(static_cast<const char*>(k.mv_data), k.mv_size),
                std::string(static_cast<const char*>(v.mv_data), v.mv_size));
  }
  return out;
}

// Writes raw key/value pairs into the unnamed database (creating the file).
void WriteRaw(const std::string& path, const RawDb& pairs) {
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  std::unique_ptr<MDB_env, decltype(&mdb_env_close)> owned_env(env, &mdb_env_close);
  ASSERT_EQ(mdb_env_open(env, path.c_str(), MDB_NOSUBDIR, 0644), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi dbi = 0;
  ASSERT_EQ(mdb_dbi_open(txn, nullptr, 0, &dbi), 0);
  for (const auto& [key, value] : pairs) {
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{value.size(), const_cast<char*>(value.data())};
    ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
  }
  ASSERT_EQ(mdb_txn_commit(txn), 0);
}

// The keys of `db` that belong to `domain` ("DOMAIN:..."), suffixes only.
std::vector<std::string> SuffixesOf(const RawDb& db, const std::string& domain) {
  std::vector<std::string> out;
  for (const auto& [key, value] : db) {
    if (key.size() > domain.size() && key.compare(0, domain.size(), domain) == 0 && key[domain.size()] == ':') {
      out.push_back(key.substr(domain.size()));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

class PolicyCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    path_ = dir_.File("mtasts.lmdb");
    OpenCache();
  }

  void OpenCache(PolicyCache::Access access = PolicyCache::Access::kReadWrite) {
    cache_.reset();
    auto opened = PolicyCache::Open(path_, access);
    ASSERT_TRUE(opened.has_value()) << opened.error().detail;
    cache_ = std::move(*opened);
  }
  void CloseCache() { cache_.reset(); }

  std::optional<CacheEntry> MustGet(std::string_view domain) {
    auto got = cache_->Get(domain);
    EXPECT_TRUE(got.has_value()) << got.error().detail;
    return got ? *got : std::nullopt;
  }

  ScopedTempDir dir_;
  std::string path_;
  std::unique_ptr<PolicyCache> cache_;
};

// ---- Round trip ---------------------------------------------------------------------

TEST_F(PolicyCacheTest, PutGetRoundTripsEveryField) {
  const CacheEntry entry = FullEntry();
  ASSERT_TRUE(cache_->Put("example.com", entry, "version: STSv1\nmode: enforce\n").has_value());
  auto got = MustGet("example.com");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->mode, entry.mode);
  EXPECT_EQ(got->mx, entry.mx);
  EXPECT_EQ(got->max_age, entry.max_age);
  EXPECT_EQ(got->id, entry.id);
  EXPECT_EQ(got->fetched_at, entry.fetched_at);
  EXPECT_EQ(got->expires, entry.expires);
  EXPECT_EQ(got->report, entry.report);
  EXPECT_EQ(got->error_phase, entry.error_phase);
  EXPECT_EQ(got->error_type, entry.error_type);
  EXPECT_EQ(got->error_message, entry.error_message);
  EXPECT_EQ(got->error_at, entry.error_at);
  EXPECT_EQ(got->retry_after, entry.retry_after);
  EXPECT_EQ(got->failures, entry.failures);
  EXPECT_EQ(*got, entry);
}

TEST_F(PolicyCacheTest, RoundTripsEachModeAndEdgeValues) {
  struct Case {
    std::string domain;
    CacheEntry entry;
  };
  std::vector<Case> cases;
  for (std::string mode : {"enforce", "testing", "none"}) {
    CacheEntry e = FullEntry();
    e.mode = mode;
    cases.push_back({mode + ".example", e});
  }
  CacheEntry no_mx = FullEntry();
  no_mx.mode = "none";
  no_mx.mx.clear();
  cases.push_back({"nomx.example", no_mx});
  CacheEntry one_mx = FullEntry();
  one_mx.mx = {"mail.example"};
  cases.push_back({"onemx.example", one_mx});
  CacheEntry big = FullEntry();
  big.max_age = 31557600;
  big.expires = int64_t{1} << 40;
  big.failures = 30;
  cases.push_back({"big.example", big});
  cases.push_back({"default.example", FailureOnlyEntry()});
  cases.push_back({"empty.example", CacheEntry{}});

  for (const auto& c : cases) {
    ASSERT_TRUE(cache_->Put(c.domain, c.entry).has_value()) << c.domain;
  }
  for (const auto& c : cases) {
    auto got = MustGet(c.domain);
    ASSERT_TRUE(got.has_value()) << c.domain;
    EXPECT_EQ(*got, c.entry) << c.domain;
  }
}

TEST_F(PolicyCacheTest, GetOfAbsentDomainIsNullopt) {
  ASSERT_TRUE(cache_->Put("example.com", FullEntry(), "text").has_value());
  auto got = cache_->Get("example.org");
  ASSERT_TRUE(got.has_value()) << got.error().detail;
  EXPECT_FALSE(got->has_value());
  // A domain that is a prefix or an extension of a cached one is distinct.
  EXPECT_FALSE(MustGet("example.co").has_value());
  EXPECT_FALSE(MustGet("sub.example.com").has_value());
  EXPECT_FALSE(MustGet("example.com.au").has_value());
  auto text = cache_->GetPolicyText("example.org");
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text, "");
}

TEST_F(PolicyCacheTest, PutReplacesThePreviousEntry) {
  ASSERT_TRUE(cache_->Put("example.com", FullEntry(), "old policy").has_value());
  CacheEntry newer;
  newer.mode = "testing";
  newer.mx = {"new.example.com"};
  newer.max_age = 86400;
  newer.id = "new1";
  newer.fetched_at = 1'800'000'000;
  newer.expires = 1'800'086'400;
  ASSERT_TRUE(cache_->Put("example.com", newer, "new policy").has_value());
  auto got = MustGet("example.com");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, newer);
  EXPECT_EQ(cache_->GetPolicyText("example.com").value_or("?"), "new policy");
}

TEST_F(PolicyCacheTest, PolicyTextIsKeptWhenPutWithoutText) {
  ASSERT_TRUE(cache_->Put("example.com", FullEntry(), "version: STSv1\r\nmode: enforce\r\n").has_value());
  CacheEntry with_error = FullEntry();
  with_error.failures = 4;
  ASSERT_TRUE(cache_->Put("example.com", with_error).has_value());
  EXPECT_EQ(cache_->GetPolicyText("example.com").value_or("?"), "version: STSv1\r\nmode: enforce\r\n");
  EXPECT_EQ(MustGet("example.com").value_or(CacheEntry{}).failures, 4);
}

TEST_F(PolicyCacheTest, PolicyTextIsStoredByteExact) {
  std::string text = "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n";
  text.push_back('\0');
  text += "\xff\xfe trailing";
  ASSERT_TRUE(cache_->Put("example.com", FullEntry(), text).has_value());
  EXPECT_EQ(cache_->GetPolicyText("example.com").value_or("?"), text);
}

// ---- Exim's view --------------------------------------------------------------------

TEST_F(PolicyCacheTest, EximKeysAreExactlyAsDocumented) {
  const CacheEntry entry = FullEntry();
  const std::string text = "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 604800\n";
  ASSERT_TRUE(cache_->Put("example.com", entry, text).has_value());
  CloseCache();

  auto raw = ReadRaw(path_);
  ASSERT_TRUE(raw.has_value());
  const RawDb want = {
      {"example.com:mode", "enforce"},
      {"example.com:mx", "mx1.example.com:*.example.net:mx2.example.org"},
      {"example.com:expire", "1700604800"},
      {"example.com:id", "20240101T120000"},
      {"example.com:report", "tlsrpt@example.com"},
      {"example.com:policy", text},
      {"example.com:mxsec", EncodeEntry(entry)},
  };
  EXPECT_EQ(*raw, want);
}

TEST_F(PolicyCacheTest, EximMxKeyForASinglePatternHasNoColon) {
  CacheEntry entry = FullEntry();
  entry.mx = {"*.example.net"};
  ASSERT_TRUE(cache_->Put("example.com", entry, "p").has_value());
  CloseCache();
  auto raw = ReadRaw(path_);
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->at("example.com:mx"), "*.example.net");
}

TEST_F(PolicyCacheTest, EximReportKeyOnlyWhenNonEmpty) {
  CacheEntry entry = FullEntry();
  entry.report.clear();
  ASSERT_TRUE(cache_->Put("a.example", entry, "p").has_value());
  // With a report first, then without: the stale :report must go.
  ASSERT_TRUE(cache_->Put("b.example", FullEntry(), "p").has_value());
  ASSERT_TRUE(cache_->Put("b.example", entry).has_value());
  // And the other way round.
  ASSERT_TRUE(cache_->Put("c.example", entry, "p").has_value());
  ASSERT_TRUE(cache_->Put("c.example", FullEntry()).has_value());
  CloseCache();

  auto raw = ReadRaw(path_);
  ASSERT_TRUE(raw.has_value());
  const std::vector<std::string> without = {":expire", ":id", ":mode", ":mx", ":mxsec", ":policy"};
  const std::vector<std::string> with = {":expire", ":id", ":mode", ":mx", ":mxsec", ":policy", ":report"};
  EXPECT_EQ(SuffixesOf(*raw, "a.example"), without);
  EXPECT_EQ(SuffixesOf(*raw, "b.example"), without);
  EXPECT_EQ(SuffixesOf(*raw, "c.example"), with);
  EXPECT_EQ(raw->at("c.example:report"), "tlsrpt@example.com");
}

TEST_F(PolicyCacheTest, EximPolicyKeyAbsentWhenNeverGivenText) {
  ASSERT_TRUE(cache_->Put("example.com", FullEntry()).has_value());
  CloseCache();
  auto raw = ReadRaw(path_);
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->count("example.com:policy"), 0u);
  EXPECT_EQ(raw->count("example.com:mode"), 1u);
}

TEST_F(PolicyCacheTest, FailureOnlyEntryRemovesEximKeys) {
  ASSERT_TRUE(cache_->Put("example.com", FullEntry(), "policy text").has_value());
  ASSERT_TRUE(cache_->Put("other.example", FullEntry(), "other text").has_value());
  const CacheEntry failure = FailureOnlyEntry();
  ASSERT_FALSE(failure.HasPolicy());
  ASSERT_TRUE(cache_->Put("example.com", failure, "ignored text").has_value());

  auto got = MustGet("example.com");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, failure);
  EXPECT_EQ(cache_->GetPolicyText("example.com").value_or("?"), "");
  CloseCache();

  auto raw = ReadRaw(path_);
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(SuffixesOf(*raw, "example.com"), std::vector<std::string>{":mxsec"});
  EXPECT_EQ(raw->at("example.com:mxsec"), EncodeEntry(failure));
  // The neighbour is untouched.
  EXPECT_EQ(SuffixesOf(*raw, "other.example").size(), 7u);
  EXPECT_EQ(raw->at("other.example:policy"), "other text");
}

TEST_F(PolicyCacheTest, FailureOnlyEntryForANewDomainWritesOnlyTheMxsecKey) {
  ASSERT_TRUE(cache_->Put("example.com", FailureOnlyEntry()).has_value());
  CloseCache();
  auto raw = ReadRaw(path_);
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(SuffixesOf(*raw, "example.com"), std::vector<std::string>{":mxsec"});
  EXPECT_EQ(raw->size(), 1u);
}

// ---- Remove and Domains -------------------------------------------------------------

TEST_F(PolicyCacheTest, RemoveDeletesEveryKeyOfTheDomainOnly) {
  ASSERT_TRUE(cache_->Put("example.com", FullEntry(), "text").has_value());
  ASSERT_TRUE(cache_->Put("example.com.au", FullEntry(), "text au").has_value());
  ASSERT_TRUE(cache_->Put("sub.example.com", FullEntry(), "text sub").has_value());
  ASSERT_TRUE(cache_->Remove("example.com").has_value());

  EXPECT_FALSE(MustGet("example.com").has_value());
  EXPECT_EQ(cache_->GetPolicyText("example.com").value_or("?"), "");
  EXPECT_TRUE(MustGet("example.com.au").has_value());
  EXPECT_TRUE(MustGet("sub.example.com").has_value());
  CloseCache();

  auto raw = ReadRaw(path_);
  ASSERT_TRUE(raw.has_value());
  EXPECT_TRUE(SuffixesOf(*raw, "example.com").empty());
  EXPECT_EQ(SuffixesOf(*raw, "example.com.au").size(), 7u);
  EXPECT_EQ(SuffixesOf(*raw, "sub.example.com").size(), 7u);
  EXPECT_EQ(raw->size(), 14u);
}

TEST_F(PolicyCacheTest, RemoveOfFailureOnlyAndAbsentDomainsSucceeds) {
  ASSERT_TRUE(cache_->Put("failed.example", FailureOnlyEntry()).has_value());
  auto removed = cache_->Remove("failed.example");
  ASSERT_TRUE(removed.has_value()) << removed.error().detail;
  EXPECT_FALSE(MustGet("failed.example").has_value());
  auto absent = cache_->Remove("never.example");
  EXPECT_TRUE(absent.has_value()) << absent.error().detail;
  auto domains = cache_->Domains();
  ASSERT_TRUE(domains.has_value());
  EXPECT_TRUE(domains->empty());
}

TEST_F(PolicyCacheTest, DomainsOfAnEmptyCacheIsEmpty) {
  auto domains = cache_->Domains();
  ASSERT_TRUE(domains.has_value()) << domains.error().detail;
  EXPECT_TRUE(domains->empty());
}

TEST_F(PolicyCacheTest, DomainsListsEachDomainOnce) {
  // Policy entries have seven keys, failure-only entries one: each counts once.
  ASSERT_TRUE(cache_->Put("b.example", FullEntry(), "t").has_value());
  ASSERT_TRUE(cache_->Put("a.example", FailureOnlyEntry()).has_value());
  ASSERT_TRUE(cache_->Put("c.example", FullEntry()).has_value());
  ASSERT_TRUE(cache_->Put("c.example", FullEntry(), "again").has_value());
  auto domains = cache_->Domains();
  ASSERT_TRUE(domains.has_value()) << domains.error().detail;
  EXPECT_EQ(Sorted(*domains), (std::vector<std::string>{"a.example", "b.example", "c.example"}));
}

// store.h: "All domains with an entry, sorted." The keys are "DOMAIN:mxsec",
// and ':' (0x3a) sorts after '.', '-' and the digits, so LMDB's key order is
// not the order of the domain names when one name extends another.
TEST_F(PolicyCacheTest, DomainsAreSortedByName) {
  const std::vector<std::string> names = {"example.com.au", "b.example", "example.com", "a.example1",
                                          "a.example",      "a-b.example", "xn--bcher-kva.example"};
  for (const auto& name : names) ASSERT_TRUE(cache_->Put(name, FullEntry(), "t").has_value()) << name;
  auto domains = cache_->Domains();
  ASSERT_TRUE(domains.has_value()) << domains.error().detail;
  EXPECT_EQ(*domains, Sorted(names));
}

// ---- Persistence and other readers --------------------------------------------------

TEST_F(PolicyCacheTest, DataSurvivesReopening) {
  ASSERT_TRUE(cache_->Put("example.com", FullEntry(), "policy").has_value());
  ASSERT_TRUE(cache_->Put("failed.example", FailureOnlyEntry()).has_value());
  OpenCache();  // closes, then opens the same file again
  EXPECT_EQ(MustGet("example.com"), FullEntry());
  EXPECT_EQ(MustGet("failed.example"), FailureOnlyEntry());
  EXPECT_EQ(cache_->GetPolicyText("example.com").value_or("?"), "policy");
  // And it is still writable.
  ASSERT_TRUE(cache_->Remove("failed.example").has_value());
  OpenCache();
  EXPECT_FALSE(MustGet("failed.example").has_value());
  EXPECT_TRUE(MustGet("example.com").has_value());
}

TEST_F(PolicyCacheTest, ReadOnlyOpenSeesWhatTheWriterCommitted) {
  ASSERT_TRUE(cache_->Put("example.com", FullEntry(), "policy").has_value());
  OpenCache(PolicyCache::Access::kReadOnly);
  EXPECT_EQ(MustGet("example.com"), FullEntry());
  EXPECT_EQ(cache_->GetPolicyText("example.com").value_or("?"), "policy");
  auto domains = cache_->Domains();
  ASSERT_TRUE(domains.has_value());
  EXPECT_EQ(*domains, std::vector<std::string>{"example.com"});
}

TEST_F(PolicyCacheTest, ReadOnlyCacheRefusesWritesCleanly) {
  ASSERT_TRUE(cache_->Put("example.com", FullEntry(), "policy").has_value());
  OpenCache(PolicyCache::Access::kReadOnly);
  auto put = cache_->Put("other.example", FullEntry(), "x");
  ASSERT_FALSE(put.has_value());
  EXPECT_EQ(put.error().code, Code::kIo);
  EXPECT_NE(put.error().detail.find(path_), std::string::npos) << put.error().detail;
  auto removed = cache_->Remove("example.com");
  ASSERT_FALSE(removed.has_value());
  EXPECT_EQ(removed.error().code, Code::kIo);
  EXPECT_EQ(MustGet("example.com"), FullEntry());
}

// Runs `child` in a forked process and returns its exit status (or -1).
template <typename F>
int InChild(F child) {
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) _exit(child());
  if (pid < 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

TEST_F(PolicyCacheTest, AnotherProcessReadsWhileTheWriterIsOpen) {
  ASSERT_TRUE(cache_->Put("example.com", FullEntry(), "policy").has_value());
  // cache_ stays open for writing in this process.
  const std::string path = path_;
  int status = InChild([&path]() -> int {
    auto reader = PolicyCache::Open(path, PolicyCache::Access::kReadOnly);
    if (!reader) return 10;
    auto got = (*reader)->Get("example.com");
    if (!got) return 11;
    if (!got->has_value()) return 12;
    if (**got != FullEntry()) return 13;
    if ((*reader)->GetPolicyText("example.com").value_or("") != "policy") return 14;
    return 0;
  });
  EXPECT_EQ(status, 0) << "10: open, 11: get error, 12: absent, 13: different entry, 14: policy text";
}

TEST_F(PolicyCacheTest, WritesOfAnotherProcessAreSeen) {
  ASSERT_TRUE(cache_->Put("example.com", FullEntry(), "policy").has_value());
  const std::string path = path_;
  int status = InChild([&path]() -> int {
    auto writer = PolicyCache::Open(path, PolicyCache::Access::kReadWrite);
    if (!writer) return 10;
    if (!(*writer)->Put("child.example", FailureOnlyEntry())) return 11;
    if (!(*writer)->Remove("example.com")) return 12;
    return 0;
  });
  ASSERT_EQ(status, 0) << "10: open, 11: put, 12: remove";
  EXPECT_EQ(MustGet("child.example"), FailureOnlyEntry());
  EXPECT_FALSE(MustGet("example.com").has_value());
}

TEST_F(PolicyCacheTest, SharedByThreads) {
  constexpr int kThreads = 8;
  constexpr int kDomains = 40;
  std::vector<std::thread> threads;
  std::vector<int> errors(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &errors] {
      for (int i = 0; i < kDomains; ++i) {
        const std::string domain = "d" + std::to_string(t) + "-" + std::to_string(i) + ".example";
        CacheEntry e = FullEntry();
        e.failures = i;
        if (!cache_->Put(domain, e, domain)) ++errors[t];
        auto got = cache_->Get(domain);
        if (!got || !got->has_value() || (*got)->failures != i) ++errors[t];
        if (i % 2 == 0 && !cache_->Remove(domain)) ++errors[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], 0) << "thread " << t;
  auto domains = cache_->Domains();
  ASSERT_TRUE(domains.has_value());
  EXPECT_EQ(domains->size(), size_t{kThreads * kDomains / 2});
}

// ---- Opening ------------------------------------------------------------------------

class PolicyCacheOpenTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()); }

  // Asserts `opened` is a clean kIo error whose detail names `path`.
  static void ExpectIoError(const Result<std::unique_ptr<PolicyCache>>& opened, const std::string& path,
                            std::string_view also = "") {
    ASSERT_FALSE(opened.has_value()) << path << " opened";
    EXPECT_EQ(opened.error().code, Code::kIo) << opened.error().detail;
    EXPECT_NE(opened.error().detail.find(path), std::string::npos) << opened.error().detail;
    if (!also.empty()) {
      EXPECT_NE(opened.error().detail.find(also), std::string::npos) << opened.error().detail;
    }
    EXPECT_EQ(opened.error().detail.find('\n'), std::string::npos) << opened.error().detail;
  }

  ScopedTempDir dir_;
};

TEST_F(PolicyCacheOpenTest, CreatesTheFileAndItsParentDirectories) {
  const std::string path = dir_.File("a/b/c/cache.lmdb");
  auto opened = PolicyCache::Open(path);
  ASSERT_TRUE(opened.has_value()) << opened.error().detail;
  EXPECT_EQ((*opened)->path(), path);
  EXPECT_TRUE(std::filesystem::is_regular_file(path));
  // The lock file lives beside it (MDB_NOSUBDIR).
  EXPECT_TRUE(std::filesystem::exists(path + "-lock"));
  ASSERT_TRUE((*opened)->Put("example.com", FullEntry(), "t").has_value());
}

TEST_F(PolicyCacheOpenTest, ReadOnlyOpenOfAMissingFileFailsWithoutCreatingIt) {
  const std::string path = dir_.File("missing.lmdb");
  ExpectIoError(PolicyCache::Open(path, PolicyCache::Access::kReadOnly), path);
  EXPECT_FALSE(std::filesystem::exists(path));
  const std::string nested = dir_.File("no/such/dir/missing.lmdb");
  ExpectIoError(PolicyCache::Open(nested, PolicyCache::Access::kReadOnly), nested);
  EXPECT_FALSE(std::filesystem::exists(dir_.File("no")));
}

TEST_F(PolicyCacheOpenTest, DirectoryIsACleanError) {
  const std::string path = dir_.File("adir");
  std::filesystem::create_directory(path);
  for (auto access : {PolicyCache::Access::kReadWrite, PolicyCache::Access::kReadOnly}) {
    SCOPED_TRACE(access == PolicyCache::Access::kReadOnly ? "read-only" : "read-write");
    ExpectIoError(PolicyCache::Open(path, access), path, "directory");
    EXPECT_TRUE(std::filesystem::is_directory(path));
  }
  // With a trailing slash too.
  ExpectIoError(PolicyCache::Open(path + "/"), path);
}

TEST_F(PolicyCacheOpenTest, ParentThatIsAFileIsACleanError) {
  const std::string parent = dir_.File("plain");
  WriteFile(parent, "not a directory\n");
  const std::string path = parent + "/cache.lmdb";
  ExpectIoError(PolicyCache::Open(path), path);
  EXPECT_EQ(ReadFile(parent), "not a directory\n");
}

TEST_F(PolicyCacheOpenTest, ForeignFilesAreRejectedUntouched) {
  std::mt19937 rng(8461);
  std::string random(100000, '\0');
  for (char& c : random) c = static_cast<char>(rng());
  std::string text;
  for (int i = 0; i < 500; ++i) text += "example.com:mode enforce line " + std::to_string(i) + "\n";
  const struct {
    std::string name;
    std::string contents;
  } cases[] = {
      {"random", random},
      {"short-text", "hello\n"},
      {"long-text", text},
      {"zeros-one-page", std::string(4096, '\0')},
      {"zeros-two-pages", std::string(8192, '\0')},
      {"one-byte", "x"},
  };
  for (const auto& c : cases) {
    for (auto access : {PolicyCache::Access::kReadWrite, PolicyCache::Access::kReadOnly}) {
      SCOPED_TRACE(c.name + (access == PolicyCache::Access::kReadOnly ? " read-only" : " read-write"));
      const std::string path = dir_.File(c.name + ".lmdb");
      WriteFile(path, c.contents);
      ExpectIoError(PolicyCache::Open(path, access), path, "not an LMDB database");
      // Never "repaired" or truncated.
      EXPECT_EQ(ReadFile(path), c.contents);
    }
  }
}

// LMDB treats an existing empty file as a new environment when it may write
// (this is also what happens after a crash between creating and initialising
// the file), and refuses it read-only. Either is sane; a crash or a cache
// that pretends to hold data is not.
TEST_F(PolicyCacheOpenTest, EmptyFileReadWriteBecomesANewCache) {
  const std::string path = dir_.File("empty.lmdb");
  WriteFile(path, "");
  auto opened = PolicyCache::Open(path);
  ASSERT_TRUE(opened.has_value()) << opened.error().detail;
  auto got = (*opened)->Get("example.com");
  ASSERT_TRUE(got.has_value()) << got.error().detail;
  EXPECT_FALSE(got->has_value());
  ASSERT_TRUE((*opened)->Put("example.com", FullEntry(), "t").has_value());
  opened->reset();
  auto reopened = PolicyCache::Open(path, PolicyCache::Access::kReadOnly);
  ASSERT_TRUE(reopened.has_value()) << reopened.error().detail;
  auto again = (*reopened)->Get("example.com");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, FullEntry());
}

TEST_F(PolicyCacheOpenTest, EmptyFileReadOnlyIsCleanErrorOrEmptyCache) {
  const std::string path = dir_.File("empty.lmdb");
  WriteFile(path, "");
  auto opened = PolicyCache::Open(path, PolicyCache::Access::kReadOnly);
  if (opened.has_value()) {
    auto got = (*opened)->Get("example.com");
    ASSERT_TRUE(got.has_value()) << got.error().detail;
    EXPECT_FALSE(got->has_value());
    auto domains = (*opened)->Domains();
    ASSERT_TRUE(domains.has_value());
    EXPECT_TRUE(domains->empty());
  } else {
    ExpectIoError(opened, path);
  }
  EXPECT_EQ(ReadFile(path), "");  // a reader never writes the file
}

TEST_F(PolicyCacheOpenTest, UndecodableEntryIsAnErrorNotAbsent) {
  const std::string path = dir_.File("cache.lmdb");
  WriteRaw(path, {{"bad.example:mxsec", "mxsec9\ngarbage"}, {"good.example:mxsec", EncodeEntry(FullEntry())}});
  auto opened = PolicyCache::Open(path);
  ASSERT_TRUE(opened.has_value()) << opened.error().detail;
  auto bad = (*opened)->Get("bad.example");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Code::kIo);
  EXPECT_NE(bad.error().detail.find(path), std::string::npos) << bad.error().detail;
  EXPECT_NE(bad.error().detail.find("bad.example:mxsec"), std::string::npos) << bad.error().detail;
  auto good = (*opened)->Get("good.example");
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(*good, FullEntry());
  // A later Put repairs the entry.
  ASSERT_TRUE((*opened)->Put("bad.example", FailureOnlyEntry()).has_value());
  auto repaired = (*opened)->Get("bad.example");
  ASSERT_TRUE(repaired.has_value());
  EXPECT_EQ(*repaired, FailureOnlyEntry());
}

TEST_F(PolicyCacheOpenTest, ReadsAFileWrittenByRawLmdb) {
  // The layout is the contract, not PolicyCache's own writes.
  const std::string path = dir_.File("cache.lmdb");
  WriteRaw(path, {{"example.com:mxsec", EncodeEntry(FullEntry())}, {"example.com:policy", "raw text"},
                  {"unrelated-key", "x"}});
  auto opened = PolicyCache::Open(path, PolicyCache::Access::kReadOnly);
  ASSERT_TRUE(opened.has_value()) << opened.error().detail;
  auto got = (*opened)->Get("example.com");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, FullEntry());
  EXPECT_EQ((*opened)->GetPolicyText("example.com").value_or("?"), "raw text");
  auto domains = (*opened)->Domains();
  ASSERT_TRUE(domains.has_value());
  EXPECT_EQ(*domains, std::vector<std::string>{"example.com"});
}

// ---- EncodeEntry / DecodeEntry --------------------------------------------------------

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t nl = s.find('\n', start);
    out.push_back(s.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return out;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out.push_back('\n');
    out += lines[i];
  }
  return out;
}

TEST(EntryCodecTest, RoundTrips) {
  for (const CacheEntry& e : {FullEntry(), FailureOnlyEntry(), CacheEntry{}}) {
    auto decoded = DecodeEntry(EncodeEntry(e));
    ASSERT_TRUE(decoded.has_value()) << decoded.error().detail;
    EXPECT_EQ(*decoded, e);
  }
}

TEST(EntryCodecTest, LayoutIsMagicThenFifteenLines) {
  const std::vector<std::string> lines = Lines(EncodeEntry(FullEntry()));
  const std::vector<std::string> want = {
      "mxsec1",
      "enforce",
      "mx1.example.com:*.example.net:mx2.example.org",
      "604800",
      "20240101T120000",
      "1700000000",
      "1700604800",
      "tlsrpt@example.com",
      "http",
      "sts-policy-fetch-error",
      "1700000100",
      "1700000700",
      "3",
      "perm-fail",
      "https://mta-sts.example.com/.well-known/mta-sts.txt: HTTP status 404",
  };
  EXPECT_EQ(lines, want);
}

// entry.cc: "Strings never hold a newline (replaced by a space on encoding)".
// LF is the field separator and is flattened; CR is not a separator and
// survives the round trip byte for byte.
TEST(EntryCodecTest, NewlinesInStringsAreFlattened) {
  CacheEntry e = FullEntry();
  e.error_message = "line one\nline two\r\nline three\n\nend\n";
  e.report = "a\nb";
  e.id = "x\ny";
  e.error_type = "t\n";
  e.error_phase = "\nhttp";
  const std::string encoded = EncodeEntry(e);
  EXPECT_EQ(Lines(encoded).size(), 15u) << encoded;
  auto decoded = DecodeEntry(encoded);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().detail;
  EXPECT_EQ(decoded->error_message, "line one line two\r line three  end ");
  EXPECT_EQ(decoded->report, "a b");
  EXPECT_EQ(decoded->id, "x y");
  EXPECT_EQ(decoded->error_type, "t ");
  EXPECT_EQ(decoded->error_phase, " http");
  // Everything else survives unchanged.
  CacheEntry expected = e;
  expected.error_message = decoded->error_message;
  expected.report = decoded->report;
  expected.id = decoded->id;
  expected.error_type = decoded->error_type;
  expected.error_phase = decoded->error_phase;
  EXPECT_EQ(*decoded, expected);
  // Flattening is idempotent: encoding the decoded entry gives the same bytes.
  EXPECT_EQ(EncodeEntry(*decoded), encoded);
}

TEST(EntryCodecTest, CarriageReturnsRoundTrip) {
  CacheEntry e = FullEntry();
  e.error_message = "a\rb\r";
  e.report = "r\r";
  auto decoded = DecodeEntry(EncodeEntry(e));
  ASSERT_TRUE(decoded.has_value()) << decoded.error().detail;
  EXPECT_EQ(*decoded, e);
}

TEST(EntryCodecTest, NewlineInAnMxPatternCannotShiftFields) {
  CacheEntry e = FullEntry();
  e.mx = {"a.example\nb.example"};
  auto decoded = DecodeEntry(EncodeEntry(e));
  ASSERT_TRUE(decoded.has_value()) << decoded.error().detail;
  EXPECT_EQ(decoded->mx, std::vector<std::string>{"a.example b.example"});
  EXPECT_EQ(decoded->max_age, e.max_age);
  EXPECT_EQ(decoded->failures, e.failures);
}

TEST(EntryCodecTest, EmptyErrorMessageAndEmptyLastLine) {
  CacheEntry e = FullEntry();
  e.error_message.clear();
  const std::string encoded = EncodeEntry(e);
  EXPECT_EQ(encoded.back(), '\n');
  auto decoded = DecodeEntry(encoded);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().detail;
  EXPECT_EQ(*decoded, e);
}

// Rejected inputs: each is the valid encoding of FullEntry() with one change.
TEST(EntryCodecTest, RejectsGarbage) {
  const std::vector<std::string> valid = Lines(EncodeEntry(FullEntry()));
  ASSERT_EQ(valid.size(), 15u);
  auto with_line = [&](size_t i, std::string value) {
    std::vector<std::string> lines = valid;
    lines[i] = std::move(value);
    return Join(lines);
  };
  auto without_line = [&](size_t i) {
    std::vector<std::string> lines = valid;
    lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(i));
    return Join(lines);
  };
  const struct {
    std::string name;
    std::string data;
  } cases[] = {
      {"empty", ""},
      {"magic only", "mxsec1"},
      {"magic and newline", "mxsec1\n"},
      {"wrong magic", with_line(0, "mxsec2")},
      {"upper-case magic", with_line(0, "MXSEC1")},
      {"magic with trailing space", with_line(0, "mxsec1 ")},
      {"no magic line", without_line(0)},
      {"missing last field", Join(std::vector<std::string>(valid.begin(), valid.end() - 1))},
      {"missing a middle field", without_line(5)},
      {"an extra line at the end", Join(valid) + "\nextra"},
      {"a trailing newline after the message", Join(valid) + "\n"},
      {"an extra line in the middle", with_line(7, "tlsrpt@example.com\nextra")},
      {"fourteen empty lines", "mxsec1" + std::string(13, '\n')},
      {"unknown error code", with_line(13, "sometimes-fails")},
      {"invalid mode", with_line(1, "strict")},
      {"mode with wrong case", with_line(1, "Enforce")},
      {"mode with space", with_line(1, "enforce ")},
      {"max_age not a number", with_line(3, "week")},
      {"max_age empty", with_line(3, "")},
      {"max_age with plus", with_line(3, "+5")},
      {"max_age with space", with_line(3, " 5")},
      {"max_age with suffix", with_line(3, "5s")},
      {"max_age decimal", with_line(3, "1.5")},
      {"max_age overflows int64", with_line(3, "99999999999999999999")},
      {"fetched_at not a number", with_line(5, "yesterday")},
      {"expires hex", with_line(6, "0x10")},
      {"error_at empty", with_line(10, "")},
      {"retry_after not a number", with_line(11, "soon")},
      {"failures negative", with_line(12, "-1")},
      {"failures absurd", with_line(12, "1000001")},
      {"failures not a number", with_line(12, "three")},
      {"binary", std::string("\x00\x01\x02\xff", 4)},
      {"policy text instead", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n"},
  };
  for (const auto& c : cases) {
    auto decoded = DecodeEntry(c.data);
    EXPECT_FALSE(decoded.has_value()) << c.name;
    if (!decoded) {
      EXPECT_EQ(decoded.error().code, Code::kIo) << c.name;
      EXPECT_FALSE(decoded.error().detail.empty()) << c.name;
    }
  }
}

TEST(EntryCodecTest, AcceptsEachValidMode) {
  const std::vector<std::string> valid = Lines(EncodeEntry(FullEntry()));
  for (std::string mode : {"enforce", "testing", "none", ""}) {
    std::vector<std::string> lines = valid;
    lines[1] = mode;
    auto decoded = DecodeEntry(Join(lines));
    ASSERT_TRUE(decoded.has_value()) << "mode '" << mode << "': " << decoded.error().detail;
    EXPECT_EQ(decoded->mode, mode);
    EXPECT_EQ(decoded->HasPolicy(), !mode.empty());
  }
}

}  // namespace
}  // namespace mxsec::store
