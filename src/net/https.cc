// HttpsClient on Boost.Beast + OpenSSL, one C++20 coroutine per request on a
// private io_context. The lowest layer's expiry is set to the same deadline
// before every operation, which makes the limit overall, not per read.
#include <openssl/ssl.h>
#include <utility>  // before Asio: boost 1.74 awaitable.hpp uses std::exchange without it
#include <openssl/x509v3.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <map>
#include <memory>
#include <mutex>

#include "dns/dns.h"
#include "net/net.h"

namespace mxsec::net {

std::string_view HttpsStageName(HttpsStage stage) {
  switch (stage) {
    case HttpsStage::kResolve: return "resolve";
    case HttpsStage::kConnect: return "connect";
    case HttpsStage::kTls: return "tls";
    case HttpsStage::kCertificate: return "certificate";
    case HttpsStage::kHttp: return "http";
    case HttpsStage::kTooLarge: return "too-large";
    case HttpsStage::kTimeout: return "timeout";
  }
  return "http";
}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Outcome = tl::expected<HttpsResponse, HttpsError>;

tl::unexpected<HttpsError> Failure(HttpsStage stage, std::string detail) {
  return tl::unexpected<HttpsError>(HttpsError{stage, std::move(detail)});
}

class BeastHttpsClient final : public HttpsClient {
 public:
  explicit BeastHttpsClient(dns::Resolver& resolver) : resolver_(resolver) {}

  Outcome Get(const HttpsRequest& request) override {
    const auto deadline = std::chrono::steady_clock::now() + request.timeout;
    const std::string what = "https://" + request.host + request.path;
    // A addresses are tried first, then AAAA ones. With A records the AAAA
    // lookup waits until every A address has failed to connect, so the usual
    // request costs one DNS query, not two; the addresses and their order
    // are the same.
    Addresses addresses;
    addresses.resolver = &resolver_;
    if (auto a = resolver_.LookupA(request.host); a && !a->records.empty()) {
      addresses.list = std::move(a->records);
      addresses.host = request.host;
    } else {
      auto all = dns::LookupAddresses(resolver_, request.host);
      if (!all) {
        if (std::chrono::steady_clock::now() >= deadline) {
          return Failure(HttpsStage::kTimeout, what + ": timed out resolving " + request.host);
        }
        return Failure(HttpsStage::kResolve, all.error().detail);
      }
      addresses.list = std::move(*all);
    }

    auto tls = Context(request.ca_file);
    if (!tls) return tl::unexpected(tls.error());

    // This thread's io_context, kept between requests (creating one costs
    // several syscalls); run() returns once every handler of this request ran.
    thread_local asio::io_context io{1};
    io.restart();
    Outcome outcome = Failure(HttpsStage::kHttp, "internal: request did not run");
    asio::co_spawn(io, Run(io, **tls, request, addresses, deadline, what, outcome), asio::detached);
    io.run();
    return outcome;
  }

 private:
  // The addresses to connect to; `host` non-empty: its AAAA addresses are
  // still to be looked up (after the A ones in `list`).
  struct Addresses {
    std::vector<std::string> list;
    std::string host;
    dns::Resolver* resolver = nullptr;
  };

  static asio::awaitable<void> Run(asio::io_context& io, asio::ssl::context& tls, const HttpsRequest& request,
                                   Addresses& addresses,
                                   std::chrono::steady_clock::time_point deadline, const std::string& what,
                                   Outcome& outcome) {
    beast::ssl_stream<beast::tcp_stream> stream(io, tls);
    auto& socket = beast::get_lowest_layer(stream);
    boost::system::error_code ec;
    auto timed_out = [&] { return ec == beast::error::timeout || std::chrono::steady_clock::now() >= deadline; };

    // Connect to the first address that answers.
    std::string connect_errors;
    bool connected = false;
    for (size_t i = 0; i < addresses.list.size() || !addresses.host.empty(); ++i) {
      if (i == addresses.list.size()) {
        // Every A address failed: now the AAAA ones (a blocking lookup on
        // this thread, which owns the io_context).
        auto aaaa = addresses.resolver->LookupAaaa(addresses.host);
        addresses.host.clear();
        if (!aaaa) break;
        addresses.list.insert(addresses.list.end(), aaaa->records.begin(), aaaa->records.end());
        if (i == addresses.list.size()) break;
      }
      const std::string& address = addresses.list[i];
      auto ip = asio::ip::make_address(address, ec);
      if (ec) continue;
      socket.expires_at(deadline);
      co_await socket.async_connect(tcp::endpoint(ip, request.port), asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) {
        connected = true;
        break;
      }
      if (timed_out()) {
        outcome = Failure(HttpsStage::kTimeout, what + ": timed out connecting to " + address);
        co_return;
      }
      connect_errors += (connect_errors.empty() ? "" : "; ") + address + ": " + ec.message();
      socket.close();
    }
    if (!connected) {
      outcome = Failure(HttpsStage::kConnect, what + ": cannot connect (" + connect_errors + ")");
      co_return;
    }

    // TLS with SNI and RFC 6125 name checks done by OpenSSL during verification.
    SSL* ssl = stream.native_handle();
    // SSL_set_tlsext_host_name is a macro with a C cast; call what it expands to.
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(request.host.c_str()));
    SSL_set1_host(ssl, request.host.c_str());
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    socket.expires_at(deadline);
    co_await stream.async_handshake(asio::ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      long verify = SSL_get_verify_result(ssl);
      if (timed_out()) {
        outcome = Failure(HttpsStage::kTimeout, what + ": timed out in the TLS handshake");
      } else if (verify != X509_V_OK) {
        outcome = Failure(HttpsStage::kCertificate,
                          what + ": certificate not valid: " + X509_verify_cert_error_string(verify));
      } else {
        outcome = Failure(HttpsStage::kTls, what + ": TLS handshake failed: " + ec.message());
      }
      co_return;
    }

    http::request<http::empty_body> get{http::verb::get, request.path, 11};
    get.set(http::field::host, request.host);
    get.set(http::field::user_agent, "mxsec/0.1");
    get.set(http::field::accept, request.accept);
    get.set(http::field::connection, "close");
    socket.expires_at(deadline);
    co_await http::async_write(stream, get, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      outcome = Failure(timed_out() ? HttpsStage::kTimeout : HttpsStage::kHttp,
                        what + ": sending the request failed: " + ec.message());
      co_return;
    }

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(request.max_body);
    auto too_large = [&] {
      return Failure(HttpsStage::kTooLarge,
                     what + ": response body exceeds the limit of " + std::to_string(request.max_body) + " bytes");
    };
    socket.expires_at(deadline);
    co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    // Beast 1.74's async_read does not apply body_limit to a Content-Length
    // it has already parsed, so refuse an announced oversized body here,
    // before reading any of it. Chunked bodies are stopped by body_limit.
    if (!ec && parser.content_length() && *parser.content_length() > request.max_body) {
      outcome = too_large();
      co_return;
    }
    if (!ec) co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == http::error::body_limit || (!ec && parser.get().body().size() > request.max_body)) {
      outcome = too_large();
      co_return;
    }
    if (ec) {
      outcome = timed_out() ? Failure(HttpsStage::kTimeout, what + ": timed out reading the response")
                            : Failure(HttpsStage::kHttp, what + ": reading the response failed: " + ec.message());
      co_return;
    }
    auto& response = parser.get();
    HttpsResponse result;
    result.status = response.result_int();
    result.content_type = std::string(response[http::field::content_type]);
    result.location = std::string(response[http::field::location]);
    result.body = std::move(response.body());
    outcome = std::move(result);
    socket.close();
  }

  // One TLS context per trust store, built once: loading and parsing a CA
  // bundle costs far more than a handshake. SSL_CTX is safe to share
  // between threads once configured.
  tl::expected<std::shared_ptr<asio::ssl::context>, HttpsError> Context(const std::string& ca_file) {
    std::lock_guard<std::mutex> lock(contexts_mutex_);
    auto& slot = contexts_[ca_file];
    if (slot) return slot;
    auto tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
    tls->set_verify_mode(asio::ssl::verify_peer);
    boost::system::error_code ec;
    if (ca_file.empty()) {
      tls->set_default_verify_paths(ec);
    } else {
      tls->load_verify_file(ca_file, ec);
    }
    if (ec) {
      contexts_.erase(ca_file);
      return Failure(HttpsStage::kCertificate,
                     "cannot load trust store " + (ca_file.empty() ? "(system)" : ca_file) + ": " + ec.message());
    }
    slot = tls;
    return slot;
  }

  dns::Resolver& resolver_;
  std::mutex contexts_mutex_;
  std::map<std::string, std::shared_ptr<asio::ssl::context>> contexts_;
};

}  // namespace

std::unique_ptr<HttpsClient> MakeHttpsClient(dns::Resolver& resolver) {
  return std::make_unique<BeastHttpsClient>(resolver);
}

}  // namespace mxsec::net
