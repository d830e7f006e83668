// The SMTP reply line grammar (RFC 5321 4.2), kept apart from the I/O so
// the fuzz target can reach it.
#include "net/net.h"

namespace mxsec::net {

std::optional<ReplyLine> ParseReplyLine(std::string_view line) {
  if (line.size() < 3) return std::nullopt;
  for (size_t i = 0; i < 3; ++i) {
    if (line[i] < '0' || line[i] > '9') return std::nullopt;
  }
  if (line.size() > 3 && line[3] != '-' && line[3] != ' ') return std::nullopt;
  ReplyLine reply;
  reply.code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  reply.last = line.size() == 3 || line[3] == ' ';
  reply.text = line.size() > 4 ? line.substr(4) : std::string_view();
  return reply;
}

}  // namespace mxsec::net
