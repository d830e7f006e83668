// libFuzzer target for TLSA handling: the presentation-form parser, the
// usability rules, and DANE verification of an arbitrary "chain" (the input
// split on a 0xff 0x00 separator) against records parsed from the first line.
// Invariants trap in release builds too.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dane/dane.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string_view line = input.substr(0, newline);
  auto record = mxsec::dane::ParseTlsaText(line);
  std::vector<mxsec::dns::Tlsa> records;
  if (record) {
    // The text form round-trips.
    auto again = mxsec::dane::ParseTlsaText(mxsec::dane::TlsaText(*record));
    Check(again.has_value());
    Check(again->usage == record->usage && again->selector == record->selector &&
          again->matching_type == record->matching_type && again->data == record->data);
    records.push_back(*record);
  } else {
    Check(!record.error().detail.empty());
  }
  // A chain of arbitrary bytes: never valid unless a record was usable.
  std::vector<std::string> chain;
  if (newline != std::string_view::npos) {
    std::string_view rest = input.substr(newline + 1);
    size_t start = 0;
    while (start <= rest.size() && chain.size() < 4) {
      size_t end = rest.find(std::string_view("\xff\x00", 2), start);
      chain.emplace_back(rest.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
      if (end == std::string_view::npos) break;
      start = end + 2;
    }
  }
  auto verification = mxsec::dane::Verify(chain, records, {"mx.example.com"});
  if (verification.valid) {
    Check(verification.usable > 0);
    Check(!verification.matched.empty());
  } else {
    Check(!verification.error.empty());
  }
  if (record && mxsec::dane::Unusable(*record).empty() == false) Check(verification.usable == 0);
  return 0;
}
