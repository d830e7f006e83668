// Judging check results against a STARTTLS-Everywhere list entry: one table
// of constructed check results (each case changes a valid one), the pattern
// coverage of certificate names, and an entry of the real list.
#include "check/list_validation.h"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <sstream>

#include "testing/table.h"

namespace mxsec::check {
namespace {

using test::DetailMatches;

AddressResult GoodAddress(const std::string& address, const std::string& host) {
  AddressResult a;
  a.address = address;
  a.connected = true;
  a.answered = true;
  a.banner = "220 " + host + " ESMTP";
  a.starttls = true;
  a.tls_ok = true;
  a.tls.version = "TLSv1.3";
  a.tls.cipher = "TLS_AES_256_GCM_SHA384";
  Certificate& c = a.certificate;
  c.present = true;
  c.pkix_valid = true;
  c.matches_hostname = true;
  c.names = {host};
  c.not_after = "2027-06-01T00:00:00Z";
  c.days_left = 300;
  return a;
}

MxResult GoodMx(const std::string& host, const std::string& address, uint16_t preference = 10) {
  MxResult m;
  m.hostname = host;
  m.preference = preference;
  m.addresses = {address};
  m.results = {GoodAddress(address, host)};
  m.answered = true;
  m.starttls = true;
  return m;
}

// example.com: MX 10 mx.example.com (192.0.2.1), STARTTLS, TLS 1.3, a valid
// certificate for mx.example.com.
DomainResult GoodDomain() {
  DomainResult d;
  d.domain = "example.com";
  d.mx_dnssec = "secure";
  d.mx = {GoodMx("mx.example.com", "192.0.2.1")};
  return d;
}

AddressResult& First(DomainResult& d) { return d.mx.at(0).results.at(0); }

// An address that did not answer, as the checker reports it.
AddressResult Silent(const std::string& address, const std::string& error) {
  AddressResult a;
  a.address = address;
  a.status = Status::kError;
  a.findings = {{"smtp", Status::kError, error, "make sure port 25 is open and the MTA is listening"}};
  return a;
}

struct Case {
  std::string name;
  std::function<void(DomainResult&)> change;
  std::vector<std::string> mxs;
  bool valid;
  std::string problem;  // DetailMatches against the problems, one per line; "": none expected
  std::string note;     // the same for the notes
  size_t problems = 0;  // when > 0, exactly this many problems
};

class ValidateAgainstListTest : public testing::TestWithParam<Case> {};

std::string Lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

TEST_P(ValidateAgainstListTest, Judges) {
  const Case& c = GetParam();
  DomainResult d = GoodDomain();
  if (c.change) c.change(d);
  policylist::Policy policy;
  policy.mode = policylist::Mode::kEnforce;
  policy.mxs = c.mxs;
  const ListValidation v = ValidateAgainstList(d, policy);
  const std::string problems = Lines(v.problems);
  const std::string notes = Lines(v.notes);
  EXPECT_EQ(v.valid, c.valid) << problems;
  EXPECT_EQ(v.valid, v.problems.empty());
  if (c.problem.empty()) {
    EXPECT_TRUE(v.problems.empty()) << problems;
  } else {
    EXPECT_TRUE(DetailMatches(problems, c.problem)) << "want " << c.problem << ", got:\n" << problems;
  }
  if (c.problems > 0) {
    EXPECT_EQ(v.problems.size(), c.problems) << problems;
  }
  if (c.note.empty()) {
    EXPECT_TRUE(v.notes.empty()) << notes;
  } else {
    EXPECT_TRUE(DetailMatches(notes, c.note)) << "want " << c.note << ", got:\n" << notes;
  }
  for (const auto& line : v.problems) EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  for (const auto& line : v.notes) EXPECT_EQ(line.find('\n'), std::string::npos) << line;
}

const std::vector<std::string> kSuffix = {".example.com"};

INSTANTIATE_TEST_SUITE_P(
    Cases, ValidateAgainstListTest,
    testing::Values(
        // ---- valid
        Case{"Valid", nullptr, kSuffix, true, "", ""},
        Case{"ValidExactPattern", nullptr, {"mx.example.com", ".example.net"}, true, "", ""},
        Case{"ValidTls12", [](DomainResult& d) { First(d).tls.version = "TLSv1.2"; }, kSuffix, true, "", ""},
        Case{"ValidWildcardCertificateForAnExactPattern",
             [](DomainResult& d) { First(d).certificate.names = {"*.example.com"}; },
             {"mx.example.com"},
             true,
             "",
             ""},
        Case{"ValidSuffixAtAnyDepth",
             [](DomainResult& d) {
               d.mx = {GoodMx("mta7.am0.example.com", "192.0.2.7")};
               First(d).certificate.names = {"*.am0.example.com"};
             },
             kSuffix, true, "", ""},
        Case{"ValidExpiringSoonIsANote", [](DomainResult& d) { First(d).certificate.days_left = 5; }, kSuffix, true, "",
             "mx.example.com (192.0.2.1): the certificate expires in 5 days (2027-06-01T00:00:00Z)&renew"},
        Case{"ValidWithASilentSecondAddressIsANote",
             [](DomainResult& d) {
               d.mx[0].addresses.push_back("2001:db8::1");
               d.mx[0].results.push_back(Silent("2001:db8::1", "cannot connect: Network is unreachable"));
             },
             kSuffix, true, "",
             "mx.example.com (2001:db8::1) did not answer while another address of the host did&Network is "
             "unreachable"},
        Case{"ValidSameMtaStsPolicyNoNote",
             [](DomainResult& d) {
               d.mta_sts.valid = true;
               d.mta_sts.mode = "enforce";
               d.mta_sts.mx = {"*.Example.com"};
             },
             kSuffix, true, "", ""},
        Case{"ValidDifferentMtaStsPolicyIsANote",
             [](DomainResult& d) {
               d.mta_sts.valid = true;
               d.mta_sts.mode = "testing";
               d.mta_sts.mx = {"mx.example.com"};
             },
             kSuffix, true, "", "MTA-STS policy (testing; mx mx.example.com) differs from its list entry (enforce"},
        Case{"ValidMtaStsModeNoneIsANote",
             [](DomainResult& d) {
               d.mta_sts.valid = true;
               d.mta_sts.mode = "none";
             },
             kSuffix, true, "", "mode none&remove the entry"},

        // ---- check 1: MX records
        Case{"NullMx",
             [](DomainResult& d) {
               d.mx.clear();
               d.null_mx = true;
             },
             kSuffix, false, "example.com publishes a null MX (RFC 7505)&remove it from the list", "", 1},
        Case{"NoMxRecords",
             [](DomainResult& d) {
               d.mx = {GoodMx("example.com", "192.0.2.1", 0)};
               d.mx[0].implicit = true;
             },
             kSuffix, false,
             "example.com has no MX records&publish MX records naming hosts that match the list's "
             "mxs (.example.com)",
             "", 1},
        Case{"MxLookupFailed",
             [](DomainResult& d) {
               d.mx.clear();
               d.findings = {{"mta-sts", Status::kWarning, "unrelated", ""},
                             {"mx", Status::kError, "MX lookup failed: SERVFAIL", "check the domain's name servers"}};
             },
             kSuffix, false, "example.com: MX lookup failed: SERVFAIL: check the domain's name servers", "", 1},

        // ---- check 2: MX hostnames match the patterns
        Case{"MxNotCovered",
             nullptr,
             {"mx.example.net", ".other.example"},
             false,
             "mx.example.com is not covered by the list's mxs (mx.example.net, .other.example): add it to the list "
             "entry or change the MX records",
             "",
             1},
        Case{"SecondMxNotCovered", [](DomainResult& d) { d.mx.push_back(GoodMx("mx2.example.org", "192.0.2.2", 20)); },
             kSuffix, false, "mx2.example.org is not covered by the list's mxs (.example.com)", "", 1},
        Case{"SuffixDoesNotCoverTheDomainItself", [](DomainResult& d) { d.mx = {GoodMx("example.com", "192.0.2.1")}; },
             kSuffix, false, "example.com is not covered", "", 1},

        // ---- check 3: answers, STARTTLS
        Case{"MxDoesNotAnswer",
             [](DomainResult& d) { First(d) = Silent("192.0.2.1", "cannot connect: Connection refused"); }, kSuffix,
             false,
             "mx.example.com (192.0.2.1) did not answer: cannot connect: Connection refused: make sure port 25 is "
             "open",
             "", 1},
        Case{"BackupMxDoesNotAnswer",
             [](DomainResult& d) {
               d.mx.push_back(GoodMx("mx2.example.com", "192.0.2.2", 20));
               d.mx[1].results[0] = Silent("192.0.2.2", "cannot connect: timed out");
             },
             kSuffix, false, "mx2.example.com (192.0.2.2) did not answer: cannot connect: timed out&every MX host", "",
             1},
        Case{"MxWithoutAddress",
             [](DomainResult& d) {
               d.mx[0].addresses.clear();
               d.mx[0].results.clear();
               d.mx[0].findings = {{"mx", Status::kFailure, "mx.example.com has no A or AAAA record",
                                    "publish the MX host's address or remove it from the MX records"}};
             },
             kSuffix, false, "mx.example.com has no A or AAAA record: publish&cannot be validated", "", 1},
        Case{"NoStarttls",
             [](DomainResult& d) {
               AddressResult& a = First(d);
               a.starttls = false;
               a.tls_ok = false;
               a.tls = {};
               a.certificate = {};
             },
             kSuffix, false, "mx.example.com (192.0.2.1) does not offer STARTTLS: enable it&smtpd_tls_security_level",
             "", 1},
        Case{"EhloFailedIsNotAStarttlsProblem",
             [](DomainResult& d) {
               AddressResult& a = First(d);
               a.starttls = false;
               a.tls_ok = false;
               a.certificate = {};
               a.findings = {{"smtp", Status::kError, "EHLO failed: 421 4.3.2 Service shutting down",
                              "the server must answer EHLO with 250 (RFC 5321 4.1.1.1)"}};
             },
             kSuffix, false, "mx.example.com (192.0.2.1): EHLO failed: 421 4.3.2&RFC 5321", "", 1},
        Case{"TlsHandshakeFails",
             [](DomainResult& d) {
               AddressResult& a = First(d);
               a.tls_ok = false;
               a.certificate = {};
               a.findings = {{"tls", Status::kFailure, "TLS handshake failed: sslv3 alert handshake failure", ""}};
             },
             kSuffix, false,
             "mx.example.com (192.0.2.1) offers STARTTLS but the TLS handshake failed (TLS handshake failed: sslv3 "
             "alert handshake failure)",
             "", 1},

        // ---- check 4: TLS 1.2 or newer
        Case{"OnlyTls11", [](DomainResult& d) { First(d).tls.version = "TLSv1.1"; }, kSuffix, false,
             "mx.example.com (192.0.2.1) negotiates only TLSv1.1, the list needs TLS 1.2 or newer&>=TLSv1.2", "", 1},
        Case{"OnlyTls10", [](DomainResult& d) { First(d).tls.version = "TLSv1"; }, kSuffix, false,
             "negotiates only TLSv1,", "", 1},

        // ---- check 5: PKIX
        Case{"Expired",
             [](DomainResult& d) {
               Certificate& c = First(d).certificate;
               c.pkix_valid = false;
               c.pkix_error = "certificate has expired";
               c.days_left = -2000;
               c.not_after = "2020-04-01T00:00:00Z";
             },
             kSuffix, false, "mx.example.com (192.0.2.1): the certificate expired on 2020-04-01T00:00:00Z: renew it",
             "", 1},
        Case{"SelfSigned",
             [](DomainResult& d) {
               Certificate& c = First(d).certificate;
               c.pkix_valid = false;
               c.self_signed = true;
               c.pkix_error = "self-signed certificate";
             },
             kSuffix, false, "the certificate is not trusted (self-signed): self-signed certificate&public CA", "", 1},
        Case{"DaneValidDoesNotReplacePkix",
             [](DomainResult& d) {
               AddressResult& a = First(d);
               a.certificate.pkix_valid = false;
               a.certificate.pkix_error = "unable to get local issuer certificate";
               a.dane.valid = true;
               a.dane.usable = true;
             },
             kSuffix, false, "not trusted: unable to get local issuer certificate", "", 1},
        Case{"NoCertificate", [](DomainResult& d) { First(d).certificate = {}; }, kSuffix, false,
             "mx.example.com (192.0.2.1) presents no certificate", "", 1},

        // ---- check 6: names
        Case{"WrongName",
             [](DomainResult& d) {
               Certificate& c = First(d).certificate;
               c.matches_hostname = false;
               c.names = {"mx.other.test"};
             },
             kSuffix, false,
             "the certificate does not name mx.example.com (names: mx.other.test): issue one that includes "
             "mx.example.com&no certificate name matches the list's mxs (.example.com; names: mx.other.test)",
             "", 2},
        Case{"NameForTheHostButNoPattern",
             // OpenSSL accepts the partial wildcard for the host; Postfix's
             // match= does not accept it for the pattern.
             [](DomainResult& d) { First(d).certificate.names = {"m*.example.com"}; },
             {"mx.example.com"},
             false,
             "no certificate name matches the list's mxs (mx.example.com; names: m*.example.com)&Postfix match=",
             "",
             1},
        Case{"UncoveredHostIsOneProblemNotTwo",
             [](DomainResult& d) { d.mx.push_back(GoodMx("mx.example.net", "192.0.2.9", 20)); }, kSuffix, false,
             "mx.example.net is not covered", "", 1},

        // ---- every answering address counts
        Case{"SecondAddressWithoutStarttls",
             [](DomainResult& d) {
               AddressResult b = GoodAddress("2001:db8::1", "mx.example.com");
               b.starttls = false;
               b.tls_ok = false;
               b.certificate = {};
               d.mx[0].addresses.push_back(b.address);
               d.mx[0].results.push_back(b);
             },
             kSuffix, false, "mx.example.com (2001:db8::1) does not offer STARTTLS", "", 1},
        Case{"EveryProblemOfSeveralHosts",
             [](DomainResult& d) {
               d.mx.push_back(GoodMx("mx2.example.org", "192.0.2.2", 20));
               First(d).tls.version = "TLSv1.1";
               d.mx[1].results[0].certificate.pkix_valid = false;
               d.mx[1].results[0].certificate.pkix_error = "unable to get local issuer certificate";
             },
             kSuffix, false,
             "negotiates only TLSv1.1&mx2.example.org is not covered&mx2.example.org (192.0.2.2): the "
             "certificate is not trusted",
             "", 3}),
    test::CaseName());

TEST(ValidateAgainstList, PerHostAndPerAddressFields) {
  DomainResult d = GoodDomain();
  d.mx.push_back(GoodMx("backup.example.net", "192.0.2.2", 20));
  d.mx[1].results[0].certificate.names = {"*.example.net", "backup.example.net"};
  d.mx[1].results[0].tls.version = "TLSv1.2";
  policylist::Policy policy;
  policy.mode = policylist::Mode::kTesting;
  policy.mxs = {".example.com", "backup.example.net"};
  const ListValidation v = ValidateAgainstList(d, policy);
  EXPECT_TRUE(v.valid) << Lines(v.problems);
  EXPECT_EQ(v.domain, "example.com");
  EXPECT_EQ(v.mode, policylist::Mode::kTesting);  // testing entries are validated all the same
  EXPECT_EQ(v.mxs, policy.mxs);
  ASSERT_EQ(v.mx.size(), 2u);
  EXPECT_EQ(v.mx[0].hostname, "mx.example.com");
  EXPECT_EQ(v.mx[0].pattern, ".example.com");
  EXPECT_TRUE(v.mx[0].answered);
  EXPECT_TRUE(v.mx[0].valid);
  const ListMxValidation& backup = v.mx[1];
  EXPECT_EQ(backup.preference, 20);
  EXPECT_EQ(backup.pattern, "backup.example.net");
  ASSERT_EQ(backup.addresses.size(), 1u);
  const ListAddressValidation& a = backup.addresses[0];
  EXPECT_EQ(a.address, "192.0.2.2");
  EXPECT_TRUE(a.starttls);
  EXPECT_EQ(a.tls_version, "TLSv1.2");
  EXPECT_TRUE(a.tls_ok);
  EXPECT_TRUE(a.certificate_valid);
  EXPECT_TRUE(a.matches_hostname);
  EXPECT_EQ(a.certificate_pattern, "backup.example.net");  // the first pattern, by the wildcard
  EXPECT_EQ(a.certificate_name, "*.example.net");
  EXPECT_TRUE(a.valid);
}

TEST(ValidateAgainstList, FailingFieldsAreFalse) {
  DomainResult d = GoodDomain();
  First(d).tls.version = "TLSv1";
  First(d).certificate.matches_hostname = false;
  First(d).certificate.names = {"other.example.org"};
  policylist::Policy policy;
  policy.mxs = {"mx.example.org"};
  const ListValidation v = ValidateAgainstList(d, policy);
  EXPECT_FALSE(v.valid);
  ASSERT_EQ(v.mx.size(), 1u);
  EXPECT_EQ(v.mx[0].pattern, "");
  EXPECT_FALSE(v.mx[0].valid);
  ASSERT_EQ(v.mx[0].addresses.size(), 1u);
  const ListAddressValidation& a = v.mx[0].addresses[0];
  EXPECT_TRUE(a.answered);
  EXPECT_EQ(a.tls_version, "TLSv1");
  EXPECT_FALSE(a.tls_ok);
  EXPECT_FALSE(a.matches_hostname);
  EXPECT_EQ(a.certificate_pattern, "");
  EXPECT_EQ(a.names, std::vector<std::string>{"other.example.org"});
  EXPECT_FALSE(a.valid);
}

TEST(ValidateAgainstList, AnEntryOfTheRealList) {
  std::ifstream in(std::string(MXSEC_TEST_DATA) + "/starttls-everywhere/policy.json");
  std::stringstream text;
  text << in.rdbuf();
  auto list = policylist::ParseList(text.str());
  ASSERT_TRUE(list) << list.error().detail;
  // Alias "yahoo": .am0.yahoodns.net and three of its hosts.
  const policylist::Entry* aol = list->Find("aol.com");
  ASSERT_NE(aol, nullptr);
  DomainResult d;
  d.domain = "aol.com";
  d.mx = {GoodMx("mta7.am0.yahoodns.net", "192.0.2.1")};
  First(d).certificate.names = {"*.am0.yahoodns.net", "mta7.am0.yahoodns.net"};
  ListValidation v = ValidateAgainstList(d, aol->policy);
  EXPECT_TRUE(v.valid) << Lines(v.problems);
  EXPECT_EQ(v.mx[0].addresses[0].certificate_name, "*.am0.yahoodns.net");

  // The MX aol.com publishes today is outside the entry.
  d.mx.push_back(GoodMx("mx-aol.mail.gm0.yahoodns.net", "192.0.2.2", 20));
  v = ValidateAgainstList(d, aol->policy);
  ASSERT_EQ(v.problems.size(), 1u);
  EXPECT_EQ(v.problems[0],
            "mx-aol.mail.gm0.yahoodns.net is not covered by the list's mxs (.am0.yahoodns.net, mta5.am0.yahoodns.net, "
            "mta6.am0.yahoodns.net, mta7.am0.yahoodns.net): add it to the list entry or change the MX records");
}

struct NameCase {
  std::string name;
  std::string pattern;
  std::string certificate_name;
  bool covered;
};

class CertificateNameMatchesPatternTest : public testing::TestWithParam<NameCase> {};

TEST_P(CertificateNameMatchesPatternTest, AsPostfixMatch) {
  const NameCase& c = GetParam();
  EXPECT_EQ(CertificateNameMatchesPattern(c.pattern, c.certificate_name), c.covered)
      << c.pattern << " vs " << c.certificate_name;
}

INSTANTIATE_TEST_SUITE_P(Cases, CertificateNameMatchesPatternTest,
                         testing::Values(NameCase{"SuffixHost", ".example.com", "mx.example.com", true},
                                         NameCase{"SuffixDeep", ".example.com", "a.b.example.com", true},
                                         NameCase{"SuffixWildcard", ".example.com", "*.example.com", true},
                                         NameCase{"SuffixDeepWildcard", ".example.com", "*.a.example.com", true},
                                         NameCase{"SuffixNotTheParent", ".example.com", "example.com", false},
                                         NameCase{"SuffixNotALookalike", ".example.com", "mx.badexample.com", false},
                                         NameCase{"ExactSame", "mx.example.com", "mx.example.com", true},
                                         NameCase{"ExactFolded", "MX.example.com.", "mx.EXAMPLE.com", true},
                                         NameCase{"ExactOtherHost", "mx.example.com", "mx2.example.com", false},
                                         NameCase{"ExactWildcardOneLabel", "mx.example.com", "*.example.com", true},
                                         NameCase{"ExactWildcardNotTwoLabels", "a.mx.example.com", "*.example.com",
                                                  false},
                                         NameCase{"ExactWildcardNotItself", "example.com", "*.example.com", false},
                                         NameCase{"ExactWildcardBelow", "mx.example.com", "*.mx.example.com", false},
                                         NameCase{"ExactNoPartialWildcard", "mx.example.com", "m*.example.com", false},
                                         NameCase{"EmptyPattern", "", "mx.example.com", false},
                                         NameCase{"EmptyName", ".example.com", "", false},
                                         NameCase{"DotOnly", ".", "mx.example.com", false}),
                         test::CaseName());

}  // namespace
}  // namespace mxsec::check
