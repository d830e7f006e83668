// `mxsec list ...`: the STARTTLS-Everywhere policy list.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/cli.h"
#include "dns/dns.h"
#include "net/net.h"
#include "policylist/policylist.h"
#include "policylist/update.h"

namespace mxsec::cli {
namespace {

using nlohmann::json;

void PrintError(const std::string& message) { std::fprintf(stderr, "mxsec: %s\n", message.c_str()); }

json PolicyJson(const std::string& domain, const policylist::Entry& e) {
  return {{"domain", domain},
          {"mode", policylist::ModeName(e.policy.mode)},
          {"mxs", e.policy.mxs},
          {"alias", e.alias.empty() ? json(nullptr) : json(e.alias)}};
}

}  // namespace

std::string ListPath(const Config& config, const std::string& file) {
  return file.empty() ? config.ListFile() : file;
}

std::optional<policylist::List> LoadList(const std::string& path) {
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

int RunListCheck(const Config& config, const std::string& file) {
  const std::string path = ListPath(config, file);
  auto list = LoadList(path);
  if (!list) return kExitNegative;
  const int64_t now = ToUnix(SystemClock().Now());
  std::printf("%s: valid, %zu domains, %zu aliases, timestamp %s, expires %s%s\n", path.c_str(),
              list->policies.size(), list->aliases.size(), FormatRfc3339(FromUnix(list->timestamp)).c_str(),
              FormatRfc3339(FromUnix(list->expires)).c_str(), list->Expired(now) ? " (EXPIRED: not applied)" : "");
  return kExitOk;
}

int RunListShow(const Config& config, const std::string& file, const std::string& domain, bool as_json) {
  auto list = LoadList(ListPath(config, file));
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
  auto list = LoadList(ListPath(config, file));
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

std::optional<policylist::List> ActiveList(const Config& config) {
  if (!config.policy_list.enabled) return std::nullopt;
  const std::string path = config.ListFile();
  auto list = policylist::ReadListFile(path);
  if (!list) {
    PrintError("ignoring the policy list: " + list.error().detail);
    return std::nullopt;
  }
  if (*list && (*list)->Expired(ToUnix(SystemClock().Now()))) {
    PrintError("ignoring the policy list " + path + ": it expired on " + FormatRfc3339(FromUnix((*list)->expires)) +
               " (run mxsec list update)");
    return std::nullopt;
  }
  return std::move(*list);
}

int RunListUpdate(const Config& config, const ListUpdateFlags& flags) {
  policylist::UpdateRequest request = policylist::RequestFromConfig(config);
  // A source given replaces the configured one, and its signature too.
  if (!flags.source.empty()) request.source = flags.source;
  if (!flags.signature.empty() || !flags.source.empty()) request.signature = flags.signature;
  if (!flags.keyring.empty()) request.keyring = flags.keyring;
  if (!flags.fingerprint.empty()) request.fingerprint = flags.fingerprint;
  auto resolver = dns::MakeUnboundResolver({config.dns_servers, config.trust_anchor, config.timeout});
  if (!resolver) {
    PrintError(resolver.error().detail);
    return kExitSetup;
  }
  auto https = net::MakeHttpsClient(**resolver);
  const std::string path = config.ListFile();
  auto outcome = policylist::Update(*https, request, path, ToUnix(SystemClock().Now()));
  if (!outcome) {
    const bool setup = outcome.error().code == Code::kInvalidArgument;
    if (flags.json) {
      std::printf("%s\n", json{{"result", "refused"},
                               {"error", CodeName(outcome.error().code)},
                               {"message", outcome.error().detail},
                               {"file", path}}
                              .dump()
                              .c_str());
    }
    PrintError("list update: " + outcome.error().detail + (setup ? "" : "; the list in force is unchanged"));
    return setup ? kExitSetup : kExitNegative;
  }
  if (!outcome->warning.empty()) PrintError("list update: warning: " + outcome->warning);
  const auto date = [](int64_t t) { return FormatRfc3339(FromUnix(t)); };
  if (flags.json) {
    std::printf("%s\n", json{{"result", outcome->installed ? "installed" : "unchanged"},
                             {"file", path},
                             {"timestamp", date(outcome->timestamp)},
                             {"expires", date(outcome->expires)},
                             {"domains", outcome->domains},
                             {"previous_timestamp",
                              outcome->previous_timestamp ? json(date(outcome->previous_timestamp)) : json(nullptr)},
                             {"signer", outcome->signer},
                             {"warning", outcome->warning.empty() ? json(nullptr) : json(outcome->warning)}}
                            .dump()
                            .c_str());
  } else if (outcome->installed) {
    std::printf("%s: installed the list of %s (%zu domains, expires %s), signed by %s\n", path.c_str(),
                date(outcome->timestamp).c_str(), outcome->domains, date(outcome->expires).c_str(),
                outcome->signer.c_str());
  } else {
    std::printf("%s: already current (list of %s, expires %s)\n", path.c_str(), date(outcome->timestamp).c_str(),
                date(outcome->expires).c_str());
  }
  return kExitOk;
}

}  // namespace mxsec::cli
