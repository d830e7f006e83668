// Reading the list in force and replacing it safely (update.h).
#include "policylist/update.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>

#include "net/net.h"
#include "policylist/signature.h"

namespace mxsec::policylist {
namespace {

std::string Errno() { return std::strerror(errno); }

// A file descriptor closed on every path.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

Result<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(Code::kIo, "cannot read " + path + ": " + Errno());
  std::string data(max_bytes + 1, '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (in.bad()) return Fail(Code::kIo, "cannot read " + path + ": " + Errno());
  data.resize(static_cast<size_t>(in.gcount()));
  if (data.size() > max_bytes) {
    return Fail(Code::kPermFail, path + " is larger than " + std::to_string(max_bytes) + " bytes");
  }
  return data;
}

struct Url {
  std::string host;
  uint16_t port = 443;
  std::string path = "/";
};

Result<Url> ParseHttpsUrl(const std::string& url) {
  constexpr std::string_view kScheme = "https://";
  if (url.size() < kScheme.size() || !std::equal(kScheme.begin(), kScheme.end(), url.begin(), [](char a, char b) {
        return a == std::tolower(static_cast<unsigned char>(b));
      })) {
    return Fail(Code::kInvalidArgument, Quote(url) + " is not an https:// URL");
  }
  std::string rest = url.substr(kScheme.size());
  Url out;
  size_t slash = rest.find_first_of("/?#");
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) out.path = rest.substr(slash);
  if (size_t hash = out.path.find('#'); hash != std::string::npos) out.path.resize(hash);
  if (out.path.empty() || out.path[0] != '/') out.path = "/" + out.path;
  if (authority.find('@') != std::string::npos) {
    return Fail(Code::kInvalidArgument, Quote(url) + ": user information in a URL is not supported");
  }
  if (size_t colon = authority.rfind(':'); colon != std::string::npos && authority.find(']') == std::string::npos) {
    const std::string port = authority.substr(colon + 1);
    char* end = nullptr;
    long value = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || value < 1 || value > 65535) {
      return Fail(Code::kInvalidArgument, Quote(url) + ": bad port " + Quote(port));
    }
    out.port = static_cast<uint16_t>(value);
    authority.resize(colon);
  }
  auto host = NormalizeDomain(authority);
  if (!host) return Fail(Code::kInvalidArgument, Quote(url) + ": bad host: " + host.error().detail);
  out.host = *host;
  return out;
}

// Resolves a Location header against the URL it came from.
std::string Resolve(const Url& base, const std::string& location) {
  if (location.find("://") != std::string::npos) return location;
  std::string origin = "https://" + base.host + (base.port == 443 ? "" : ":" + std::to_string(base.port));
  if (!location.empty() && location[0] == '/') return origin + location;
  return origin + base.path.substr(0, base.path.rfind('/') + 1) + location;
}

bool Cancelled(const std::atomic<bool>* cancel) { return cancel != nullptr && cancel->load(); }

Result<std::string> Fetch(net::HttpsClient& https, const std::string& source, size_t max_bytes,
                          const std::string& ca_file, std::chrono::milliseconds timeout,
                          const std::atomic<bool>* cancel) {
  std::string url = source;
  for (int redirects = 0;; ++redirects) {
    auto parsed = ParseHttpsUrl(url);
    if (!parsed) {
      // A bad URL given is a set-up error; a bad redirect is the server's.
      if (redirects == 0) return tl::unexpected(parsed.error());
      return Fail(Code::kPermFail, source + ": redirected to " + parsed.error().detail);
    }
    net::HttpsRequest request;
    request.host = parsed->host;
    request.port = parsed->port;
    request.path = parsed->path;
    request.max_body = max_bytes;
    request.timeout = timeout;
    request.ca_file = ca_file;
    if (Cancelled(cancel)) return Fail(Code::kTempFail, "cannot fetch " + url + ": mxsec is stopping");
    auto response = https.Get(request);
    if (!response) {
      return Fail(Code::kTempFail, "cannot fetch " + url + ": " +
                                       std::string(net::HttpsStageName(response.error().stage)) + ": " +
                                       response.error().detail);
    }
    if (response->status >= 300 && response->status < 400 && !response->location.empty()) {
      if (redirects == 5) return Fail(Code::kPermFail, "cannot fetch " + source + ": more than 5 redirects");
      url = Resolve(*parsed, response->location);
      continue;
    }
    if (response->status != 200) {
      return Fail(response->status >= 500 ? Code::kTempFail : Code::kPermFail,
                  "cannot fetch " + url + ": HTTP status " + std::to_string(response->status));
    }
    return std::move(response->body);
  }
}

// Writes `data` to a temporary file beside `path`, fsynced, and returns its
// name; nothing is left behind on failure.
Result<std::string> WriteTemp(const std::string& path, std::string_view data) {
  const std::string temp = path + ".tmp." + std::to_string(getpid());
  Fd fd(open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) return Fail(Code::kIo, "cannot create " + temp + ": " + Errno());
  for (size_t done = 0; done < data.size();) {
    ssize_t n = write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string error = "cannot write " + temp + ": " + Errno();
      unlink(temp.c_str());
      return Fail(Code::kIo, error);
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd.get()) != 0 || close(fd.release()) != 0) {
    const std::string error = "cannot write " + temp + ": " + Errno();
    unlink(temp.c_str());
    return Fail(Code::kIo, error);
  }
  return temp;
}

// Renames `temp` over `path`: readers see the old file or the new one,
// never a part. `temp` is removed on failure.
Result<void> Replace(const std::string& temp, const std::string& path) {
  if (rename(temp.c_str(), path.c_str()) != 0) {
    const std::string error = "cannot rename " + temp + " to " + path + ": " + Errno();
    unlink(temp.c_str());
    return Fail(Code::kIo, error);
  }
  return {};
}

Result<void> SyncDirectory(const std::string& dir) {
  Fd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || fsync(fd.get()) != 0) return Fail(Code::kIo, "cannot sync " + dir + ": " + Errno());
  return {};
}

std::string Date(int64_t unix_seconds) { return FormatRfc3339(FromUnix(unix_seconds)); }

}  // namespace

Result<std::optional<List>> ReadListFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<List>();
  auto text = ReadFile(path, kMaxListBytes);
  if (!text) return tl::unexpected(text.error());
  auto list = ParseList(*text);
  if (!list) return Fail(Code::kSyntax, path + ": " + list.error().detail);
  return std::optional<List>(std::move(*list));
}

Result<std::string> ReadSource(net::HttpsClient& https, const std::string& source, size_t max_bytes,
                               const std::string& ca_file, std::chrono::milliseconds timeout,
                               const std::atomic<bool>* cancel) {
  if (source.find("://") != std::string::npos) return Fetch(https, source, max_bytes, ca_file, timeout, cancel);
  return ReadFile(source, max_bytes);
}

UpdateRequest RequestFromConfig(const Config& config) {
  UpdateRequest request;
  request.source = config.policy_list.url;
  request.signature = config.policy_list.signature_url;
  request.keyring = config.policy_list.keyring;
  request.fingerprint = config.policy_list.fingerprint;
  request.ca_file = config.ca_file;
  request.timeout = config.timeout;
  return request;
}

Result<UpdateOutcome> Update(net::HttpsClient& https, const UpdateRequest& request, const std::string& path,
                             int64_t now) {
  if (request.keyring.empty()) {
    return Fail(Code::kInvalidArgument,
                "no key to verify the list with: give --keyring FILE (the signer's exported public key) or set "
                "policy_list.keyring");
  }
  auto pinned = NormalizeFingerprint(request.fingerprint);
  if (!pinned) return Fail(Code::kInvalidArgument, "policy list fingerprint: " + pinned.error().detail);
  auto keyring = ReadFile(request.keyring, 1 << 20);
  if (!keyring) return Fail(Code::kInvalidArgument, "keyring: " + keyring.error().detail);

  // 1. Fetch.
  auto text = ReadSource(https, request.source, kMaxListBytes, request.ca_file, request.timeout, request.cancel);
  if (!text) return tl::unexpected(text.error());
  const std::string signature_source = request.signature.empty() ? request.source + ".asc" : request.signature;
  auto signature =
      ReadSource(https, signature_source, kMaxSignatureBytes, request.ca_file, request.timeout, request.cancel);
  if (!signature) {
    return Fail(signature.error().code, "no signature for the list: " + signature.error().detail);
  }

  // 2. Signature, before anything looks inside the list.
  auto signer = VerifyDetachedSignature(*text, *signature, *keyring, *pinned);
  if (!signer) {
    return Fail(signer.error().code, "signature of " + request.source + " refused: " + signer.error().detail);
  }

  // 3. Schema.
  auto list = ParseList(*text);
  if (!list) return Fail(Code::kSyntax, request.source + " is not a valid list: " + list.error().detail);

  // 4. Expiry.
  if (list->Expired(now)) {
    return Fail(Code::kPermFail, request.source + " expired on " + Date(list->expires) + " (timestamp " +
                                     Date(list->timestamp) + "): the publisher has not updated it");
  }

  // 5. Rollback check and install, under the lock.
  const std::filesystem::path target(path);
  const std::string dir = target.parent_path().empty() ? "." : target.parent_path().string();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Fail(Code::kIo, "cannot create " + dir + ": " + ec.message());
  const std::string lock_path = path + ".lock";
  Fd lock(open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (lock.get() < 0) return Fail(Code::kIo, "cannot open " + lock_path + ": " + Errno());
  if (flock(lock.get(), LOCK_EX) != 0) return Fail(Code::kIo, "cannot lock " + lock_path + ": " + Errno());

  UpdateOutcome outcome;
  outcome.timestamp = list->timestamp;
  outcome.expires = list->expires;
  outcome.domains = list->policies.size();
  outcome.signer = signer->fingerprint;
  std::error_code exists_error;
  if (std::filesystem::exists(path, exists_error)) {
    // The rollback check needs the list in force: when it cannot be read,
    // refuse. An invalid list in force does not block its repair.
    auto current_text = ReadFile(path, kMaxListBytes);
    if (!current_text) {
      return Fail(Code::kIo, "cannot check for a rollback: " + current_text.error().detail);
    }
    if (auto current = ParseList(*current_text)) {
      outcome.previous_timestamp = current->timestamp;
      if (list->timestamp < current->timestamp) {
        return Fail(Code::kPermFail, request.source + " is older than the list in force (timestamp " +
                                         Date(list->timestamp) + " < " + Date(current->timestamp) +
                                         "): refused as a possible rollback");
      }
      if (*current_text == *text) return outcome;  // already in force
    }
  } else if (exists_error) {
    return Fail(Code::kIo, "cannot check for a rollback: " + path + ": " + exists_error.message());
  }
  // Both files are written and synced before either replaces the old one;
  // the list's rename is the one step that puts the new list in force.
  auto list_temp = WriteTemp(path, *text);
  if (!list_temp) return tl::unexpected(list_temp.error());
  auto signature_temp = WriteTemp(path + ".asc", *signature);
  if (!signature_temp) {
    unlink(list_temp->c_str());
    return tl::unexpected(signature_temp.error());
  }
  if (auto replaced = Replace(*signature_temp, path + ".asc"); !replaced) {
    unlink(list_temp->c_str());
    return tl::unexpected(replaced.error());
  }
  if (auto replaced = Replace(*list_temp, path); !replaced) return tl::unexpected(replaced.error());
  // The new list is in force; a failed directory sync only risks its
  // rename on a crash, which leaves the old list: a warning, not a refusal.
  if (auto synced = SyncDirectory(dir); !synced) outcome.warning = synced.error().detail;
  outcome.installed = true;
  return outcome;
}

}  // namespace mxsec::policylist
