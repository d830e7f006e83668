// server: `mxsec serve`, the policy daemon beside Postfix and Exim.
//
// Listeners (all optional, loopback by default):
//  - Postfix socketmap (netstrings, TCP or a Unix socket) for
//    smtp_tls_policy_maps = socketmap:inet:127.0.0.1:8461:postfix
//  - an Exim readsocket endpoint: one request line, one answer, close
//  - HTTP: /metrics (Prometheus text) and /healthz
//
// Answers come from an in-memory decision cache in front of the LMDB policy
// cache; a domain with nothing usable cached is resolved on a bounded pool of
// worker threads, with concurrent requests for one domain sharing one
// resolution. Answers already known are never delayed by network work: a
// stale one is served and re-validated in the background.
//
// The pure pieces (netstrings, request parsing, answer text) are declared
// here too, for tests and the fuzzer.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"
#include "policy/policy.h"

namespace mxsec::server {

// Per socketmap name ("zone") settings, as postfix-mta-sts-resolver has them.
struct ZoneSettings {
  bool strict_testing = false;  // answer testing-mode policies like enforce
  bool require_sni = true;      // append servername=hostname
  // Append the Postfix 3.10 TLSRPT attributes to "OK secure" answers. Off by
  // default: Postfix before 3.10 rejects a policy with unknown attributes.
  bool tlsrpt = false;
};

struct ServeConfig {
  std::string socketmap = "127.0.0.1:8461";  // ADDR:PORT or a Unix socket path; "" disables
  std::string socketmap_mode = "0666";       // for a Unix socket
  std::string socketmap_owner;               // "USER" or "USER:GROUP" for a Unix socket; empty: unchanged
  std::string exim_socket = "127.0.0.1:8462";
  std::string http = "127.0.0.1:8463";
  int fetch_concurrency = 16;                      // worker threads resolving domains
  std::chrono::seconds recheck_after{60};          // re-validate an answer older than this
  std::chrono::seconds refresh_interval{300};      // proactive refresh scan period (with jitter)
  std::chrono::seconds drop_unused_after{30 * 86400};  // forget cached domains unused this long
  std::chrono::seconds idle_timeout{60};           // close a connection silent this long
  std::chrono::seconds request_timeout{10};        // one request must arrive within this
  size_t max_request = 1024;                       // bytes of one netstring payload
  ZoneSettings default_zone;
  std::map<std::string, ZoneSettings> zones;
  std::string config_path;  // for SIGHUP reload; empty: nothing to reload

  const ZoneSettings& Zone(std::string_view name) const;
};

// Reads the `serve:` section of a config file over `base`. Unknown keys
// are errors naming the file, line and key.
Result<ServeConfig> LoadServeConfig(const std::string& path, ServeConfig base = {});

// Runs until SIGTERM or SIGINT; SIGHUP reloads the config file's serve:
// settings and logging (listeners, fetch_concurrency, DNS servers and the
// cache file need a restart). Returns an exit code.
int Serve(const Config& config, ServeConfig serve);

// ---- Pure pieces ------------------------------------------------------------

// Incremental netstring reader ("LEN:DATA,"). Feed bytes, then take complete
// payloads. Any violation (non-digit length, leading zero, length above the
// limit, missing ',') is sticky: error() says what, and the connection should
// be closed.
class NetstringReader {
 public:
  explicit NetstringReader(size_t max_payload) : max_payload_(max_payload) {}
  void Feed(std::string_view bytes);
  // The next complete payload, if any.
  std::optional<std::string> Next();
  const std::optional<std::string>& error() const { return error_; }
  size_t buffered() const { return buffer_.size() - offset_; }

 private:
  size_t max_payload_;
  std::string buffer_;
  size_t offset_ = 0;
  std::optional<std::string> error_;
};

std::string EncodeNetstring(std::string_view payload);

struct SocketmapRequest {
  std::string map;     // the socketmap name, e.g. "postfix"
  std::string domain;  // folded; empty when the key is not a domain (IP literal, ".x")
};
Result<SocketmapRequest> ParseSocketmapRequest(std::string_view payload);

// The socketmap answer for a policy decision, as postfix-mta-sts-resolver
// gives it: enforce (or testing with strict_testing) -> "OK secure match=..."
// with "*.x" patterns as ".x" (duplicates dropped, order kept); DANE ->
// "OK dane-only"; otherwise "NOTFOUND ".
//
// With zone.tlsrpt, an "OK secure" answer carries the attributes of Postfix
// 3.10's TLSRPT_README ("MTA-STS Support via smtp_tls_policy_maps"):
//   policy_type=sts policy_domain=DOMAIN mx_host_pattern=P1 mx_host_pattern=P2
//   { policy_string = version: STSv1 } { policy_string = mode: enforce } ...
// mx_host_pattern is each pattern as published ("*.x" kept); policy_string is
// each line of `policy_text` (the policy as served, trimmed), or, when that
// text is missing or does not match the cached entry's mode and patterns
// (a newer policy stored meanwhile), the entry rewritten as policy lines;
// each line as "key: value". A line holding '{', '}' or a non-ASCII byte
// (possible in an extension value) is left out: Postfix's "{ name = value }"
// cannot protect it. policy_failure is never
// sent: a failed re-fetch keeps the cached policy in force (RFC 8461 5.1),
// and a failure with nothing cached is "no policy" (NOTFOUND), so there is
// no case where mxsec wants Postfix to fail the policy.
std::string SocketmapAnswer(const policy::StsAnswer& answer, bool dane_only, const ZoneSettings& zone,
                            std::string_view policy_text = {});

// The Exim endpoint's answer to one request line ("mode DOMAIN",
// "valid-mx DOMAIN HOST", "mx-list DOMAIN"), same text as `mxsec exim`.
std::string EximAnswer(const policy::StsAnswer& answer, std::string_view question, std::string_view host);

}  // namespace mxsec::server
