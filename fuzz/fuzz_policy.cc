// libFuzzer target for the MTA-STS policy parser (RFC 8461 3.2) and MX
// matching (4.1).
//
// The input is a policy body. When it parses, every mx pattern is checked
// for the shape the ABNF promises and run through MatchesMx against a fixed
// host and against hosts derived from the pattern itself. Invariants are
// checked with __builtin_trap() so they hold in release builds too.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/base.h"
#include "mtasts/mtasts.h"

namespace {

using mxsec::Code;
using mxsec::Result;
using mxsec::mtasts::MatchesMx;
using mxsec::mtasts::Mode;
using mxsec::mtasts::Policy;

constexpr std::string_view kHost = "mx1.example.com";

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

bool IsLdh(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

// A lower-case pattern: optional "*." then non-empty LDH labels, no trailing dot.
void CheckPattern(std::string_view p) {
  Check(!p.empty());
  if (p.substr(0, 2) == "*.") p.remove_prefix(2);
  Check(!p.empty());
  Check(p.back() != '.');
  size_t label = 0;
  for (char c : p) {
    if (c == '.') {
      Check(label > 0);
      label = 0;
    } else {
      Check(IsLdh(c));
      ++label;
    }
  }
  Check(label > 0);
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

void CheckMatching(const Policy& policy) {
  bool any = false;
  for (const std::string& pattern : policy.mx) {
    const bool match = MatchesMx(pattern, kHost);
    any = any || match;
    // Case and a trailing dot never change the answer.
    Check(MatchesMx(Upper(pattern), std::string(kHost) + ".") == match);
    Check(MatchesMx(pattern + ".", Upper(kHost)) == match);
    if (pattern.substr(0, 2) == "*.") {
      const std::string parent = pattern.substr(2);
      Check(MatchesMx(pattern, "x." + parent));
      Check(MatchesMx(pattern, "X." + Upper(parent) + "."));
      Check(!MatchesMx(pattern, parent));
      Check(!MatchesMx(pattern, "a.b." + parent));
    } else {
      Check(MatchesMx(pattern, pattern));
      Check(MatchesMx(pattern, Upper(pattern) + "."));
      Check(!MatchesMx(pattern, "x." + pattern));
    }
  }
  Check(mxsec::mtasts::PolicyAllowsMx(policy, kHost) == any);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  Result<Policy> policy = mxsec::mtasts::ParsePolicy(body);
  if (!policy) {
    Check(policy.error().code == Code::kSyntax);
    Check(!policy.error().detail.empty());
    Check(policy.error().detail.find('\n') == std::string::npos);
    return 0;
  }
  const Policy& p = *policy;
  Check(p.mode == Mode::kNone || p.mode == Mode::kTesting || p.mode == Mode::kEnforce);
  Check(p.max_age >= 0 && p.max_age <= mxsec::mtasts::kMaxMaxAge);
  Check(p.mode == Mode::kNone || !p.mx.empty());
  for (const std::string& w : p.warnings) Check(!w.empty());
  for (const std::string& pattern : p.mx) CheckPattern(pattern);
  // Required fields were present.
  Check(body.find("version") != std::string_view::npos);
  Check(body.find("mode") != std::string_view::npos);
  Check(body.find("max_age") != std::string_view::npos);
  // The mode parsed is one spelled in the body.
  Check(body.find(mxsec::mtasts::ModeName(p.mode)) != std::string_view::npos);
  // Deterministic.
  Result<Policy> again = mxsec::mtasts::ParsePolicy(body);
  Check(again && again->mode == p.mode && again->max_age == p.max_age && again->mx == p.mx);
  CheckMatching(p);
  return 0;
}
