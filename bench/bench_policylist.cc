// Microbenchmarks of the STARTTLS-Everywhere policy list (schema 0.1): loading
// the real 926-domain list (full schema validation + parse), reading it from
// disk as `mxsec` does at start, and looking domains up in it. bench/run prints
// them side by side with bench/reference_policylist.py (Python json +
// jsonschema). The list is the repository's copy of the real one,
// tests/data/starttls-everywhere/policy.json; MXSEC_POLICY_LIST overrides it.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "policylist/policylist.h"
#include "policylist/update.h"

namespace {

using namespace mxsec;

std::string ListPath() {
  if (const char* env = std::getenv("MXSEC_POLICY_LIST"); env && *env) return env;
  return std::string(MXSEC_TEST_DATA) + "/starttls-everywhere/policy.json";
}

// The list's text, read once; empty when it cannot be read.
const std::string& ListText() {
  static const std::string text = [] {
    std::ifstream in(ListPath(), std::ios::binary);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return in ? buffer.str() : std::string();
  }();
  return text;
}

// The list parsed once, for the lookup benchmarks; nullptr when it does not load.
const policylist::List* ParsedList() {
  static const std::optional<policylist::List> list = []() -> std::optional<policylist::List> {
    auto parsed = policylist::ParseList(ListText());
    if (!parsed) return std::nullopt;
    return std::move(*parsed);
  }();
  return list ? &*list : nullptr;
}

void BM_ListLoad(benchmark::State& state) {
  const std::string& text = ListText();
  if (text.empty()) {
    state.SkipWithError(("cannot read " + ListPath()).c_str());
    return;
  }
  for (auto _ : state) {
    auto list = policylist::ParseList(text);
    if (!list) {
      state.SkipWithError(list.error().detail.c_str());
      break;
    }
    benchmark::DoNotOptimize(list);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("lists");
}
BENCHMARK(BM_ListLoad);

// What `mxsec` does at start (and the daemon on a reload): ReadListFile, which
// checks the file exists, reads it and runs ParseList.
void BM_ListLoadFromFile(benchmark::State& state) {
  const std::string path = ListPath();
  for (auto _ : state) {
    auto list = policylist::ReadListFile(path);
    if (!list || !*list) {
      state.SkipWithError((list ? "no list at " + path : list.error().detail).c_str());
      break;
    }
    benchmark::DoNotOptimize(list);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("lists");
}
BENCHMARK(BM_ListLoadFromFile);

// Each listed domain (in the list's sorted order) followed by one that is not
// listed: 926 hits and 926 misses.
std::vector<std::string> LookupDomains(const policylist::List& list) {
  std::vector<std::string> domains;
  int i = 0;
  for (const auto& [domain, entry] : list.policies) {
    domains.push_back(domain);
    domains.push_back("unlisted-" + std::to_string(i++) + ".example");
  }
  return domains;
}

void BM_ListLookup(benchmark::State& state) {
  const policylist::List* list = ParsedList();
  if (!list) {
    state.SkipWithError("the list does not load");
    return;
  }
  const std::vector<std::string> domains = LookupDomains(*list);
  size_t i = 0;
  size_t found = 0;
  for (auto _ : state) {
    const policylist::Entry* entry = list->Find(domains[i++ % domains.size()]);
    found += entry != nullptr;
    benchmark::DoNotOptimize(entry);
  }
  benchmark::DoNotOptimize(found);
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("lookups");
}
BENCHMARK(BM_ListLookup);

// Each listed domain with an MX host its policy allows: its first mxs pattern
// as a host name ("mx" prepended to a ".suffix" pattern).
std::vector<std::pair<std::string, std::string>> MatchCases(const policylist::List& list) {
  std::vector<std::pair<std::string, std::string>> cases;
  for (const auto& [domain, entry] : list.policies) {
    const std::string& pattern = entry.policy.mxs.front();
    cases.emplace_back(domain, pattern.front() == '.' ? "mx" + pattern : pattern);
  }
  return cases;
}

void BM_ListLookupAndMatch(benchmark::State& state) {
  const policylist::List* list = ParsedList();
  if (!list) {
    state.SkipWithError("the list does not load");
    return;
  }
  const auto cases = MatchCases(*list);
  size_t i = 0;
  for (auto _ : state) {
    const auto& [domain, host] = cases[i++ % cases.size()];
    const policylist::Entry* entry = list->Find(domain);
    bool allowed = entry && policylist::PolicyAllowsMx(entry->policy, host);
    if (!allowed) {
      state.SkipWithError(("no match: " + domain + " " + host).c_str());
      break;
    }
    benchmark::DoNotOptimize(allowed);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("lookups");
}
BENCHMARK(BM_ListLookupAndMatch);

}  // namespace
