// `mxsec check` and `mxsec scan`.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "check/check.h"
#include "cli/check_setup.h"
#include "cli/cli.h"
#include "dns/dns.h"
#include "net/net.h"

namespace mxsec::cli {
namespace {

void PrintError(const std::string& message) { std::fprintf(stderr, "mxsec: %s\n", message.c_str()); }

std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

bool UseColour(const std::string& mode, int fd) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  return isatty(fd) == 1 && std::getenv("NO_COLOR") == nullptr;
}

}  // namespace

Result<CheckSetup> CheckSetup::Make(const Config& config, const CheckFlags& flags, int max_mx) {
  if (flags.port < 1 || flags.port > 65535) return Fail(Code::kInvalidArgument, "--port must be 1-65535");
  if (flags.connect_timeout <= 0 || flags.domain_timeout <= 0) {
    return Fail(Code::kInvalidArgument, "time limits must be positive");
  }
  if (max_mx < 1) return Fail(Code::kInvalidArgument, "at least one MX host must be checked");
  CheckSetup setup;
  auto resolver = dns::MakeUnboundResolver({config.dns_servers, config.trust_anchor, config.timeout});
  if (!resolver) return tl::unexpected(resolver.error());
  setup.resolver = std::move(*resolver);
  setup.https = net::MakeHttpsClient(*setup.resolver);
  setup.prober = net::MakeSmtpProber();
  auto trust = check::TrustStore::Load(config.ca_file);
  if (!trust) return tl::unexpected(trust.error());
  check::CheckOptions options;
  options.ehlo_name = flags.ehlo_name;
  options.port = static_cast<uint16_t>(flags.port);
  options.ca_file = config.ca_file;
  options.connect_timeout = Millis(flags.connect_timeout);
  options.domain_timeout = Millis(flags.domain_timeout);
  options.https_timeout = config.timeout;
  options.probe_legacy_tls = !flags.no_legacy_tls;
  options.per_address_limit = flags.per_address;
  options.max_mx = max_mx;
  options.ipv6 = !flags.no_ipv6;
  setup.checker = std::make_unique<check::Checker>(*setup.resolver, *setup.prober, *setup.https, std::move(*trust),
                                                   options, SystemClock());
  return setup;
}

int RunCheck(const Config& config, const std::vector<std::string>& domains, const CheckFlags& flags) {
  auto setup = CheckSetup::Make(config, flags);
  if (!setup) {
    PrintError(setup.error().detail);
    return kExitSetup;
  }
  const bool colour = UseColour(flags.colour, STDOUT_FILENO);
  int exit = kExitOk;
  for (const auto& domain : domains) {
    auto result = setup->checker->Check(domain);
    std::string out = flags.json ? check::ToJson(result, true) + "\n" : check::ToText(result, colour);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    if (result.status >= check::Status::kFailure) exit = kExitNegative;
  }
  return exit;
}

int RunScan(const Config& config, const std::string& input, const CheckFlags& flags) {
  if (flags.concurrency < 1 || flags.concurrency > 4096) {
    PrintError("--concurrency must be 1-4096");
    return kExitSetup;
  }
  std::ifstream file;
  std::istream* in = &std::cin;
  if (input != "-") {
    file.open(input);
    if (!file) {
      PrintError("cannot read " + input);
      return kExitSetup;
    }
    in = &file;
  }
  std::ofstream out_file;
  std::ostream* out = &std::cout;
  if (!flags.output.empty() && flags.output != "-") {
    out_file.open(flags.output, std::ios::trunc);
    if (!out_file) {
      PrintError("cannot write " + flags.output);
      return kExitSetup;
    }
    out = &out_file;
  }
  auto setup = CheckSetup::Make(config, flags);
  if (!setup) {
    PrintError(setup.error().detail);
    return kExitSetup;
  }

  // Input: one domain per line; blank lines and # comments skipped; the
  // first field of a CSV-like line ("domain,rest") counts.
  size_t line_number = 0;
  auto next = [&]() -> std::optional<std::string> {
    std::string line;
    while (std::getline(*in, line)) {
      ++line_number;
      size_t hash = line.find('#');
      if (hash != std::string::npos) line.resize(hash);
      size_t start = line.find_first_not_of(" \t\r");
      if (start == std::string::npos) continue;
      size_t end = line.find_first_of(" \t\r,;", start);
      return line.substr(start, end == std::string::npos ? std::string::npos : end - start);
    }
    return std::nullopt;
  };

  check::ScanSummary summary;
  const auto start = std::chrono::steady_clock::now();
  auto last_progress = start;
  const bool tty = isatty(STDERR_FILENO) == 1;
  auto progress = [&](bool final) {
    if (flags.quiet) return;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    char line[160];
    std::snprintf(line, sizeof line, "scan: %zu domains, %zu failure, %zu error, %.0f s, %.1f/s", summary.attempted,
                  summary.by_status[2], summary.by_status[3], seconds, seconds > 0 ? summary.attempted / seconds : 0.0);
    std::fprintf(stderr, tty ? "\r%s%s" : "%s%s", line, tty && !final ? "" : "\n");
    std::fflush(stderr);
  };
  check::Scan(*setup->checker, next, flags.concurrency, [&](const check::DomainResult& result) {
    *out << check::ToJson(result, false) << '\n';
    summary.Add(result);
    auto now = std::chrono::steady_clock::now();
    if (now - last_progress >= std::chrono::seconds(tty ? 1 : 10)) {
      last_progress = now;
      progress(false);
    }
  });
  out->flush();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  progress(true);
  std::string text = check::SummaryText(summary);
  std::fwrite(text.data(), 1, text.size(), stderr);
  if (!flags.summary_json.empty()) {
    std::ofstream summary_file(flags.summary_json, std::ios::trunc);
    summary_file << check::SummaryJson(summary) << '\n';
    if (!summary_file) {
      PrintError("cannot write " + flags.summary_json);
      return kExitSetup;
    }
  }
  if (!*out) {
    PrintError("writing the results failed");
    return kExitSetup;
  }
  return kExitOk;
}

}  // namespace mxsec::cli
