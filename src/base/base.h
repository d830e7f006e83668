// base: the vocabulary every mxsec part shares.
//
// - Result<T> / Error: errors are values (tl::expected). An Error carries a
//   small Code saying what the caller should do, and a one-line detail that
//   says what went wrong and where.
// - Domain names: NormalizeDomain turns user or network input into the
//   canonical A-label form mxsec uses as keys everywhere.
// - Clock: the time source, behind an interface so tests can move it.
// - Logging: Log() writes one line to stderr (and syslog when enabled).
//
// Everything here is thread-safe unless a comment says otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

namespace mxsec {

// What the caller should do with a failure.
enum class Code {
  kNotFound,         // definitely absent (NXDOMAIN, NODATA, no such key): do not retry soon
  kTempFail,         // transient (SERVFAIL, timeout, connection refused): retry later
  kSyntax,           // input violates the format it claims to be: fix the input
  kPermFail,         // permanent refusal by a peer or a policy (HTTP 404, bad cert)
  kBogus,            // DNSSEC validation failed: treat as an attack, never as absent
  kInsecure,         // an answer was required to be DNSSEC-secure and was not
  kIo,               // local file or database problem
  kInvalidArgument,  // the caller (or the user on the command line) asked for nonsense
  kInternal,         // a bug in mxsec
};

// Stable lower-case name of a Code, for logs and JSON ("temp-fail", ...),
// and back (std::nullopt for an unknown name).
std::string_view CodeName(Code code);
std::optional<Code> CodeFromName(std::string_view name);

struct Error {
  Code code;
  std::string detail;  // one line: what and where, no trailing period
};

template <typename T>
using Result = tl::expected<T, Error>;

// Shorthand for `return Fail(Code::kSyntax, "...")` in functions returning Result<T>.
inline tl::unexpected<Error> Fail(Code code, std::string detail) {
  return tl::unexpected<Error>(Error{code, std::move(detail)});
}

// Quotes untrusted text for a one-line message: wrapped in double quotes,
// control and non-ASCII bytes as \xNN, quotes and backslashes escaped,
// cut to `max` input bytes with "..." appended.
std::string Quote(std::string_view text, size_t max = 64);

// ---- Domain names --------------------------------------------------------

// Canonical form of a domain name: IDNA2008 A-labels (libidn2, U-labels are
// converted), lower case, no trailing dot, each label 1-63 octets of
// letters/digits/hyphen (not starting or ending with '-'), at most 253
// octets, at least one label. Errors are kInvalidArgument naming the rule.
Result<std::string> NormalizeDomain(std::string_view name);

// ASCII lower-casing and trailing-dot removal only, no validation; for
// comparing names that arrive from DNS or a policy file.
std::string FoldDomain(std::string_view name);

// ---- Clock ---------------------------------------------------------------

using SystemTime = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SystemTime Now() const = 0;
};

// The real wall clock. Thread-safe, never destroyed.
const Clock& SystemClock();

// Unix seconds of a time point, and back.
int64_t ToUnix(SystemTime t);
SystemTime FromUnix(int64_t seconds);
// RFC 3339 UTC rendering ("2026-11-22T02:54:42Z").
std::string FormatRfc3339(SystemTime t);

// ---- Logging -------------------------------------------------------------

enum class LogLevel { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

// Sets the most verbose level written (default kWarning) and whether lines
// also go to syslog (facility mail). Call once at start-up.
void ConfigureLogging(LogLevel level, bool syslog);
bool LogEnabled(LogLevel level);
// Writes "mxsec: <level>: <message>" to stderr when the level is enabled.
void Log(LogLevel level, std::string_view message);

}  // namespace mxsec

// ---- Configuration ---------------------------------------------------------

#include <vector>

namespace mxsec {

// The key the EFF publishes for the STARTTLS-Everywhere list ("gpg --recv-key
// B693F333..." in its README): the default pin for `mxsec list update`.
inline constexpr std::string_view kEffListFingerprint = "B693F33372E965D76D55368616EEA65D03326C9D";

// The `policy_list:` section: where the STARTTLS-Everywhere list comes from
// and how it is trusted (docs/policylist.md).
struct PolicyListConfig {
  bool enabled = true;  // apply DATA_DIR/policy-list.json to policy decisions
  std::string url = "https://dl.eff.org/starttls-everywhere/policy.json";
  std::string signature_url;                                   // empty: url + ".asc"
  std::string keyring;                                         // exported public key file; empty: no automatic updates
  std::string fingerprint = std::string(kEffListFingerprint);  // the key that must have signed
  std::chrono::seconds refresh{12 * 3600};                     // mxsec serve's update period (with jitter); 0: never
};

// An OpenPGP key fingerprint as given ("B693 F333 72E9 ...", any case) ->
// "B693F33372E9...": spaces dropped, upper case. kInvalidArgument unless
// 40 (v4) or 64 (v5) hexadecimal digits remain: a key ID does not pin a key.
Result<std::string> NormalizeFingerprint(std::string_view text);

// Settings shared by every command. Defaults are the embedded defaults
// `make run` uses; a YAML file (LoadConfig) and then command-line flags
// override them. docs/configuration.md documents every key.

struct Config {
  std::string data_dir = "./var";  // stores live here
  std::string cache_file;          // empty: <data_dir>/mtasts.lmdb
  std::vector<std::string> dns_servers;  // "IP" or "IP@PORT"; empty: /etc/resolv.conf
  std::string trust_anchor = "/usr/share/dns/root.key";  // DNSSEC root (dns-root-data)
  std::string ca_file;             // PEM bundle; empty: the system trust store
  std::chrono::milliseconds timeout{10000};  // per DNS query and per HTTPS fetch overall
  LogLevel log_level = LogLevel::kWarning;
  bool syslog = false;
  PolicyListConfig policy_list;

  std::string CacheFile() const;
  std::string ListFile() const { return data_dir + "/policy-list.json"; }  // the list in force
};

// Reads a YAML config file over `base`. Unknown keys and wrong types are
// errors (kInvalidArgument) naming the file, line and key, so a typo never
// silently leaves a default in force.
Result<Config> LoadConfig(const std::string& path, Config base = {});

// Parses "IP", "IP@PORT" or "[IPv6]:PORT"-free forms accepted by --dns-server;
// returns the libunbound forwarder spelling "IP@PORT" or "IP".
Result<std::string> ParseDnsServer(std::string_view text);

}  // namespace mxsec
