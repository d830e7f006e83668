// `mxsec list validate DOMAIN`: checks a listed domain with the checker and
// judges the result against its list entry (check/list_validation.h).
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "check/list_validation.h"
#include "cli/check_setup.h"
#include "cli/cli.h"
#include "policylist/policylist.h"

namespace mxsec::cli {
namespace {

using nlohmann::json;

// Every MX host is validated, not only the first ten a plain check looks at.
constexpr int kMaxMx = 64;

void PrintError(const std::string& message) { std::fprintf(stderr, "mxsec: %s\n", message.c_str()); }

std::string Join(const std::vector<std::string>& items, const char* separator = ", ") {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

json ToJson(const check::ListValidation& v, const policylist::Entry& entry, const policylist::List& list, bool expired,
            const std::string& check_json) {
  json mx = json::array();
  for (const auto& m : v.mx) {
    json addresses = json::array();
    for (const auto& a : m.addresses) {
      addresses.push_back({{"address", a.address},
                           {"answered", a.answered},
                           {"starttls", a.starttls},
                           {"tls_version", a.tls_version},
                           {"tls_ok", a.tls_ok},
                           {"certificate_present", a.certificate_present},
                           {"certificate_valid", a.certificate_valid},
                           {"matches_hostname", a.matches_hostname},
                           {"certificate_pattern", a.certificate_pattern},
                           {"certificate_name", a.certificate_name},
                           {"names", a.names},
                           {"valid", a.valid}});
    }
    mx.push_back({{"hostname", m.hostname},
                  {"preference", m.preference},
                  {"implicit", m.implicit},
                  {"pattern", m.pattern},
                  {"answered", m.answered},
                  {"addresses", addresses},
                  {"valid", m.valid}});
  }
  return {{"domain", v.domain},
          {"listed", true},
          {"mode", policylist::ModeName(v.mode)},
          {"mxs", v.mxs},
          {"alias", entry.alias.empty() ? json(nullptr) : json(entry.alias)},
          {"list",
           {{"timestamp", FormatRfc3339(FromUnix(list.timestamp))},
            {"expires", FormatRfc3339(FromUnix(list.expires))},
            {"expired", expired}}},
          {"valid", v.valid},
          {"mx", mx},
          {"problems", v.problems},
          {"notes", v.notes},
          {"check", json::parse(check_json, nullptr, false)}};
}

std::string ToText(const check::ListValidation& v, const policylist::Entry& entry) {
  std::string out = v.domain + ": listed, " + std::string(policylist::ModeName(v.mode)) + ", mxs " + Join(v.mxs) +
                    (entry.alias.empty() ? "" : " (alias " + entry.alias + ")") + "\n";
  for (const auto& m : v.mx) {
    out += "  MX " + (m.implicit ? std::string("(none: the domain itself)") : std::to_string(m.preference)) + " " +
           m.hostname + ": " + (m.pattern.empty() ? "NOT covered by mxs" : "matches " + m.pattern) + "\n";
    for (const auto& a : m.addresses) {
      out += "    " + a.address + ": ";
      if (!a.answered) {
        out += "no answer\n";
        continue;
      }
      if (!a.starttls) {
        out += "no STARTTLS\n";
        continue;
      }
      out += "STARTTLS, " + (a.tls_version.empty() ? std::string("TLS failed") : a.tls_version);
      if (a.certificate_present) {
        out += std::string(", certificate ") + (a.certificate_valid ? "trusted" : "NOT trusted") + ", " +
               (a.matches_hostname ? "names the host" : "does NOT name the host") + ", " +
               (a.certificate_pattern.empty() ? "no name matches mxs"
                                              : a.certificate_name + " matches " + a.certificate_pattern);
      }
      out += a.valid ? ": ok\n" : ": FAILS\n";
    }
  }
  if (v.valid) {
    out += "VALID: every MX host matches the list entry and offers STARTTLS with a valid certificate\n";
  } else {
    out += "NOT VALID (" + std::to_string(v.problems.size()) + (v.problems.size() == 1 ? " problem" : " problems") +
           "):\n";
    for (const auto& p : v.problems) out += "  - " + p + "\n";
  }
  if (!v.notes.empty()) {
    out += "notes:\n";
    for (const auto& n : v.notes) out += "  - " + n + "\n";
  }
  return out;
}

}  // namespace

int RunListValidate(const Config& config, const std::string& file, const std::string& domain, const CheckFlags& flags) {
  auto normalized = NormalizeDomain(domain);
  if (!normalized) {
    PrintError(normalized.error().detail);
    return kExitSetup;
  }
  const std::string& folded = *normalized;
  auto list = LoadList(ListPath(config, file));
  if (!list) return kExitSetup;
  const policylist::Entry* entry = list->Find(folded);
  if (entry == nullptr) {
    if (flags.json) {
      std::printf("%s\n", json{{"domain", folded}, {"listed", false}, {"valid", false}}.dump().c_str());
    } else {
      std::printf("%s: not in the list, nothing to validate against\n", folded.c_str());
    }
    return kExitNegative;
  }
  const bool expired = list->Expired(ToUnix(SystemClock().Now()));
  if (expired) {
    PrintError("note: the list expired on " + FormatRfc3339(FromUnix(list->expires)) +
               " and is not applied by mxsec; validating against it anyway");
  }
  auto setup = CheckSetup::Make(config, flags, kMaxMx);
  if (!setup) {
    PrintError(setup.error().detail);
    return kExitSetup;
  }
  const check::DomainResult result = setup->checker->Check(folded);
  const check::ListValidation v = check::ValidateAgainstList(result, entry->policy);
  const std::string out =
      flags.json ? ToJson(v, *entry, *list, expired, check::ToJson(result, false)).dump(2) + "\n" : ToText(v, *entry);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return v.valid ? kExitOk : kExitNegative;
}

}  // namespace mxsec::cli
