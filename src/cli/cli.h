// cli: the `mxsec` commands. main.cc parses the command line and dispatches
// here; each Run* function returns the process exit code:
//   0  success (an answer, a match, a valid document)
//   1  a negative answer: invalid input, no match, a lookup that failed
//   2  usage or set-up error: bad option, bad config, unusable cache file
#pragma once

#include <string>
#include <vector>

#include "base/base.h"

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

enum class EximQuestion { kMode, kValidMx, kMxList };
int RunExim(const Config& config, EximQuestion question, const std::string& domain, const std::string& host);

}  // namespace mxsec::cli
