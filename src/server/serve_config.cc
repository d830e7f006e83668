// The `serve:` section of the YAML configuration (docs/configuration.md).
#include "base/yaml_internal.h"
#include "server/server.h"

namespace mxsec::server {
namespace {

std::string Where(const std::string& path, const YAML::Node& node) { return YamlWhere(path, node); }

Result<std::chrono::seconds> Seconds(const YAML::Node& value, const std::string& where, int64_t min, int64_t max) {
  int64_t n = value.as<int64_t>();
  if (n < min || n > max) {
    return Fail(Code::kInvalidArgument,
                where + ": must be between " + std::to_string(min) + " and " + std::to_string(max) + " seconds");
  }
  return std::chrono::seconds(n);
}

Result<ZoneSettings> ParseZone(const YAML::Node& node, const std::string& path, ZoneSettings zone) {
  if (!node.IsMap()) return Fail(Code::kInvalidArgument, Where(path, node) + ": a zone must be a mapping");
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    if (key == "strict_testing") {
      zone.strict_testing = entry.second.as<bool>();
    } else if (key == "require_sni") {
      zone.require_sni = entry.second.as<bool>();
    } else if (key == "tlsrpt") {
      zone.tlsrpt = entry.second.as<bool>();
    } else {
      return Fail(Code::kInvalidArgument, Where(path, entry.first) + ": unknown zone key '" + key + "'");
    }
  }
  return zone;
}

}  // namespace

Result<ServeConfig> LoadServeConfig(const std::string& path, ServeConfig serve) {
  serve.config_path = path;
  auto loaded = LoadYamlFile(path);
  if (!loaded) return tl::unexpected(loaded.error());
  const YAML::Node& root = *loaded;
  if (!root.IsMap() || !root["serve"]) return serve;
  const YAML::Node section = root["serve"];
  if (!section.IsMap()) return Fail(Code::kInvalidArgument, Where(path, section) + ": serve must be a mapping");
  std::string key;
  try {
    for (const auto& entry : section) {
      key = entry.first.as<std::string>();
      const YAML::Node& value = entry.second;
      const std::string where = Where(path, entry.first) + ": serve." + key;
      auto seconds = [&](std::chrono::seconds& out, int64_t min, int64_t max) -> Result<void> {
        auto s = Seconds(value, where, min, max);
        if (!s) return tl::unexpected(s.error());
        out = *s;
        return {};
      };
      Result<void> ok;
      if (key == "socketmap") {
        serve.socketmap = value.as<std::string>();
      } else if (key == "socketmap_mode") {
        serve.socketmap_mode = value.as<std::string>();
        const std::string& mode = serve.socketmap_mode;
        if (mode.empty() || mode.size() > 4 || mode.find_first_not_of("01234567") != std::string::npos) {
          return Fail(Code::kInvalidArgument, where + ": must be an octal mode like \"0660\"");
        }
      } else if (key == "socketmap_owner") {
        serve.socketmap_owner = value.as<std::string>();
      } else if (key == "exim_socket") {
        serve.exim_socket = value.as<std::string>();
      } else if (key == "http") {
        serve.http = value.as<std::string>();
      } else if (key == "fetch_concurrency") {
        serve.fetch_concurrency = value.as<int>();
        if (serve.fetch_concurrency < 1 || serve.fetch_concurrency > 256) {
          return Fail(Code::kInvalidArgument, where + ": must be between 1 and 256");
        }
      } else if (key == "recheck_after") {
        ok = seconds(serve.recheck_after, 1, 86400);
      } else if (key == "refresh_interval") {
        ok = seconds(serve.refresh_interval, 10, 86400);
      } else if (key == "drop_unused_after") {
        ok = seconds(serve.drop_unused_after, 3600, 10 * 31557600);
      } else if (key == "idle_timeout") {
        ok = seconds(serve.idle_timeout, 1, 86400);
      } else if (key == "request_timeout") {
        ok = seconds(serve.request_timeout, 1, 3600);
      } else if (key == "max_request") {
        serve.max_request = value.as<size_t>();
        if (serve.max_request < 64 || serve.max_request > 65536) {
          return Fail(Code::kInvalidArgument, where + ": must be between 64 and 65536 bytes");
        }
      } else if (key == "default_zone") {
        auto zone = ParseZone(value, path, serve.default_zone);
        if (!zone) return tl::unexpected(zone.error());
        serve.default_zone = *zone;
      } else if (key == "zones") {
        if (!value.IsMap()) return Fail(Code::kInvalidArgument, where + ": must be a mapping of names to zones");
        for (const auto& zone_entry : value) {
          auto zone = ParseZone(zone_entry.second, path, serve.default_zone);
          if (!zone) return tl::unexpected(zone.error());
          serve.zones[zone_entry.first.as<std::string>()] = *zone;
        }
      } else {
        return Fail(Code::kInvalidArgument, where + ": unknown key");
      }
      if (!ok) return tl::unexpected(ok.error());
    }
  } catch (const YAML::Exception& e) {
    return Fail(Code::kInvalidArgument, path + ":" + std::to_string(e.mark.line + 1) + ": key 'serve." + key +
                                            "' has the wrong type: " + e.msg);
  }
  return serve;
}

}  // namespace mxsec::server
