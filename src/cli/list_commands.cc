// `mxsec list ...`: the STARTTLS-Everywhere policy list.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/cli.h"
#include "policylist/policylist.h"

namespace mxsec::cli {
namespace {

using nlohmann::json;

void PrintError(const std::string& message) { std::fprintf(stderr, "mxsec: %s\n", message.c_str()); }

std::string ListPath(const Config& config, const std::string& file) {
  return file.empty() ? config.data_dir + "/policy-list.json" : file;
}

// Reads and validates a list; prints every violation on stderr.
std::optional<policylist::List> Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    PrintError("cannot read the policy list " + path +
               " (give --file, or put a validated copy at DATA_DIR/policy-list.json)");
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::string> errors;
  auto list = policylist::ParseList(text.str(), &errors);
  if (!list) {
    for (const auto& e : errors) PrintError(path + ": " + e);
    if (errors.empty()) PrintError(path + ": " + list.error().detail);
    return std::nullopt;
  }
  return std::move(*list);
}

json PolicyJson(const std::string& domain, const policylist::Entry& e) {
  return {{"domain", domain},
          {"mode", policylist::ModeName(e.policy.mode)},
          {"mxs", e.policy.mxs},
          {"alias", e.alias.empty() ? json(nullptr) : json(e.alias)}};
}

}  // namespace

int RunListCheck(const Config& config, const std::string& file) {
  const std::string path = ListPath(config, file);
  auto list = Load(path);
  if (!list) return kExitNegative;
  const int64_t now = ToUnix(SystemClock().Now());
  std::printf("%s: valid, %zu domains, %zu aliases, timestamp %s, expires %s%s\n", path.c_str(),
              list->policies.size(), list->aliases.size(), FormatRfc3339(FromUnix(list->timestamp)).c_str(),
              FormatRfc3339(FromUnix(list->expires)).c_str(), list->Expired(now) ? " (EXPIRED: not applied)" : "");
  return kExitOk;
}

int RunListShow(const Config& config, const std::string& file, const std::string& domain, bool as_json) {
  auto list = Load(ListPath(config, file));
  if (!list) return kExitSetup;
  const bool expired = list->Expired(ToUnix(SystemClock().Now()));
  const policylist::Entry* entry = list->Find(domain);
  if (as_json) {
    json out = entry ? PolicyJson(FoldDomain(domain), *entry) : json{{"domain", FoldDomain(domain)}, {"mode", nullptr}};
    out["list_expired"] = expired;
    std::printf("%s\n", out.dump().c_str());
  } else if (entry) {
    std::printf("%s: %s, mxs %s%s%s\n", FoldDomain(domain).c_str(),
                std::string(policylist::ModeName(entry->policy.mode)).c_str(),
                policylist::PostfixMatch(entry->policy).c_str(),
                entry->alias.empty() ? "" : (" (alias " + entry->alias + ")").c_str(),
                expired ? " [list expired: not applied]" : "");
  } else {
    std::printf("%s: not in the list\n", FoldDomain(domain).c_str());
  }
  return entry ? kExitOk : kExitNegative;
}

int RunListPostfix(const Config& config, const std::string& file) {
  auto list = Load(ListPath(config, file));
  if (!list) return kExitSetup;
  if (list->Expired(ToUnix(SystemClock().Now()))) {
    PrintError("the policy list expired on " + FormatRfc3339(FromUnix(list->expires)) +
               ": refusing to write a table from it (fetch a new list)");
    return kExitNegative;
  }
  std::printf("# smtp_tls_policy_maps table from the STARTTLS-Everywhere list (%zu domains), list timestamp %s,\n"
              "# expires %s. Regenerate before then. postmap this file (hash: or lmdb:).\n",
              list->policies.size(), FormatRfc3339(FromUnix(list->timestamp)).c_str(),
              FormatRfc3339(FromUnix(list->expires)).c_str());
  for (const auto& [domain, entry] : list->policies) {
    // enforce: verified TLS to the listed names; testing: opportunistic TLS
    // with the result logged (Postfix cannot soft-fail a verification).
    if (entry.policy.mode == policylist::Mode::kEnforce) {
      std::printf("%s secure match=%s\n", domain.c_str(), policylist::PostfixMatch(entry.policy).c_str());
    } else {
      std::printf("%s may\n", domain.c_str());
    }
  }
  return kExitOk;
}

}  // namespace mxsec::cli
