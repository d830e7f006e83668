// The libunbound implementation of dns::Resolver.
//
// Queries are started with ub_resolve_async; one waiting thread at a time
// polls ub_fd and delivers every finished query's callback, so each query
// keeps its own deadline and no thread waits longer than its answer takes.
#include <arpa/inet.h>
#include <poll.h>
#include <unbound.h>

#include <algorithm>
#include <condition_variable>
#include <vector>
#include <mutex>

#include "dns/dns.h"

namespace mxsec::dns {

std::string_view SecurityName(Security security) {
  switch (security) {
    case Security::kSecure: return "secure";
    case Security::kInsecure: return "insecure";
    case Security::kBogus: return "bogus";
  }
  return "bogus";
}

namespace {

constexpr int kTypeA = 1, kTypeMx = 15, kTypeTxt = 16, kTypeAaaa = 28, kTypeTlsa = 52;
constexpr int kRcodeServfail = 2, kRcodeNxdomain = 3;

using UbResultPtr = std::unique_ptr<ub_result, decltype(&ub_resolve_free)>;

// Reads an uncompressed wire-format name at data[pos], advancing pos.
bool ReadName(const unsigned char* data, size_t len, size_t& pos, std::string& out) {
  out.clear();
  while (pos < len) {
    unsigned label = data[pos++];
    if (label == 0) return true;
    if (label > 63 || pos + label > len) return false;
    if (!out.empty()) out.push_back('.');
    for (unsigned i = 0; i < label; ++i) {
      char c = static_cast<char>(data[pos + i]);
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      out.push_back(c);
    }
    pos += label;
  }
  return false;
}

struct Query {
  bool done = false;
  int err = 0;
  ub_result* result = nullptr;
  std::condition_variable wake;  // its answer came, or it is to poll next
};

// Runs inside ub_process, under the resolver's mutex.
void OnResult(void* data, int err, ub_result* result) {
  auto* query = static_cast<Query*>(data);
  query->err = err;
  query->result = result;
  query->done = true;
  query->wake.notify_one();
}

class UnboundResolver final : public Resolver {
 public:
  UnboundResolver(ub_ctx* ctx, std::chrono::milliseconds timeout)
      : ctx_(ctx, &ub_ctx_delete), fd_(ub_fd(ctx)), timeout_(timeout) {}

  Result<Answer<std::string>> LookupTxt(std::string_view name) override {
    return Lookup<std::string>(name, kTypeTxt, "TXT", [](const unsigned char* d, size_t len, std::string& out) {
      out.clear();
      size_t pos = 0;
      while (pos < len) {
        size_t n = d[pos++];
        if (pos + n > len) return false;
        out.append(reinterpret_cast<const char*>(d + pos), n);
        pos += n;
      }
      return true;
    });
  }

  Result<Answer<Mx>> LookupMx(std::string_view name) override {
    return Lookup<Mx>(name, kTypeMx, "MX", [](const unsigned char* d, size_t len, Mx& out) {
      if (len < 3) return false;
      out.preference = static_cast<uint16_t>(d[0] << 8 | d[1]);
      size_t pos = 2;
      return ReadName(d, len, pos, out.host) && pos == len;
    });
  }

  Result<Answer<std::string>> LookupA(std::string_view name) override {
    return Lookup<std::string>(name, kTypeA, "A", [](const unsigned char* d, size_t len, std::string& out) {
      char buf[INET_ADDRSTRLEN];
      if (len != 4 || !inet_ntop(AF_INET, d, buf, sizeof buf)) return false;
      out = buf;
      return true;
    });
  }

  Result<Answer<std::string>> LookupAaaa(std::string_view name) override {
    return Lookup<std::string>(name, kTypeAaaa, "AAAA", [](const unsigned char* d, size_t len, std::string& out) {
      char buf[INET6_ADDRSTRLEN];
      if (len != 16 || !inet_ntop(AF_INET6, d, buf, sizeof buf)) return false;
      out = buf;
      return true;
    });
  }

  Result<Answer<Tlsa>> LookupTlsa(std::string_view name) override {
    return Lookup<Tlsa>(name, kTypeTlsa, "TLSA", [](const unsigned char* d, size_t len, Tlsa& out) {
      if (len < 4) return false;
      out.usage = d[0];
      out.selector = d[1];
      out.matching_type = d[2];
      out.data.assign(d + 3, d + len);
      return true;
    });
  }

 private:
  // Runs one query to completion or deadline. One waiting thread at a time
  // polls ub_fd and runs ub_process, which delivers every finished query's
  // callback; each callback wakes only its own thread. A thread that stops
  // polling hands the poll over to one waiting thread whose answer is still
  // outstanding, so no thread wakes for nothing.
  Result<UbResultPtr> Resolve(const std::string& name, int type, std::string_view type_name) {
    Query query;
    int async_id = 0;
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    std::unique_lock<std::mutex> lock(mutex_);
    int rc = ub_resolve_async(ctx_.get(), name.c_str(), type, 1, &query, &OnResult, &async_id);
    if (rc != 0) {
      return Fail(Code::kTempFail, std::string("cannot start ") + std::string(type_name) + " query for " + name +
                                       ": " + ub_strerror(rc));
    }
    bool timed_out = false;
    while (!query.done) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        ub_cancel(ctx_.get(), async_id);
        timed_out = true;
        break;
      }
      if (polling_) {
        waiting_.push_back(&query);
        query.wake.wait_until(lock, deadline);
        waiting_.erase(std::find(waiting_.begin(), waiting_.end(), &query));
        continue;
      }
      polling_ = true;
      lock.unlock();
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
      pollfd pfd{fd_, POLLIN, 0};
      int ready = poll(&pfd, 1, static_cast<int>(std::clamp<int64_t>(left, 1, 100)));
      lock.lock();
      if (ready > 0) ub_process(ctx_.get());
      polling_ = false;
    }
    // Whoever polls next: one thread still waiting for its answer.
    for (Query* other : waiting_) {
      if (!other->done) {
        other->wake.notify_one();
        break;
      }
    }
    if (timed_out) {
      return Fail(Code::kTempFail, std::string(type_name) + " lookup of " + name + " timed out after " +
                                       std::to_string(timeout_.count()) + " ms");
    }
    lock.unlock();
    UbResultPtr result(query.result, &ub_resolve_free);
    if (query.err != 0) {
      return Fail(Code::kTempFail, std::string(type_name) + " lookup of " + name + " failed: " + ub_strerror(query.err));
    }
    return result;
  }

  template <typename T, typename ParseFn>
  Result<Answer<T>> Lookup(std::string_view raw_name, int type, std::string_view type_name, ParseFn parse) {
    std::string name = FoldDomain(raw_name);
    auto raw = Resolve(name, type, type_name);
    if (!raw) return tl::unexpected(raw.error());
    const ub_result& r = **raw;
    std::string what = std::string(type_name) + " " + name;
    if (r.bogus) {
      return Fail(Code::kBogus, what + ": DNSSEC validation failed" +
                                    (r.why_bogus ? std::string(": ") + r.why_bogus : std::string()));
    }
    if (r.rcode == kRcodeNxdomain) return Fail(Code::kNotFound, what + ": no such domain (NXDOMAIN)");
    if (r.rcode == kRcodeServfail) return Fail(Code::kTempFail, what + ": server failure (SERVFAIL)");
    if (r.rcode != 0) return Fail(Code::kTempFail, what + ": DNS error rcode " + std::to_string(r.rcode));
    if (!r.havedata) return Fail(Code::kNotFound, what + ": no records (NODATA)");
    Answer<T> answer;
    answer.security = r.secure ? Security::kSecure : Security::kInsecure;
    answer.ttl = r.ttl > 0 ? static_cast<uint32_t>(r.ttl) : 0;
    answer.canonical_name = FoldDomain(r.canonname ? r.canonname : name);
    for (int i = 0; r.data[i] != nullptr; ++i) {
      T record{};
      if (!parse(reinterpret_cast<const unsigned char*>(r.data[i]), static_cast<size_t>(r.len[i]), record)) {
        return Fail(Code::kTempFail, what + ": malformed record data");
      }
      answer.records.push_back(std::move(record));
    }
    return answer;
  }

  std::mutex mutex_;  // guards ctx_ calls, polling_ and every Query
  std::vector<Query*> waiting_;  // threads asleep while another polls
  bool polling_ = false;
  std::unique_ptr<ub_ctx, decltype(&ub_ctx_delete)> ctx_;
  int fd_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

Result<std::unique_ptr<Resolver>> MakeUnboundResolver(const ResolverOptions& options) {
  ub_ctx* raw = ub_ctx_create();
  if (raw == nullptr) return Fail(Code::kInternal, "cannot create the libunbound context");
  std::unique_ptr<ub_ctx, decltype(&ub_ctx_delete)> ctx(raw, &ub_ctx_delete);
  auto check = [](int rc, const std::string& what) -> Result<void> {
    if (rc == 0) return {};
    return Fail(Code::kInvalidArgument, what + ": " + ub_strerror(rc));
  };
  // Lab and local resolvers live on loopback; unbound refuses them by default.
  if (auto r = check(ub_ctx_set_option(ctx.get(), "do-not-query-localhost:", "no"), "DNS option"); !r) {
    return tl::unexpected(r.error());
  }
  // mxsec keeps what it resolved (the policy cache, the daemon's decision
  // cache), so libunbound's own caches and its query tables can be small:
  // their defaults (4 MiB caches, 1024 outgoing ports) cost resident memory
  // a validating stub does not need.
  for (const auto& [option, value] : {std::pair{"msg-cache-size:", "1m"}, std::pair{"rrset-cache-size:", "1m"},
                                      std::pair{"key-cache-size:", "512k"}, std::pair{"neg-cache-size:", "256k"},
                                      std::pair{"outgoing-range:", "256"}, std::pair{"num-queries-per-thread:", "128"}}) {
    if (auto r = check(ub_ctx_set_option(ctx.get(), option, value), std::string("DNS option ") + option); !r) {
      return tl::unexpected(r.error());
    }
  }
  if (auto r = check(ub_ctx_async(ctx.get(), 1), "DNS threads"); !r) return tl::unexpected(r.error());
  if (options.servers.empty()) {
    int rc = ub_ctx_resolvconf(ctx.get(), nullptr);
    if (rc != 0) return Fail(Code::kIo, std::string("cannot read /etc/resolv.conf: ") + ub_strerror(rc));
  } else {
    for (const auto& server : options.servers) {
      auto parsed = ParseDnsServer(server);
      if (!parsed) return tl::unexpected(parsed.error());
      if (auto r = check(ub_ctx_set_fwd(ctx.get(), parsed->c_str()), "DNS server " + server); !r) {
        return tl::unexpected(r.error());
      }
    }
  }
  if (!options.trust_anchor.empty()) {
    int rc = ub_ctx_add_ta_file(ctx.get(), options.trust_anchor.c_str());
    if (rc != 0) {
      return Fail(Code::kIo, "cannot load DNSSEC trust anchor " + options.trust_anchor + ": " + ub_strerror(rc));
    }
  }
  if (!options.servers.empty()) {
    // libunbound answers the RFC 6761 name "test." itself (NXDOMAIN). With
    // servers named explicitly (a lab, a private resolver), let them answer.
    // This finalizes the context, so it comes after every other setting.
    ub_ctx_zone_remove(ctx.get(), "test.");
  }
  return std::unique_ptr<Resolver>(new UnboundResolver(ctx.release(), options.timeout));
}

Result<std::vector<std::string>> LookupAddresses(Resolver& resolver, std::string_view host) {
  std::vector<std::string> addresses;
  auto a = resolver.LookupA(host);
  if (a) addresses = a->records;
  auto aaaa = resolver.LookupAaaa(host);
  if (aaaa) addresses.insert(addresses.end(), aaaa->records.begin(), aaaa->records.end());
  if (!addresses.empty()) return addresses;
  // Nothing found: report the more serious of the two failures.
  const Error& ea = a.error();
  const Error& eb = aaaa.error();
  if (ea.code == Code::kNotFound && eb.code == Code::kNotFound) {
    return Fail(Code::kNotFound, "no A or AAAA records for " + FoldDomain(host));
  }
  return tl::unexpected(ea.code != Code::kNotFound ? ea : eb);
}

}  // namespace mxsec::dns
