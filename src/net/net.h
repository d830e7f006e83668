// net: network clients shared by the protocol parts. For now: one HTTPS GET
// that is safe to point at hostile servers.
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
#include <string>
#include <tl/expected.hpp>

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

}  // namespace mxsec::net
