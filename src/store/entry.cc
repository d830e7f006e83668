#include <charconv>

#include "store/store.h"

namespace mxsec::store {

// ---- Entry encoding ------------------------------------------------------------
// "mxsec1" then one field per line, in the order below. Strings never hold a
// newline (replaced by a space on encoding); mx patterns are joined by ':'.

namespace {

constexpr std::string_view kMagic = "mxsec1";
constexpr size_t kFields = 15;

std::string OneLine(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\n') c = ' ';
  }
  return out;
}

bool ParseInt(std::string_view s, int64_t& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

std::string EncodeEntry(const CacheEntry& e) {
  std::string mx;
  for (const auto& p : e.mx) {
    if (!mx.empty()) mx.push_back(':');
    mx += p;
  }
  std::string out;
  out.reserve(128 + mx.size() + e.error_message.size());
  for (std::string_view field : {kMagic, std::string_view(e.mode)}) {
    out.append(field).push_back('\n');
  }
  out.append(OneLine(mx)).push_back('\n');
  out.append(std::to_string(e.max_age)).push_back('\n');
  out.append(OneLine(e.id)).push_back('\n');
  out.append(std::to_string(e.fetched_at)).push_back('\n');
  out.append(std::to_string(e.expires)).push_back('\n');
  out.append(OneLine(e.report)).push_back('\n');
  out.append(OneLine(e.error_phase)).push_back('\n');
  out.append(OneLine(e.error_type)).push_back('\n');
  out.append(std::to_string(e.error_at)).push_back('\n');
  out.append(std::to_string(e.retry_after)).push_back('\n');
  out.append(std::to_string(e.failures)).push_back('\n');
  out.append(OneLine(e.error_code)).push_back('\n');
  out.append(OneLine(e.error_message));
  return out;
}

Result<CacheEntry> DecodeEntry(std::string_view data) {
  std::string_view fields[kFields];
  size_t n = 0;
  while (n < kFields) {
    size_t nl = data.find('\n');
    if (n == kFields - 1 || nl == std::string_view::npos) {
      fields[n++] = data;
      break;
    }
    fields[n++] = data.substr(0, nl);
    data.remove_prefix(nl + 1);
  }
  if (n != kFields || fields[0] != kMagic || fields[kFields - 1].find('\n') != std::string_view::npos) {
    return Fail(Code::kIo, "unrecognized cache entry format");
  }
  CacheEntry e;
  e.mode = std::string(fields[1]);
  if (!e.mode.empty() && e.mode != "enforce" && e.mode != "testing" && e.mode != "none") {
    return Fail(Code::kIo, "cache entry has an invalid mode");
  }
  for (std::string_view mx = fields[2]; !mx.empty();) {
    size_t colon = mx.find(':');
    e.mx.emplace_back(mx.substr(0, colon));
    if (colon == std::string_view::npos) break;
    mx.remove_prefix(colon + 1);
  }
  int64_t failures = 0;
  if (!ParseInt(fields[3], e.max_age) || !ParseInt(fields[5], e.fetched_at) || !ParseInt(fields[6], e.expires) ||
      !ParseInt(fields[10], e.error_at) || !ParseInt(fields[11], e.retry_after) || !ParseInt(fields[12], failures) ||
      failures < 0 || failures > 1000000) {
    return Fail(Code::kIo, "cache entry has a malformed number");
  }
  e.failures = static_cast<int>(failures);
  e.id = std::string(fields[4]);
  e.report = std::string(fields[7]);
  e.error_phase = std::string(fields[8]);
  e.error_type = std::string(fields[9]);
  e.error_code = std::string(fields[13]);
  if (!e.error_code.empty() && !CodeFromName(e.error_code)) return Fail(Code::kIo, "cache entry has an invalid error code");
  e.error_message = std::string(fields[14]);
  return e;
}

}  // namespace mxsec::store
