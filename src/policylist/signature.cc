// OpenPGP signature checks with GPGME in a private gpg home (signature.h).
#include "policylist/signature.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

namespace mxsec::policylist {
namespace {

// gpgme_check_version must run once before any context is made. GPGME
// writes to gpg through pipes; a gpg that dies early must not kill us with
// SIGPIPE (GPGME's manual asks applications to ignore it).
Result<void> InitGpgme() {
  static std::once_flag once;
  static gpgme_error_t engine = 0;
  std::call_once(once, [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
    gpgme_check_version(nullptr);
    engine = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP);
  });
  if (engine != 0) return Fail(Code::kIo, "gpg, which checks OpenPGP signatures, is not usable: " + GpgError(engine));
  return {};
}

// Runs `gpgconf --homedir HOME --kill all`, without a shell.
void KillAgents(const std::string& home) {
  pid_t pid = fork();
  if (pid == 0) {
    execlp("gpgconf", "gpgconf", "--homedir", home.c_str(), "--kill", "all", static_cast<char*>(nullptr));
    _exit(127);
  }
  if (pid > 0) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// The primary key of `fpr` (a fingerprint or key ID of a key or subkey).
std::string PrimaryOf(gpgme_ctx_t ctx, const char* fpr) {
  gpgme_key_t key = nullptr;
  if (fpr == nullptr || gpgme_get_key(ctx, fpr, &key, 0) != 0 || key == nullptr) return "";
  std::string primary = key->subkeys != nullptr && key->subkeys->fpr != nullptr ? key->subkeys->fpr : "";
  gpgme_key_unref(key);
  return Upper(primary);
}

}  // namespace

std::string GpgError(gpgme_error_t error) {
  char buffer[256];
  gpgme_strerror_r(error, buffer, sizeof buffer);
  return buffer;
}

GpgData::GpgData() {
  if (gpgme_data_new(&data_) != 0) data_ = nullptr;
}

GpgData::GpgData(std::string_view bytes) {
  if (gpgme_data_new_from_mem(&data_, bytes.data(), bytes.size(), 0) != 0) data_ = nullptr;
}

GpgData::~GpgData() {
  if (data_ != nullptr) gpgme_data_release(data_);
}

std::string GpgData::Take() {
  std::string out;
  if (data_ == nullptr) return out;
  gpgme_data_seek(data_, 0, SEEK_SET);
  char buffer[4096];
  ssize_t n;
  while ((n = gpgme_data_read(data_, buffer, sizeof buffer)) > 0) out.append(buffer, static_cast<size_t>(n));
  return out;
}

Result<std::unique_ptr<GpgHome>> GpgHome::Make(bool allow_agent) {
  if (auto init = InitGpgme(); !init) return tl::unexpected(init.error());
  std::unique_ptr<GpgHome> home(new GpgHome());
  // Short and private: gpg puts its agent's sockets here, and a Unix
  // socket path may not exceed 107 bytes.
  std::string tmpl = "/tmp/mxsec-gpg-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    return Fail(Code::kIo, "cannot create a directory for gpg in /tmp: " + std::string(std::strerror(errno)));
  }
  home->path_ = tmpl;
  home->agent_ = allow_agent;
  {
    std::ofstream conf(home->path_ + "/gpg.conf");
    // No network, no agent unless asked, and no trust database questions:
    // the key is trusted because its fingerprint is pinned.
    conf << "no-auto-key-retrieve\nno-auto-key-locate\ntrust-model always\n";
    if (!allow_agent) conf << "no-autostart\n";
    if (!conf) return Fail(Code::kIo, "cannot write " + home->path_ + "/gpg.conf");
  }
  if (gpgme_error_t err = gpgme_new(&home->ctx_); err != 0) {
    home->ctx_ = nullptr;
    return Fail(Code::kIo, "cannot start GPGME: " + GpgError(err));
  }
  gpgme_set_protocol(home->ctx_, GPGME_PROTOCOL_OpenPGP);
  if (gpgme_error_t err = gpgme_ctx_set_engine_info(home->ctx_, GPGME_PROTOCOL_OpenPGP, nullptr, home->path_.c_str());
      err != 0) {
    return Fail(Code::kIo, "cannot point gpg at " + home->path_ + ": " + GpgError(err));
  }
  gpgme_set_offline(home->ctx_, 1);
  return home;
}

GpgHome::~GpgHome() {
  if (ctx_ != nullptr) gpgme_release(ctx_);
  if (path_.empty()) return;
  if (agent_) KillAgents(path_);
  // GPGME does not wait for every gpg it started to exit, and a stopping
  // agent removes its sockets: either may still write here while remove_all
  // runs and leave the directory behind. Try again for up to a second.
  for (int attempt = 0; attempt < 20; ++attempt) {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
    if (!std::filesystem::exists(path_, ignored)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Result<void> GpgHome::Import(std::string_view keys) {
  GpgData data(keys);
  if (!data.ok()) return Fail(Code::kIo, "out of memory reading the keyring");
  if (gpgme_error_t err = gpgme_op_import(ctx_, data.get()); err != 0) {
    return Fail(Code::kSyntax, "the keyring holds no usable OpenPGP key: " + GpgError(err));
  }
  gpgme_import_result_t result = gpgme_op_import_result(ctx_);
  if (result == nullptr || result->imported + result->unchanged == 0) {
    return Fail(Code::kSyntax,
                "the keyring holds no usable OpenPGP public key (give an exported key, "
                "e.g. gpg --export --armor FINGERPRINT)");
  }
  return {};
}

Result<SignatureInfo> VerifyDetachedSignature(std::string_view data, std::string_view signature,
                                              std::string_view keyring, const std::string& pinned) {
  auto home = GpgHome::Make(false);
  if (!home) return tl::unexpected(home.error());
  gpgme_ctx_t ctx = (*home)->ctx();
  if (auto imported = (*home)->Import(keyring); !imported) return tl::unexpected(imported.error());

  // The pinned key must be in the keyring, and usable.
  gpgme_key_t key = nullptr;
  if (gpgme_get_key(ctx, pinned.c_str(), &key, 0) != 0 || key == nullptr) {
    return Fail(Code::kPermFail, "the keyring does not hold the pinned key " + pinned);
  }
  const bool revoked = key->revoked != 0;
  const bool expired = key->expired != 0;
  const bool unusable = key->disabled != 0 || key->invalid != 0;
  gpgme_key_unref(key);
  if (revoked) return Fail(Code::kPermFail, "the pinned key " + pinned + " has been revoked");
  if (expired) return Fail(Code::kPermFail, "the pinned key " + pinned + " has expired");
  if (unusable) return Fail(Code::kPermFail, "the pinned key " + pinned + " is not usable");

  GpgData sig(signature);
  GpgData signed_text(data);
  if (!sig.ok() || !signed_text.ok()) return Fail(Code::kIo, "out of memory reading the signature");
  if (gpgme_error_t err = gpgme_op_verify(ctx, sig.get(), signed_text.get(), nullptr); err != 0) {
    return Fail(Code::kSyntax, "not an OpenPGP detached signature: " + GpgError(err));
  }
  gpgme_verify_result_t result = gpgme_op_verify_result(ctx);
  if (result == nullptr || result->signatures == nullptr) {
    return Fail(Code::kSyntax, "not an OpenPGP detached signature: it holds no signature");
  }
  // Several signatures may be present; one good one by the pinned key is
  // enough, and the most telling refusal is reported otherwise.
  std::optional<Error> refusal;
  for (gpgme_signature_t s = result->signatures; s != nullptr; s = s->next) {
    const std::string fpr = s->fpr != nullptr ? Upper(s->fpr) : "";
    const gpg_err_code_t code = gpg_err_code(s->status);
    if (code == GPG_ERR_NO_PUBKEY) {
      if (!refusal) refusal = Error{Code::kPermFail, "made by key " + fpr + ", not by the pinned key " + pinned};
      continue;
    }
    const std::string primary = PrimaryOf(ctx, s->fpr);
    if (primary != pinned) {
      if (!refusal) refusal = Error{Code::kPermFail, "made by key " + fpr + ", not by the pinned key " + pinned};
      continue;
    }
    if (code == GPG_ERR_BAD_SIGNATURE) {
      refusal = Error{Code::kPermFail,
                      "BAD signature by the pinned key: the list was altered, or the "
                      "signature is of another file"};
      continue;
    }
    if (code == GPG_ERR_SIG_EXPIRED || (s->summary & GPGME_SIGSUM_SIG_EXPIRED) != 0) {
      refusal = Error{Code::kPermFail, "the signature has expired"};
      continue;
    }
    if (code == GPG_ERR_KEY_EXPIRED || (s->summary & GPGME_SIGSUM_KEY_EXPIRED) != 0) {
      refusal = Error{Code::kPermFail, "the signing key " + fpr + " has expired"};
      continue;
    }
    if (code == GPG_ERR_CERT_REVOKED || (s->summary & GPGME_SIGSUM_KEY_REVOKED) != 0) {
      refusal = Error{Code::kPermFail, "the signing key " + fpr + " has been revoked"};
      continue;
    }
    if (code != GPG_ERR_NO_ERROR) {
      refusal = Error{Code::kPermFail, "the signature does not verify: " + GpgError(s->status)};
      continue;
    }
    return SignatureInfo{fpr, primary, static_cast<int64_t>(s->timestamp)};
  }
  return tl::unexpected(*refusal);
}

}  // namespace mxsec::policylist
