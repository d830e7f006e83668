// libFuzzer target for the `_smtp._tls` TXT record parser (RFC 8460 3).
//
// The whole input goes to tlsrpt::ParseRecord; the input split on '\n' goes
// to SelectRecord as a TXT RRset. Invariants trap in release builds too.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"
#include "tlsrpt/tlsrpt.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void CheckRecord(const mxsec::tlsrpt::Record& r, std::string_view text) {
  Check(!r.rua.empty());
  for (const auto& uri : r.rua) {
    Check(!uri.text.empty() && !uri.target.empty());
    Check(text.find(uri.text) != std::string_view::npos);
    for (char c : uri.text) Check(c > 0x20 && c < 0x7f && c != ',' && c != ';');
    if (uri.scheme == mxsec::tlsrpt::Uri::Scheme::kMailto) Check(uri.target.find('@') != std::string::npos);
  }
  for (const auto& [name, value] : r.extensions) Check(!name.empty() && name.size() <= 32 && !value.empty());
}

void CheckError(const mxsec::Error& e) {
  Check(!e.detail.empty());
  Check(e.detail.find('\n') == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = mxsec::tlsrpt::ParseRecord(text);
  if (parsed) {
    Check(text.substr(0, 10) == "v=TLSRPTv1");
    CheckRecord(*parsed, text);
  } else {
    Check(parsed.error().code == mxsec::Code::kSyntax);
    CheckError(parsed.error());
  }
  std::vector<std::string> records;
  size_t start = 0;
  while (true) {
    const size_t end = text.find('\n', start);
    records.emplace_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  auto selected = mxsec::tlsrpt::SelectRecord(records);
  if (selected) {
    CheckRecord(*selected, text);
  } else {
    Check(selected.error().code == mxsec::Code::kSyntax || selected.error().code == mxsec::Code::kNotFound);
    CheckError(selected.error());
  }
  return 0;
}
