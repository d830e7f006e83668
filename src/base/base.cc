#include "base/base.h"
#include "base/yaml_internal.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <syslog.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <mutex>

namespace mxsec {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kNotFound: return "not-found";
    case Code::kTempFail: return "temp-fail";
    case Code::kSyntax: return "syntax";
    case Code::kPermFail: return "perm-fail";
    case Code::kBogus: return "bogus";
    case Code::kInsecure: return "insecure";
    case Code::kIo: return "io";
    case Code::kInvalidArgument: return "invalid-argument";
    case Code::kInternal: return "internal";
  }
  return "internal";
}

std::string Quote(std::string_view text, size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
  if (text.size() > max) out += "...";
  return out;
}

std::optional<Code> CodeFromName(std::string_view name) {
  for (Code code : {Code::kNotFound, Code::kTempFail, Code::kSyntax, Code::kPermFail, Code::kBogus, Code::kInsecure,
                    Code::kIo, Code::kInvalidArgument, Code::kInternal}) {
    if (CodeName(code) == name) return code;
  }
  return std::nullopt;
}

// ---- Domain names --------------------------------------------------------

namespace {

bool IsLdh(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

Result<std::string> CheckLdhName(std::string name, std::string_view original) {
  if (name.empty()) return Fail(Code::kInvalidArgument, "empty domain name");
  if (name.size() > 253) {
    return Fail(Code::kInvalidArgument,
                "domain name longer than 253 octets: " + Quote(original));
  }
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('.', start);
    if (end == std::string::npos) end = name.size();
    std::string_view label(name.data() + start, end - start);
    if (label.empty()) {
      return Fail(Code::kInvalidArgument, "empty label in domain name " + Quote(original));
    }
    if (label.size() > 63) {
      return Fail(Code::kInvalidArgument, "label longer than 63 octets in " + Quote(original));
    }
    for (char c : label) {
      if (!IsLdh(c)) {
        return Fail(Code::kInvalidArgument, "invalid character in domain name " + Quote(original));
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return Fail(Code::kInvalidArgument,
                  "label starts or ends with '-' in " + Quote(original));
    }
    start = end + 1;
  }
  return name;
}

}  // namespace

std::string FoldDomain(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Result<std::string> NormalizeDomain(std::string_view name) {
  std::string folded = FoldDomain(name);
  bool ascii = true;
  for (unsigned char c : folded) {
    if (c >= 0x80) ascii = false;
  }
  if (ascii) return CheckLdhName(std::move(folded), name);
  char* out = nullptr;
  int rc = idn2_to_ascii_8z(folded.c_str(), &out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  std::unique_ptr<char, decltype(&idn2_free)> owned(out, &idn2_free);
  if (rc != IDN2_OK) {
    return Fail(Code::kInvalidArgument,
                "cannot convert " + Quote(name) + " to an A-label: " + idn2_strerror(rc));
  }
  return CheckLdhName(FoldDomain(owned.get()), name);
}

// ---- Clock ---------------------------------------------------------------

namespace {
class RealClock final : public Clock {
 public:
  SystemTime Now() const override { return std::chrono::system_clock::now(); }
};
}  // namespace

const Clock& SystemClock() {
  static const RealClock* clock = new RealClock();
  return *clock;
}

int64_t ToUnix(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

SystemTime FromUnix(int64_t seconds) { return SystemTime(std::chrono::seconds(seconds)); }

std::string FormatRfc3339(SystemTime t) {
  std::time_t tt = static_cast<std::time_t>(ToUnix(t));
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// ---- Logging -------------------------------------------------------------

namespace {
std::atomic<int> g_log_level{static_cast<int>(LogLevel::kWarning)};
std::atomic<bool> g_syslog{false};
std::mutex g_log_mutex;

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return "error";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kInfo: return "info";
    case LogLevel::kDebug: return "debug";
  }
  return "error";
}
}  // namespace

void ConfigureLogging(LogLevel level, bool use_syslog) {
  g_log_level = static_cast<int>(level);
  if (use_syslog && !g_syslog.exchange(true)) openlog("mxsec", LOG_PID, LOG_MAIL);
}

bool LogEnabled(LogLevel level) { return static_cast<int>(level) <= g_log_level.load(); }

void Log(LogLevel level, std::string_view message) {
  if (!LogEnabled(level)) return;
  std::lock_guard<std::mutex> lock(g_log_mutex);
  std::fprintf(stderr, "mxsec: %s: %.*s\n", LevelName(level), static_cast<int>(message.size()),
               message.data());
  if (g_syslog) {
    static const int kPriority[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    syslog(kPriority[static_cast<int>(level)], "%.*s", static_cast<int>(message.size()),
           message.data());
  }
}

// ---- Configuration -------------------------------------------------------

Result<std::string> NormalizeFingerprint(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == ' ' || c == '\t') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return Fail(Code::kInvalidArgument,
                  Quote(text) + " is not a full key fingerprint (only hexadecimal digits and spaces)");
    }
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  if (out.size() != 40 && out.size() != 64) {
    return Fail(Code::kInvalidArgument, Quote(text) +
                                            " is not a full key fingerprint (40 or 64 hexadecimal digits; a short "
                                            "key ID is not enough to pin a key)");
  }
  return out;
}

std::string Config::CacheFile() const {
  return cache_file.empty() ? data_dir + "/mtasts.lmdb" : cache_file;
}

Result<std::string> ParseDnsServer(std::string_view text) {
  std::string host(text);
  std::string port;
  if (auto at = text.rfind('@'); at != std::string_view::npos) {
    host = std::string(text.substr(0, at));
    port = std::string(text.substr(at + 1));
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535) {
      return Fail(Code::kInvalidArgument, "invalid port in DNS server " + Quote(text));
    }
  }
  unsigned char buf[16];
  if (inet_pton(AF_INET, host.c_str(), buf) != 1 && inet_pton(AF_INET6, host.c_str(), buf) != 1) {
    return Fail(Code::kInvalidArgument,
                "DNS server must be an IP address (IP or IP@PORT), got " + Quote(text));
  }
  return port.empty() ? host : host + "@" + port;
}

namespace {

Result<LogLevel> ParseLogLevel(const std::string& s) {
  if (s == "error") return LogLevel::kError;
  if (s == "warning") return LogLevel::kWarning;
  if (s == "info") return LogLevel::kInfo;
  if (s == "debug") return LogLevel::kDebug;
  return Fail(Code::kInvalidArgument, "log level must be error, warning, info or debug, got '" + s + "'");
}

std::string Where(const std::string& path, const YAML::Node& node) { return YamlWhere(path, node); }

}  // namespace

std::string YamlWhere(const std::string& path, const YAML::Node& node) {
  return path + ":" + std::to_string(node.Mark().line + 1);
}

Result<YAML::Node> LoadYamlFile(const std::string& path) {
  try {
    return YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Fail(Code::kIo, "cannot read config file " + path);
  } catch (const YAML::Exception& e) {
    return Fail(Code::kInvalidArgument, path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

Result<Config> LoadConfig(const std::string& path, Config config) {
  auto loaded = LoadYamlFile(path);
  if (!loaded) return tl::unexpected(loaded.error());
  const YAML::Node& root = *loaded;
  if (root.IsNull()) return config;
  if (!root.IsMap()) return Fail(Code::kInvalidArgument, path + ": the top level must be a mapping");
  std::string key;  // the key being read, for the error message
  try {
    for (const auto& entry : root) {
      key = entry.first.as<std::string>();
      const YAML::Node& value = entry.second;
      const std::string where = Where(path, entry.first);
      if (key == "data_dir") {
        config.data_dir = value.as<std::string>();
      } else if (key == "cache") {
        config.cache_file = value.as<std::string>();
      } else if (key == "dns_servers") {
        if (!value.IsSequence()) return Fail(Code::kInvalidArgument, where + ": dns_servers must be a list");
        config.dns_servers.clear();
        for (const auto& s : value) {
          auto server = ParseDnsServer(s.as<std::string>());
          if (!server) return Fail(Code::kInvalidArgument, Where(path, s) + ": dns_servers: " + server.error().detail);
          config.dns_servers.push_back(*server);
        }
      } else if (key == "trust_anchor") {
        config.trust_anchor = value.as<std::string>();
      } else if (key == "ca_file") {
        config.ca_file = value.as<std::string>();
      } else if (key == "timeout") {
        double seconds = value.as<double>();
        if (!(seconds > 0 && seconds <= 3600)) {
          return Fail(Code::kInvalidArgument, where + ": timeout must be between 0 and 3600 seconds");
        }
        config.timeout = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
      } else if (key == "log_level") {
        auto level = ParseLogLevel(value.as<std::string>());
        if (!level) return Fail(Code::kInvalidArgument, where + ": log_level: " + level.error().detail);
        config.log_level = *level;
      } else if (key == "syslog") {
        config.syslog = value.as<bool>();
      } else if (key == "policy_list") {
        if (!value.IsMap()) return Fail(Code::kInvalidArgument, where + ": policy_list must be a mapping");
        for (const auto& item : value) {
          key = "policy_list." + item.first.as<std::string>();
          const std::string at = Where(path, item.first);
          const YAML::Node& v = item.second;
          PolicyListConfig& list = config.policy_list;
          if (key == "policy_list.enabled") {
            list.enabled = v.as<bool>();
          } else if (key == "policy_list.url" || key == "policy_list.signature_url") {
            // An https:// URL or a local file (an absolute path); never http://.
            std::string source = v.as<std::string>();
            constexpr std::string_view kHttps = "https://";
            const bool https = source.size() > kHttps.size() &&
                               std::equal(kHttps.begin(), kHttps.end(), source.begin(), [](char a, char b) {
                                 return a == std::tolower(static_cast<unsigned char>(b));
                               });
            if (!https && !(key == "policy_list.signature_url" && source.empty()) &&
                (source.empty() || source[0] != '/')) {
              return Fail(Code::kInvalidArgument,
                          at + ": " + key + " must be an https:// URL or an absolute path, not " + Quote(source));
            }
            (key == "policy_list.url" ? list.url : list.signature_url) = std::move(source);
          } else if (key == "policy_list.keyring") {
            list.keyring = v.as<std::string>();
          } else if (key == "policy_list.fingerprint") {
            auto fingerprint = NormalizeFingerprint(v.as<std::string>());
            if (!fingerprint) return Fail(Code::kInvalidArgument, at + ": " + key + ": " + fingerprint.error().detail);
            list.fingerprint = std::move(*fingerprint);
          } else if (key == "policy_list.refresh") {
            int64_t seconds = v.as<int64_t>();
            if (seconds != 0 && (seconds < 60 || seconds > 172800)) {
              return Fail(Code::kInvalidArgument,
                          at + ": policy_list.refresh must be 0 (never) or 60 to 172800 seconds (48 hours)");
            }
            list.refresh = std::chrono::seconds(seconds);
          } else {
            return Fail(Code::kInvalidArgument, at + ": unknown key '" + key + "'");
          }
        }
      } else if (key == "serve") {
        // The daemon's section, read by server::LoadServeConfig.
      } else {
        return Fail(Code::kInvalidArgument, where + ": unknown key '" + key + "'");
      }
    }
  } catch (const YAML::Exception& e) {
    return Fail(Code::kInvalidArgument, path + ":" + std::to_string(e.mark.line + 1) + ": key '" + key +
                                            "' has the wrong type: " + e.msg);
  }
  return config;
}

}  // namespace mxsec
