// libFuzzer target for the STARTTLS-Everywhere list parser (schema 0.1).
// Invariants trap in release builds too.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policylist/policylist.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> errors;
  auto list = mxsec::policylist::ParseList(text, &errors);
  if (list) {
    Check(errors.empty());
    for (const auto& [domain, entry] : list->policies) {
      Check(!entry.policy.mxs.empty());
      Check(list->Find(domain) == &entry);
      if (!entry.alias.empty()) Check(list->aliases.count(entry.alias) == 1);
      for (const auto& pattern : entry.policy.mxs) {
        // A suffix pattern matches a host below it; an exact one itself.
        std::string host = pattern[0] == '.' ? "x" + pattern : pattern;
        Check(mxsec::policylist::MatchesMx(pattern, host));
      }
    }
  } else {
    Check(!list.error().detail.empty() && list.error().detail.find('\n') == std::string::npos);
  }
  mxsec::policylist::ParseTimestamp(text.substr(0, 64));
  return 0;
}
