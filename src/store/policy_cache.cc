#include <lmdb.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <vector>

#include "store/store.h"

namespace mxsec::store {

// ---- LMDB ----------------------------------------------------------------------

struct PolicyCache::Env {
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  // Reset read-only transactions, kept for mdb_txn_renew: renewing reuses the
  // reader slot and skips the reader-table lock of mdb_txn_begin (MDB_NOTLS
  // lets any thread renew any of them).
  std::mutex idle_mutex;
  std::vector<MDB_txn*> idle_readers;
  ~Env() {
    for (MDB_txn* txn : idle_readers) mdb_txn_abort(txn);
    if (env != nullptr) mdb_env_close(env);
  }
};

namespace {

// A write (or one-off) transaction, aborted unless committed.
struct Txn {
  MDB_txn* txn = nullptr;
  ~Txn() {
    if (txn != nullptr) mdb_txn_abort(txn);
  }
  int Commit() {
    int rc = mdb_txn_commit(txn);
    txn = nullptr;
    return rc;
  }
};

MDB_val Val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }

tl::unexpected<Error> LmdbFail(const std::string& path, std::string_view what, int rc) {
  std::string reason = mdb_strerror(rc);
  if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED) {
    reason = "not an LMDB database, or a corrupt one (" + reason + "); move it aside to start a new cache";
  }
  return Fail(Code::kIo, "policy cache " + path + ": " + std::string(what) + ": " + reason);
}

constexpr std::string_view kSuffixes[] = {":mode", ":mx", ":expire", ":id", ":report", ":policy", ":mxsec"};

}  // namespace

// A pooled read-only transaction for one call: renewed on construction,
// reset and returned to the pool on destruction.
class PolicyCache::Reader {
 public:
  explicit Reader(Env& env) : env_(env) {
    {
      std::lock_guard<std::mutex> lock(env_.idle_mutex);
      if (!env_.idle_readers.empty()) {
        txn_ = env_.idle_readers.back();
        env_.idle_readers.pop_back();
      }
    }
    if (txn_ != nullptr) {
      rc_ = mdb_txn_renew(txn_);
      if (rc_ != 0) {
        mdb_txn_abort(txn_);
        txn_ = nullptr;
      }
    } else {
      rc_ = mdb_txn_begin(env_.env, nullptr, MDB_RDONLY, &txn_);
      if (rc_ != 0) txn_ = nullptr;
    }
  }
  ~Reader() {
    if (txn_ == nullptr) return;
    mdb_txn_reset(txn_);
    std::lock_guard<std::mutex> lock(env_.idle_mutex);
    env_.idle_readers.push_back(txn_);
  }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;
  int rc() const { return rc_; }
  MDB_txn* txn() const { return txn_; }

 private:
  Env& env_;
  MDB_txn* txn_ = nullptr;
  int rc_ = 0;
};

PolicyCache::PolicyCache(std::string path, std::unique_ptr<Env> env) : path_(std::move(path)), env_(std::move(env)) {}
PolicyCache::~PolicyCache() = default;

Result<std::unique_ptr<PolicyCache>> PolicyCache::Open(const std::string& path, Access access) {
  const bool read_only = access == Access::kReadOnly;
  std::error_code fs_error;
  if (!read_only) {
    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, fs_error);
    if (fs_error) return Fail(Code::kIo, "policy cache " + path + ": cannot create its directory: " + fs_error.message());
  }
  if (std::filesystem::is_directory(path, fs_error)) {
    return Fail(Code::kIo, "policy cache " + path + ": is a directory, expected a file");
  }
  if (read_only && std::filesystem::exists(path, fs_error) && std::filesystem::file_size(path, fs_error) == 0) {
    return Fail(Code::kIo, "policy cache " + path + ": empty file, not an LMDB database");
  }
  auto env = std::make_unique<Env>();
  if (int rc = mdb_env_create(&env->env); rc != 0) return LmdbFail(path, "create", rc);
  mdb_env_set_maxreaders(env->env, 512);
  mdb_env_set_mapsize(env->env, size_t{1} << 30);
  // MDB_NOMETASYNC: one flush per commit instead of two. The file stays
  // consistent after any crash; an OS crash may lose the last commit, which
  // for a cache only means one policy is fetched again.
  unsigned flags = MDB_NOSUBDIR | MDB_NOTLS | MDB_NOMETASYNC | (read_only ? MDB_RDONLY : 0);
  // 0664: readers such as Exim must be able to write the lock file; put them
  // in the cache's group.
  if (int rc = mdb_env_open(env->env, path.c_str(), flags, 0664); rc != 0) return LmdbFail(path, "open", rc);
  Txn txn;
  if (int rc = mdb_txn_begin(env->env, nullptr, read_only ? MDB_RDONLY : 0, &txn.txn); rc != 0) {
    return LmdbFail(path, "begin", rc);
  }
  if (int rc = mdb_dbi_open(txn.txn, nullptr, 0, &env->dbi); rc != 0) return LmdbFail(path, "open database", rc);
  if (int rc = txn.Commit(); rc != 0) return LmdbFail(path, "commit", rc);
  return std::unique_ptr<PolicyCache>(new PolicyCache(path, std::move(env)));
}

Result<std::optional<CacheEntry>> PolicyCache::Get(std::string_view domain) const {
  Reader reader(*env_);
  if (reader.rc() != 0) return LmdbFail(path_, "read", reader.rc());
  std::string key(domain);
  key += ":mxsec";
  MDB_val k = Val(key), v;
  int rc = mdb_get(reader.txn(), env_->dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<CacheEntry>();
  if (rc != 0) return LmdbFail(path_, "read " + key, rc);
  auto entry = DecodeEntry(std::string_view(static_cast<const char*>(v.mv_data), v.mv_size));
  if (!entry) return Fail(Code::kIo, "policy cache " + path_ + ": key " + key + ": " + entry.error().detail);
  return std::optional<CacheEntry>(std::move(*entry));
}

Result<std::string> PolicyCache::GetPolicyText(std::string_view domain) const {
  Reader reader(*env_);
  if (reader.rc() != 0) return LmdbFail(path_, "read", reader.rc());
  std::string key = std::string(domain) + ":policy";
  MDB_val k = Val(key), v;
  int rc = mdb_get(reader.txn(), env_->dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::string();
  if (rc != 0) return LmdbFail(path_, "read " + key, rc);
  return std::string(static_cast<const char*>(v.mv_data), v.mv_size);
}

Result<void> PolicyCache::Put(std::string_view domain, const CacheEntry& entry,
                              std::optional<std::string_view> policy_text) {
  Txn txn;
  if (int rc = mdb_txn_begin(env_->env, nullptr, 0, &txn.txn); rc != 0) return LmdbFail(path_, "write", rc);
  const std::string d(domain);
  auto put = [&](std::string_view suffix, std::string_view value) -> int {
    std::string key = d + std::string(suffix);
    MDB_val k = Val(key), v = Val(value);
    return mdb_put(txn.txn, env_->dbi, &k, &v, 0);
  };
  auto del = [&](std::string_view suffix) -> int {
    std::string key = d + std::string(suffix);
    MDB_val k = Val(key);
    int rc = mdb_del(txn.txn, env_->dbi, &k, nullptr);
    return rc == MDB_NOTFOUND ? 0 : rc;
  };
  int rc = put(":mxsec", EncodeEntry(entry));
  if (entry.HasPolicy()) {
    std::string mx;
    for (const auto& p : entry.mx) mx += (mx.empty() ? "" : ":") + p;
    if (rc == 0) rc = put(":mode", entry.mode);
    if (rc == 0) rc = put(":mx", mx);
    if (rc == 0) rc = put(":expire", std::to_string(entry.expires));
    if (rc == 0) rc = put(":id", entry.id);
    if (rc == 0) rc = entry.report.empty() ? del(":report") : put(":report", entry.report);
    if (rc == 0 && policy_text) rc = put(":policy", *policy_text);
  } else {
    for (auto suffix : kSuffixes) {
      if (rc == 0 && suffix != ":mxsec") rc = del(suffix);
    }
  }
  if (rc != 0) return LmdbFail(path_, "write " + d, rc);
  if (rc = txn.Commit(); rc != 0) return LmdbFail(path_, "commit " + d, rc);
  return {};
}

Result<void> PolicyCache::Remove(std::string_view domain) {
  Txn txn;
  if (int rc = mdb_txn_begin(env_->env, nullptr, 0, &txn.txn); rc != 0) return LmdbFail(path_, "write", rc);
  for (auto suffix : kSuffixes) {
    std::string key = std::string(domain) + std::string(suffix);
    MDB_val k = Val(key);
    int rc = mdb_del(txn.txn, env_->dbi, &k, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND) return LmdbFail(path_, "delete " + key, rc);
  }
  if (int rc = txn.Commit(); rc != 0) return LmdbFail(path_, "commit", rc);
  return {};
}

Result<std::vector<std::string>> PolicyCache::Domains() const {
  Txn txn;
  if (int rc = mdb_txn_begin(env_->env, nullptr, MDB_RDONLY, &txn.txn); rc != 0) return LmdbFail(path_, "read", rc);
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn.txn, env_->dbi, &cursor); rc != 0) return LmdbFail(path_, "cursor", rc);
  std::unique_ptr<MDB_cursor, decltype(&mdb_cursor_close)> owned(cursor, &mdb_cursor_close);
  std::vector<std::string> domains;
  MDB_val k, v;
  constexpr std::string_view kTag = ":mxsec";
  for (int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    std::string_view key(static_cast<const char*>(k.mv_data), k.mv_size);
    if (key.size() > kTag.size() && key.substr(key.size() - kTag.size()) == kTag) {
      domains.emplace_back(key.substr(0, key.size() - kTag.size()));
    }
  }
  // LMDB orders whole keys bytewise, and ':' sorts after '.', so "a.b.c:mxsec"
  // comes before "a.b:mxsec"; sort the domain names themselves.
  std::sort(domains.begin(), domains.end());
  return domains;
}

}  // namespace mxsec::store
