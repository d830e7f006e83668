#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/cli.h"
#include "dns/dns.h"
#include "mtasts/mtasts.h"
#include "net/net.h"
#include "policy/answer_json.h"
#include "policy/policy.h"
#include "policylist/policylist.h"
#include "server/server.h"
#include "store/store.h"

namespace mxsec::cli {

using nlohmann::json;

namespace {

void PrintError(const std::string& message) { std::fprintf(stderr, "mxsec: %s\n", message.c_str()); }

void PrintJson(const json& value) {
  std::string out = value.dump(-1, ' ', false, json::error_handler_t::replace);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fputc('\n', stdout);
}

// The network parts and the cache a lookup command needs, built from Config.
struct Lookup {
  std::unique_ptr<dns::Resolver> resolver;
  std::unique_ptr<net::HttpsClient> https;
  std::unique_ptr<store::PolicyCache> cache;
  std::unique_ptr<policy::StsResolver> sts;

  static Result<Lookup> Make(const Config& config, bool use_cache) {
    Lookup lookup;
    dns::ResolverOptions dns_options{config.dns_servers, config.trust_anchor, config.timeout};
    auto resolver = dns::MakeUnboundResolver(dns_options);
    if (!resolver) return tl::unexpected(resolver.error());
    lookup.resolver = std::move(*resolver);
    lookup.https = net::MakeHttpsClient(*lookup.resolver);
    if (use_cache) {
      auto cache = store::PolicyCache::Open(config.CacheFile());
      if (!cache) return tl::unexpected(cache.error());
      lookup.cache = std::move(*cache);
    }
    policy::StsOptions options;
    options.fetch.timeout = config.timeout;
    options.fetch.ca_file = config.ca_file;
    lookup.sts = std::make_unique<policy::StsResolver>(*lookup.resolver, *lookup.https, lookup.cache.get(),
                                                       SystemClock(), options);
    return lookup;
  }
};

void PrintAnswerText(const policy::StsAnswer& answer) {
  std::string text = answer.domain + ": ";
  if (answer.source == policy::Source::kNone || !answer.entry) {
    text += "no MTA-STS policy\n";
  } else {
    const auto& e = *answer.entry;
    text += e.mode + " (" + std::string(policy::SourceName(answer.source)) + ")\n";
    std::string mx;
    for (const auto& p : e.mx) mx += (mx.empty() ? "" : ", ") + p;
    text += "  mx:       " + (mx.empty() ? std::string("-") : mx) + "\n";
    if (answer.source == policy::Source::kPolicyList) {
      if (!e.id.empty()) text += "  alias:    " + e.id + "\n";
      text += "  list of:  " + FormatRfc3339(FromUnix(e.fetched_at)) + "\n";
      text += "  expires:  " + FormatRfc3339(FromUnix(e.expires)) + " (the list's expiry)\n";
    } else {
      text += "  max_age:  " + std::to_string(e.max_age) + "\n";
      text += "  id:       " + e.id + "\n";
      text += "  expires:  " + FormatRfc3339(FromUnix(e.expires)) + "\n";
    }
    if (!e.report.empty()) text += "  report:   " + e.report + "\n";
  }
  if (answer.error) {
    text += "  error:    " + answer.error->Message() + " (" +
            std::string(mtasts::TlsrptResultType(answer.error->phase)) + ")\n";
  }
  std::fputs(text.c_str(), stdout);
}

}  // namespace

Result<Config> BuildConfig(const GlobalFlags& flags) {
  Config config;
  if (!flags.config_path.empty()) {
    auto loaded = LoadConfig(flags.config_path);
    if (!loaded) return loaded;
    config = std::move(*loaded);
  }
  if (!flags.data_dir.empty()) config.data_dir = flags.data_dir;
  if (!flags.cache_file.empty()) config.cache_file = flags.cache_file;
  if (!flags.dns_servers.empty()) {
    config.dns_servers.clear();
    for (const auto& server : flags.dns_servers) {
      auto parsed = ParseDnsServer(server);
      if (!parsed) return Fail(Code::kInvalidArgument, "--dns-server: " + parsed.error().detail);
      config.dns_servers.push_back(*parsed);
    }
  }
  if (!flags.trust_anchor.empty()) config.trust_anchor = flags.trust_anchor;
  if (!flags.ca_file.empty()) config.ca_file = flags.ca_file;
  if (flags.timeout_seconds > 0) {
    config.timeout = std::chrono::milliseconds(static_cast<int64_t>(flags.timeout_seconds * 1000));
  }
  if (flags.verbosity > 0) {
    config.log_level = flags.verbosity >= 2 ? LogLevel::kDebug : LogLevel::kInfo;
  }
  ConfigureLogging(config.log_level, config.syslog);
  return config;
}

int RunParseRecord(const std::string& text) {
  auto record = mtasts::ParseRecord(text);
  if (!record) {
    PrintError("invalid MTA-STS record: " + record.error().detail);
    return kExitNegative;
  }
  json extensions = json::object();
  for (const auto& [name, value] : record->extensions) {
    if (!extensions.contains(name)) extensions[name] = value;
  }
  PrintJson(json{{"version", record->version}, {"id", record->id}, {"extensions", extensions}});
  return kExitOk;
}

int RunParsePolicy(const std::string& file) {
  std::string body;
  const std::string source = file == "-" ? "standard input" : file;
  {
    std::ifstream in_file;
    std::istream* in = &std::cin;
    if (file != "-") {
      in_file.open(file, std::ios::binary);
      if (!in_file) {
        PrintError("cannot read " + file);
        return kExitSetup;
      }
      in = &in_file;
    }
    // Read one byte past the limit so an oversized file is detected.
    body.resize(mtasts::kMaxPolicyBytes + 1);
    in->read(body.data(), static_cast<std::streamsize>(body.size()));
    body.resize(static_cast<size_t>(in->gcount()));
  }
  if (body.size() > mtasts::kMaxPolicyBytes) {
    PrintError("invalid MTA-STS policy in " + source + ": larger than 64 KiB (65536 bytes)");
    return kExitNegative;
  }
  auto policy = mtasts::ParsePolicy(body);
  if (!policy) {
    PrintError("invalid MTA-STS policy in " + source + ": " + policy.error().detail);
    return kExitNegative;
  }
  for (const auto& warning : policy->warnings) PrintError("warning: " + source + ": " + warning);
  PrintJson(json{{"version", "STSv1"},
                 {"mode", mtasts::ModeName(policy->mode)},
                 {"max_age", policy->max_age},
                 {"mx", policy->mx}});
  return kExitOk;
}

int RunMatch(const std::string& pattern, const std::string& host) {
  return mtasts::MatchesMx(pattern, host) ? kExitOk : kExitNegative;
}

int RunPolicy(const Config& config, const std::vector<std::string>& domains, bool as_json, bool no_cache) {
  std::vector<std::string> names;
  for (const auto& raw : domains) {
    auto name = NormalizeDomain(raw);
    if (!name) {
      PrintError(name.error().detail);
      return kExitSetup;
    }
    names.push_back(*name);
  }
  auto lookup = Lookup::Make(config, !no_cache);
  if (!lookup) {
    PrintError(lookup.error().detail);
    return kExitSetup;
  }
  // The STARTTLS-Everywhere list applies where no MTA-STS policy, fresh or
  // cached, is known (docs/policylist.md). An unusable list is ignored.
  const std::optional<policylist::List> list = ActiveList(config);
  const int64_t now = ToUnix(SystemClock().Now());
  int exit_code = kExitOk;
  for (const auto& name : names) {
    auto answer = lookup->sts->Resolve(name);
    if (!answer) {
      PrintError(answer.error().detail);
      return kExitSetup;
    }
    policy::ApplyPolicyList(*answer, list ? &*list : nullptr, now);
    if (answer->error && answer->source == policy::Source::kNone) exit_code = kExitNegative;
    if (as_json) {
      PrintJson(policy::AnswerJson(*answer));
    } else {
      PrintAnswerText(*answer);
    }
  }
  return exit_code;
}

namespace {

std::string Hex(const std::vector<uint8_t>& data) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : data) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

template <typename T, typename Render>
int PrintDnsAnswer(const Result<dns::Answer<T>>& answer, const std::string& type, const std::string& name,
                   bool as_json, Render render) {
  if (!answer) {
    if (as_json) {
      PrintJson(json{{"name", name},
                     {"type", type},
                     {"status", CodeName(answer.error().code)},
                     {"error", answer.error().detail}});
    } else {
      PrintError(answer.error().detail);
    }
    return kExitNegative;
  }
  if (as_json) {
    json records = json::array();
    for (const auto& r : answer->records) records.push_back(render(r));
    PrintJson(json{{"name", name},
                   {"type", type},
                   {"status", "ok"},
                   {"dnssec", dns::SecurityName(answer->security)},
                   {"ttl", answer->ttl},
                   {"canonical_name", answer->canonical_name},
                   {"records", records}});
  } else {
    std::string text = name + " " + type + " (" + std::string(dns::SecurityName(answer->security)) + ", ttl " +
                       std::to_string(answer->ttl) + ")\n";
    for (const auto& r : answer->records) text += "  " + render(r).dump() + "\n";
    std::fputs(text.c_str(), stdout);
  }
  return kExitOk;
}

}  // namespace

int RunDns(const Config& config, const std::string& type, const std::string& raw_name, bool as_json) {
  // Not NormalizeDomain: underscore labels (_mta-sts, _25._tcp) are valid here.
  const std::string query = FoldDomain(raw_name);
  if (query.empty() || query.size() > 253) {
    PrintError("invalid DNS name " + Quote(raw_name));
    return kExitSetup;
  }
  auto resolver = dns::MakeUnboundResolver({config.dns_servers, config.trust_anchor, config.timeout});
  if (!resolver) {
    PrintError(resolver.error().detail);
    return kExitSetup;
  }
  dns::Resolver& r = **resolver;
  auto text = [](const std::string& s) { return json(s); };
  if (type == "TXT") return PrintDnsAnswer(r.LookupTxt(query), type, query, as_json, text);
  if (type == "A") return PrintDnsAnswer(r.LookupA(query), type, query, as_json, text);
  if (type == "AAAA") return PrintDnsAnswer(r.LookupAaaa(query), type, query, as_json, text);
  if (type == "MX") {
    return PrintDnsAnswer(r.LookupMx(query), type, query, as_json,
                          [](const dns::Mx& mx) { return json{{"preference", mx.preference}, {"host", mx.host}}; });
  }
  return PrintDnsAnswer(r.LookupTlsa(query), type, query, as_json, [](const dns::Tlsa& t) {
    return json{{"usage", t.usage}, {"selector", t.selector}, {"matching_type", t.matching_type}, {"data", Hex(t.data)}};
  });
}

int RunExim(const Config& config, EximQuestion question, const std::string& domain, const std::string& host) {
  auto name = NormalizeDomain(domain);
  if (!name) {
    PrintError(name.error().detail);
    return kExitSetup;
  }
  auto lookup = Lookup::Make(config, true);
  if (!lookup) {
    PrintError(lookup.error().detail);
    return kExitSetup;
  }
  auto answer = lookup->sts->Resolve(*name);
  if (!answer) {
    PrintError(answer.error().detail);
    return kExitSetup;
  }
  const std::optional<policylist::List> list = ActiveList(config);
  policy::ApplyPolicyList(*answer, list ? &*list : nullptr, ToUnix(SystemClock().Now()));
  static constexpr const char* kQuestion[] = {"mode", "valid-mx", "mx-list"};
  std::string out = server::EximAnswer(*answer, kQuestion[static_cast<int>(question)], host);
  if (!out.empty()) std::printf("%s\n", out.c_str());
  return kExitOk;
}

int RunServe(const Config& config, const std::string& config_path, const ServeFlags& flags) {
  server::ServeConfig serve;
  if (!config_path.empty()) {
    auto loaded = server::LoadServeConfig(config_path);
    if (!loaded) {
      PrintError(loaded.error().detail);
      return kExitSetup;
    }
    serve = std::move(*loaded);
  }
  if (!flags.socketmap.empty()) serve.socketmap = flags.socketmap;
  if (!flags.exim_socket.empty()) serve.exim_socket = flags.exim_socket;
  if (!flags.http.empty()) serve.http = flags.http;
  // A daemon says what it does: at least warnings and its start and stop.
  if (!LogEnabled(LogLevel::kWarning)) ConfigureLogging(LogLevel::kWarning, config.syslog);
  return server::Serve(config, std::move(serve));
}

}  // namespace mxsec::cli
