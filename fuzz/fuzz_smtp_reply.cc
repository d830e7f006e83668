// libFuzzer target for the SMTP reply line parser the STARTTLS probe applies
// to everything a server sends (RFC 5321 4.2). Each input line is parsed;
// invariants trap in release builds too.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "net/net.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t start = 0;
  while (start <= input.size()) {
    size_t end = input.find('\n', start);
    std::string_view line = input.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    auto reply = mxsec::net::ParseReplyLine(line);
    if (reply) {
      Check(reply->code >= 0 && reply->code <= 999);
      Check(line.size() >= 3);
      Check(reply->last == (line.size() == 3 || line[3] == ' '));
      Check(reply->text.size() + (line.size() > 4 ? 4 : line.size()) == line.size());
      Check(reply->text.empty() || reply->text.data() == line.data() + 4);
    } else {
      Check(line.size() < 3 || line[0] < '0' || line[0] > '9' || line[1] < '0' || line[1] > '9' || line[2] < '0' ||
            line[2] > '9' || (line.size() > 3 && line[3] != '-' && line[3] != ' '));
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return 0;
}
