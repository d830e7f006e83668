#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "server/server.h"

namespace mxsec::server {
namespace {

std::string WriteConfig(const std::string& text) {
  std::string path = testing::TempDir() + "/serve-" + std::to_string(std::rand()) + ".yaml";
  std::ofstream(path) << text;
  return path;
}

TEST(LoadServeConfigTest, ReadsEveryKey) {
  auto path = WriteConfig(R"(data_dir: /tmp/x
serve:
  socketmap: /run/mxsec/socketmap.sock
  socketmap_mode: "0660"
  socketmap_owner: nobody:nogroup
  exim_socket: ""
  http: 127.0.0.1:9000
  fetch_concurrency: 4
  recheck_after: 30
  refresh_interval: 600
  drop_unused_after: 86400
  idle_timeout: 20
  request_timeout: 5
  max_request: 2048
  default_zone: {require_sni: false}
  zones:
    strict: {strict_testing: true}
    reports: {tlsrpt: true}
)");
  auto serve = LoadServeConfig(path);
  ASSERT_TRUE(serve.has_value()) << serve.error().detail;
  EXPECT_EQ(serve->socketmap, "/run/mxsec/socketmap.sock");
  EXPECT_EQ(serve->socketmap_mode, "0660");
  EXPECT_EQ(serve->socketmap_owner, "nobody:nogroup");
  EXPECT_EQ(serve->exim_socket, "");
  EXPECT_EQ(serve->http, "127.0.0.1:9000");
  EXPECT_EQ(serve->fetch_concurrency, 4);
  EXPECT_EQ(serve->recheck_after.count(), 30);
  EXPECT_EQ(serve->refresh_interval.count(), 600);
  EXPECT_EQ(serve->drop_unused_after.count(), 86400);
  EXPECT_EQ(serve->idle_timeout.count(), 20);
  EXPECT_EQ(serve->request_timeout.count(), 5);
  EXPECT_EQ(serve->max_request, 2048u);
  EXPECT_FALSE(serve->default_zone.require_sni);
  // A zone starts from default_zone and overrides what it names.
  EXPECT_TRUE(serve->Zone("strict").strict_testing);
  EXPECT_FALSE(serve->Zone("strict").require_sni);
  EXPECT_FALSE(serve->Zone("other").strict_testing);
  EXPECT_FALSE(serve->Zone("strict").tlsrpt);  // off unless asked for
  EXPECT_TRUE(serve->Zone("reports").tlsrpt);
  EXPECT_FALSE(serve->Zone("reports").require_sni);
  EXPECT_EQ(serve->config_path, path);
  // The global loader accepts the file too (it leaves serve: to this one).
  EXPECT_TRUE(LoadConfig(path).has_value());
}

TEST(LoadServeConfigTest, NoSectionKeepsDefaults) {
  auto serve = LoadServeConfig(WriteConfig("timeout: 3\n"));
  ASSERT_TRUE(serve.has_value());
  EXPECT_EQ(serve->socketmap, "127.0.0.1:8461");
  EXPECT_EQ(serve->recheck_after.count(), 60);
}

TEST(LoadServeConfigTest, ErrorsNameFileLineAndKey) {
  const struct {
    std::string text, want;
  } cases[] = {
      {"serve:\n  socketmapp: x\n", ":2: serve.socketmapp: unknown key"},
      {"serve:\n  recheck_after: 0\n", "serve.recheck_after: must be between"},
      {"serve:\n  fetch_concurrency: 1000\n", "serve.fetch_concurrency: must be between"},
      {"serve:\n  max_request: 10\n", "serve.max_request: must be between"},
      {"serve:\n  idle_timeout: soon\n", "'serve.idle_timeout' has the wrong type"},
      {"serve:\n  zones:\n    postfix: {strict: true}\n", ":3: unknown zone key 'strict'"},
      {"serve:\n  default_zone: {tlsrpt: maybe}\n", "'serve.default_zone' has the wrong type"},
      {"serve: [1, 2]\n", "serve must be a mapping"},
      {"serve:\n  socketmap_mode: rw\n", "serve.socketmap_mode: must be an octal mode"},
  };
  for (const auto& c : cases) {
    auto path = WriteConfig(c.text);
    auto serve = LoadServeConfig(path);
    ASSERT_FALSE(serve.has_value()) << c.text;
    EXPECT_NE(serve.error().detail.find(path), std::string::npos) << serve.error().detail;
    EXPECT_NE(serve.error().detail.find(c.want), std::string::npos) << serve.error().detail;
  }
  EXPECT_EQ(LoadServeConfig("/nonexistent/mxsec.yaml").error().code, Code::kIo);
}

}  // namespace
}  // namespace mxsec::server
