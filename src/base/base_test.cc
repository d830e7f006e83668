// Tests for src/base: domain names, DNS server spelling, time, logging and
// the YAML configuration loader.

#include "base/base.h"
#include "testing/table.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <ostream>
#include <set>
#include <string>
#include <string_view>

namespace mxsec {
namespace {

using test::CaseName;

using std::chrono::milliseconds;
using std::chrono::seconds;

// ---- CodeName ------------------------------------------------------------------------

TEST(CodeNameTest, StableDistinctLowerCase) {
  EXPECT_EQ(CodeName(Code::kTempFail), "temp-fail");
  const Code all[] = {Code::kNotFound, Code::kTempFail, Code::kSyntax,          Code::kPermFail, Code::kBogus,
                      Code::kInsecure, Code::kIo,       Code::kInvalidArgument, Code::kInternal};
  std::set<std::string_view> seen;
  for (Code c : all) {
    std::string_view name = CodeName(c);
    EXPECT_FALSE(name.empty());
    for (char ch : name) EXPECT_TRUE((ch >= 'a' && ch <= 'z') || ch == '-') << name;
    EXPECT_TRUE(seen.insert(name).second) << "duplicate " << name;
  }
}

TEST(FailTest, BuildsUnexpected) {
  Result<int> r = Fail(Code::kIo, "cannot open x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kIo);
  EXPECT_EQ(r.error().detail, "cannot open x");
}

// ---- NormalizeDomain -----------------------------------------------------------------

std::string Label(size_t n, char c = 'a') { return std::string(n, c); }
// 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 octets.
const std::string kName253 = Label(63) + "." + Label(63, 'b') + "." + Label(63, 'c') + "." + Label(61, 'd');
const std::string kName254 = Label(63) + "." + Label(63, 'b') + "." + Label(63, 'c') + "." + Label(62, 'd');

struct GoodDomainCase {
  const char* name;
  std::string input;
  std::string want;
};

void PrintTo(const GoodDomainCase& c, std::ostream* os) { *os << c.name << " \"" << c.input << '"'; }

const GoodDomainCase kGoodDomains[] = {
    {"AlreadyCanonical", "example.com", "example.com"},
    {"UpperCase", "EXAMPLE.COM", "example.com"},
    {"MixedCase", "Mail.Example.Com", "mail.example.com"},
    {"TrailingDot", "example.com.", "example.com"},
    {"UpperCaseTrailingDot", "MX.Example.COM.", "mx.example.com"},
    {"SingleLabel", "localhost", "localhost"},
    {"DigitsAndHyphens", "mx-01.4example.net", "mx-01.4example.net"},
    {"ULabel", "b\u00fccher.example", "xn--bcher-kva.example"},
    {"ULabelSubdomain", "mta-sts.b\u00fccher.example", "mta-sts.xn--bcher-kva.example"},
    {"ALabelKept", "xn--bcher-kva.example", "xn--bcher-kva.example"},
    {"ALabelUpperCase", "XN--BCHER-KVA.EXAMPLE", "xn--bcher-kva.example"},
    {"Label63", Label(63) + ".com", Label(63) + ".com"},
    {"Name253", kName253, kName253},
    {"Name253TrailingDot", kName253 + ".", kName253},
};

class NormalizeDomainGoodTest : public testing::TestWithParam<GoodDomainCase> {};

TEST_P(NormalizeDomainGoodTest, Normalizes) {
  const GoodDomainCase& c = GetParam();
  Result<std::string> r = NormalizeDomain(c.input);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(*r, c.want);
  // Idempotent.
  Result<std::string> again = NormalizeDomain(*r);
  ASSERT_TRUE(again) << again.error().detail;
  EXPECT_EQ(*again, *r);
}

INSTANTIATE_TEST_SUITE_P(Base, NormalizeDomainGoodTest, testing::ValuesIn(kGoodDomains), CaseName());

struct BadDomainCase {
  const char* name;
  std::string input;
};

void PrintTo(const BadDomainCase& c, std::ostream* os) { *os << c.name << " \"" << c.input << '"'; }

const BadDomainCase kBadDomains[] = {
    {"Empty", ""},
    {"OnlyDot", "."},
    {"TwoTrailingDots", "example.com.."},
    {"EmptyLabel", "a..b"},
    {"LeadingDot", ".example.com"},
    {"LeadingHyphen", "-a.com"},
    {"TrailingHyphen", "a-.com"},
    {"Underscore", "_mta-sts.example.com"},
    {"UnderscoreInside", "a_b.example.com"},
    {"Space", "exa mple.com"},
    {"Label64", Label(64) + ".com"},
    {"Name254", kName254},
    {"Wildcard", "*.example.com"},
    {"Slash", "example.com/x"},
    {"At", "user@example.com"},
    {"Colon", "example.com:25"},
    {"InvalidUtf8", "\xFF\xFE.example"},
};

class NormalizeDomainBadTest : public testing::TestWithParam<BadDomainCase> {};

TEST_P(NormalizeDomainBadTest, Rejects) {
  const BadDomainCase& c = GetParam();
  Result<std::string> r = NormalizeDomain(c.input);
  ASSERT_FALSE(r) << "normalized to " << *r;
  EXPECT_EQ(r.error().code, Code::kInvalidArgument) << CodeName(r.error().code);
  EXPECT_FALSE(r.error().detail.empty());
  EXPECT_EQ(r.error().detail.find('\n'), std::string::npos) << "detail is one line";
}

INSTANTIATE_TEST_SUITE_P(Base, NormalizeDomainBadTest, testing::ValuesIn(kBadDomains), CaseName());

// ---- FoldDomain ------------------------------------------------------------------------

struct FoldCase {
  const char* name;
  std::string input;
  std::string want;
};

void PrintTo(const FoldCase& c, std::ostream* os) { *os << c.name << " \"" << c.input << '"'; }

const FoldCase kFoldCases[] = {
    {"LowerCase", "mail.example.com", "mail.example.com"},
    {"UpperCase", "MAIL.EXAMPLE.COM", "mail.example.com"},
    {"TrailingDot", "Mail.Example.COM.", "mail.example.com"},
    {"Empty", "", ""},
    {"OnlyDot", ".", ""},
    {"NoValidation", "A..B_c", "a..b_c"},
    {"WildcardKept", "*.Example.NET.", "*.example.net"},
    {"NonAsciiUntouched", "\u00c4B.c", "\u00c4b.c"},
};

class FoldDomainTest : public testing::TestWithParam<FoldCase> {};

TEST_P(FoldDomainTest, Folds) {
  const FoldCase& c = GetParam();
  EXPECT_EQ(FoldDomain(c.input), c.want);
}

INSTANTIATE_TEST_SUITE_P(Base, FoldDomainTest, testing::ValuesIn(kFoldCases), CaseName());

// ---- ParseDnsServer ------------------------------------------------------------------

struct DnsServerCase {
  const char* name;
  std::string input;
  bool ok;
  std::string want;
};

void PrintTo(const DnsServerCase& c, std::ostream* os) { *os << c.name << " \"" << c.input << '"'; }

const DnsServerCase kDnsServers[] = {
    {"Ipv4", "127.0.0.1", true, "127.0.0.1"},
    {"Ipv4Port", "127.0.0.1@5353", true, "127.0.0.1@5353"},
    {"Ipv4Port53", "9.9.9.9@53", true, "9.9.9.9@53"},
    {"Ipv4MaxPort", "127.0.0.1@65535", true, "127.0.0.1@65535"},
    {"Ipv6Loopback", "::1", true, "::1"},
    {"Ipv6LoopbackPort", "::1@53", true, "::1@53"},
    {"Ipv6Full", "2001:db8::53", true, "2001:db8::53"},
    {"Ipv6FullPort", "2001:db8::53@853", true, "2001:db8::53@853"},
    {"Empty", "", false, ""},
    {"Hostname", "dns.google", false, ""},
    {"Localhost", "localhost", false, ""},
    {"HostnamePort", "dns.google@53", false, ""},
    {"EmptyPort", "127.0.0.1@", false, ""},
    {"PortZero", "127.0.0.1@0", false, ""},
    {"PortTooLarge", "127.0.0.1@65536", false, ""},
    {"PortNotNumber", "127.0.0.1@dns", false, ""},
    {"PortNegative", "127.0.0.1@-53", false, ""},
    {"PortTrailingGarbage", "127.0.0.1@53x", false, ""},
    {"ColonPort", "127.0.0.1:53", false, ""},
    {"BracketedIpv6Port", "[::1]:53", false, ""},
    {"Ipv4OctetTooLarge", "256.1.1.1", false, ""},
    {"Ipv4TooShort", "127.0.0", false, ""},
    {"EmptyAddress", "@53", false, ""},
};

class ParseDnsServerTest : public testing::TestWithParam<DnsServerCase> {};

TEST_P(ParseDnsServerTest, Parses) {
  const DnsServerCase& c = GetParam();
  Result<std::string> r = ParseDnsServer(c.input);
  if (c.ok) {
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(*r, c.want);
  } else {
    ASSERT_FALSE(r) << "accepted as " << *r;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument) << CodeName(r.error().code);
    EXPECT_FALSE(r.error().detail.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(Base, ParseDnsServerTest, testing::ValuesIn(kDnsServers), CaseName());

// ---- Time ------------------------------------------------------------------------------

struct TimeCase {
  const char* name;
  int64_t unix_seconds;
  std::string rfc3339;
};

void PrintTo(const TimeCase& c, std::ostream* os) { *os << c.name << ' ' << c.unix_seconds; }

const TimeCase kTimeCases[] = {
    {"Epoch", 0, "1970-01-01T00:00:00Z"},
    {"BeforeEpoch", -1, "1969-12-31T23:59:59Z"},
    {"LeapDay2000", 951782400, "2000-02-29T00:00:00Z"},
    {"Billennium", 1000000000, "2001-09-09T01:46:40Z"},
    {"HeaderExample", 1795316082, "2026-11-22T02:54:42Z"},
    {"After2038", 4102444800, "2100-01-01T00:00:00Z"},
};

class TimeTest : public testing::TestWithParam<TimeCase> {};

TEST_P(TimeTest, FormatsAndRoundTrips) {
  const TimeCase& c = GetParam();
  SystemTime t = FromUnix(c.unix_seconds);
  EXPECT_EQ(ToUnix(t), c.unix_seconds);
  EXPECT_EQ(FormatRfc3339(t), c.rfc3339);
  EXPECT_EQ(t, SystemTime(seconds(c.unix_seconds)));
}

INSTANTIATE_TEST_SUITE_P(Base, TimeTest, testing::ValuesIn(kTimeCases), CaseName());

TEST(TimeTest, SubSecondsTruncated) {
  SystemTime t = FromUnix(1000000000) + milliseconds(999);
  EXPECT_EQ(ToUnix(t), 1000000000);
  EXPECT_EQ(FormatRfc3339(t), "2001-09-09T01:46:40Z");
}

TEST(TimeTest, SystemClockIsNow) {
  const int64_t before = ToUnix(std::chrono::system_clock::now());
  const int64_t now = ToUnix(SystemClock().Now());
  const int64_t after = ToUnix(std::chrono::system_clock::now());
  EXPECT_LE(before, now);
  EXPECT_LE(now, after);
  EXPECT_EQ(&SystemClock(), &SystemClock());
}

// ---- Logging ---------------------------------------------------------------------------

TEST(LogTest, LevelsAndFormat) {
  ConfigureLogging(LogLevel::kInfo, false);
  EXPECT_TRUE(LogEnabled(LogLevel::kError));
  EXPECT_TRUE(LogEnabled(LogLevel::kInfo));
  EXPECT_FALSE(LogEnabled(LogLevel::kDebug));

  testing::internal::CaptureStderr();
  Log(LogLevel::kInfo, "written line");
  Log(LogLevel::kDebug, "dropped line");
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err.rfind("mxsec: ", 0), 0u) << err;
  EXPECT_NE(err.find("written line"), std::string::npos) << err;
  EXPECT_EQ(err.find("dropped line"), std::string::npos) << err;

  ConfigureLogging(LogLevel::kWarning, false);  // the default
  EXPECT_TRUE(LogEnabled(LogLevel::kWarning));
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
}

// ---- Config ----------------------------------------------------------------------------

TEST(ConfigTest, Defaults) {
  Config c;
  EXPECT_EQ(c.data_dir, "./var");
  EXPECT_EQ(c.cache_file, "");
  EXPECT_TRUE(c.dns_servers.empty());
  EXPECT_EQ(c.trust_anchor, "/usr/share/dns/root.key");
  EXPECT_EQ(c.ca_file, "");
  EXPECT_EQ(c.timeout, milliseconds(10000));
  EXPECT_EQ(c.log_level, LogLevel::kWarning);
  EXPECT_FALSE(c.syslog);
  EXPECT_EQ(c.CacheFile(), "./var/mtasts.lmdb");
  c.data_dir = "/srv/mxsec";
  EXPECT_EQ(c.CacheFile(), "/srv/mxsec/mtasts.lmdb");
  c.cache_file = "/tmp/other.lmdb";
  EXPECT_EQ(c.CacheFile(), "/tmp/other.lmdb");
}

class LoadConfigTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = testing::TempDir() + "mxsec_config_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const std::string& f : files_) unlink(f.c_str());
    rmdir(dir_.c_str());
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    files_.push_back(path);
    return path;
  }

  std::string dir_;
  std::vector<std::string> files_;
};

TEST_F(LoadConfigTest, AllKeys) {
  const std::string path = Write("all.yaml",
                                 "data_dir: /srv/mxsec\n"
                                 "cache: /srv/mxsec/cache.lmdb\n"
                                 "dns_servers:\n"
                                 "  - 127.0.0.1\n"
                                 "  - \"::1@5353\"\n"
                                 "trust_anchor: /etc/unbound/root.key\n"
                                 "ca_file: /etc/ssl/test-ca.pem\n"
                                 "timeout: 2.5\n"
                                 "log_level: debug\n"
                                 "syslog: true\n");
  Result<Config> c = LoadConfig(path);
  ASSERT_TRUE(c) << c.error().detail;
  EXPECT_EQ(c->data_dir, "/srv/mxsec");
  EXPECT_EQ(c->cache_file, "/srv/mxsec/cache.lmdb");
  EXPECT_EQ(c->CacheFile(), "/srv/mxsec/cache.lmdb");
  EXPECT_EQ(c->dns_servers, (std::vector<std::string>{"127.0.0.1", "::1@5353"}));
  EXPECT_EQ(c->trust_anchor, "/etc/unbound/root.key");
  EXPECT_EQ(c->ca_file, "/etc/ssl/test-ca.pem");
  EXPECT_EQ(c->timeout, milliseconds(2500));
  EXPECT_EQ(c->log_level, LogLevel::kDebug);
  EXPECT_TRUE(c->syslog);
}

TEST_F(LoadConfigTest, PolicyList) {
  Result<Config> c = LoadConfig(Write("list.yaml",
                                      "policy_list:\n"
                                      "  enabled: true\n"
                                      "  url: https://mirror.example.net/policy.json\n"
                                      "  signature_url: /srv/lists/policy.json.asc\n"
                                      "  keyring: /etc/mxsec/key.asc\n"
                                      "  fingerprint: b693 f333 72e9 65d7 6d55 3686 16ee a65d 0332 6c9d\n"
                                      "  refresh: 3600\n"));
  ASSERT_TRUE(c) << c.error().detail;
  EXPECT_EQ(c->policy_list.url, "https://mirror.example.net/policy.json");
  EXPECT_EQ(c->policy_list.signature_url, "/srv/lists/policy.json.asc");
  EXPECT_EQ(c->policy_list.keyring, "/etc/mxsec/key.asc");
  EXPECT_EQ(c->policy_list.refresh, std::chrono::seconds(3600));
  EXPECT_EQ(Config{}.policy_list.fingerprint, kEffListFingerprint);

  const std::pair<const char*, const char*> bad[] = {
      {"  url: http://dl.eff.org/starttls-everywhere/policy.json\n", "https:// URL or an absolute path"},
      {"  url: policy.json\n", "https:// URL or an absolute path"},
      {"  fingerprint: 842AEA40C5BCD6E1\n", "full key fingerprint"},
      {"  fingerprint: B693F33372E965D76D55368616EEA65D03326C9G\n", "full key fingerprint"},
      {"  refresh: 30\n", "refresh must be 0"},
      {"  colour: blue\n", "unknown key"},
  };
  for (const auto& [line, want] : bad) {
    Result<Config> r = LoadConfig(Write("bad.yaml", std::string("policy_list:\n") + line));
    ASSERT_FALSE(r) << line;
    EXPECT_NE(r.error().detail.find(want), std::string::npos) << r.error().detail;
    EXPECT_NE(r.error().detail.find("bad.yaml:2"), std::string::npos) << r.error().detail;
  }
}

TEST(NormalizeFingerprint, AcceptsFullFingerprintsOnly) {
  EXPECT_EQ(*NormalizeFingerprint("b693 f333 72e9 65d7 6d55  3686 16ee a65d 0332 6c9d"),
            "B693F33372E965D76D55368616EEA65D03326C9D");
  EXPECT_EQ(NormalizeFingerprint(std::string(64, 'a'))->size(), 64u);
  EXPECT_EQ(NormalizeFingerprint("842AEA40C5BCD6E1").error().code, Code::kInvalidArgument);  // a key ID
  EXPECT_EQ(NormalizeFingerprint("").error().code, Code::kInvalidArgument);
  EXPECT_EQ(NormalizeFingerprint("B693F33372E965D76D55368616EEA65D03326C9Z").error().code, Code::kInvalidArgument);
}

TEST_F(LoadConfigTest, LogLevels) {
  const std::pair<const char*, LogLevel> levels[] = {{"error", LogLevel::kError},
                                                     {"warning", LogLevel::kWarning},
                                                     {"info", LogLevel::kInfo},
                                                     {"debug", LogLevel::kDebug}};
  for (const auto& [text, level] : levels) {
    Config base;
    base.log_level = level == LogLevel::kDebug ? LogLevel::kError : LogLevel::kDebug;
    Result<Config> c =
        LoadConfig(Write(std::string("level-") + text + ".yaml", std::string("log_level: ") + text + "\n"), base);
    ASSERT_TRUE(c) << text << ": " << c.error().detail;
    EXPECT_EQ(c->log_level, level) << text;
  }
}

TEST_F(LoadConfigTest, KeepsBaseForUnsetKeys) {
  Config base;
  base.data_dir = "/base";
  base.ca_file = "/base/ca.pem";
  base.dns_servers = {"192.0.2.1"};
  Result<Config> c = LoadConfig(Write("partial.yaml", "syslog: true\ntimeout: 3\n"), base);
  ASSERT_TRUE(c) << c.error().detail;
  EXPECT_EQ(c->data_dir, "/base");
  EXPECT_EQ(c->ca_file, "/base/ca.pem");
  EXPECT_EQ(c->dns_servers, std::vector<std::string>{"192.0.2.1"});
  EXPECT_TRUE(c->syslog);
  EXPECT_EQ(c->timeout, milliseconds(3000));
}

TEST_F(LoadConfigTest, EmptyFileKeepsBase) {
  Config base;
  base.data_dir = "/base";
  Result<Config> c = LoadConfig(Write("empty.yaml", ""), base);
  ASSERT_TRUE(c) << c.error().detail;
  EXPECT_EQ(c->data_dir, "/base");
  EXPECT_EQ(c->timeout, milliseconds(10000));
}

TEST_F(LoadConfigTest, MissingFileIsIo) {
  const std::string path = dir_ + "/does-not-exist.yaml";
  Result<Config> c = LoadConfig(path);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Code::kIo) << CodeName(c.error().code);
  EXPECT_NE(c.error().detail.find(path), std::string::npos) << c.error().detail;
}

TEST_F(LoadConfigTest, UnknownKeyNamesFileLineAndKey) {
  const std::string path = Write("unknown.yaml", "data_dir: /srv/mxsec\ndata_dri: /oops\nsyslog: true\n");
  Result<Config> c = LoadConfig(path);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Code::kInvalidArgument) << CodeName(c.error().code);
  const std::string& d = c.error().detail;
  EXPECT_NE(d.find(path), std::string::npos) << d;
  EXPECT_NE(d.find(":2"), std::string::npos) << d;
  EXPECT_NE(d.find("data_dri"), std::string::npos) << d;
}

// Wrong types: the header promises file, line and key in the detail. The
// line may be the key's or, for a block value, the value's first line.
struct BadConfigCase {
  const char* name;
  std::string yaml;
  const char* key;
  int key_line;
  int value_line;
};

void PrintTo(const BadConfigCase& c, std::ostream* os) { *os << c.name << " \"" << c.yaml << '"'; }

const BadConfigCase kBadConfigs[] = {
    {"SyslogNotBool", "data_dir: /x\nsyslog: maybe\n", "syslog", 2, 2},
    {"SyslogList", "syslog:\n  - true\n", "syslog", 1, 2},
    {"TimeoutNotNumber", "timeout: fast\n", "timeout", 1, 1},
    {"TimeoutNegative", "data_dir: /x\ntimeout: -1\n", "timeout", 2, 2},
    {"TimeoutZero", "timeout: 0\n", "timeout", 1, 1},
    {"LogLevelUnknown", "log_level: loud\n", "log_level", 1, 1},
    {"DnsServersScalar", "dns_servers: 127.0.0.1\n", "dns_servers", 1, 1},
    {"DnsServersMap", "dns_servers:\n  primary: 127.0.0.1\n", "dns_servers", 1, 2},
    {"DataDirList", "data_dir:\n  - a\n  - b\n", "data_dir", 1, 2},
    {"CaFileMap", "ca_file:\n  path: /x\n", "ca_file", 1, 2},
};

class LoadConfigBadTest : public LoadConfigTest, public testing::WithParamInterface<BadConfigCase> {};

TEST_P(LoadConfigBadTest, Rejects) {
  const BadConfigCase& c = GetParam();
  const std::string path = Write("bad.yaml", c.yaml);
  Result<Config> r = LoadConfig(path);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument) << CodeName(r.error().code);
  const std::string& d = r.error().detail;
  const bool key_line = d.find(path + ":" + std::to_string(c.key_line)) != std::string::npos;
  const bool value_line = d.find(path + ":" + std::to_string(c.value_line)) != std::string::npos;
  EXPECT_TRUE(key_line || value_line) << d;
  EXPECT_NE(d.find(c.key), std::string::npos) << d;
}

INSTANTIATE_TEST_SUITE_P(Base, LoadConfigBadTest, testing::ValuesIn(kBadConfigs), CaseName());

TEST_F(LoadConfigTest, BadDnsServerEntry) {
  const std::string path = Write("dns.yaml", "dns_servers:\n  - 127.0.0.1\n  - dns.google\n");
  Result<Config> c = LoadConfig(path);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Code::kInvalidArgument);
  EXPECT_NE(c.error().detail.find(path), std::string::npos) << c.error().detail;
  EXPECT_NE(c.error().detail.find("dns.google"), std::string::npos) << c.error().detail;
}

TEST_F(LoadConfigTest, TopLevelNotMapping) {
  const std::string path = Write("list.yaml", "- data_dir\n- syslog\n");
  Result<Config> c = LoadConfig(path);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Code::kInvalidArgument);
  EXPECT_NE(c.error().detail.find(path), std::string::npos) << c.error().detail;
}

TEST_F(LoadConfigTest, MalformedYaml) {
  const std::string path = Write("broken.yaml", "data_dir: /x\nsyslog: [true\n");
  Result<Config> c = LoadConfig(path);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().code, Code::kIo);
  EXPECT_NE(c.error().detail.find(path), std::string::npos) << c.error().detail;
}

}  // namespace
}  // namespace mxsec
