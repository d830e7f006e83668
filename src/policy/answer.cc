// The pure parts of an StsAnswer, shared by the CLI, the daemon and the fuzzer.
#include <algorithm>

#include "policy/policy.h"

namespace mxsec::policy {

std::string_view SourceName(Source source) {
  switch (source) {
    case Source::kNone:
      return "none";
    case Source::kFetched:
      return "fetched";
    case Source::kCache:
      return "cache";
    case Source::kPolicyList:
      return "policy-list";
  }
  return "none";
}

mtasts::Mode StsAnswer::mode() const {
  if (source == Source::kNone || !entry) return mtasts::Mode::kNone;
  return mtasts::ParseMode(entry->mode).value_or(mtasts::Mode::kNone);
}

bool StsAnswer::AllowsMx(std::string_view host) const {
  if (mode() == mtasts::Mode::kNone) return true;
  if (source == Source::kPolicyList) {
    return std::any_of(entry->mx.begin(), entry->mx.end(),
                       [&](const std::string& pattern) { return policylist::MatchesMx(pattern, host); });
  }
  return std::any_of(entry->mx.begin(), entry->mx.end(),
                     [&](const std::string& pattern) { return mtasts::MatchesMx(pattern, host); });
}

void ApplyPolicyList(StsAnswer& answer, const policylist::List* list, int64_t now) {
  if (list == nullptr || answer.source != Source::kNone || list->Expired(now)) return;
  const policylist::Entry* listed = list->Find(answer.domain);
  if (listed == nullptr) return;
  store::CacheEntry entry;
  entry.mode = std::string(policylist::ModeName(listed->policy.mode));
  entry.mx = listed->policy.mxs;
  entry.fetched_at = list->timestamp;
  entry.expires = list->expires;
  entry.id = listed->alias;
  answer.source = Source::kPolicyList;
  answer.entry = std::move(entry);
}

}  // namespace mxsec::policy
