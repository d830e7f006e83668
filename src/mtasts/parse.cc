// Pure parsers of RFC 8461: the TXT record (3.1), the policy file (3.2) and
// MX pattern matching (4.1).
#include <charconv>

#include "base/abnf_internal.h"
#include "mtasts/mtasts.h"

namespace mxsec::mtasts {
namespace {

using abnf::At;
using abnf::IsAlnum;
using abnf::IsDigit;
using abnf::IsExtName;
using abnf::IsWsp;
using abnf::SkipSeparator;

}  // namespace

// ---- Record -----------------------------------------------------------------

Result<Record> ParseRecord(std::string_view text) {
  constexpr std::string_view kVersion = "v=STSv1";
  if (text.substr(0, kVersion.size()) != kVersion) {
    return Fail(Code::kSyntax, "record must begin with \"v=STSv1\" (case-sensitive)");
  }
  Record record;
  record.version = "STSv1";
  size_t pos = kVersion.size();
  bool have_id = false;
  size_t fields = 0;
  while (pos < text.size()) {
    // sts-sep = *WSP ";" *WSP
    if (!SkipSeparator(text, pos)) return Fail(Code::kSyntax, "expected \";\" between fields" + At(pos));
    if (pos == text.size()) break;  // optional trailing separator
    // sts-field up to the next WSP or ";"
    size_t field_start = pos;
    while (pos < text.size() && text[pos] != ';' && !IsWsp(text[pos])) ++pos;
    std::string_view field = text.substr(field_start, pos - field_start);
    if (field.empty()) return Fail(Code::kSyntax, "empty field" + At(field_start));
    size_t eq = field.find('=');
    if (eq == std::string_view::npos) {
      return Fail(Code::kSyntax, "field " + Quote(field, 40) + " is not name=value" + At(field_start));
    }
    std::string_view name = field.substr(0, eq);
    std::string_view value = field.substr(eq + 1);
    if (name == "id") {
      if (have_id) return Fail(Code::kSyntax, "duplicate id field" + At(field_start));
      if (value.empty() || value.size() > 32) {
        return Fail(Code::kSyntax, "id must be 1 to 32 letters or digits" + At(field_start));
      }
      for (char c : value) {
        if (!IsAlnum(c)) return Fail(Code::kSyntax, "id must be 1 to 32 letters or digits" + At(field_start));
      }
      record.id = std::string(value);
      have_id = true;
    } else {
      if (auto error = abnf::ExtensionError(name, value, field_start); !error.empty()) {
        return Fail(Code::kSyntax, error);
      }
      record.extensions.emplace_back(name, value);
    }
    ++fields;
  }
  if (fields == 0) return Fail(Code::kSyntax, "record has no fields after \"v=STSv1\"");
  if (!have_id) return Fail(Code::kSyntax, "record has no id field");
  return record;
}

Result<Record> SelectRecord(const std::vector<std::string>& txt_records) {
  const std::string* chosen = nullptr;
  size_t count = 0;
  for (const auto& txt : txt_records) {
    if (txt.rfind("v=STSv1;", 0) == 0) {
      chosen = &txt;
      ++count;
    }
  }
  if (count == 0) return Fail(Code::kNotFound, "no record beginning with \"v=STSv1;\"");
  if (count > 1) {
    return Fail(Code::kSyntax, std::to_string(count) + " records begin with \"v=STSv1;\", exactly one is allowed");
  }
  return ParseRecord(*chosen);
}

// ---- Policy -----------------------------------------------------------------

std::string_view ModeName(Mode mode) {
  switch (mode) {
    case Mode::kNone: return "none";
    case Mode::kTesting: return "testing";
    case Mode::kEnforce: return "enforce";
  }
  return "none";
}

std::optional<Mode> ParseMode(std::string_view name) {
  if (name == "enforce") return Mode::kEnforce;
  if (name == "testing") return Mode::kTesting;
  if (name == "none") return Mode::kNone;
  return std::nullopt;
}

namespace {

// RFC 5321 Domain: sub-domain *("." sub-domain), sub-domain = Let-dig [Ldh-str].
bool IsAsciiDomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t end = s.find('.', start);
    std::string_view label = s.substr(start, end == std::string_view::npos ? end : end - start);
    if (label.empty() || label.size() > 63 || !IsAlnum(label.front()) || !IsAlnum(label.back())) {
      return false;
    }
    for (char c : label) {
      if (!IsAlnum(c) && c != '-') return false;
    }
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}

// sts-policy-ext-value: VCHAR or UTF-8, inner spaces, no CTLs, no leading or trailing space.
bool IsPolicyExtValue(std::string_view s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::string Line(size_t n) { return "line " + std::to_string(n) + ": "; }

}  // namespace

Result<Policy> ParsePolicy(std::string_view body) {
  Policy policy;
  std::optional<std::string_view> version, mode, max_age;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < body.size()) {
    ++line_no;
    size_t lf = body.find('\n', pos);
    size_t end = lf == std::string_view::npos ? body.size() : lf;
    std::string_view line = body.substr(pos, end - pos);
    pos = lf == std::string_view::npos ? body.size() : lf + 1;
    // CRLF ends a line only when the LF is there; a final bare CR is an error.
    if (lf != std::string_view::npos && !line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find('\r') != std::string_view::npos) {
      return Fail(Code::kSyntax, Line(line_no) + "CR not followed by LF");
    }
    if (line.empty()) {
      // Leniency (documented, tested): blank lines after the last field are
      // ignored with a warning; a blank line between fields is an error.
      if (body.find_first_not_of("\r\n", pos) == std::string_view::npos) {
        policy.warnings.push_back("blank line(s) at the end of the policy ignored");
        break;
      }
      return Fail(Code::kSyntax, Line(line_no) + "empty line");
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return Fail(Code::kSyntax, Line(line_no) + "expected \"key: value\"");
    }
    std::string_view key = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && IsWsp(value.front())) value.remove_prefix(1);
    while (!value.empty() && IsWsp(value.back())) value.remove_suffix(1);

    if (key == "version") {
      if (value != "STSv1") return Fail(Code::kSyntax, Line(line_no) + "version must be \"STSv1\"");
      if (!version) version = value;
    } else if (key == "mode") {
      if (!ParseMode(value)) {
        return Fail(Code::kSyntax, Line(line_no) + "mode must be enforce, testing or none, got " + Quote(value, 40));
      }
      if (!mode) mode = value;
    } else if (key == "max_age") {
      bool digits = !value.empty() && value.size() <= 10;
      for (char c : value) digits = digits && IsDigit(c);
      if (!digits) return Fail(Code::kSyntax, Line(line_no) + "max_age must be 1 to 10 digits");
      if (!max_age) max_age = value;
    } else if (key == "mx") {
      std::string_view domain = value;
      if (domain.substr(0, 2) == "*.") domain.remove_prefix(2);
      if (!IsAsciiDomain(domain)) {
        return Fail(Code::kSyntax, Line(line_no) + "mx must be a host name or \"*.\" and a domain, got " + Quote(value, 80));
      }
      policy.mx.push_back(FoldDomain(value));
    } else {
      // RFC 8461 3.2: unknown fields are ignored, but must still be well-formed.
      if (!IsExtName(key)) {
        return Fail(Code::kSyntax, Line(line_no) + "invalid key " + Quote(key, 40));
      }
      if (!IsPolicyExtValue(value)) {
        return Fail(Code::kSyntax, Line(line_no) + "invalid value for " + Quote(key, 40));
      }
    }
  }
  if (!version) return Fail(Code::kSyntax, "missing \"version: STSv1\"");
  if (!mode) return Fail(Code::kSyntax, "missing mode");
  if (!max_age) return Fail(Code::kSyntax, "missing max_age");
  policy.mode = *ParseMode(*mode);
  uint64_t age = 0;
  std::from_chars(max_age->data(), max_age->data() + max_age->size(), age);
  if (age > static_cast<uint64_t>(kMaxMaxAge)) {
    policy.warnings.push_back("max_age " + std::string(*max_age) + " exceeds the RFC 8461 maximum, clamped to " +
                              std::to_string(kMaxMaxAge));
    age = kMaxMaxAge;
  }
  policy.max_age = static_cast<int64_t>(age);
  // RFC 8461 3.2: mx is required unless mode is none.
  if (policy.mode != Mode::kNone && policy.mx.empty()) {
    return Fail(Code::kSyntax, "mx is required when mode is " + std::string(ModeName(policy.mode)));
  }
  return policy;
}

// ---- MX matching ---------------------------------------------------------------

namespace {
bool EqualFold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}
}  // namespace

bool MatchesMx(std::string_view pattern, std::string_view host) {
  if (!pattern.empty() && pattern.back() == '.') pattern.remove_suffix(1);
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (pattern.empty() || host.empty()) return false;
  if (pattern.substr(0, 2) == "*.") {
    // RFC 8461 4.1: the wildcard matches exactly one leftmost label.
    size_t dot = host.find('.');
    if (dot == 0 || dot == std::string_view::npos) return false;
    return EqualFold(pattern.substr(2), host.substr(dot + 1));
  }
  return EqualFold(pattern, host);
}

bool PolicyAllowsMx(const Policy& policy, std::string_view host) {
  for (const auto& pattern : policy.mx) {
    if (MatchesMx(pattern, host)) return true;
  }
  return false;
}

}  // namespace mxsec::mtasts
