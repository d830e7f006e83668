// libFuzzer target: the socketmap netstring reader and request parser get
// bytes from any local client. Fed in two pieces, the input must give the
// same payloads as fed whole, and every payload respects the size limit.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "server/server.h"

namespace {
std::vector<std::string> Drain(mxsec::server::NetstringReader& reader) {
  std::vector<std::string> out;
  while (auto payload = reader.Next()) {
    if (payload->size() > 64) __builtin_trap();
    (void)mxsec::server::ParseSocketmapRequest(*payload);
    out.push_back(*payload);
  }
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  mxsec::server::NetstringReader whole(64);
  whole.Feed(input);
  auto expected = Drain(whole);
  mxsec::server::NetstringReader split(64);
  size_t cut = size / 2;
  split.Feed(input.substr(0, cut));
  auto got = Drain(split);
  split.Feed(input.substr(cut));
  auto rest = Drain(split);
  got.insert(got.end(), rest.begin(), rest.end());
  if (got != expected) __builtin_trap();
  if (whole.error().has_value() != split.error().has_value()) __builtin_trap();
  return 0;
}
