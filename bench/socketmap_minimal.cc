// The loopback ceiling for bench/socketmap: a Postfix socketmap server that
// answers every request with the constant netstring "9:NOTFOUND ,". One
// thread, level-triggered epoll, non-blocking sockets, pipelined requests.
// Usage: socketmap_minimal IP:PORT   (PORT 0: any; prints "port N" when ready)
// Ends on SIGTERM/SIGINT (default action).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>

namespace {

struct Conn {
  std::string in, out;
  bool pollout = false;  // EPOLLOUT registered (an answer waits for room)
};

void Fail(const char* what) {
  std::perror(what);
  std::exit(2);
}

// Consumes complete netstrings from c.in, appends one answer per request.
// Returns false on a malformed request (the connection is then closed).
bool Answer(Conn& c) {
  static const std::string kAnswer = "9:NOTFOUND ,";
  size_t pos = 0;
  while (true) {
    size_t colon = c.in.find(':', pos);
    if (colon == std::string::npos) {
      if (c.in.size() - pos > 5) return false;  // length field too long
      break;
    }
    if (colon == pos || colon - pos > 5) return false;
    size_t len = 0;
    for (size_t i = pos; i < colon; ++i) {
      if (c.in[i] < '0' || c.in[i] > '9') return false;
      len = len * 10 + static_cast<size_t>(c.in[i] - '0');
    }
    if (c.in.size() < colon + 1 + len + 1) break;
    if (c.in[colon + 1 + len] != ',') return false;
    pos = colon + 1 + len + 1;
    c.out += kAnswer;
  }
  c.in.erase(0, pos);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string arg = argc == 2 ? argv[1] : "";
  size_t colon = arg.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (colon == std::string::npos || inet_pton(AF_INET, arg.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "usage: socketmap_minimal IP:PORT\n");
    return 2;
  }
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(arg.c_str() + colon + 1)));
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) Fail("bind");
  if (listen(lfd, 1024) != 0) Fail("listen");
  socklen_t alen = sizeof addr;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &alen);
  std::printf("port %u\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = lfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  std::unordered_map<int, Conn> conns;
  epoll_event events[256];
  char buf[65536];
  while (true) {
    int n = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == lfd) {
        int cfd;
        while ((cfd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          ev.events = EPOLLIN;
          ev.data.fd = cfd;
          epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
          conns[cfd];
        }
        continue;
      }
      Conn& c = conns[fd];
      bool ok = true;
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r > 0) {
          c.in.append(buf, static_cast<size_t>(r));
          ok = Answer(c);
        } else {
          ok = r < 0 && errno == EAGAIN;
        }
      }
      if (ok && !c.out.empty()) {
        ssize_t w = send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (w > 0) c.out.erase(0, static_cast<size_t>(w));
        ok = w >= 0 || errno == EAGAIN;
      }
      if (ok && c.pollout != !c.out.empty()) {
        c.pollout = !c.out.empty();
        ev.events = c.pollout ? EPOLLIN | EPOLLOUT : EPOLLIN;
        ev.data.fd = fd;
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
      }
      if (!ok) {
        close(fd);
        conns.erase(fd);
      }
    }
  }
}
