// The pure parts of an StsAnswer, shared by the CLI, the daemon and the fuzzer.
#include <algorithm>

#include "policy/policy.h"

namespace mxsec::policy {

std::string_view SourceName(Source source) {
  switch (source) {
    case Source::kNone: return "none";
    case Source::kFetched: return "fetched";
    case Source::kCache: return "cache";
  }
  return "none";
}

mtasts::Mode StsAnswer::mode() const {
  if (source == Source::kNone || !entry) return mtasts::Mode::kNone;
  return mtasts::ParseMode(entry->mode).value_or(mtasts::Mode::kNone);
}

bool StsAnswer::AllowsMx(std::string_view host) const {
  if (mode() == mtasts::Mode::kNone) return true;
  return std::any_of(entry->mx.begin(), entry->mx.end(),
                     [&](const std::string& pattern) { return mtasts::MatchesMx(pattern, host); });
}

}  // namespace mxsec::policy
