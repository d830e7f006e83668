// Microbenchmarks of the MTA-STS core: parsers, MX matching, and a cached
// policy lookup through the LMDB cache. bench/run prints them side by side
// with postfix-mta-sts-resolver's equivalents.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "mtasts/mtasts.h"
#include "store/store.h"

namespace {

using namespace mxsec;

const std::string kRecord = "v=STSv1; id=20160831085700Z;";
const std::string kPolicy =
    "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: mx2.example.com\r\n"
    "mx: *.backup.example.net\r\nmax_age: 604800\r\n";

void BM_ParseRecord(benchmark::State& state) {
  for (auto _ : state) {
    auto record = mtasts::ParseRecord(kRecord);
    benchmark::DoNotOptimize(record);
  }
}
BENCHMARK(BM_ParseRecord);

void BM_ParsePolicy(benchmark::State& state) {
  for (auto _ : state) {
    auto policy = mtasts::ParsePolicy(kPolicy);
    benchmark::DoNotOptimize(policy);
  }
}
BENCHMARK(BM_ParsePolicy);

void BM_MatchMx(benchmark::State& state) {
  auto policy = *mtasts::ParsePolicy(kPolicy);
  for (auto _ : state) {
    bool allowed = mtasts::PolicyAllowsMx(policy, "Mail7.Backup.Example.NET.");
    benchmark::DoNotOptimize(allowed);
  }
}
BENCHMARK(BM_MatchMx);

// A cache of 10,000 domains on disk; each iteration reads one entry and
// decodes it, as `mxsec policy` does for a cached domain.
class CacheFixture : public benchmark::Fixture {
 public:
  static constexpr int kDomains = 10000;
  void SetUp(const benchmark::State&) override {
    if (cache_) return;
    dir_ = std::filesystem::temp_directory_path() / ("mxsec-bench-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    cache_ = std::move(*store::PolicyCache::Open((dir_ / "mtasts.lmdb").string()));
    store::CacheEntry entry;
    entry.mode = "enforce";
    entry.mx = {"mx1.example.com", "*.backup.example.net"};
    entry.max_age = 604800;
    entry.id = "20160831085700Z";
    entry.fetched_at = 1795000000;
    entry.expires = entry.fetched_at + entry.max_age;
    entry.report = "tlsrpt@example.com";
    for (int i = 0; i < kDomains; ++i) {
      (void)cache_->Put("domain" + std::to_string(i) + ".example", entry, kPolicy);
    }
    for (int i = 0; i < kDomains; ++i) names_.push_back("domain" + std::to_string(i) + ".example");
  }
  void TearDown(const benchmark::State&) override {}
  ~CacheFixture() override {
    cache_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

 protected:
  std::filesystem::path dir_;
  std::unique_ptr<store::PolicyCache> cache_;
  std::vector<std::string> names_;
};

BENCHMARK_F(CacheFixture, BM_CachedLookup)(benchmark::State& state) {
  size_t i = 0;
  for (auto _ : state) {
    auto entry = cache_->Get(names_[i++ % names_.size()]);
    if (!entry || !*entry) state.SkipWithError("cache miss");
    benchmark::DoNotOptimize(entry);
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK_MAIN();
