// cli: the `mxsec` commands. main.cc parses the command line and dispatches
// here; each Run* function returns the process exit code:
//   0  success (an answer, a match, a valid document)
//   1  a negative answer: invalid input, no match, a lookup that failed
//   2  usage or set-up error: bad option, bad config, unusable cache file
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/base.h"
#include "policylist/policylist.h"

namespace mxsec::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitNegative = 1;
inline constexpr int kExitSetup = 2;

// Options every command accepts; flags override the config file.
struct GlobalFlags {
  std::string config_path;
  std::string data_dir;
  std::string cache_file;
  std::vector<std::string> dns_servers;
  std::string trust_anchor;
  std::string ca_file;
  double timeout_seconds = 0;  // 0: from config
  int verbosity = 0;           // -v count
};

// Loads the config (if any) and applies the flags over it.
Result<Config> BuildConfig(const GlobalFlags& flags);

int RunParseRecord(const std::string& text);
int RunParsePolicy(const std::string& file);
int RunMatch(const std::string& pattern, const std::string& host);
int RunPolicy(const Config& config, const std::vector<std::string>& domains, bool json, bool no_cache);

// One DNS lookup through mxsec's validating resolver: TYPE is TXT, MX, A,
// AAAA or TLSA. Prints the records and their DNSSEC status.
int RunDns(const Config& config, const std::string& type, const std::string& name, bool json);

// `mxsec serve`: the flags override the config file's serve: section.
struct ServeFlags {
  std::string socketmap;
  std::string exim_socket;
  std::string http;
};
int RunServe(const Config& config, const std::string& config_path, const ServeFlags& flags);

// `mxsec check` and `mxsec scan` (docs/check.md).
struct CheckFlags {
  bool json = false;
  std::string ehlo_name;
  int port = 25;
  double connect_timeout = 30;   // seconds, one SMTP session
  double domain_timeout = 120;   // seconds, a whole domain
  bool no_legacy_tls = false;
  bool no_ipv6 = false;
  int per_address = 4;
  std::string colour = "auto";   // auto, always, never
  // scan only
  int concurrency = 32;
  std::string output;            // JSON lines; empty or "-": stdout
  std::string summary_json;      // also write the summary as JSON here
  bool quiet = false;            // no progress
};
// Exit: 0 every domain success or warning, 1 a failure or error, 2 set-up.
int RunCheck(const Config& config, const std::vector<std::string>& domains, const CheckFlags& flags);
// Exit: 0 the scan ran (whatever the statuses), 2 set-up.
int RunScan(const Config& config, const std::string& input, const CheckFlags& flags);

// `mxsec list ...`: the STARTTLS-Everywhere list from FILE, or
// DATA_DIR/policy-list.json when FILE is empty.
int RunListCheck(const Config& config, const std::string& file);
int RunListShow(const Config& config, const std::string& file, const std::string& domain, bool json);
int RunListPostfix(const Config& config, const std::string& file);
// Reads and validates a list file; prints every violation (or why it cannot
// be read) on stderr and returns std::nullopt.
std::optional<policylist::List> LoadList(const std::string& path);
// The list in force (DATA_DIR/policy-list.json) for policy decisions:
// std::nullopt when there is none, the list is disabled, or it is invalid or
// expired (said on stderr).
std::optional<policylist::List> ActiveList(const Config& config);
// The path of the list: FILE, or DATA_DIR/policy-list.json when FILE is empty.
std::string ListPath(const Config& config, const std::string& file);
// `mxsec list validate DOMAIN`: checks DOMAIN with `mxsec check` against its
// list entry (VALIDATION.md). Exit: 0 valid, 1 not valid (or not listed),
// 2 set-up.
int RunListValidate(const Config& config, const std::string& file, const std::string& domain, const CheckFlags& flags);
// `mxsec list update [SOURCE]`: fetch or read, verify, validate, install.
struct ListUpdateFlags {
  std::string source;       // URL or file; empty: the config's policy_list.url
  std::string signature;    // URL or file; empty: SOURCE + ".asc"
  std::string keyring;      // exported public key file; empty: the config's
  std::string fingerprint;  // pinned signer; empty: the config's (default the EFF's)
  bool json = false;
};
// Exit: 0 installed or already current, 1 refused (the old list stays), 2 set-up.
int RunListUpdate(const Config& config, const ListUpdateFlags& flags);

enum class EximQuestion { kMode, kValidMx, kMxList };
int RunExim(const Config& config, EximQuestion question, const std::string& domain, const std::string& host);

}  // namespace mxsec::cli
