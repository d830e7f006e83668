// DANE verification (RFC 7672) with certificates made at test time.
#include <gtest/gtest.h>

#include "dane/dane.h"
#include "testing/certs.h"
#include "testing/table.h"

namespace mxsec::dane {
namespace {

using test::DetailMatches;

dns::Tlsa Record(uint8_t usage, uint8_t selector, uint8_t matching, const std::string& bytes) {
  dns::Tlsa r{usage, selector, matching, {}};
  if (matching == 0) {
    r.data.assign(bytes.begin(), bytes.end());
  } else {
    r.data = matching == 1 ? test::Sha256(bytes) : test::Sha512(bytes);
  }
  return r;
}

class DaneVerify : public testing::Test {
 protected:
  test::TestCert ca = test::MakeCa("DANE Test CA");
  test::TestCert leaf = test::MakeLeaf(ca, {"mx.example.com"});
  std::vector<std::string> chain = {leaf.der, ca.der};
  std::vector<std::string> names = {"mx.example.com"};
};

TEST_F(DaneVerify, DaneEeSpkiSha256MatchesTheLeaf) {
  auto v = Verify(chain, {Record(3, 1, 1, test::SpkiDer(leaf))}, names);
  EXPECT_TRUE(v.valid) << v.error;
  EXPECT_EQ(v.usable, 1u);
  EXPECT_EQ(v.depth, 0);
  EXPECT_EQ(v.matched, TlsaText(Record(3, 1, 1, test::SpkiDer(leaf))));
}

TEST_F(DaneVerify, DaneEeFullCertificateMatches) {
  auto v = Verify({leaf.der}, {Record(3, 0, 0, leaf.der)}, names);
  EXPECT_TRUE(v.valid) << v.error;
}

TEST_F(DaneVerify, DaneEeIgnoresNamesAndDates) {
  // RFC 7672 3.1.1: a self-signed, expired certificate for another name is fine.
  auto odd = test::MakeCert({"other", {"other.example.net"}, -20 * 86400, -10 * 86400, false}, nullptr);
  auto v = Verify({odd.der}, {Record(3, 1, 1, test::SpkiDer(odd))}, names);
  EXPECT_TRUE(v.valid) << v.error;
}

TEST_F(DaneVerify, StaleDaneEeHashFails) {
  auto other = test::MakeLeaf(ca, {"mx.example.com"});
  auto v = Verify(chain, {Record(3, 1, 1, test::SpkiDer(other))}, names);
  EXPECT_FALSE(v.valid);
  EXPECT_EQ(v.usable, 1u);
  EXPECT_TRUE(DetailMatches(v.error, "no TLSA record matches")) << v.error;
}

TEST_F(DaneVerify, OneMatchingRecordAmongStaleOnesIsEnough) {
  auto other = test::MakeLeaf(ca, {"mx.example.com"});
  auto v = Verify(chain, {Record(3, 1, 1, test::SpkiDer(other)), Record(3, 1, 2, test::SpkiDer(leaf))}, names);
  EXPECT_TRUE(v.valid) << v.error;
  EXPECT_EQ(v.usable, 2u);
  EXPECT_EQ(v.matched.substr(0, 6), "3 1 2 ");
}

TEST_F(DaneVerify, DaneTaMatchesTheIssuerInTheChain) {
  auto v = Verify(chain, {Record(2, 0, 1, ca.der)}, names);
  EXPECT_TRUE(v.valid) << v.error;
  EXPECT_EQ(v.depth, 1);
}

TEST_F(DaneVerify, DaneTaChecksTheName) {
  auto v = Verify(chain, {Record(2, 0, 1, ca.der)}, {"mx.other.example"});
  EXPECT_FALSE(v.valid);
  EXPECT_TRUE(DetailMatches(v.error, "hostname mismatch")) << v.error;
}

TEST_F(DaneVerify, DaneTaAcceptsAnyOfTheReferenceNames) {
  auto v = Verify(chain, {Record(2, 1, 1, test::SpkiDer(ca))}, {"mx.cname-target.example", "mx.example.com"});
  EXPECT_TRUE(v.valid) << v.error;
}

TEST_F(DaneVerify, DaneTaChecksTheDates) {
  auto expired = test::MakeLeaf(ca, {"mx.example.com"}, -86400, -10 * 86400);
  auto v = Verify({expired.der, ca.der}, {Record(2, 0, 1, ca.der)}, names);
  EXPECT_FALSE(v.valid);
  EXPECT_TRUE(DetailMatches(v.error, "expired")) << v.error;
}

TEST_F(DaneVerify, DaneTaNeedsTheAnchorInTheChainForADigest) {
  auto v = Verify({leaf.der}, {Record(2, 0, 1, ca.der)}, names);
  EXPECT_FALSE(v.valid);
}

TEST_F(DaneVerify, PkixUsagesAreUnusableForSmtp) {
  auto v = Verify(chain, {Record(1, 1, 1, test::SpkiDer(leaf)), Record(0, 0, 1, ca.der)}, names);
  EXPECT_FALSE(v.valid);
  EXPECT_EQ(v.usable, 0u);
  EXPECT_TRUE(DetailMatches(v.error, "no usable TLSA")) << v.error;
}

TEST_F(DaneVerify, EmptyOrBrokenChains) {
  EXPECT_FALSE(Verify({}, {Record(3, 1, 1, test::SpkiDer(leaf))}, names).valid);
  auto v = Verify({"not DER"}, {Record(3, 1, 1, test::SpkiDer(leaf))}, names);
  EXPECT_FALSE(v.valid);
  EXPECT_TRUE(DetailMatches(v.error, "does not parse")) << v.error;
}

TEST(Tlsa, TextRoundTripAndUsability) {
  auto parsed = ParseTlsaText("3 1 1 0123456789ABCDEF0123456789abcdef 0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(parsed) << parsed.error().detail;
  EXPECT_EQ(parsed->usage, 3);
  EXPECT_EQ(parsed->data.size(), 32u);
  EXPECT_EQ(TlsaText(*parsed), "3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  EXPECT_EQ(Unusable(*parsed), "");

  EXPECT_FALSE(ParseTlsaText("3 1"));
  EXPECT_FALSE(ParseTlsaText("3 1 1 xyz"));
  EXPECT_FALSE(ParseTlsaText("3 1 1 abc"));
  EXPECT_FALSE(ParseTlsaText("300 1 1 ab"));

  EXPECT_TRUE(DetailMatches(Unusable({1, 1, 1, std::vector<uint8_t>(32)}), "PKIX-EE"));
  EXPECT_TRUE(DetailMatches(Unusable({0, 0, 1, std::vector<uint8_t>(32)}), "PKIX-TA"));
  EXPECT_TRUE(DetailMatches(Unusable({3, 2, 1, std::vector<uint8_t>(32)}), "selector"));
  EXPECT_TRUE(DetailMatches(Unusable({3, 1, 3, std::vector<uint8_t>(32)}), "matching type"));
  EXPECT_TRUE(DetailMatches(Unusable({3, 1, 1, std::vector<uint8_t>(31)}), "31 bytes"));
  EXPECT_TRUE(DetailMatches(Unusable({3, 1, 2, std::vector<uint8_t>(32)}), "needs 64"));
  EXPECT_EQ(TlsaName("MX.Example.COM."), "_25._tcp.mx.example.com");
}

}  // namespace
}  // namespace mxsec::dane
