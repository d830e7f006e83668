// The checker's status rules, driven through fake DNS, SMTP and HTTPS with
// certificates made at test time.
#include <gtest/gtest.h>

#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>

#include "check/check.h"
#include "dane/dane.h"
#include "testing/certs.h"
#include "testing/fakes.h"
#include "testing/table.h"

namespace mxsec::check {
namespace {

using test::DetailMatches;
using Security = dns::Security;

class CheckTest : public testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir.path() + "/ca.pem") << ca.Pem();
    auto store = TrustStore::Load(dir.path() + "/ca.pem");
    ASSERT_TRUE(store) << store.error().detail;
    trust = *store;
  }

  std::unique_ptr<Checker> MakeChecker(CheckOptions options = {}) {
    options.connect_timeout = std::chrono::milliseconds(2000);
    return std::make_unique<Checker>(resolver, smtp, https, trust, options, clock);
  }

  // A host that answers with STARTTLS, TLS 1.3 and `chain`.
  void Serve(const std::string& address, std::vector<std::string> chain, std::string version = "TLSv1.3") {
    net::SmtpProbeResult r;
    r.connected = true;
    r.banner = "220 mx ESMTP";
    r.extensions = {"PIPELINING", "STARTTLS"};
    r.starttls_offered = true;
    r.tls = true;
    r.tls_version = std::move(version);
    r.cipher = "TLS_AES_256_GCM_SHA384";
    r.key_exchange = "X25519";
    r.peer_chain = std::move(chain);
    smtp.Set(address, r);
  }
  void ServeNoStarttls(const std::string& address) {
    net::SmtpProbeResult r;
    r.connected = true;
    r.banner = "220 mx ESMTP";
    r.extensions = {"PIPELINING"};
    smtp.Set(address, r);
  }
  // domain MX 10 host, host A address, all DNSSEC-secure.
  void Domain(const std::string& domain, const std::string& host, const std::string& address,
              Security security = Security::kSecure) {
    resolver.SetMx(domain, {{10, host}}, security);
    resolver.SetA(host, {address}, security);
  }
  std::vector<std::string> Chain(const std::string& host) { return {test::MakeLeaf(ca, {host}).der, ca.der}; }
  void Policy(const std::string& domain, const std::string& mode, const std::string& mx) {
    resolver.SetTxt("_mta-sts." + domain, {"v=STSv1; id=p1;"}, Security::kSecure);
    https.SetBody("mta-sts." + domain, "version: STSv1\nmode: " + mode + "\nmx: " + mx + "\nmax_age: 86400\n");
  }
  static bool HasFinding(const DomainResult& d, Status status, std::string_view words) {
    auto match = [&](const std::vector<Finding>& findings) {
      for (const auto& f : findings) {
        if (f.status == status && DetailMatches(f.message + " " + f.hint, words)) return true;
      }
      return false;
    };
    if (match(d.findings)) return true;
    for (const auto& m : d.mx) {
      if (match(m.findings)) return true;
      for (const auto& a : m.results) {
        if (match(a.findings)) return true;
      }
    }
    return false;
  }
  static std::string Dump(const DomainResult& d) { return ToText(d, false); }

  test::ScopedTempDir dir;
  test::TestCert ca = test::MakeCa("Check Test CA");
  std::shared_ptr<TrustStore> trust;
  test::FakeResolver resolver;
  test::FakeSmtpProber smtp;
  test::FakeHttpsClient https;
  test::FakeClock clock{static_cast<int64_t>(std::time(nullptr))};
};

TEST_F(CheckTest, ValidHostWithMtaStsIsSuccess) {
  Domain("example.com", "mx.example.com", "192.0.2.1");
  Serve("192.0.2.1", Chain("mx.example.com"));
  Policy("example.com", "enforce", "mx.example.com");
  resolver.SetTxt("_smtp._tls.example.com", {"v=TLSRPTv1; rua=mailto:tlsrpt@example.com"});
  auto d = MakeChecker()->Check("Example.COM.");
  EXPECT_EQ(d.status, Status::kSuccess) << Dump(d);
  EXPECT_EQ(d.domain, "example.com");
  EXPECT_EQ(d.mx_dnssec, "secure");
  ASSERT_EQ(d.mx.size(), 1u);
  const auto& a = d.mx[0].results.at(0);
  EXPECT_TRUE(a.certificate.pkix_valid);
  EXPECT_TRUE(a.certificate.matches_hostname);
  EXPECT_GE(a.certificate.days_left, 364);
  EXPECT_EQ(a.certificate.key_type, "EC");
  EXPECT_EQ(a.certificate.key_bits, 256);
  EXPECT_EQ(a.tls.version, "TLSv1.3");
  EXPECT_EQ(a.tls.tls10_accepted, false);
  EXPECT_EQ(a.tls.tls11_accepted, false);
  EXPECT_TRUE(d.mta_sts.valid);
  EXPECT_TRUE(d.mta_sts.mx_ok);
  EXPECT_EQ(d.mta_sts.mode, "enforce");
  EXPECT_TRUE(d.mx[0].policy_match);
  EXPECT_TRUE(d.tlsrpt.valid);
  EXPECT_EQ(d.tlsrpt.rua, std::vector<std::string>{"mailto:tlsrpt@example.com"});
  // The session itself, then TLS 1.0 only and TLS 1.1 only.
  auto requests = smtp.Requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].server_name, "mx.example.com");
  EXPECT_EQ(requests[1].max_version, net::TlsVersion::kTls10);
  EXPECT_EQ(requests[2].max_version, net::TlsVersion::kTls11);
}

TEST_F(CheckTest, WithoutMtaStsOrDaneItWarns) {
  Domain("example.com", "mx.example.com", "192.0.2.1");
  Serve("192.0.2.1", Chain("mx.example.com"));
  auto d = MakeChecker()->Check("example.com");
  EXPECT_EQ(d.status, Status::kWarning) << Dump(d);
  EXPECT_TRUE(HasFinding(d, Status::kWarning, "neither MTA-STS nor DANE")) << Dump(d);
}

TEST_F(CheckTest, TheMostPreferredHostsThatAnswerDecide) {
  resolver.SetMx("example.com", {{10, "a.example.com"}, {20, "b.example.com"}, {30, "c.example.com"}},
                 Security::kSecure);
  resolver.SetA("a.example.com", {"192.0.2.1"});  // nothing listens
  resolver.SetA("b.example.com", {"192.0.2.2"});
  resolver.SetA("c.example.com", {"192.0.2.3"});
  Serve("192.0.2.2", Chain("b.example.com"));
  ServeNoStarttls("192.0.2.3");
  Policy("example.com", "enforce", "*.example.com");
  auto d = MakeChecker()->Check("example.com");
  ASSERT_EQ(d.mx.size(), 3u);
  EXPECT_EQ(d.mx[0].status, Status::kError);
  EXPECT_EQ(d.mx[1].status, Status::kSuccess);
  EXPECT_EQ(d.mx[2].status, Status::kFailure);
  // b decides: a did not answer, c is less preferred.
  EXPECT_EQ(d.status, Status::kSuccess) << Dump(d);
  EXPECT_FALSE(d.mta_sts.mx_ok);  // c would be refused by MTA-STS senders
}

TEST_F(CheckTest, AFailingPrimaryFailsTheDomainWhateverTheBackup) {
  resolver.SetMx("example.com", {{20, "b.example.com"}, {10, "a.example.com"}}, Security::kSecure);
  resolver.SetA("a.example.com", {"192.0.2.1"});
  resolver.SetA("b.example.com", {"192.0.2.2"});
  ServeNoStarttls("192.0.2.1");
  Serve("192.0.2.2", Chain("b.example.com"));
  auto d = MakeChecker()->Check("example.com");
  EXPECT_EQ(d.mx[0].hostname, "a.example.com");  // sorted by preference
  EXPECT_EQ(d.status, Status::kFailure) << Dump(d);
  EXPECT_TRUE(HasFinding(d, Status::kFailure, "STARTTLS is not offered"));
}

TEST_F(CheckTest, NoHostAnsweringIsAnError) {
  Domain("example.com", "mx.example.com", "192.0.2.1");
  auto d = MakeChecker()->Check("example.com");
  EXPECT_EQ(d.status, Status::kError) << Dump(d);
  EXPECT_TRUE(HasFinding(d, Status::kError, "Connection refused"));
}

TEST_F(CheckTest, NullMxAcceptsNoMailAndIsNotProbed) {
  resolver.SetMx("example.com", {{0, ""}}, Security::kSecure);
  auto d = MakeChecker()->Check("example.com");
  EXPECT_TRUE(d.null_mx);
  EXPECT_TRUE(d.mx.empty());
  EXPECT_EQ(d.status, Status::kSuccess) << Dump(d);
  EXPECT_TRUE(smtp.Requests().empty());
}

TEST_F(CheckTest, NoMxFallsBackToTheDomainsAddress) {
  resolver.SetA("example.com", {"192.0.2.1"}, Security::kSecure);
  Serve("192.0.2.1", Chain("example.com"));
  auto d = MakeChecker()->Check("example.com");
  ASSERT_EQ(d.mx.size(), 1u) << Dump(d);
  EXPECT_TRUE(d.mx[0].implicit);
  EXPECT_EQ(d.mx[0].hostname, "example.com");
  EXPECT_TRUE(d.mx[0].results.at(0).certificate.matches_hostname);
}

TEST_F(CheckTest, DnsFailuresOfTheMxLookup) {
  resolver.SetError("temp.example", test::FakeResolver::Type::kMx, Code::kTempFail);
  resolver.SetError("bogus.example", test::FakeResolver::Type::kMx, Code::kBogus);
  auto checker = MakeChecker();
  EXPECT_EQ(checker->Check("temp.example").status, Status::kError);
  auto bogus = checker->Check("bogus.example");
  EXPECT_EQ(bogus.status, Status::kFailure);
  EXPECT_EQ(bogus.mx_dnssec, "bogus");
  EXPECT_EQ(checker->Check("not a domain!").status, Status::kError);
}

TEST_F(CheckTest, MxHostWithoutAddressFails) {
  resolver.SetMx("example.com", {{10, "gone.example.com"}}, Security::kSecure);
  auto d = MakeChecker()->Check("example.com");
  EXPECT_TRUE(HasFinding(d, Status::kFailure, "no A or AAAA")) << Dump(d);
}

TEST_F(CheckTest, DaneEeMatchesAndSavesASelfSignedCertificate) {
  auto self = test::MakeCert({"mx.example.com", {"mx.example.com"}}, nullptr);
  Domain("example.com", "mx.example.com", "192.0.2.1");
  Serve("192.0.2.1", {self.der});
  resolver.SetTlsa("_25._tcp.mx.example.com", {{3, 1, 1, test::Sha256(test::SpkiDer(self))}}, Security::kSecure);
  auto d = MakeChecker()->Check("example.com");
  const auto& a = d.mx.at(0).results.at(0);
  EXPECT_TRUE(a.dane.valid) << Dump(d);
  EXPECT_EQ(a.dane.matched.substr(0, 6), "3 1 1 ");
  EXPECT_TRUE(d.mx[0].dane.valid);
  EXPECT_FALSE(a.certificate.pkix_valid);
  // Fine for DANE senders, not for PKIX ones: a warning, not a failure.
  EXPECT_EQ(d.status, Status::kWarning) << Dump(d);
  EXPECT_TRUE(HasFinding(d, Status::kWarning, "self-signed&DANE senders are fine"));
}

TEST_F(CheckTest, StaleTlsaFails) {
  Domain("example.com", "mx.example.com", "192.0.2.1");
  Serve("192.0.2.1", Chain("mx.example.com"));
  auto other = test::MakeLeaf(ca, {"mx.example.com"});
  resolver.SetTlsa("_25._tcp.mx.example.com", {{3, 1, 1, test::Sha256(test::SpkiDer(other))}}, Security::kSecure);
  auto d = MakeChecker()->Check("example.com");
  EXPECT_EQ(d.status, Status::kFailure) << Dump(d);
  EXPECT_TRUE(HasFinding(d, Status::kFailure, "TLSA 3 1 1&does not match the served&publish the new hash before rotating"))
      << Dump(d);
}

TEST_F(CheckTest, BogusOrFailedTlsaLookupsFail) {
  Domain("example.com", "mx.example.com", "192.0.2.1");
  Serve("192.0.2.1", Chain("mx.example.com"));
  Policy("example.com", "enforce", "mx.example.com");
  resolver.SetError("_25._tcp.mx.example.com", test::FakeResolver::Type::kTlsa, Code::kBogus);
  auto d = MakeChecker()->Check("example.com");
  EXPECT_EQ(d.status, Status::kFailure) << Dump(d);
  EXPECT_EQ(d.mx[0].dane.dnssec, "bogus");
  EXPECT_TRUE(HasFinding(d, Status::kFailure, "TLSA lookup is DNSSEC-bogus"));

  resolver.SetError("_25._tcp.mx.example.com", test::FakeResolver::Type::kTlsa, Code::kTempFail);
  auto temp = MakeChecker()->Check("example.com");
  EXPECT_EQ(temp.status, Status::kFailure) << Dump(temp);
  EXPECT_TRUE(HasFinding(temp, Status::kFailure, "TLSA lookup failed&defer"));
}

TEST_F(CheckTest, TlsaInAnInsecureZoneIsIgnored) {
  Domain("example.com", "mx.example.com", "192.0.2.1", Security::kInsecure);
  auto self = test::MakeCert({"mx.example.com", {"mx.example.com"}}, nullptr);
  Serve("192.0.2.1", {self.der});
  resolver.SetTlsa("_25._tcp.mx.example.com", {{3, 1, 1, test::Sha256(test::SpkiDer(self))}}, Security::kInsecure);
  auto d = MakeChecker()->Check("example.com");
  EXPECT_FALSE(d.mx.at(0).results.at(0).dane.valid);
  EXPECT_EQ(d.mx[0].dane.dnssec, "insecure");
  EXPECT_TRUE(HasFinding(d, Status::kWarning, "insecure&ignored")) << Dump(d);
  EXPECT_EQ(d.status, Status::kFailure);  // the self-signed certificate is no longer excused
}

TEST_F(CheckTest, MtaStsModesAndMismatches) {
  Domain("enforce.example", "mx.enforce.example", "192.0.2.1");
  Serve("192.0.2.1", Chain("mx.enforce.example"));
  Policy("enforce.example", "enforce", "mx.elsewhere.example");
  Domain("testing.example", "mx.testing.example", "192.0.2.2");
  Serve("192.0.2.2", Chain("mx.testing.example"));
  Policy("testing.example", "testing", "mx.elsewhere.example");
  auto checker = MakeChecker();
  auto enforce = checker->Check("enforce.example");
  EXPECT_EQ(enforce.status, Status::kFailure) << Dump(enforce);
  EXPECT_EQ(enforce.mta_sts.status, Status::kFailure);
  EXPECT_TRUE(HasFinding(enforce, Status::kFailure, "not in the MTA-STS policy&mx: mx.enforce.example"));
  auto testing = checker->Check("testing.example");
  EXPECT_EQ(testing.status, Status::kWarning) << Dump(testing);
  EXPECT_FALSE(testing.mta_sts.mx_ok);
}

TEST_F(CheckTest, MtaStsEnforceNeedsAPkixCertificate) {
  Domain("example.com", "mx.example.com", "192.0.2.1");
  Serve("192.0.2.1", {test::MakeLeaf(ca, {"mx.example.com"}, -86400, -30 * 86400).der, ca.der});
  Policy("example.com", "enforce", "mx.example.com");
  auto d = MakeChecker()->Check("example.com");
  EXPECT_EQ(d.status, Status::kFailure);
  EXPECT_TRUE(HasFinding(d, Status::kFailure, "MTA-STS needs STARTTLS with a PKIX-valid")) << Dump(d);
  EXPECT_TRUE(HasFinding(d, Status::kFailure, "expired&renew it")) << Dump(d);
}

TEST_F(CheckTest, BrokenMtaStsPolicyFails) {
  Domain("example.com", "mx.example.com", "192.0.2.1");
  Serve("192.0.2.1", Chain("mx.example.com"));
  resolver.SetTxt("_mta-sts.example.com", {"v=STSv1; id=p1;"});
  https.SetResponse("mta-sts.example.com", 404, "text/plain", "");
  auto d = MakeChecker()->Check("example.com");
  EXPECT_EQ(d.status, Status::kFailure) << Dump(d);
  EXPECT_FALSE(d.mta_sts.valid);
  EXPECT_TRUE(DetailMatches(d.mta_sts.error, "404&sts-policy-fetch-error")) << d.mta_sts.error;
}

TEST_F(CheckTest, InvalidTlsrptRecordWarns) {
  Domain("example.com", "mx.example.com", "192.0.2.1");
  Serve("192.0.2.1", Chain("mx.example.com"));
  Policy("example.com", "enforce", "mx.example.com");
  resolver.SetTxt("_smtp._tls.example.com", {"v=TLSRPTv1; rua=ftp://x.example.com/"});
  auto d = MakeChecker()->Check("example.com");
  EXPECT_EQ(d.status, Status::kWarning) << Dump(d);
  EXPECT_FALSE(d.tlsrpt.valid);
  EXPECT_EQ(d.tlsrpt.record, "v=TLSRPTv1; rua=ftp://x.example.com/");
  EXPECT_TRUE(DetailMatches(d.tlsrpt.error, "neither mailto: nor https:")) << d.tlsrpt.error;
}

TEST_F(CheckTest, LegacyAndOldTls) {
  Domain("legacy.example", "mx.legacy.example", "192.0.2.1");
  Serve("192.0.2.1", Chain("mx.legacy.example"));
  smtp.SetLegacy("192.0.2.1", net::TlsVersion::kTls10, true);
  Policy("legacy.example", "enforce", "mx.legacy.example");
  Domain("old.example", "mx.old.example", "192.0.2.2");
  Serve("192.0.2.2", Chain("mx.old.example"), "TLSv1");
  Policy("old.example", "enforce", "mx.old.example");
  auto checker = MakeChecker();
  auto legacy = checker->Check("legacy.example");
  EXPECT_EQ(legacy.status, Status::kWarning) << Dump(legacy);
  EXPECT_TRUE(HasFinding(legacy, Status::kWarning, "TLS 1.0 still accepted"));
  EXPECT_EQ(legacy.mx[0].results[0].tls.tls10_accepted, true);
  auto old = checker->Check("old.example");
  EXPECT_EQ(old.status, Status::kFailure) << Dump(old);
  EXPECT_TRUE(HasFinding(old, Status::kFailure, "only TLSv1 is negotiated"));
}

TEST_F(CheckTest, CertificateExpiringSoonWarns) {
  Domain("example.com", "mx.example.com", "192.0.2.1");
  Serve("192.0.2.1", {test::MakeLeaf(ca, {"mx.example.com"}, 5 * 86400 + 3600).der, ca.der});
  Policy("example.com", "enforce", "mx.example.com");
  auto d = MakeChecker()->Check("example.com");
  EXPECT_EQ(d.status, Status::kWarning) << Dump(d);
  EXPECT_TRUE(HasFinding(d, Status::kWarning, "expires in 5 days&renew it")) << Dump(d);
}

TEST_F(CheckTest, WrongNameFails) {
  Domain("example.com", "mx.example.com", "192.0.2.1");
  Serve("192.0.2.1", Chain("mx.other.example"));
  auto d = MakeChecker()->Check("example.com");
  EXPECT_EQ(d.status, Status::kFailure) << Dump(d);
  EXPECT_TRUE(HasFinding(d, Status::kFailure, "not valid for mx.example.com&mx.other.example"));
}

TEST_F(CheckTest, HostsAreCheckedOncePerChecker) {
  Domain("a.example", "mx.shared.example", "192.0.2.1");
  Domain("b.example", "mx.shared.example", "192.0.2.1");
  Serve("192.0.2.1", Chain("mx.shared.example"));
  auto checker = MakeChecker();
  EXPECT_EQ(checker->Check("a.example").mx.at(0).results.size(), 1u);
  EXPECT_EQ(checker->Check("b.example").mx.at(0).results.size(), 1u);
  EXPECT_EQ(smtp.Requests().size(), 3u);
}

TEST_F(CheckTest, ScanKeepsThePerAddressLimit) {
  smtp.SetDelay(std::chrono::milliseconds(20));
  std::vector<std::string> domains;
  for (int i = 0; i < 12; ++i) {
    std::string d = "d" + std::to_string(i) + ".example";
    Domain(d, "mx." + d, "192.0.2.1");
    domains.push_back(d);
  }
  Serve("192.0.2.1", Chain("mx.d0.example"));
  CheckOptions options;
  options.per_address_limit = 2;
  options.probe_legacy_tls = false;
  auto checker = MakeChecker(options);
  size_t index = 0, done = 0;
  ScanSummary summary;
  Scan(
      *checker, [&]() -> std::optional<std::string> { return index < domains.size() ? std::optional(domains[index++]) : std::nullopt; },
      8, [&](const DomainResult& r) {
        ++done;
        summary.Add(r);
      });
  EXPECT_EQ(done, 12u);
  EXPECT_EQ(summary.attempted, 12u);
  EXPECT_EQ(summary.with_mx, 12u);
  EXPECT_EQ(summary.starttls, 12u);
  EXPECT_EQ(summary.valid_certificates, 1u);  // only mx.d0 matches the certificate
  EXPECT_LE(smtp.MaxActive("192.0.2.1"), 2);
  EXPECT_GE(smtp.MaxActive("192.0.2.1"), 1);
}

TEST_F(CheckTest, JsonHasTheDocumentedFields) {
  Domain("example.com", "mx.example.com", "192.0.2.1");
  Serve("192.0.2.1", Chain("mx.example.com"));
  Policy("example.com", "enforce", "mx.example.com");
  resolver.SetTxt("_smtp._tls.example.com", {"v=TLSRPTv1; rua=mailto:tlsrpt@example.com"});
  auto j = nlohmann::json::parse(ToJson(MakeChecker()->Check("example.com"), false));
  EXPECT_EQ(j["schema"], "mxsec.check/1");
  EXPECT_EQ(j["domain"], "example.com");
  EXPECT_EQ(j["status"], "success");
  const auto& mx = j["mx"].at(0);
  EXPECT_EQ(mx["hostname"], "mx.example.com");
  EXPECT_EQ(mx["preference"], 10);
  EXPECT_EQ(mx["addresses"], nlohmann::json::array({"192.0.2.1"}));
  EXPECT_EQ(mx["starttls"], true);
  EXPECT_EQ(mx["tls"]["version"], "TLSv1.3");
  EXPECT_EQ(mx["tls"]["cipher"], "TLS_AES_256_GCM_SHA384");
  for (const char* key : {"pkix_valid", "matches_hostname", "names", "not_after", "days_left"}) {
    EXPECT_TRUE(mx["certificate"].contains(key)) << key;
  }
  for (const char* key : {"dnssec", "tlsa", "valid", "matched"}) EXPECT_TRUE(mx["dane"].contains(key)) << key;
  for (const char* key : {"record", "policy", "valid"}) EXPECT_TRUE(j["mta_sts"].contains(key)) << key;
  EXPECT_EQ(j["tlsrpt"]["valid"], true);
  EXPECT_EQ(j["tlsrpt"]["rua"], nlohmann::json::array({"mailto:tlsrpt@example.com"}));
  EXPECT_TRUE(j["findings"].is_array());
}

TEST_F(CheckTest, SummaryCountsAndLists) {
  ScanSummary s;
  DomainResult a;
  a.domain = "a.example";
  a.status = Status::kWarning;
  a.mta_sts.valid = true;
  a.mta_sts.mode = "testing";
  s.Add(a);
  DomainResult b;
  b.domain = "b.example";
  b.null_mx = true;
  s.Add(b);
  EXPECT_EQ(s.attempted, 2u);
  EXPECT_EQ(s.by_status[1], 1u);
  EXPECT_EQ(s.null_mx, 1u);
  auto j = nlohmann::json::parse(SummaryJson(s));
  EXPECT_EQ(j["mta_sts"]["testing_domains"], nlohmann::json::array({"a.example"}));
  EXPECT_TRUE(DetailMatches(SummaryText(s), "attempted&MTA-STS testing     1  a.example"));
}

}  // namespace
}  // namespace mxsec::check
