// Load generator for bench/socketmap: N connections to a Postfix socketmap
// server, each keeping D requests in flight (D = 1: request/answer; D > 1:
// pipelined), requests "LEN:NAME DOMAIN," cycling over a fixed domain list.
// One thread, epoll, non-blocking sockets. Per-request latency with
// steady_clock from the write of the request to the end of its answer.
//
// Usage: socketmap_load --server IP:PORT --domains FILE [options]
//   --connections N   (default 1)        --depth D      (default 1)
//   --duration S      measure S seconds  --warmup S     run S seconds first, not counted
//   --requests N      instead of --duration: send N requests (each of the first
//                     N list entries once if N <= list size), wait for all answers
//   --timeout S       per-request limit (default 10); late answers count as errors
//   --name NAME       socketmap name (default postfix)
//   --no-check        only check that answers are well-formed netstrings
//   --label TEXT      copied into the JSON
// FILE: one line per domain, "DOMAIN TYPE [MATCH]": TYPE is the expected answer
// type (OK, NOTFOUND, or * for any); for OK the answer must be "OK secure ..."
// and, if MATCH (patterns joined by ':') is given, its match= list must hold
// the same patterns in any order.
// Prints one JSON object on stdout. Exit 0 if it ran (even with errors), 2 on
// usage or set-up errors.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Domain {
  std::string name, type;       // type: OK, NOTFOUND, *
  std::set<std::string> match;  // expected match= patterns (empty: not checked)
  std::string request;          // the encoded netstring
};

struct Pending {
  size_t domain;
  Clock::time_point sent;
};

struct Conn {
  int fd = -1;
  bool connecting = false;
  bool pollout = false;
  Clock::time_point opened;
  std::string in, out;
  size_t out_off = 0;
  std::deque<Pending> pending;
};

struct Options {
  std::string server, domains_file, name = "postfix", label;
  int connections = 1, depth = 1;
  double duration = 0, warmup = 0, timeout = 10;
  long long requests = 0;
  bool check = true;
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr, "socketmap_load: %s\n(see the comment at the top of bench/socketmap_load.cc)\n", why.c_str());
  std::exit(2);
}

std::string JsonString(std::string_view s) {
  std::string o = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      o += '\\';
      o += ch;
    } else if (c < 0x20 || c >= 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += ch;
    }
  }
  return o + "\"";
}

class Load {
 public:
  Load(Options o, std::vector<Domain> d, sockaddr_in a) : opt_(std::move(o)), domains_(std::move(d)), addr_(a) {}

  int Run();

 private:
  void Open(size_t i);
  void CloseWithError(size_t i, const char* kind);
  void Fill(size_t i);
  void Flush(size_t i);
  void OnReadable(size_t i);
  void Check(const Domain& d, std::string_view answer);
  void SetPollOut(size_t i, bool on);
  bool MayIssue() const;
  void PrintJson(double seconds) const;

  Options opt_;
  std::vector<Domain> domains_;
  sockaddr_in addr_;
  int ep_ = -1;
  std::vector<Conn> conns_;
  size_t cursor_ = 0;
  long long issued_ = 0, answered_total_ = 0;
  bool measuring_ = false, stopping_ = false, giving_up_ = false;
  Clock::time_point measure_start_;
  // counted while measuring_
  long long answered_ = 0, mismatches_ = 0;
  std::vector<int64_t> latencies_ns_;
  std::map<std::string, long long> types_;
  std::map<std::string, long long> errors_;
  std::vector<std::string> samples_;
};

void Load::SetPollOut(size_t i, bool on) {
  Conn& c = conns_[i];
  if (c.pollout == on) return;
  c.pollout = on;
  epoll_event ev{};
  ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
  ev.data.u64 = i;
  epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
}

void Load::Open(size_t i) {
  Conn& c = conns_[i];
  c = Conn{};
  c.opened = Clock::now();
  c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) {
    std::perror("socket");
    std::exit(2);
  }
  int one = 1;
  setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int r = connect(c.fd, reinterpret_cast<const sockaddr*>(&addr_), sizeof addr_);
  c.connecting = r != 0;
  if (r != 0 && errno != EINPROGRESS) {
    ++errors_["connect"];
    close(c.fd);
    c.fd = -1;
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT;
  ev.data.u64 = i;
  c.pollout = true;
  epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
  if (!c.connecting) Fill(i);
}

void Load::CloseWithError(size_t i, const char* kind) {
  Conn& c = conns_[i];
  ++errors_[kind];
  // requests in flight on a broken connection are lost: one error each
  if (!c.pending.empty()) errors_["lost-in-flight"] += static_cast<long long>(c.pending.size());
  answered_total_ += static_cast<long long>(c.pending.size());  // never to be answered
  if (c.fd >= 0) close(c.fd);
  c = Conn{};
}

bool Load::MayIssue() const {
  if (stopping_) return false;
  return opt_.requests == 0 || issued_ < opt_.requests;
}

// Tops the connection up to --depth requests in flight and writes them.
void Load::Fill(size_t i) {
  Conn& c = conns_[i];
  if (c.fd < 0 || c.connecting) return;
  auto now = Clock::now();
  while (static_cast<int>(c.pending.size()) < opt_.depth && MayIssue()) {
    size_t d = cursor_++ % domains_.size();
    ++issued_;
    c.out += domains_[d].request;
    c.pending.push_back({d, now});
  }
  Flush(i);
}

void Load::Flush(size_t i) {
  Conn& c = conns_[i];
  if (c.out_off < c.out.size()) {
    ssize_t w = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN) {
      CloseWithError(i, "send");
      return;
    }
    if (w > 0) c.out_off += static_cast<size_t>(w);
    if (c.out_off == c.out.size()) {
      c.out.clear();
      c.out_off = 0;
    }
  }
  SetPollOut(i, !c.out.empty());
}

void Load::Check(const Domain& d, std::string_view answer) {
  size_t sp = answer.find(' ');
  std::string type(answer.substr(0, sp));
  static const std::set<std::string> kTypes = {"OK", "NOTFOUND", "TEMP", "TIMEOUT", "PERM"};
  if (!kTypes.count(type)) type = "other";
  ++types_[type];
  if (!opt_.check || d.type == "*") return;
  bool ok = type == d.type;
  if (ok && type == "OK") {
    ok = answer.substr(0, 10) == "OK secure " || answer == "OK secure";
    if (ok && !d.match.empty()) {
      std::set<std::string> got;
      std::istringstream words{std::string(answer)};
      std::string w;
      bool found = false;
      while (words >> w) {
        if (w.rfind("match=", 0) != 0) continue;
        found = true;
        std::istringstream pats(w.substr(6));
        std::string p;
        while (std::getline(pats, p, ':')) got.insert(p);
      }
      ok = found && got == d.match;
    }
  }
  if (!ok) {
    ++mismatches_;
    if (samples_.size() < 5) samples_.push_back(d.name + " (want " + d.type + "): " + std::string(answer));
  }
}

void Load::OnReadable(size_t i) {
  Conn& c = conns_[i];
  char buf[65536];
  ssize_t r = read(c.fd, buf, sizeof buf);
  if (r == 0) {
    CloseWithError(i, "closed-by-server");
    return;
  }
  if (r < 0) {
    if (errno != EAGAIN) CloseWithError(i, "read");
    return;
  }
  c.in.append(buf, static_cast<size_t>(r));
  auto now = Clock::now();
  size_t pos = 0;
  while (pos < c.in.size()) {
    size_t colon = c.in.find(':', pos);
    size_t digits = (colon == std::string::npos ? c.in.size() : colon) - pos;
    bool bad = digits > 6 || (colon != std::string::npos && digits == 0);
    for (size_t k = pos; !bad && k < pos + digits; ++k) bad = c.in[k] < '0' || c.in[k] > '9';
    if (!bad && digits > 1 && c.in[pos] == '0') bad = true;  // no leading zeros
    if (bad) {
      if (measuring_ && samples_.size() < 5) samples_.push_back("malformed netstring: " + c.in.substr(pos, 40));
      c.in.clear();
      CloseWithError(i, "bad-netstring");
      return;
    }
    if (colon == std::string::npos) break;
    size_t len = std::strtoul(c.in.c_str() + pos, nullptr, 10);
    if (c.in.size() < colon + 1 + len + 1) break;
    if (c.in[colon + 1 + len] != ',') {
      if (measuring_ && samples_.size() < 5) samples_.push_back("netstring without ',': " + c.in.substr(pos, 40));
      CloseWithError(i, "bad-netstring");
      return;
    }
    std::string_view answer(c.in.data() + colon + 1, len);
    pos = colon + 1 + len + 1;
    if (c.pending.empty()) {
      CloseWithError(i, "unsolicited-answer");
      return;
    }
    Pending p = c.pending.front();
    c.pending.pop_front();
    ++answered_total_;
    if (measuring_) {
      ++answered_;
      latencies_ns_.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(now - p.sent).count());
      Check(domains_[p.domain], answer);
    }
  }
  c.in.erase(0, pos);
  Fill(i);
}

int Load::Run() {
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  conns_.resize(static_cast<size_t>(opt_.connections));
  latencies_ns_.reserve(opt_.requests > 0 ? static_cast<size_t>(opt_.requests) : 1 << 20);
  auto start = Clock::now();
  auto timeout = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt_.timeout));
  auto measure_at = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt_.warmup));
  auto end_at = measure_at + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt_.duration));
  measuring_ = opt_.warmup <= 0;
  measure_start_ = start;
  for (size_t i = 0; i < conns_.size(); ++i) Open(i);
  Clock::time_point last_answer = start, measure_end = start, drain_until = start;
  bool draining = false;
  std::vector<epoll_event> events(conns_.size() + 1);
  long long reconnects = 0;
  while (true) {
    auto now = Clock::now();
    if (!measuring_ && !draining && now >= measure_at) {
      measuring_ = true;
      measure_start_ = now;
    }
    if (opt_.requests == 0 && !draining && now >= end_at) {
      // window over: stop sending, collect the answers still in flight (not
      // counted) so that the server sees no aborted requests
      measure_end = now;
      measuring_ = false;
      stopping_ = draining = true;
      drain_until = now + std::min(timeout, std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(5)));
    }
    if (draining) {
      bool idle = std::all_of(conns_.begin(), conns_.end(), [](const Conn& c) { return c.pending.empty(); });
      if (idle || now >= drain_until) break;
    }
    if (opt_.requests > 0 && answered_total_ >= opt_.requests) break;
    // per-request deadline: the oldest request of each connection
    for (size_t i = 0; i < conns_.size(); ++i) {
      Conn& c = conns_[i];
      if (c.fd >= 0 && !c.pending.empty() && now - c.pending.front().sent > timeout) CloseWithError(i, "timeout");
      if (c.fd >= 0 && c.connecting && now - c.opened > timeout) CloseWithError(i, "connect-timeout");
      if (c.fd < 0 && MayIssue()) {
        if (++reconnects > 1000) {
          std::fprintf(stderr, "socketmap_load: too many broken connections, giving up\n");
          stopping_ = giving_up_ = true;
          if (!draining) measure_end = now;
          break;
        }
        Open(i);
      }
    }
    if (giving_up_) break;
    int wait_ms = 10;
    if (opt_.requests == 0 && !draining) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end_at - now).count() + 1;
      wait_ms = static_cast<int>(std::clamp<int64_t>(left, 0, 10));
    }
    int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), wait_ms);
    if (n < 0 && errno != EINTR) {
      std::perror("epoll_wait");
      return 2;
    }
    for (int k = 0; k < n; ++k) {
      size_t i = static_cast<size_t>(events[static_cast<size_t>(k)].data.u64);
      Conn& c = conns_[i];
      if (c.fd < 0) continue;
      uint32_t e = events[static_cast<size_t>(k)].events;
      if (c.connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || (e & EPOLLERR)) {
          CloseWithError(i, "connect");
          continue;
        }
        if (!(e & EPOLLOUT)) continue;
        c.connecting = false;
        Fill(i);
        continue;
      }
      if (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        long long before = answered_total_;
        OnReadable(i);
        if (answered_total_ != before) last_answer = Clock::now();
      }
      if (conns_[i].fd >= 0 && (e & EPOLLOUT)) Flush(i);
    }
  }
  auto stop = opt_.requests > 0 ? last_answer : measure_end;
  double seconds = std::chrono::duration<double>(stop - measure_start_).count();
  PrintJson(seconds);
  for (auto& c : conns_)
    if (c.fd >= 0) close(c.fd);
  return 0;
}

void Load::PrintJson(double seconds) const {
  std::vector<int64_t> lat = latencies_ns_;
  auto pct = [&lat](double p) -> double {
    if (lat.empty()) return 0;
    size_t k = std::min(lat.size() - 1, static_cast<size_t>(p * static_cast<double>(lat.size())));
    std::nth_element(lat.begin(), lat.begin() + static_cast<std::ptrdiff_t>(k), lat.end());
    return static_cast<double>(lat[k]) / 1000.0;
  };
  double p50 = pct(0.50), p90 = pct(0.90), p99 = pct(0.99), p999 = pct(0.999);
  double max = lat.empty() ? 0 : static_cast<double>(*std::max_element(lat.begin(), lat.end())) / 1000.0;
  long long errors = 0;
  for (const auto& [k, v] : errors_) errors += v;
  std::printf("{\"label\": %s, \"connections\": %d, \"depth\": %d, ", JsonString(opt_.label).c_str(), opt_.connections,
              opt_.depth);
  std::printf("\"seconds\": %.4f, \"requests\": %lld, \"rps\": %.1f, ", seconds, answered_,
              seconds > 0 ? static_cast<double>(answered_) / seconds : 0.0);
  std::printf("\"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f, \"max_us\": %.1f, ", p50, p90,
              p99, p999, max);
  std::printf("\"errors\": %lld, \"error_kinds\": {", errors);
  bool first = true;
  for (const auto& [k, v] : errors_) {
    std::printf("%s%s: %lld", first ? "" : ", ", JsonString(k).c_str(), v);
    first = false;
  }
  std::printf("}, \"mismatches\": %lld, \"checked\": %s, \"answers\": {", mismatches_, opt_.check ? "true" : "false");
  first = true;
  for (const auto& [k, v] : types_) {
    std::printf("%s%s: %lld", first ? "" : ", ", JsonString(k).c_str(), v);
    first = false;
  }
  std::printf("}, \"samples\": [");
  for (size_t k = 0; k < samples_.size(); ++k) std::printf("%s%s", k ? ", " : "", JsonString(samples_[k]).c_str());
  std::printf("]}\n");
}

std::vector<Domain> ReadDomains(const std::string& file, const std::string& name) {
  std::ifstream in(file);
  if (!in) Usage("cannot read " + file);
  std::vector<Domain> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    Domain d;
    std::string match;
    if (!(words >> d.name)) continue;
    if (d.name[0] == '#') continue;
    if (!(words >> d.type)) d.type = "*";
    if (words >> match) {
      std::istringstream pats(match);
      std::string p;
      while (std::getline(pats, p, ':')) d.match.insert(p);
    }
    std::string body = name + " " + d.name;
    d.request = std::to_string(body.size()) + ":" + body + ",";
    out.push_back(std::move(d));
  }
  if (out.empty()) Usage("no domains in " + file);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--server")
      o.server = value();
    else if (a == "--domains")
      o.domains_file = value();
    else if (a == "--connections")
      o.connections = std::atoi(value().c_str());
    else if (a == "--depth")
      o.depth = std::atoi(value().c_str());
    else if (a == "--duration")
      o.duration = std::atof(value().c_str());
    else if (a == "--warmup")
      o.warmup = std::atof(value().c_str());
    else if (a == "--requests")
      o.requests = std::atoll(value().c_str());
    else if (a == "--timeout")
      o.timeout = std::atof(value().c_str());
    else if (a == "--name")
      o.name = value();
    else if (a == "--label")
      o.label = value();
    else if (a == "--no-check")
      o.check = false;
    else
      Usage("unknown argument " + a);
  }
  if (o.server.empty() || o.domains_file.empty()) Usage("--server and --domains are required");
  if (o.connections < 1 || o.depth < 1) Usage("--connections and --depth must be >= 1");
  if ((o.duration > 0) == (o.requests > 0)) Usage("give exactly one of --duration and --requests");
  if (o.requests > 0 && o.warmup > 0) Usage("--warmup goes with --duration");
  size_t colon = o.server.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (colon == std::string::npos || inet_pton(AF_INET, o.server.substr(0, colon).c_str(), &addr.sin_addr) != 1)
    Usage("--server must be IPv4:PORT");
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(o.server.c_str() + colon + 1)));
  auto domains = ReadDomains(o.domains_file, o.name);
  Load load(std::move(o), std::move(domains), addr);
  return load.Run();
}
