// The JSON form of a decision (answer_json.h).
#include "policy/answer_json.h"

namespace mxsec::policy {
namespace {

using nlohmann::json;

json ErrorJson(const std::optional<mtasts::StsError>& error) {
  if (!error) return nullptr;
  return json{{"phase", mtasts::PhaseName(error->phase)},
              {"result_type", mtasts::TlsrptResultType(error->phase)},
              {"message", error->error.detail}};
}

}  // namespace

json AnswerJson(const StsAnswer& answer) {
  json out{{"domain", answer.domain}, {"source", SourceName(answer.source)}};
  if (answer.entry && answer.source != Source::kNone) {
    const auto& e = *answer.entry;
    out["mode"] = e.mode;
    out["mx"] = e.mx;
    out["max_age"] = e.max_age;
    out["id"] = e.id;
    out["fetched_at"] = e.fetched_at;
    out["expires"] = e.expires;
    out["expires_at"] = FormatRfc3339(FromUnix(e.expires));
    out["report"] = e.report.empty() ? json(nullptr) : json(e.report);
    if (answer.source == Source::kPolicyList) {
      // ApplyPolicyList keeps the list's alias in id, its timestamp in
      // fetched_at and its expiry in expires.
      out["policy_list"] = {{"alias", e.id.empty() ? json(nullptr) : json(e.id)},
                            {"timestamp", FormatRfc3339(FromUnix(e.fetched_at))},
                            {"expires", FormatRfc3339(FromUnix(e.expires))}};
    }
  } else {
    for (const char* key : {"mode", "max_age", "id", "fetched_at", "expires", "expires_at", "report"}) {
      out[key] = nullptr;
    }
    out["mx"] = json::array();
  }
  out["last_error"] = ErrorJson(answer.error);
  return out;
}

}  // namespace mxsec::policy
