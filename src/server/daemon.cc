// `mxsec serve`: listeners, the decision cache, the worker pool, refresh,
// signals and metrics. One io_context thread owns every connection and the
// decision cache; resolution runs on worker threads and posts its result back.
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

// clang-format off
#include <utility>  // before Asio: boost 1.74 awaitable.hpp uses std::exchange without it
// clang-format on

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "dns/dns.h"
#include "net/net.h"
#include "policy/answer_json.h"
#include "policylist/update.h"
#include "server/server.h"
#include "store/store.h"

namespace mxsec::server {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using unix_socket = asio::local::stream_protocol;
using SteadyClock = std::chrono::steady_clock;

// ---- Metrics ----------------------------------------------------------------

constexpr double kLatencyBuckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5};
constexpr size_t kBuckets = std::size(kLatencyBuckets);

// Counters need no ordering with anything else: relaxed increments.
inline void Inc(std::atomic<uint64_t>& counter) { counter.fetch_add(1, std::memory_order_relaxed); }
inline void Dec(std::atomic<uint64_t>& counter) { counter.fetch_sub(1, std::memory_order_relaxed); }

struct Metrics {
  std::atomic<uint64_t> answers_secure{0}, answers_dane{0}, answers_notfound{0}, bad_requests{0};
  std::atomic<uint64_t> cache_hits{0}, cache_misses{0}, stale_served{0};
  std::atomic<uint64_t> resolutions{0}, refresh_runs{0}, dropped_unused{0};
  std::atomic<uint64_t> fetch_errors[3]{};  // fetch-error, policy-invalid, webpki-invalid
  std::atomic<uint64_t> connections_total{0}, connections_open{0}, connections_timed_out{0};
  std::atomic<uint64_t> latency_buckets[kBuckets + 1]{};
  std::atomic<uint64_t> latency_count{0};
  std::atomic<uint64_t> latency_sum_ns{0};
  std::atomic<uint64_t> decisions_by_source[4]{};  // policy::Source: none, fetched, cache, policy-list
  std::atomic<uint64_t> list_updates[3]{};         // installed, unchanged, refused
  std::atomic<uint64_t> list_loads{0}, list_load_errors{0};
  // The list in force (0: none): its timestamp, expiry and size.
  std::atomic<int64_t> list_timestamp{0}, list_expires{0};
  std::atomic<uint64_t> list_domains{0};

  // `count` requests answered together, each after `d`.
  void Observe(SteadyClock::duration d, uint64_t count = 1) {
    double seconds = std::chrono::duration<double>(d).count();
    size_t i = 0;
    while (i < kBuckets && seconds > kLatencyBuckets[i]) ++i;
    latency_buckets[i].fetch_add(count, std::memory_order_relaxed);
    latency_count.fetch_add(count, std::memory_order_relaxed);
    latency_sum_ns.fetch_add(
        count * static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()),
        std::memory_order_relaxed);
  }

  void CountError(std::string_view result_type) {
    if (result_type == "sts-policy-fetch-error") Inc(fetch_errors[0]);
    if (result_type == "sts-policy-invalid") Inc(fetch_errors[1]);
    if (result_type == "sts-webpki-invalid") Inc(fetch_errors[2]);
  }

  std::string Render(size_t decisions, size_t queued, int64_t now) const {
    std::string o;
    auto line = [&](const std::string& name, uint64_t value) { o += name + " " + std::to_string(value) + "\n"; };
    o += "# HELP mxsec_decisions_total Domains resolved, by the source that decided.\n# TYPE mxsec_decisions_total counter\n";
    line("mxsec_decisions_total{source=\"none\"}", decisions_by_source[0]);
    line("mxsec_decisions_total{source=\"fetched\"}", decisions_by_source[1]);
    line("mxsec_decisions_total{source=\"cache\"}", decisions_by_source[2]);
    line("mxsec_decisions_total{source=\"policy-list\"}", decisions_by_source[3]);
    o += "# HELP mxsec_policy_list_updates_total STARTTLS-Everywhere list updates by outcome.\n# TYPE mxsec_policy_list_updates_total counter\n";
    line("mxsec_policy_list_updates_total{result=\"installed\"}", list_updates[0]);
    line("mxsec_policy_list_updates_total{result=\"unchanged\"}", list_updates[1]);
    line("mxsec_policy_list_updates_total{result=\"refused\"}", list_updates[2]);
    o += "# HELP mxsec_policy_list_loads_total Reads of the list file (at start, after an update or a change).\n# TYPE mxsec_policy_list_loads_total counter\n";
    line("mxsec_policy_list_loads_total{result=\"ok\"}", list_loads);
    line("mxsec_policy_list_loads_total{result=\"invalid\"}", list_load_errors);
    const int64_t expires = list_expires;
    o += "# HELP mxsec_policy_list_expired 1 when the list in force has expired and is no longer applied.\n# TYPE mxsec_policy_list_expired gauge\n";
    line("mxsec_policy_list_expired", expires != 0 && now >= expires ? 1 : 0);
    o += "# HELP mxsec_policy_list_expires_timestamp_seconds Expiry of the list in force (0: no list).\n# TYPE mxsec_policy_list_expires_timestamp_seconds gauge\n";
    line("mxsec_policy_list_expires_timestamp_seconds", static_cast<uint64_t>(expires));
    o += "# TYPE mxsec_policy_list_timestamp_seconds gauge\n";
    line("mxsec_policy_list_timestamp_seconds", static_cast<uint64_t>(list_timestamp.load()));
    o += "# TYPE mxsec_policy_list_domains gauge\n";
    line("mxsec_policy_list_domains", list_domains);
    o += "# HELP mxsec_socketmap_answers_total Socketmap answers by kind.\n# TYPE mxsec_socketmap_answers_total counter\n";
    line("mxsec_socketmap_answers_total{answer=\"secure\"}", answers_secure);
    line("mxsec_socketmap_answers_total{answer=\"dane-only\"}", answers_dane);
    line("mxsec_socketmap_answers_total{answer=\"notfound\"}", answers_notfound);
    o += "# HELP mxsec_bad_requests_total Malformed or oversized requests (connection closed).\n# TYPE mxsec_bad_requests_total counter\n";
    line("mxsec_bad_requests_total", bad_requests);
    o += "# HELP mxsec_cache_total Lookups answered from the decision or policy cache, or not.\n# TYPE mxsec_cache_total counter\n";
    line("mxsec_cache_total{result=\"hit\"}", cache_hits);
    line("mxsec_cache_total{result=\"miss\"}", cache_misses);
    line("mxsec_cache_total{result=\"stale\"}", stale_served);
    o += "# HELP mxsec_resolutions_total Domains resolved by the workers.\n# TYPE mxsec_resolutions_total counter\n";
    line("mxsec_resolutions_total", resolutions);
    o += "# HELP mxsec_fetch_errors_total Policy failures by TLSRPT result-type.\n# TYPE mxsec_fetch_errors_total counter\n";
    line("mxsec_fetch_errors_total{result_type=\"sts-policy-fetch-error\"}", fetch_errors[0]);
    line("mxsec_fetch_errors_total{result_type=\"sts-policy-invalid\"}", fetch_errors[1]);
    line("mxsec_fetch_errors_total{result_type=\"sts-webpki-invalid\"}", fetch_errors[2]);
    o += "# HELP mxsec_refresh_runs_total Proactive refresh scans.\n# TYPE mxsec_refresh_runs_total counter\n";
    line("mxsec_refresh_runs_total", refresh_runs);
    line("mxsec_dropped_unused_total", dropped_unused);
    o += "# HELP mxsec_connections Connections accepted, open, and closed for silence.\n# TYPE mxsec_connections_total counter\n";
    line("mxsec_connections_total", connections_total);
    line("mxsec_connections_timed_out_total", connections_timed_out);
    o += "# TYPE mxsec_connections_open gauge\n";
    line("mxsec_connections_open", connections_open);
    o += "# TYPE mxsec_decisions_cached gauge\n";
    line("mxsec_decisions_cached", decisions);
    o += "# TYPE mxsec_resolutions_queued gauge\n";
    line("mxsec_resolutions_queued", queued);
    o += "# HELP mxsec_socketmap_latency_seconds Time from request to answer.\n# TYPE mxsec_socketmap_latency_seconds histogram\n";
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= kBuckets; ++i) {
      cumulative += latency_buckets[i];
      std::string le = i < kBuckets ? std::to_string(kLatencyBuckets[i]) : "+Inf";
      line("mxsec_socketmap_latency_seconds_bucket{le=\"" + le + "\"}", cumulative);
    }
    o += "mxsec_socketmap_latency_seconds_sum " + std::to_string(static_cast<double>(latency_sum_ns) / 1e9) + "\n";
    line("mxsec_socketmap_latency_seconds_count", latency_count);
    return o;
  }
};

// ---- Helpers ------------------------------------------------------------------

void NotifySystemd(const char* state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || (path[0] != '/' && path[0] != '@')) return;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract socket
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + std::strlen(path));
  (void)sendto(fd, state, std::strlen(state), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len);
  close(fd);
}

void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

Result<tcp::endpoint> ParseEndpoint(const std::string& text) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return Fail(Code::kInvalidArgument, "expected ADDR:PORT, got " + Quote(text));
  std::string host = text.substr(0, colon);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  int port = std::atoi(text.c_str() + colon + 1);
  if (ec || port <= 0 || port > 65535) return Fail(Code::kInvalidArgument, "expected ADDR:PORT, got " + Quote(text));
  return tcp::endpoint(address, static_cast<unsigned short>(port));
}

// True when every MX host of the domain is DNSSEC-secure and publishes
// secure DANE TLSA records (usage 2 or 3): RFC 8461 2 gives DANE precedence.
bool DaneOnly(dns::Resolver& resolver, const std::string& domain) {
  auto mx = resolver.LookupMx(domain);
  if (!mx || mx->security != dns::Security::kSecure || mx->records.empty()) return false;
  for (const auto& record : mx->records) {
    if (record.host.empty()) return false;  // null MX
    auto tlsa = resolver.LookupTlsa("_25._tcp." + record.host);
    if (!tlsa || tlsa->security != dns::Security::kSecure) return false;
    bool usable = false;
    for (const auto& t : tlsa->records) usable = usable || t.usage == 2 || t.usage == 3;
    if (!usable) return false;
  }
  return true;
}

// ---- The daemon -----------------------------------------------------------------

class Daemon {
 public:
  Daemon(Config config, ServeConfig serve) : config_(std::move(config)), serve_(std::move(serve)) {}
  ~Daemon() { StopWorkers(); }

  Result<void> Start();
  void Run() { io_.run(); }

 private:
  struct Decision {
    policy::StsAnswer answer;
    bool dane_only = false;
    int64_t checked_at = 0;  // Unix time of the last resolution; 0: from the LMDB cache only
    int64_t last_used = 0;
    // Socketmap answers already rendered, per map name (few: one or two).
    std::vector<std::pair<std::string, std::string>> rendered;
  };

  int64_t Now() const { return ToUnix(SystemClock().Now()); }

  // Decision cache (io thread only).
  // `now`: Unix seconds, read once per batch of requests by the caller.
  Decision* Cached(const std::string& domain, int64_t now);
  Decision* Cached(const std::string& domain) { return Cached(domain, Now()); }
  asio::awaitable<Decision*> Decide(const std::string& domain);
  void Schedule(const std::string& domain);
  void Complete(const std::string& domain, Decision decision);

  // Workers.
  void StartWorkers();
  void StopWorkers();
  void WorkerLoop();

  // Sessions. A connection and its deadline are shared with a watchdog
  // coroutine that closes the socket when the deadline passes, and may
  // outlive the session briefly.
  //
  // Moving the deadline later, as every answered request does, only stores
  // the time: the watchdog finds it when the timer fires and waits on. A
  // busy connection so costs no timer operation per request; moving the
  // deadline earlier (a partial request) re-arms the timer at once.
  struct Deadline {
    explicit Deadline(asio::io_context& io) : timer(io) {}
    asio::steady_timer timer;
    asio::steady_timer::time_point at;
    void Set(asio::steady_timer::time_point when) {
      at = when;
      if (when < timer.expiry()) timer.expires_at(when);
    }
  };
  template <typename Socket>
  struct Guarded {
    std::shared_ptr<Socket> socket;
    std::shared_ptr<Deadline> deadline;
  };
  template <typename Socket>
  Guarded<Socket> Guard(Socket accepted, std::chrono::seconds first_deadline);
  template <typename Socket>
  asio::awaitable<void> SocketmapSession(Socket socket);
  template <typename Socket>
  asio::awaitable<void> Watchdog(std::shared_ptr<Socket> socket, std::shared_ptr<Deadline> deadline);
  asio::awaitable<void> EximSession(tcp::socket socket);
  asio::awaitable<void> HttpSession(tcp::socket socket);
  template <typename Acceptor, typename Session>
  asio::awaitable<void> AcceptLoop(Acceptor& acceptor, Session session);
  // The answer when it is known now (also for bad requests); std::nullopt
  // when the domain must be resolved first (then `request` is filled).
  std::optional<std::string> AnswerNow(const std::string& payload, SocketmapRequest& request, int64_t now);
  std::string RenderAnswer(Decision* decision, const std::string& map);

  asio::awaitable<void> RefreshLoop();
  void RefreshScan();

  // The STARTTLS-Everywhere list: read from DATA_DIR/policy-list.json at
  // start, after an update, on SIGHUP, and when the file changes (cron's
  // `mxsec list update`); updated by its own thread when a keyring is set.
  std::shared_ptr<const policylist::List> List();
  void StopListUpdater();
  void LoadList(bool force = false);  // io thread; unless forced, only when the file changed
  void WarnIfListExpired();
  void ListUpdaterLoop();
  void OnSignal(int signal);
  void Reload();
  void Shutdown();

  Config config_;
  ServeConfig serve_;
  asio::io_context io_{1};
  std::unique_ptr<dns::Resolver> resolver_;
  std::unique_ptr<net::HttpsClient> https_;
  std::unique_ptr<store::PolicyCache> cache_;
  std::unique_ptr<policy::StsResolver> sts_;
  Metrics metrics_;

  std::mutex list_mutex_;  // guards list_ and config_.policy_list
  std::shared_ptr<const policylist::List> list_;
  std::string list_stamp_;  // inode, size and mtime of the file last read
  int64_t list_expiry_logged_ = 0;
  std::condition_variable list_cv_;  // wakes the updater to stop
  bool list_stopping_ = false;
  std::atomic<bool> list_cancel_{false};  // set with list_stopping_: ends a running update early
  std::thread list_updater_;

  std::unordered_map<std::string, Decision> decisions_;
  std::unordered_map<std::string, std::vector<std::function<void()>>> waiting_;  // in flight

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<std::string> queue_;
  bool workers_stopping_ = false;
  std::vector<std::thread> workers_;

  std::unique_ptr<tcp::acceptor> socketmap_tcp_, exim_, http_;
  std::unique_ptr<unix_socket::acceptor> socketmap_unix_;
  std::string unix_path_;
  asio::signal_set signals_{io_, SIGTERM, SIGINT, SIGHUP};
  bool stopping_ = false;
  int busy_requests_ = 0;
  SteadyClock::time_point last_trim_{};
};

Daemon::Decision* Daemon::Cached(const std::string& domain, int64_t now) {
  auto it = decisions_.find(domain);
  if (it != decisions_.end()) {
    Decision& d = it->second;
    // Never serve an expired policy, even while its re-validation runs.
    bool expired = d.answer.entry && d.answer.source != policy::Source::kNone && d.answer.entry->expires <= now;
    if (!expired) {
      d.last_used = now;
      if (now - d.checked_at >= serve_.recheck_after.count()) {
        Inc(metrics_.stale_served);
        Schedule(domain);
      } else {
        Inc(metrics_.cache_hits);
      }
      return &d;
    }
  }
  // Not in memory: an unexpired policy in the LMDB cache is served at once
  // and re-validated in the background.
  auto stored = cache_->Get(domain);
  if (stored && *stored && (*stored)->HasPolicy() && (*stored)->expires > now) {
    Decision d;
    d.answer.domain = domain;
    d.answer.source = policy::Source::kCache;
    d.answer.entry = **stored;
    d.last_used = now;
    Inc(metrics_.stale_served);
    auto& slot = decisions_[domain] = std::move(d);
    Schedule(domain);
    return &slot;
  }
  return nullptr;
}

asio::awaitable<Daemon::Decision*> Daemon::Decide(const std::string& domain) {
  if (Decision* d = Cached(domain)) co_return d;
  Inc(metrics_.cache_misses);
  Schedule(domain);
  // g++ 12 miscompiles temporaries with destructors inside a co_await
  // expression, so the initiation is a named local capturing only pointers.
  const std::string* key = &domain;
  auto initiation = [this, key](auto handler) {
    auto shared = std::make_shared<decltype(handler)>(std::move(handler));
    waiting_[*key].push_back([shared] { (*shared)(); });
  };
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(initiation, asio::use_awaitable);
  auto it = decisions_.find(domain);
  co_return it == decisions_.end() ? nullptr : &it->second;
}

void Daemon::Schedule(const std::string& domain) {
  if (waiting_.count(domain) != 0) return;  // already in flight: share it
  waiting_[domain];
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    queue_.push_back(domain);
  }
  queue_cv_.notify_one();
}

void Daemon::Complete(const std::string& domain, Decision decision) {
  policy::ApplyPolicyList(decision.answer, List().get(), Now());
  Inc(metrics_.decisions_by_source[static_cast<int>(decision.answer.source)]);
  if (decision.answer.source == policy::Source::kPolicyList && LogEnabled(LogLevel::kInfo)) {
    Log(LogLevel::kInfo,
        domain + ": " + decision.answer.entry->mode + " by the STARTTLS-Everywhere list (no MTA-STS policy)");
  }
  auto& slot = decisions_[domain];
  decision.last_used = std::max(decision.last_used, slot.last_used);
  slot = std::move(decision);
  auto node = waiting_.extract(domain);
  if (!node.empty()) {
    for (auto& resume : node.mapped()) asio::post(io_, std::move(resume));
  }
  // A burst of resolutions is over: give the memory it freed (TLS, DNS and
  // parser buffers, spread over the arenas) back to the system, at most
  // every ten seconds. Answers stay in decisions_, so nothing is lost.
  const auto now = SteadyClock::now();
  if (waiting_.empty() && now - last_trim_ >= std::chrono::seconds(10)) {
    last_trim_ = now;
    asio::post(io_, [] { malloc_trim(0); });
  }
}

void Daemon::StartWorkers() {
  for (int i = 0; i < std::max(1, serve_.fetch_concurrency); ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

void Daemon::StopWorkers() {
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    workers_stopping_ = true;
  }
  queue_cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  StopListUpdater();
  if (list_updater_.joinable()) list_updater_.join();
}

void Daemon::StopListUpdater() {
  {
    std::lock_guard<std::mutex> lock(list_mutex_);
    list_stopping_ = true;
  }
  list_cancel_ = true;
  list_cv_.notify_all();
}

void Daemon::WorkerLoop() {
  for (;;) {
    std::string domain;
    {
      std::unique_lock<std::mutex> lock(queue_mutex_);
      queue_cv_.wait(lock, [this] { return workers_stopping_ || !queue_.empty(); });
      if (workers_stopping_) return;
      domain = std::move(queue_.front());
      queue_.pop_front();
    }
    Decision decision;
    decision.checked_at = Now();
    auto answer = sts_->Resolve(domain);
    if (answer) {
      decision.answer = std::move(*answer);
    } else {
      // The cache file failed: answer as if no policy, say so loudly.
      Log(LogLevel::kError, answer.error().detail);
      decision.answer.domain = domain;
    }
    if (decision.answer.error) metrics_.CountError(mtasts::TlsrptResultType(decision.answer.error->phase));
    // The list is applied in Complete, on the io thread, where LoadList
    // swaps it: a decision never outlives the list it was made with.
    decision.dane_only = DaneOnly(*resolver_, domain);
    Inc(metrics_.resolutions);
    asio::post(io_, [this, domain, d = std::move(decision)]() mutable { Complete(domain, std::move(d)); });
  }
}

std::string Daemon::RenderAnswer(Decision* decision, const std::string& map) {
  if (decision == nullptr) {
    Inc(metrics_.answers_notfound);
    return "NOTFOUND ";
  }
  const std::string* cached = nullptr;
  for (const auto& [name, text] : decision->rendered) {
    if (name == map) cached = &text;
  }
  std::string uncached;
  if (cached == nullptr) {
    const ZoneSettings& zone = serve_.Zone(map);
    std::string policy_text;  // for TLSRPT's policy_string attributes
    if (zone.tlsrpt && decision->answer.entry && decision->answer.entry->HasPolicy()) {
      auto text = cache_->GetPolicyText(decision->answer.domain);
      if (text) policy_text = std::move(*text);
    }
    uncached = SocketmapAnswer(decision->answer, decision->dane_only, zone, policy_text);
    // Clients choose map names: keep only a few per decision.
    if (decision->rendered.size() < 4) {
      decision->rendered.emplace_back(map, uncached);
      cached = &decision->rendered.back().second;
    } else {
      cached = &uncached;
    }
  }
  const std::string& answer = *cached;
  if (answer.rfind("OK secure", 0) == 0) {
    Inc(metrics_.answers_secure);
  } else if (answer.rfind("OK dane", 0) == 0) {
    Inc(metrics_.answers_dane);
  } else {
    Inc(metrics_.answers_notfound);
  }
  return answer;
}

std::optional<std::string> Daemon::AnswerNow(const std::string& payload, SocketmapRequest& request, int64_t now) {
  auto parsed = ParseSocketmapRequest(payload);
  if (!parsed) {
    Inc(metrics_.bad_requests);
    Log(LogLevel::kInfo, "socketmap: " + parsed.error().detail);
    return "PERM " + parsed.error().detail;
  }
  request = std::move(*parsed);
  if (request.domain.empty()) {
    Inc(metrics_.answers_notfound);
    return "NOTFOUND ";
  }
  Decision* decision = Cached(request.domain, now);
  if (decision == nullptr) return std::nullopt;
  return RenderAnswer(decision, request.map);
}

// Closes the socket when its deadline passes (see Deadline).
template <typename Socket>
asio::awaitable<void> Daemon::Watchdog(std::shared_ptr<Socket> socket, std::shared_ptr<Deadline> deadline) {
  boost::system::error_code ec;
  asio::steady_timer& timer = deadline->timer;
  while (socket->is_open()) {
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!socket->is_open()) co_return;  // the session ended
    const auto now = asio::steady_timer::clock_type::now();
    if (deadline->at <= now) {
      Inc(metrics_.connections_timed_out);
      socket->close(ec);
      co_return;
    }
    // Woken before the deadline (it moved later, or earlier and re-armed):
    // wait for it.
    if (timer.expiry() <= now) timer.expires_at(deadline->at);
  }
}

template <typename Socket>
Daemon::Guarded<Socket> Daemon::Guard(Socket accepted, std::chrono::seconds first_deadline) {
  Guarded<Socket> guarded{std::make_shared<Socket>(std::move(accepted)), std::make_shared<Deadline>(io_)};
  guarded.deadline->at = asio::steady_timer::clock_type::now() + first_deadline;
  guarded.deadline->timer.expires_at(guarded.deadline->at);
  asio::co_spawn(io_, Watchdog(guarded.socket, guarded.deadline), asio::detached);
  return guarded;
}

template <typename Socket>
asio::awaitable<void> Daemon::SocketmapSession(Socket accepted) {
  Inc(metrics_.connections_total);
  Inc(metrics_.connections_open);
  auto guarded = Guard(std::move(accepted), serve_.idle_timeout);
  Socket& socket = *guarded.socket;
  Deadline& deadline = *guarded.deadline;
  NetstringReader reader(serve_.max_request);
  std::string out;
  char buffer[4096];
  boost::system::error_code ec;
  SteadyClock::time_point request_started{};
  while (!stopping_ || reader.buffered() > 0) {
    size_t n = co_await socket.async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    // One reading of each clock per batch of requests that arrived together
    // (they are answered together too).
    const auto received = SteadyClock::now();
    int64_t now = Now();
    if (reader.buffered() == 0) request_started = received;
    reader.Feed(std::string_view(buffer, n));
    uint64_t answered = 0;
    while (auto payload = reader.Next()) {
      // Known answers are written without suspending; only a miss waits.
      SocketmapRequest request;
      std::optional<std::string> known = AnswerNow(*payload, request, now);
      std::string answer;
      if (known) {
        answer = std::move(*known);
      } else {
        ++busy_requests_;
        Decision* decision = co_await Decide(request.domain);
        --busy_requests_;
        answer = RenderAnswer(decision, request.map);
        now = Now();  // the wait may have been long: never judge expiry by a stale clock
      }
      out += EncodeNetstring(answer);
      ++answered;
      request_started = received;
    }
    const auto done = SteadyClock::now();
    if (answered > 0) metrics_.Observe(done - received, answered);
    if (reader.error()) {
      Inc(metrics_.bad_requests);
      Log(LogLevel::kInfo, "socketmap: closing connection: " + *reader.error());
      break;
    }
    if (!out.empty()) {
      co_await asio::async_write(socket, asio::buffer(out), asio::redirect_error(asio::use_awaitable, ec));
      out.clear();
      if (ec) break;
    }
    // A partial request must complete within request_timeout (a byte a
    // second does not keep a connection); between requests, idle_timeout.
    if (reader.buffered() > 0) {
      deadline.Set(request_started + serve_.request_timeout);
    } else {
      deadline.Set(done + serve_.idle_timeout);
    }
  }
  socket.close(ec);
  deadline.timer.cancel();
  Dec(metrics_.connections_open);
}

asio::awaitable<void> Daemon::EximSession(tcp::socket accepted) {
  Inc(metrics_.connections_total);
  Inc(metrics_.connections_open);
  auto guarded = Guard(std::move(accepted), serve_.request_timeout);
  tcp::socket& socket = *guarded.socket;
  Deadline& deadline = *guarded.deadline;
  std::string line;
  char buffer[512];
  boost::system::error_code ec;
  while (line.find('\n') == std::string::npos && line.size() <= serve_.max_request) {
    size_t n = co_await socket.async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    line.append(buffer, n);
    if (ec) break;  // Exim may half-close after the request: answer what arrived
  }
  line = line.substr(0, line.find('\n'));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::vector<std::string> words;
  for (size_t start = 0; start < line.size();) {
    size_t space = line.find(' ', start);
    if (space == std::string::npos) space = line.size();
    if (space > start) words.push_back(line.substr(start, space - start));
    start = space + 1;
  }
  std::string answer;
  bool valid = words.size() >= 2 && line.size() <= serve_.max_request &&
               ((words[0] == "mode" && words.size() == 2) || (words[0] == "mx-list" && words.size() == 2) ||
                (words[0] == "valid-mx" && words.size() == 3));
  Result<std::string> domain = Fail(Code::kSyntax, "");
  if (valid) domain = NormalizeDomain(words[1]);
  if (!valid || !domain) {
    Inc(metrics_.bad_requests);
    Log(LogLevel::kInfo, "exim socket: bad request " + Quote(line));
  } else {
    ++busy_requests_;
    Decision* decision = Cached(*domain);
    if (decision == nullptr) decision = co_await Decide(*domain);
    --busy_requests_;
    if (decision != nullptr) answer = EximAnswer(decision->answer, words[0], words.size() == 3 ? words[2] : "");
    else if (words[0] == "mode") answer = "none";
  }
  co_await asio::async_write(socket, asio::buffer(answer), asio::redirect_error(asio::use_awaitable, ec));
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
  deadline.timer.cancel();
  Dec(metrics_.connections_open);
}

asio::awaitable<void> Daemon::HttpSession(tcp::socket accepted) {
  auto guarded = Guard(std::move(accepted), serve_.request_timeout);
  tcp::socket& socket = *guarded.socket;
  Deadline& deadline = *guarded.deadline;
  std::string request;
  char buffer[2048];
  boost::system::error_code ec;
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 16384) {
    size_t n = co_await socket.async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    request.append(buffer, n);
  }
  std::string status = "404 Not Found", type = "text/plain", body = "not found\n";
  if (request.rfind("GET /metrics ", 0) == 0 || request.rfind("GET /metrics?", 0) == 0) {
    status = "200 OK";
    type = "text/plain; version=0.0.4";
    size_t queued;
    {
      std::lock_guard<std::mutex> lock(queue_mutex_);
      queued = queue_.size();
    }
    body = metrics_.Render(decisions_.size(), queued, Now());
  } else if (request.rfind("GET /policy/", 0) == 0) {
    // The decision for one domain, as JSON: which source decided (an
    // MTA-STS policy fetched or cached, the STARTTLS-Everywhere list, or
    // none) and what Postfix and Exim are told. Resolves it when unknown.
    const size_t start = std::string_view("GET /policy/").size();
    const size_t end = request.find_first_of(" ?\r\n", start);
    auto domain = NormalizeDomain(request.substr(start, end == std::string::npos ? end : end - start));
    if (!domain) {
      status = "400 Bad Request";
      body = "bad domain: " + domain.error().detail + "\n";
    } else {
      ++busy_requests_;
      Decision* decision = co_await Decide(*domain);
      --busy_requests_;
      policy::StsAnswer none;
      none.domain = *domain;
      nlohmann::json out = policy::AnswerJson(decision != nullptr ? decision->answer : none);
      out["dane_only"] = decision != nullptr && decision->dane_only;
      out["checked_at"] = decision != nullptr && decision->checked_at > 0 ? nlohmann::json(decision->checked_at)
                                                                          : nlohmann::json(nullptr);
      // What the socketmap answers for the map name "postfix" (without the
      // TLSRPT policy_string, and not counted in the lookup metrics).
      out["postfix"] = decision != nullptr
                           ? SocketmapAnswer(decision->answer, decision->dane_only, serve_.Zone("postfix"), "")
                           : std::string("NOTFOUND ");
      status = "200 OK";
      type = "application/json";
      body = out.dump() + "\n";
    }
  } else if (request.rfind("GET /healthz ", 0) == 0) {
    status = stopping_ ? "503 Service Unavailable" : "200 OK";
    body = stopping_ ? "stopping\n" : "ok\n";
  } else if (request.compare(0, 4, "GET ") != 0) {
    status = "405 Method Not Allowed";
    body = "only GET\n";
  }
  std::string response = "HTTP/1.1 " + status + "\r\nContent-Type: " + type +
                         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  co_await asio::async_write(socket, asio::buffer(response), asio::redirect_error(asio::use_awaitable, ec));
  socket.close(ec);
  deadline.timer.cancel();
}

template <typename Acceptor, typename Session>
asio::awaitable<void> Daemon::AcceptLoop(Acceptor& acceptor, Session session) {
  boost::system::error_code ec;
  while (acceptor.is_open()) {
    auto socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      // EMFILE and friends: wait a little instead of spinning.
      Log(LogLevel::kWarning, "accept: " + ec.message());
      asio::steady_timer pause(io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    asio::co_spawn(io_, session(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> Daemon::RefreshLoop() {
  std::mt19937 random(std::random_device{}());
  boost::system::error_code ec;
  asio::steady_timer timer(io_);
  while (!stopping_) {
    // Jitter: 75% to 125% of the period, so many daemons do not refresh in step.
    auto period = std::chrono::duration_cast<std::chrono::milliseconds>(serve_.refresh_interval);
    std::uniform_int_distribution<int64_t> jitter(period.count() * 3 / 4, period.count() * 5 / 4);
    timer.expires_after(std::chrono::milliseconds(jitter(random)));
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_) co_return;
    RefreshScan();
  }
}

// Proactive refresh (RFC 8461 10.2): policies used since start are fetched
// again once due (half their lifetime, at most a day), whether or not mail
// asks for them now. Expired policies leave the file, so Exim's direct lmdb
// lookups never read one; domains unused for drop_unused_after are dropped.
void Daemon::RefreshScan() {
  Inc(metrics_.refresh_runs);
  LoadList();  // a list installed by cron
  WarnIfListExpired();
  const int64_t now = Now();
  auto domains = cache_->Domains();
  if (!domains) {
    Log(LogLevel::kError, domains.error().detail);
    return;
  }
  for (const auto& domain : *domains) {
    auto entry = cache_->Get(domain);
    if (!entry || !*entry) continue;
    const store::CacheEntry& e = **entry;
    auto it = decisions_.find(domain);
    int64_t last_used = it == decisions_.end() ? 0 : it->second.last_used;
    if (now - std::max(last_used, e.fetched_at) > serve_.drop_unused_after.count() ||
        (e.HasPolicy() && e.expires <= now)) {
      if (cache_->Remove(domain)) Inc(metrics_.dropped_unused);
      decisions_.erase(domain);
      continue;
    }
    bool due = e.HasPolicy() && now - e.fetched_at >= std::min<int64_t>(e.max_age / 2, 86400);
    if (last_used > 0 && due) Schedule(domain);
  }
  // Forget in-memory decisions unused for a day; the LMDB cache keeps policies.
  for (auto it = decisions_.begin(); it != decisions_.end();) {
    if (now - it->second.last_used > 86400 && waiting_.count(it->first) == 0) {
      it = decisions_.erase(it);
    } else {
      ++it;
    }
  }
}

std::shared_ptr<const policylist::List> Daemon::List() {
  std::lock_guard<std::mutex> lock(list_mutex_);
  return list_;
}

void Daemon::LoadList(bool force) {
  PolicyListConfig settings;
  {
    std::lock_guard<std::mutex> lock(list_mutex_);
    settings = config_.policy_list;
  }
  const std::string path = config_.ListFile();
  std::shared_ptr<const policylist::List> next;
  std::string stamp;
  if (settings.enabled) {
    struct stat st {};
    if (stat(path.c_str(), &st) == 0) {
      stamp = std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) +
              "." + std::to_string(st.st_mtim.tv_nsec);
    }
    if (!force && stamp == list_stamp_ && (!stamp.empty() || List() == nullptr)) return;  // unchanged
    auto read = policylist::ReadListFile(path);
    if (!read) {
      // Keep the list already in force: the file was edited by hand.
      // An invalid file is not read again until it changes; a file that
      // could not be read is tried again at the next scan.
      Inc(metrics_.list_load_errors);
      if (read.error().code == Code::kSyntax) list_stamp_ = stamp;
      Log(LogLevel::kError, "policy list: keeping the list in force: " + read.error().detail);
      return;
    }
    if (*read) next = std::make_shared<const policylist::List>(std::move(**read));
  }
  const bool had = List() != nullptr;
  {
    std::lock_guard<std::mutex> lock(list_mutex_);
    list_ = next;
  }
  list_stamp_ = stamp;
  metrics_.list_timestamp = next ? next->timestamp : 0;
  metrics_.list_expires = next ? next->expires : 0;
  metrics_.list_domains = next ? next->policies.size() : 0;
  decisions_.clear();  // answers follow the new list at once
  if (next) {
    Inc(metrics_.list_loads);
    Log(LogLevel::kWarning, "policy list: " + std::to_string(next->policies.size()) + " domains from " + path +
                                " (list of " + FormatRfc3339(FromUnix(next->timestamp)) + ", expires " +
                                FormatRfc3339(FromUnix(next->expires)) + ")");
    list_expiry_logged_ = 0;
    WarnIfListExpired();
  } else if (had) {
    Log(LogLevel::kWarning,
        "policy list: " + path + (settings.enabled ? " is gone" : " disabled") + ": deciding without the list");
  }
}

// An expired list is not applied (ApplyPolicyList); say so loudly, at
// most once an hour, and in the mxsec_policy_list_expired metric.
void Daemon::WarnIfListExpired() {
  auto list = List();
  const int64_t now = Now();
  if (!list || !list->Expired(now) || now - list_expiry_logged_ < 3600) return;
  list_expiry_logged_ = now;
  Log(LogLevel::kError, "policy list: the STARTTLS-Everywhere list expired on " +
                            FormatRfc3339(FromUnix(list->expires)) +
                            " and is NOT applied: update it (mxsec list update; see policy_list in the config)");
}

// Fetches, verifies and installs a new list every policy_list.refresh
// (75% to 125% of it), soon after start when the list is missing or old.
void Daemon::ListUpdaterLoop() {
  std::mt19937 random(std::random_device{}());
  auto jittered = [&](std::chrono::seconds period) {
    std::uniform_int_distribution<int64_t> jitter(period.count() * 3 / 4, period.count() * 5 / 4);
    return std::chrono::seconds(jitter(random));
  };
  std::chrono::seconds wait;
  {
    std::lock_guard<std::mutex> lock(list_mutex_);
    wait = jittered(config_.policy_list.refresh);
    if (!list_ || Now() - list_->timestamp >= config_.policy_list.refresh.count()) {
      wait = std::chrono::seconds(std::uniform_int_distribution<int64_t>(2, 30)(random));
    }
  }
  for (;;) {
    PolicyListConfig settings;
    policylist::UpdateRequest request;
    {
      std::unique_lock<std::mutex> lock(list_mutex_);
      if (list_cv_.wait_for(lock, wait, [this] { return list_stopping_; })) return;
      settings = config_.policy_list;
      request = policylist::RequestFromConfig(config_);
    }
    request.cancel = &list_cancel_;
    if (!settings.enabled || settings.keyring.empty() || settings.refresh.count() == 0) {
      wait = std::chrono::minutes(10);  // off (a reload may turn it on): look again later
      continue;
    }
    auto outcome = policylist::Update(*https_, request, config_.ListFile(), Now());
    if (list_cancel_) return;
    wait = jittered(settings.refresh);
    if (!outcome) {
      Inc(metrics_.list_updates[2]);
      Log(LogLevel::kError, "policy list update refused, the list in force is unchanged: " + outcome.error().detail);
      wait = std::min(wait, std::chrono::seconds(3600));  // try again within the hour
      continue;
    }
    Inc(metrics_.list_updates[outcome->installed ? 0 : 1]);
    if (!outcome->warning.empty()) Log(LogLevel::kWarning, "policy list update: " + outcome->warning);
    if (outcome->installed) {
      Log(LogLevel::kWarning, "policy list updated: list of " + FormatRfc3339(FromUnix(outcome->timestamp)) + ", " +
                                  std::to_string(outcome->domains) + " domains, signed by " + outcome->signer);
      asio::post(io_, [this] { LoadList(true); });
    } else {
      Log(LogLevel::kInfo, "policy list: already current");
    }
  }
}

void Daemon::Reload() {
  if (serve_.config_path.empty()) {
    Log(LogLevel::kInfo, "SIGHUP: no config file to reload; reading the policy list again");
    LoadList(true);
    return;
  }
  auto config = LoadConfig(serve_.config_path);
  if (!config) {
    Log(LogLevel::kError, "SIGHUP: keeping the old configuration: " + config.error().detail);
    return;
  }
  auto serve = LoadServeConfig(serve_.config_path);
  if (!serve) {
    Log(LogLevel::kError, "SIGHUP: keeping the old configuration: " + serve.error().detail);
    return;
  }
  // Everything but what needs a restart: the listeners (and the worker count;
  // DNS servers and the cache file live in config_, which is kept).
  ServeConfig next = std::move(*serve);
  next.socketmap = serve_.socketmap;
  next.socketmap_mode = serve_.socketmap_mode;
  next.socketmap_owner = serve_.socketmap_owner;
  next.exim_socket = serve_.exim_socket;
  next.http = serve_.http;
  next.fetch_concurrency = serve_.fetch_concurrency;
  next.config_path = serve_.config_path;
  serve_ = std::move(next);
  ConfigureLogging(config->log_level, config->syslog);
  {
    std::lock_guard<std::mutex> lock(list_mutex_);
    config_.policy_list = config->policy_list;
  }
  LoadList(true);
  decisions_.clear();  // answers follow the new zone settings at once
  Log(LogLevel::kWarning, "SIGHUP: configuration reloaded from " + serve_.config_path);
}

void Daemon::Shutdown() {
  if (stopping_) return;
  stopping_ = true;
  NotifySystemd("STOPPING=1");
  Log(LogLevel::kWarning, "stopping: finishing requests in progress");
  StopListUpdater();  // an update in progress ends before its next fetch
  boost::system::error_code ec;
  for (auto* acceptor : {socketmap_tcp_.get(), exim_.get(), http_.get()}) {
    if (acceptor != nullptr) acceptor->close(ec);
  }
  if (socketmap_unix_) {
    socketmap_unix_->close(ec);
    std::error_code fs_ec;
    std::filesystem::remove(unix_path_, fs_ec);
  }
  // Give requests in progress up to 10 s, then stop the loop.
  auto deadline = SteadyClock::now() + std::chrono::seconds(10);
  asio::co_spawn(
      io_,
      [this, deadline]() -> asio::awaitable<void> {
        asio::steady_timer timer(io_);
        boost::system::error_code wait_ec;
        while (busy_requests_ > 0 && SteadyClock::now() < deadline) {
          timer.expires_after(std::chrono::milliseconds(20));
          co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
        }
        io_.stop();
      },
      asio::detached);
}

void Daemon::OnSignal(int signal) {
  if (signal == SIGHUP) {
    Reload();
    signals_.async_wait([this](const boost::system::error_code& ec, int s) {
      if (!ec) OnSignal(s);
    });
    return;
  }
  Shutdown();
}

Result<void> Daemon::Start() {
  RaiseFileLimit();
  auto resolver = dns::MakeUnboundResolver({config_.dns_servers, config_.trust_anchor, config_.timeout});
  if (!resolver) return tl::unexpected(resolver.error());
  resolver_ = std::move(*resolver);
  https_ = net::MakeHttpsClient(*resolver_);
  auto cache = store::PolicyCache::Open(config_.CacheFile());
  if (!cache) return tl::unexpected(cache.error());
  cache_ = std::move(*cache);
  policy::StsOptions options;
  options.fetch.timeout = config_.timeout;
  options.fetch.ca_file = config_.ca_file;
  sts_ = std::make_unique<policy::StsResolver>(*resolver_, *https_, cache_.get(), SystemClock(), options);

  auto listen_tcp = [&](const std::string& what, const std::string& address,
                        std::unique_ptr<tcp::acceptor>& acceptor) -> Result<void> {
    auto endpoint = ParseEndpoint(address);
    if (!endpoint) return Fail(Code::kInvalidArgument, what + ": " + endpoint.error().detail);
    boost::system::error_code ec;
    acceptor = std::make_unique<tcp::acceptor>(io_);
    acceptor->open(endpoint->protocol(), ec);
    if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor->bind(*endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Fail(Code::kIo, what + ": cannot listen on " + address + ": " + ec.message());
    Log(LogLevel::kInfo, what + " listening on " + address);
    return {};
  };

  if (!serve_.socketmap.empty()) {
    if (serve_.socketmap.front() == '/') {
      unix_path_ = serve_.socketmap;
      boost::system::error_code ec;
      std::error_code fs_ec;
      std::filesystem::remove(unix_path_, fs_ec);
      socketmap_unix_ = std::make_unique<unix_socket::acceptor>(io_);
      socketmap_unix_->open(unix_socket(), ec);
      if (!ec) socketmap_unix_->bind(unix_socket::endpoint(unix_path_), ec);
      if (!ec) socketmap_unix_->listen(asio::socket_base::max_listen_connections, ec);
      if (ec) return Fail(Code::kIo, "socketmap: cannot listen on " + unix_path_ + ": " + ec.message());
      mode_t mode = static_cast<mode_t>(std::strtol(serve_.socketmap_mode.c_str(), nullptr, 8));
      if (chmod(unix_path_.c_str(), mode) != 0) {
        return Fail(Code::kIo, "socketmap: cannot chmod " + unix_path_ + " to " + serve_.socketmap_mode);
      }
      if (!serve_.socketmap_owner.empty()) {
        const std::string& owner = serve_.socketmap_owner;
        const std::string user = owner.substr(0, owner.find(':'));
        const passwd* pw = getpwnam(user.c_str());
        if (pw == nullptr) return Fail(Code::kInvalidArgument, "socketmap_owner: no such user " + Quote(user));
        gid_t gid = pw->pw_gid;
        if (size_t colon = owner.find(':'); colon != std::string::npos) {
          const std::string group = owner.substr(colon + 1);
          const struct group* gr = getgrnam(group.c_str());
          if (gr == nullptr) return Fail(Code::kInvalidArgument, "socketmap_owner: no such group " + Quote(group));
          gid = gr->gr_gid;
        }
        if (chown(unix_path_.c_str(), pw->pw_uid, gid) != 0) {
          return Fail(Code::kIo, "socketmap: cannot chown " + unix_path_ + " to " + owner + ": " + std::strerror(errno));
        }
      }
      asio::co_spawn(io_, AcceptLoop(*socketmap_unix_, [this](unix_socket::socket s) {
                       return SocketmapSession(std::move(s));
                     }),
                     asio::detached);
    } else {
      if (auto r = listen_tcp("socketmap", serve_.socketmap, socketmap_tcp_); !r) return r;
      asio::co_spawn(io_, AcceptLoop(*socketmap_tcp_, [this](tcp::socket s) {
                       s.set_option(tcp::no_delay(true));
                       return SocketmapSession(std::move(s));
                     }),
                     asio::detached);
    }
  }
  if (!serve_.exim_socket.empty()) {
    if (auto r = listen_tcp("exim socket", serve_.exim_socket, exim_); !r) return r;
    asio::co_spawn(io_, AcceptLoop(*exim_, [this](tcp::socket s) { return EximSession(std::move(s)); }),
                   asio::detached);
  }
  if (!serve_.http.empty()) {
    if (auto r = listen_tcp("http", serve_.http, http_); !r) return r;
    asio::co_spawn(io_, AcceptLoop(*http_, [this](tcp::socket s) { return HttpSession(std::move(s)); }),
                   asio::detached);
  }
  LoadList();
  StartWorkers();
  if (config_.policy_list.keyring.empty() && config_.policy_list.enabled) {
    Log(LogLevel::kInfo, "policy list: no policy_list.keyring set: no automatic updates");
  }
  list_updater_ = std::thread([this] { ListUpdaterLoop(); });
  asio::co_spawn(io_, RefreshLoop(), asio::detached);
  signals_.async_wait([this](const boost::system::error_code& ec, int s) {
    if (!ec) OnSignal(s);
  });
  NotifySystemd("READY=1");
  Log(LogLevel::kWarning, "mxsec serve: ready (socketmap " + (serve_.socketmap.empty() ? "off" : serve_.socketmap) +
                              ", exim " + (serve_.exim_socket.empty() ? "off" : serve_.exim_socket) + ", http " +
                              (serve_.http.empty() ? "off" : serve_.http) + ", cache " + config_.CacheFile() + ")");
  return {};
}

}  // namespace

int Serve(const Config& config, ServeConfig serve) {
  // One malloc arena per worker thread only grows resident memory here: the
  // threads allocate little and briefly.
  mallopt(M_ARENA_MAX, 2);
  Daemon daemon(config, std::move(serve));
  if (auto started = daemon.Start(); !started) {
    Log(LogLevel::kError, started.error().detail);
    return 2;
  }
  daemon.Run();
  Log(LogLevel::kWarning, "mxsec serve: stopped");
  return 0;
}

}  // namespace mxsec::server
