// libFuzzer target for the _mta-sts TXT record parser (RFC 8461 3.1).
//
// The whole input goes to ParseRecord; the input split on '\n' goes to
// SelectRecord as a TXT RRset. Invariants are checked with __builtin_trap()
// so they hold in release builds too.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"
#include "mtasts/mtasts.h"

namespace {

using mxsec::Code;
using mxsec::Result;
using mxsec::mtasts::Record;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

bool IsAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

bool IsExtNameChar(char c) { return IsAlnum(c) || c == '_' || c == '-' || c == '.'; }

bool IsExtValueChar(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return (u >= 0x21 && u <= 0x3A) || u == 0x3C || (u >= 0x3E && u <= 0x7E);
}

// Everything the ABNF promises about a record that parsed.
void CheckRecord(const Record& r) {
  Check(r.version == "STSv1");
  Check(!r.id.empty() && r.id.size() <= 32);
  for (char c : r.id) Check(IsAlnum(c));
  for (const auto& [name, value] : r.extensions) {
    Check(!name.empty() && name.size() <= 32);
    Check(IsAlnum(name.front()));
    for (char c : name) Check(IsExtNameChar(c));
    Check(name != "id");  // "id=" is always the id field
    Check(!value.empty());
    for (char c : value) Check(IsExtValueChar(c));
  }
}

void CheckError(const mxsec::Error& e) {
  Check(!e.detail.empty());
  Check(e.detail.find('\n') == std::string::npos);
}

bool SameRecord(const Record& a, const Record& b) {
  return a.version == b.version && a.id == b.id && a.extensions == b.extensions;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  // ---- ParseRecord on the whole input.
  Result<Record> parsed = mxsec::mtasts::ParseRecord(text);
  if (parsed) {
    CheckRecord(*parsed);
    Check(text.substr(0, 7) == "v=STSv1");
    for (char c : text) Check(static_cast<unsigned char>(c) < 0x80);
    // The id and every extension occur verbatim in the input.
    Check(text.find("id=" + parsed->id) != std::string_view::npos);
    for (const auto& [name, value] : parsed->extensions) {
      Check(text.find(name + "=" + value) != std::string_view::npos);
    }
  } else {
    Check(parsed.error().code == Code::kSyntax);
    CheckError(parsed.error());
  }
  // Deterministic.
  Result<Record> again = mxsec::mtasts::ParseRecord(text);
  Check(again.has_value() == parsed.has_value());
  if (parsed) Check(SameRecord(*parsed, *again));

  // ---- SelectRecord on the input split into records at '\n'.
  std::vector<std::string> records;
  size_t start = 0;
  while (true) {
    const size_t end = text.find('\n', start);
    records.emplace_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  const std::string* candidate = nullptr;
  size_t candidates = 0;
  for (const std::string& r : records) {
    if (r.rfind("v=STSv1;", 0) == 0) {
      ++candidates;
      candidate = &r;
    }
  }
  Result<Record> selected = mxsec::mtasts::SelectRecord(records);
  if (candidates == 0) {
    Check(!selected && selected.error().code == Code::kNotFound);
  } else if (candidates > 1) {
    Check(!selected && selected.error().code == Code::kSyntax);
  } else {
    Result<Record> single = mxsec::mtasts::ParseRecord(*candidate);
    Check(selected.has_value() == single.has_value());
    if (selected) {
      CheckRecord(*selected);
      Check(SameRecord(*selected, *single));
    } else {
      Check(selected.error().code == Code::kSyntax);
    }
  }
  if (!selected) CheckError(selected.error());
  return 0;
}
