// SmtpProber: one SMTP session per call on a private io_context, like
// HttpsClient. Boost.Beast's tcp_stream carries the deadline; the plaintext
// part of the session reads from its lowest layer, the TLS part through
// ssl_stream on top of the same socket.
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <utility>  // before Asio: boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include <map>
#include <memory>
#include <mutex>

#include "net/net.h"

namespace mxsec::net {

std::string_view TlsVersionName(TlsVersion version) {
  switch (version) {
    case TlsVersion::kAny: return "any";
    case TlsVersion::kTls10: return "TLSv1";
    case TlsVersion::kTls11: return "TLSv1.1";
    case TlsVersion::kTls12: return "TLSv1.2";
    case TlsVersion::kTls13: return "TLSv1.3";
  }
  return "any";
}

std::string_view SmtpStageName(SmtpStage stage) {
  switch (stage) {
    case SmtpStage::kConnect: return "connect";
    case SmtpStage::kBanner: return "banner";
    case SmtpStage::kEhlo: return "ehlo";
    case SmtpStage::kStartTls: return "starttls";
    case SmtpStage::kTls: return "tls";
    case SmtpStage::kTimeout: return "timeout";
  }
  return "connect";
}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

constexpr size_t kMaxReplyBytes = 64 * 1024;  // a whole multi-line reply
constexpr size_t kMaxLineBytes = 4096;        // RFC 5321 4.5.3.1.5 allows 512; be generous

// Printable ASCII only, for logs and JSON; at most `max` characters.
std::string Sanitize(std::string_view text, size_t max = 200) {
  std::string out;
  for (unsigned char c : text) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  return out;
}

struct Reply {
  int code = 0;
  std::vector<std::string> lines;  // text after "ddd-" / "ddd "
  std::string first;               // the first line as received, sanitized
};

// The key exchange of the handshake: the peer's ephemeral key.
std::string KeyExchange(SSL* ssl) {
  EVP_PKEY* key = nullptr;
  // SSL_get_peer_tmp_key is a macro with a C cast; call what it expands to.
  if (SSL_ctrl(ssl, SSL_CTRL_GET_PEER_TMP_KEY, 0, &key) <= 0 || key == nullptr) return "";
  std::string name;
  char group[80];
  size_t length = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof group, &length) == 1 && length > 0) {
    name.assign(group, length);
  } else if (EVP_PKEY_get_base_id(key) == EVP_PKEY_DH) {
    name = "DH " + std::to_string(EVP_PKEY_get_bits(key));
  } else if (const char* type = EVP_PKEY_get0_type_name(key)) {
    name = type;
  }
  EVP_PKEY_free(key);
  return name;
}

class AsioSmtpProber final : public SmtpProber {
 public:
  SmtpProbeResult Probe(const SmtpProbeRequest& request) override {
    const auto start = std::chrono::steady_clock::now();
    SmtpProbeResult result;
    auto* tls = Context(request.min_version, request.max_version);
    asio::io_context io;
    asio::co_spawn(io, Run(io, *tls, request, start + request.timeout, result), asio::detached);
    io.run();
    result.elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    return result;
  }

 private:
  using Stream = beast::ssl_stream<beast::tcp_stream>;

  static void Failed(SmtpProbeResult& result, SmtpStage stage, std::string error) {
    result.failed = stage;
    result.error = std::move(error);
  }

  // Reads one reply, plaintext or over TLS. Returns false (with `error` set)
  // on a malformed reply, a connection problem or the deadline.
  template <typename AsyncStream>
  static asio::awaitable<bool> ReadReply(AsyncStream& stream, std::string& buffer, Reply& reply,
                                         std::string& error, bool& timed_out) {
    reply = Reply{};
    size_t total = 0;
    boost::system::error_code ec;
    while (true) {
      size_t n = co_await asio::async_read_until(stream, asio::dynamic_buffer(buffer, kMaxLineBytes), '\n',
                                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        timed_out = ec == beast::error::timeout;
        if (ec == asio::error::not_found) {
          error = "reply line longer than " + std::to_string(kMaxLineBytes) + " bytes: " +
                  Sanitize(buffer.substr(0, 60));
        } else if (ec == asio::error::eof && buffer.empty() && reply.lines.empty()) {
          error = "connection closed by the server";
        } else {
          error = (timed_out ? std::string("timed out waiting for a reply") : ec.message()) +
                  (buffer.empty() ? "" : " after " + Sanitize(buffer, 60));
        }
        co_return false;
      }
      std::string line = buffer.substr(0, n);
      buffer.erase(0, n);
      total += n;
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      if (reply.first.empty()) reply.first = Sanitize(line);
      auto parsed = ParseReplyLine(line);
      if (!parsed) {
        error = "not an SMTP reply: " + Sanitize(line, 80);
        co_return false;
      }
      if (reply.code != 0 && parsed->code != reply.code) {
        error = "reply codes differ within one reply: " + Sanitize(line, 80);
        co_return false;
      }
      reply.code = parsed->code;
      reply.lines.emplace_back(parsed->text);
      if (parsed->last) co_return true;
      if (total > kMaxReplyBytes || reply.lines.size() > 200) {
        error = "reply longer than " + std::to_string(kMaxReplyBytes) + " bytes or 200 lines";
        co_return false;
      }
    }
  }

  static asio::awaitable<void> Run(asio::io_context& io, asio::ssl::context& tls, const SmtpProbeRequest& request,
                                   std::chrono::steady_clock::time_point deadline, SmtpProbeResult& result) {
    Stream stream(io, tls);
    auto& socket = beast::get_lowest_layer(stream);
    boost::system::error_code ec;
    const std::string where = request.address + ":" + std::to_string(request.port);

    auto ip = asio::ip::make_address(request.address, ec);
    if (ec) {
      Failed(result, SmtpStage::kConnect, where + ": not an IP address");
      co_return;
    }
    socket.expires_at(deadline);
    co_await socket.async_connect(tcp::endpoint(ip, request.port), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == beast::error::timeout) {
        Failed(result, SmtpStage::kTimeout, where + ": timed out connecting");
      } else {
        Failed(result, SmtpStage::kConnect, where + ": " + ec.message());
      }
      co_return;
    }
    result.connected = true;

    std::string buffer;
    Reply reply;
    std::string error;
    bool timed_out = false;
    // Each failure names its stage; a deadline anywhere is kTimeout.
    auto stop = [&](SmtpStage stage, const std::string& what) {
      Failed(result, timed_out ? SmtpStage::kTimeout : stage, where + ": " + what);
    };

    socket.expires_at(deadline);
    if (!co_await ReadReply(socket, buffer, reply, error, timed_out)) {
      stop(SmtpStage::kBanner, "banner: " + error);
      co_return;
    }
    result.banner = reply.first;
    if (reply.code != 220) {
      stop(SmtpStage::kBanner, "greeting is not 220: " + reply.first);
      co_return;
    }

    // g++ 12 miscompiles temporaries with destructors inside a co_await
    // expression: every command line is a named string.
    auto command = [&](const std::string& line) -> asio::awaitable<bool> {
      socket.expires_at(deadline);
      co_await asio::async_write(socket, asio::buffer(line), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        timed_out = ec == beast::error::timeout;
        error = ec.message();
        co_return false;
      }
      socket.expires_at(deadline);
      co_return co_await ReadReply(socket, buffer, reply, error, timed_out);
    };

    const std::string ehlo = "EHLO " + request.ehlo_name + "\r\n";
    const std::string quit = "QUIT\r\n";
    const std::string starttls = "STARTTLS\r\n";
    if (!co_await command(ehlo)) {
      stop(SmtpStage::kEhlo, "EHLO: " + error);
      co_return;
    }
    if (reply.code != 250) {
      stop(SmtpStage::kEhlo, "EHLO refused: " + reply.first);
      co_return;
    }
    for (size_t i = 1; i < reply.lines.size(); ++i) {
      std::string keyword = Sanitize(reply.lines[i], 120);
      for (char& c : keyword) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (keyword == "STARTTLS") result.starttls_offered = true;
      result.extensions.push_back(std::move(keyword));
    }
    if (!request.starttls || !result.starttls_offered) {
      co_await command(quit);
      co_return;
    }

    if (!co_await command(starttls)) {
      stop(SmtpStage::kStartTls, "STARTTLS: " + error);
      co_return;
    }
    if (reply.code != 220) {
      stop(SmtpStage::kStartTls, "STARTTLS refused: " + reply.first);
      co_return;
    }
    if (!buffer.empty()) {
      // Bytes sent before the handshake would be read as if they came over
      // TLS by a careless client (CVE-2011-0411 and its kin).
      stop(SmtpStage::kStartTls, "the server sent data after its 220 reply to STARTTLS: " + Sanitize(buffer, 60));
      co_return;
    }

    SSL* ssl = stream.native_handle();
    if (!request.server_name.empty()) {
      // SSL_set_tlsext_host_name is a macro with a C cast; call what it expands to.
      SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(request.server_name.c_str()));
    }
    socket.expires_at(deadline);
    co_await stream.async_handshake(asio::ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      timed_out = ec == beast::error::timeout;
      // A TLS alert or protocol error is the server's answer; a reset or an
      // end of stream is the connection going away.
      const bool closed = ec == asio::ssl::error::stream_truncated || ec.category() != asio::error::get_ssl_category();
      stop(SmtpStage::kTls, "TLS handshake failed: " +
                                (closed ? "connection closed by the server (" + ec.message() + ")" : ec.message()));
      co_return;
    }
    result.tls = true;
    result.tls_version = SSL_get_version(ssl);
    if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl)) result.cipher = SSL_CIPHER_get_name(cipher);
    result.key_exchange = KeyExchange(ssl);
    if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl)) {
      for (int i = 0; i < sk_X509_num(chain); ++i) {
        unsigned char* der = nullptr;
        int length = i2d_X509(sk_X509_value(chain, i), &der);
        if (length > 0) result.peer_chain.emplace_back(reinterpret_cast<char*>(der), static_cast<size_t>(length));
        OPENSSL_free(der);
      }
    }

    // Leave politely; its outcome does not matter.
    socket.expires_at(std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(2)));
    co_await asio::async_write(stream, asio::buffer(quit),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) co_await ReadReply(stream, buffer, reply, error, timed_out);
    socket.close();
  }

  // One context per offered protocol range, built once and shared.
  asio::ssl::context* Context(TlsVersion min, TlsVersion max) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& slot = contexts_[{static_cast<int>(min), static_cast<int>(max)}];
    if (!slot) {
      slot = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
      SSL_CTX* ctx = slot->native_handle();
      SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
      // A probe must reach what old servers offer: no local floor.
      SSL_CTX_set_security_level(ctx, 0);
      SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
      SSL_CTX_set_options(ctx, SSL_OP_LEGACY_SERVER_CONNECT);
      SSL_CTX_set_min_proto_version(ctx, static_cast<int>(min));
      SSL_CTX_set_max_proto_version(ctx, static_cast<int>(max));
    }
    return slot.get();
  }

  std::mutex mutex_;
  std::map<std::pair<int, int>, std::unique_ptr<asio::ssl::context>> contexts_;
};

}  // namespace

std::unique_ptr<SmtpProber> MakeSmtpProber() { return std::make_unique<AsioSmtpProber>(); }

}  // namespace mxsec::net
