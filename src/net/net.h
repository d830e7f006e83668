// net: network clients shared by the protocol parts: one HTTPS GET that is
// safe to point at hostile servers, and an SMTP STARTTLS probe.
//
// HttpsClient::Get connects to the addresses the dns::Resolver gives for the
// host (never the system resolver), negotiates TLS 1.2 or later with SNI,
// verifies the chain against the system trust store or a CA file and the
// certificate name against the host (RFC 6125, via OpenSSL), sends one GET and
// reads the response. One deadline bounds everything, from the first DNS
// query to the last body byte; the body limit is enforced while reading,
// whatever Content-Length says. Redirects are never followed: a 3xx is
// returned like any other status, with its Location.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace mxsec::dns {
class Resolver;
}

namespace mxsec::net {

struct HttpsRequest {
  std::string host;      // DNS name; also SNI and the name the certificate must match
  uint16_t port = 443;
  std::string path = "/";
  std::string accept = "*/*";
  size_t max_body = 1 << 20;                 // bytes; more is kTooLarge
  std::chrono::milliseconds timeout{10000};  // overall
  std::string ca_file;                       // PEM; empty: the system trust store
};

struct HttpsResponse {
  unsigned status = 0;
  std::string content_type;  // as sent, may carry parameters
  std::string location;      // for 3xx
  std::string body;
};

// Where a GET failed. The caller maps these to its own reporting categories.
enum class HttpsStage {
  kResolve,      // the host has no usable address (DNS failure or absence)
  kConnect,      // no address accepted a TCP connection
  kTls,          // TLS handshake failed for a reason other than the certificate
  kCertificate,  // the certificate chain or name did not verify
  kHttp,         // malformed HTTP or the connection ended early
  kTooLarge,     // the body exceeded max_body
  kTimeout,      // the overall deadline passed
};
std::string_view HttpsStageName(HttpsStage stage);

struct HttpsError {
  HttpsStage stage;
  std::string detail;  // one line
};

class HttpsClient {
 public:
  virtual ~HttpsClient() = default;
  // Thread-safe; each call is independent (no connection reuse).
  virtual tl::expected<HttpsResponse, HttpsError> Get(const HttpsRequest& request) = 0;
};

// `resolver` must outlive the client.
std::unique_ptr<HttpsClient> MakeHttpsClient(dns::Resolver& resolver);

// ---- SMTP STARTTLS probe ------------------------------------------------------
//
// One SMTP session to one address, as a sending MTA starts it: banner, EHLO,
// STARTTLS when offered, the TLS handshake, QUIT. It never sends mail. The
// handshake does not verify the certificate: the presented chain is returned
// so the caller can judge it (PKIX, names, DANE) and still learn the
// protocol, cipher and key exchange of a server whose certificate is bad.
// One deadline bounds the whole session; every reply is size-capped.

// TLS protocol versions, OpenSSL numbering (TLS1_VERSION ... TLS1_3_VERSION).
enum class TlsVersion : int { kAny = 0, kTls10 = 0x0301, kTls11 = 0x0302, kTls12 = 0x0303, kTls13 = 0x0304 };
std::string_view TlsVersionName(TlsVersion version);  // "TLSv1", "TLSv1.1", ... ("any")

// One line of an SMTP reply (RFC 5321 4.2) without its line ending: three
// digits, then "-" (more lines follow), " " or nothing (the last line).
// std::nullopt when the line is not a reply line. Pure; what the probe uses
// on everything a server sends.
struct ReplyLine {
  int code = 0;
  bool last = true;
  std::string_view text;  // after "ddd-" or "ddd "
};
std::optional<ReplyLine> ParseReplyLine(std::string_view line);

struct SmtpProbeRequest {
  std::string address;   // IPv4 or IPv6 literal
  uint16_t port = 25;
  std::string ehlo_name = "localhost";
  std::string server_name;  // SNI; empty: none
  std::chrono::milliseconds timeout{30000};  // the whole session
  bool starttls = true;  // false: stop after EHLO
  // The protocol range offered. kAny..kAny offers TLS 1.0 to 1.3 with every
  // cipher OpenSSL has (security level 0): a probe must see what a server
  // negotiates, not be refused by the local policy.
  TlsVersion min_version = TlsVersion::kTls10;
  TlsVersion max_version = TlsVersion::kAny;
};

// Where a probe stopped.
enum class SmtpStage {
  kConnect,   // TCP connection refused or unreachable
  kBanner,    // no 220 greeting (garbage, 421, 554, connection closed)
  kEhlo,      // EHLO not answered with 250
  kStartTls,  // STARTTLS refused, or data injected after its 220
  kTls,       // the TLS handshake failed
  kTimeout,   // the deadline passed (the stage reached is in the detail)
};
std::string_view SmtpStageName(SmtpStage stage);

struct SmtpProbeResult {
  bool connected = false;
  std::string banner;                   // the greeting's first line, sanitized
  std::vector<std::string> extensions;  // EHLO keywords (upper case), with parameters
  bool starttls_offered = false;
  bool tls = false;                     // the handshake completed
  std::string tls_version;              // "TLSv1.3"
  std::string cipher;                   // OpenSSL name, "TLS_AES_256_GCM_SHA384"
  std::string key_exchange;             // "X25519", "prime256v1", "DH 2048", "" when none
  std::vector<std::string> peer_chain;  // DER, leaf first, as presented
  std::optional<SmtpStage> failed;      // empty: the whole session went through
  std::string error;                    // one line, when failed
  std::chrono::milliseconds elapsed{0};
};

class SmtpProber {
 public:
  virtual ~SmtpProber() = default;
  // Thread-safe; each call is one independent session.
  virtual SmtpProbeResult Probe(const SmtpProbeRequest& request) = 0;
};

std::unique_ptr<SmtpProber> MakeSmtpProber();

}  // namespace mxsec::net
