// Validation and parsing of the STARTTLS-Everywhere list, schema 0.1.
#include <nlohmann/json.hpp>

#include "policylist/policylist.h"

namespace mxsec::policylist {
namespace {

using nlohmann::json;

bool IsLetterDigit(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// ^([a-zA-Z0-9]([a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z0-9]{2,63}$
bool IsDomainPattern(std::string_view name) {
  size_t labels = 0;
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    std::string_view label = name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (dot == std::string_view::npos) {
      // The last label: 2-63 letters or digits, no hyphen.
      if (labels == 0 || label.size() < 2 || label.size() > 63) return false;
      for (char c : label) {
        if (!IsLetterDigit(c)) return false;
      }
      return true;
    }
    if (label.empty() || label.size() > 63 || !IsLetterDigit(label.front()) || !IsLetterDigit(label.back())) {
      return false;
    }
    for (char c : label) {
      if (!IsLetterDigit(c) && c != '-') return false;
    }
    ++labels;
    start = dot + 1;
  }
}

bool IsMxPattern(std::string_view pattern) {
  if (!pattern.empty() && pattern.front() == '.') pattern.remove_prefix(1);
  return IsDomainPattern(pattern);
}

std::string Key(std::string_view key) { return "[" + json(std::string(key)).dump() + "]"; }

class Validator {
 public:
  std::vector<std::string> errors;

  void Error(const std::string& path, const std::string& rule) { errors.push_back(path + ": " + rule); }

  std::optional<int64_t> Time(const json& doc, const char* key) {
    const std::string path = std::string("$.") + key;
    if (!doc.contains(key)) return std::nullopt;  // reported as missing
    const json& v = doc.at(key);
    if (v.is_number_integer() || v.is_number_unsigned()) {
      if (v.is_number_integer() && v.get<int64_t>() < 0) {
        Error(path, "must be >= 0 (minimum)");
        return std::nullopt;
      }
      return v.get<int64_t>();
    }
    if (v.is_string()) {
      auto t = ParseTimestamp(v.get<std::string>());
      if (!t) Error(path, "is not an RFC 3339 date-time (pattern): " + Quote(v.get<std::string>()));
      return t;
    }
    Error(path, "must be a string or an integer (type)");
    return std::nullopt;
  }

  std::optional<Policy> Definition(const json& v, const std::string& path) {
    if (!v.is_object()) {
      Error(path, "must be an object (type)");
      return std::nullopt;
    }
    Policy policy;
    bool ok = true;
    for (const auto& [key, value] : v.items()) {
      if (key != "mode" && key != "mxs") {
        Error(path + Key(key), "is not allowed here (additionalProperties)");
        ok = false;
      }
    }
    if (!v.contains("mode")) {
      Error(path, "required property \"mode\" is missing (required)");
      ok = false;
    } else if (!v["mode"].is_string() || (v["mode"] != "testing" && v["mode"] != "enforce")) {
      Error(path + ".mode", "must be \"testing\" or \"enforce\" (enum)");
      ok = false;
    } else {
      policy.mode = v["mode"] == "enforce" ? Mode::kEnforce : Mode::kTesting;
    }
    if (!v.contains("mxs")) {
      Error(path, "required property \"mxs\" is missing (required)");
      return std::nullopt;
    }
    const json& mxs = v["mxs"];
    if (!mxs.is_array()) {
      Error(path + ".mxs", "must be an array (type)");
      return std::nullopt;
    }
    if (mxs.empty()) {
      Error(path + ".mxs", "must have at least one entry (minItems)");
      ok = false;
    }
    for (size_t i = 0; i < mxs.size(); ++i) {
      const std::string item = path + ".mxs[" + std::to_string(i) + "]";
      if (!mxs[i].is_string()) {
        Error(item, "must be a string (type)");
        ok = false;
        continue;
      }
      const std::string pattern = mxs[i].get<std::string>();
      if (!IsMxPattern(pattern)) {
        Error(item, Quote(pattern) + " is not a host name or a .suffix (pattern)");
        ok = false;
      }
      for (size_t j = 0; j < i; ++j) {
        if (mxs[j] == mxs[i]) {
          Error(item, Quote(pattern) + " repeats entry " + std::to_string(j) + " (uniqueItems)");
          ok = false;
        }
      }
      policy.mxs.push_back(pattern);
    }
    if (!ok) return std::nullopt;
    return policy;
  }
};

int DaysInMonth(int year, int month) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) return 29;
  return kDays[month - 1];
}

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

}  // namespace

std::string_view ModeName(Mode mode) { return mode == Mode::kEnforce ? "enforce" : "testing"; }

std::optional<int64_t> ParseTimestamp(std::string_view t) {
  auto digits = [&](size_t pos, size_t count) -> std::optional<int> {
    if (pos + count > t.size()) return std::nullopt;
    int value = 0;
    for (size_t i = pos; i < pos + count; ++i) {
      if (t[i] < '0' || t[i] > '9') return std::nullopt;
      value = value * 10 + (t[i] - '0');
    }
    return value;
  };
  if (!t.empty() && t.find_first_not_of("0123456789") == std::string_view::npos) {
    if (t.size() > 18) return std::nullopt;
    return std::stoll(std::string(t));
  }
  // yyyy-MM-ddTHH:mm:ss[.frac](Z|+hh:mm|-hh:mm), year 1000-9999
  auto year = digits(0, 4), month = digits(5, 2), day = digits(8, 2);
  auto hour = digits(11, 2), minute = digits(14, 2), second = digits(17, 2);
  if (!year || !month || !day || !hour || !minute || !second || t.size() < 20 || t[4] != '-' || t[7] != '-' ||
      t[10] != 'T' || t[13] != ':' || t[16] != ':' || *year < 1000 || *month < 1 || *month > 12 || *day < 1 ||
      *day > DaysInMonth(*year, *month) || *hour > 23 || *minute > 59 || *second > 59) {
    return std::nullopt;
  }
  size_t pos = 19;
  if (t[pos] == '.') {
    size_t start = ++pos;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') ++pos;
    if (pos == start) return std::nullopt;
  }
  int64_t offset = 0;
  if (pos < t.size() && t[pos] == 'Z' && pos + 1 == t.size()) {
    offset = 0;
  } else if (pos < t.size() && (t[pos] == '+' || t[pos] == '-') && pos + 6 == t.size() && t[pos + 3] == ':') {
    auto oh = digits(pos + 1, 2), om = digits(pos + 4, 2);
    if (!oh || !om || *oh > 19 || *om > 59) return std::nullopt;  // [01]\d:[0-5]\d
    offset = (*oh * 3600 + *om * 60) * (t[pos] == '+' ? 1 : -1);
  } else {
    return std::nullopt;
  }
  return DaysFromCivil(*year, *month, *day) * 86400 + *hour * 3600 + *minute * 60 + *second - offset;
}

bool MatchesMx(std::string_view pattern, std::string_view host) {
  const std::string p = FoldDomain(pattern);
  const std::string h = FoldDomain(host);
  if (p.empty() || h.empty()) return false;
  if (p.front() != '.') return p == h;
  return h.size() > p.size() && h.compare(h.size() - p.size(), p.size(), p) == 0;
}

bool PolicyAllowsMx(const Policy& policy, std::string_view host) {
  for (const auto& pattern : policy.mxs) {
    if (MatchesMx(pattern, host)) return true;
  }
  return false;
}

std::string PostfixMatch(const Policy& policy) {
  std::string out;
  for (const auto& pattern : policy.mxs) out += (out.empty() ? "" : ":") + FoldDomain(pattern);
  return out;
}

const Entry* List::Find(std::string_view domain) const {
  auto it = policies.find(FoldDomain(domain));
  return it == policies.end() ? nullptr : &it->second;
}

Result<List> ParseList(std::string_view text, std::vector<std::string>* errors) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Fail(Code::kSyntax, "not valid JSON");
  Validator v;
  List list;
  if (!doc.is_object()) {
    v.Error("$", "must be an object (type)");
  } else {
    for (const char* key : {"timestamp", "expires", "version", "policies", "policy-aliases"}) {
      if (!doc.contains(key)) v.Error("$", std::string("required property \"") + key + "\" is missing (required)");
    }
    for (const auto& [key, value] : doc.items()) {
      if (key != "timestamp" && key != "expires" && key != "version" && key != "author" && key != "policies" &&
          key != "policy-aliases") {
        v.Error("$" + Key(key), "is not allowed here (additionalProperties)");
      }
    }
    if (doc.contains("version") && doc["version"] != "0.1") v.Error("$.version", "must be \"0.1\" (const)");
    if (doc.contains("author") && !doc["author"].is_string()) v.Error("$.author", "must be a string (type)");
    if (doc.contains("author") && doc["author"].is_string()) list.author = doc["author"].get<std::string>();
    auto timestamp = v.Time(doc, "timestamp");
    auto expires = v.Time(doc, "expires");
    list.timestamp = timestamp.value_or(0);
    list.expires = expires.value_or(0);

    if (doc.contains("policy-aliases")) {
      const json& aliases = doc["policy-aliases"];
      if (!aliases.is_object()) {
        v.Error("$.policy-aliases", "must be an object (type)");
      } else {
        for (const auto& [name, value] : aliases.items()) {
          if (name.empty()) v.Error("$.policy-aliases" + Key(name), "alias names must not be empty (patternProperties)");
          if (auto p = v.Definition(value, "$.policy-aliases" + Key(name))) list.aliases.emplace(name, std::move(*p));
        }
      }
    }
    if (doc.contains("policies")) {
      const json& policies = doc["policies"];
      if (!policies.is_object()) {
        v.Error("$.policies", "must be an object (type)");
      } else {
        for (const auto& [domain, value] : policies.items()) {
          const std::string path = "$.policies" + Key(domain);
          if (!IsDomainPattern(domain)) {
            v.Error(path, "is not a mail domain (patternProperties)");
            continue;
          }
          Entry entry;
          if (value.is_object() && value.contains("policy-alias")) {
            // policyAliasReference: exactly {"policy-alias": string}.
            if (value.size() != 1) {
              v.Error(path, "a policy-alias reference allows no other properties (oneOf)");
              continue;
            }
            if (!value["policy-alias"].is_string()) {
              v.Error(path + ".policy-alias", "must be a string (type)");
              continue;
            }
            entry.alias = value["policy-alias"].get<std::string>();
            auto it = list.aliases.find(entry.alias);
            if (it == list.aliases.end()) {
              v.Error(path + ".policy-alias", Quote(entry.alias) + " is not defined in $.policy-aliases");
              continue;
            }
            entry.policy = it->second;
          } else {
            auto p = v.Definition(value, path);
            if (!p) continue;
            entry.policy = std::move(*p);
          }
          if (!list.policies.emplace(FoldDomain(domain), std::move(entry)).second) {
            v.Error(path, "listed twice (domains are case-insensitive)");
          }
        }
      }
    }
    if (timestamp && expires && *expires < *timestamp) v.Error("$.expires", "is before $.timestamp");
  }
  if (errors != nullptr) *errors = v.errors;
  if (!v.errors.empty()) {
    std::string detail = v.errors.front();
    if (v.errors.size() > 1) detail += " (and " + std::to_string(v.errors.size() - 1) + " more)";
    return Fail(Code::kSyntax, detail);
  }
  return list;
}

}  // namespace mxsec::policylist
