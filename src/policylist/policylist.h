// policylist: the STARTTLS-Everywhere policy list (`policy.json`, schema
// version 0.1), a preload list of mail domains and the MX hosts their
// certificates must name.
//
// ParseList validates a list against every rule of the schema (required and
// allowed keys, version "0.1", timestamps as RFC 3339 strings or epoch
// integers, domain and mx patterns, modes, non-empty unique mxs, alias
// references that resolve) and reports each violation with its JSON path.
//
// Pattern semantics follow the schema, not RULES.md: "mx.example.com" is an
// exact match; ".example.com" matches any host below example.com at any
// depth (mta7.am0.yahoodns.net matches .yahoodns.net), which is also what
// Postfix's `match=.example.com` does. Comparisons ignore ASCII case and a
// trailing dot.
//
// Pure functions, thread-safe; a parsed List is immutable.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"

namespace mxsec::policylist {

enum class Mode { kTesting, kEnforce };
std::string_view ModeName(Mode mode);  // "testing", "enforce"

struct Policy {
  Mode mode = Mode::kTesting;
  std::vector<std::string> mxs;  // as published
};

struct Entry {
  Policy policy;       // the effective policy (an alias resolved)
  std::string alias;   // the policy-alias it came from, "" for an inline policy
};

struct List {
  int64_t timestamp = 0;  // Unix seconds
  int64_t expires = 0;
  std::string author;
  std::map<std::string, Policy> aliases;
  std::map<std::string, Entry> policies;  // keyed by the folded domain

  // The entry of a recipient domain (exact match only, as the schema says).
  const Entry* Find(std::string_view domain) const;
  bool Expired(int64_t now) const { return now >= expires; }
};

// Validates and parses a list. kSyntax for anything invalid, with a detail
// naming the JSON path and the rule of the first violation and the count of
// the others; `errors` (when given) receives every violation, one line each.
Result<List> ParseList(std::string_view json, std::vector<std::string>* errors = nullptr);

// Parses the schema's timestamp forms: an RFC 3339 date-time (calendar
// checked, fractional seconds, Z or an offset) or a non-negative integer.
std::optional<int64_t> ParseTimestamp(std::string_view text);

// True when `host` matches `pattern` by the schema's semantics (see above).
bool MatchesMx(std::string_view pattern, std::string_view host);
bool PolicyAllowsMx(const Policy& policy, std::string_view host);

// Postfix's `match=` list for a policy: the patterns joined by ':'.
std::string PostfixMatch(const Policy& policy);

}  // namespace mxsec::policylist
