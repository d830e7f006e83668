// policy/answer_json: one JSON form of a policy decision, shared by
// `mxsec policy --json` and the daemon's GET /policy/DOMAIN, so scripts read
// the same fields from both.
#pragma once

#include <nlohmann/json.hpp>

#include "policy/policy.h"

namespace mxsec::policy {

// {"domain", "source" ("fetched", "cache", "policy-list", "none"), "mode",
//  "mx", "max_age", "id", "fetched_at", "expires", "expires_at", "report",
//  "last_error": {"phase", "result_type", "message"} or null}; a decision
// by the STARTTLS-Everywhere list adds "policy_list": {"alias",
// "timestamp", "expires"}. Fields without a policy are null (mx: []).
nlohmann::json AnswerJson(const StsAnswer& answer);

}  // namespace mxsec::policy
