// mxsec command dispatch. Everything a command does lives in commands.cc.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <functional>

#include "cli/cli.h"

namespace {

constexpr const char* kFooter =
    "Exit status: 0 success, 1 negative answer (invalid input, no match, failed lookup),\n"
    "2 usage or set-up error. See README.md and docs/.";

}  // namespace

int main(int argc, char** argv) try {
  using mxsec::cli::GlobalFlags;
  CLI::App app{"mxsec: MTA-STS, DANE and TLSRPT for Postfix and Exim operators", "mxsec"};
  app.footer(kFooter);
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the command

  GlobalFlags flags;
  app.add_option("--config", flags.config_path, "YAML configuration file")->check(CLI::ExistingFile);
  app.add_option("--data-dir", flags.data_dir, "directory for the cache and stores (default ./var)");
  app.add_option("--cache", flags.cache_file, "policy cache file (default DATA_DIR/mtasts.lmdb)");
  app.add_option("--dns-server", flags.dns_servers, "DNS server IP[@PORT], repeatable (default: resolv.conf)");
  app.add_option("--trust-anchor", flags.trust_anchor, "DNSSEC trust anchor file (default: dns-root-data)");
  app.add_option("--ca-file", flags.ca_file, "CA bundle for HTTPS (default: the system store)");
  app.add_option("--timeout", flags.timeout_seconds, "time limit in seconds per DNS query and per policy fetch")
      ->check(CLI::Range(0.05, 3600.0));
  app.add_flag("-v,--verbose", flags.verbosity, "more log output (repeat for debug)");

  // Callbacks only choose the action; it runs after the whole command line
  // is parsed, so global options given after the command are in effect.
  std::function<int()> action;
  auto with_config = [&](auto run) {
    auto config = mxsec::cli::BuildConfig(flags);
    if (!config) {
      std::fprintf(stderr, "mxsec: %s\n", config.error().detail.c_str());
      return mxsec::cli::kExitSetup;
    }
    return run(*config);
  };

  // mxsec mtasts ...
  auto* mtasts = app.add_subcommand("mtasts", "MTA-STS parsers and matching (RFC 8461), no network");
  mtasts->require_subcommand(1);
  std::string record_text, policy_file, pattern, host;
  auto* parse_record = mtasts->add_subcommand("parse-record", "parse an _mta-sts TXT record, print JSON");
  parse_record->add_option("TEXT", record_text, "the record text")->required();
  parse_record->callback([&] { action = [&] { return mxsec::cli::RunParseRecord(record_text); }; });
  auto* parse_policy = mtasts->add_subcommand("parse-policy", "parse a policy file, print JSON");
  parse_policy->add_option("FILE", policy_file, "policy file, or - for standard input")->required();
  parse_policy->callback([&] { action = [&] { return mxsec::cli::RunParsePolicy(policy_file); }; });
  auto* match = mtasts->add_subcommand("match", "exit 0 when HOST matches the policy mx PATTERN");
  match->add_option("PATTERN", pattern, "an mx pattern (host or *.domain)")->required();
  match->add_option("HOST", host, "an MX host name")->required();
  match->callback([&] { action = [&] { return mxsec::cli::RunMatch(pattern, host); }; });

  // mxsec policy ...
  std::vector<std::string> domains;
  bool json = false, no_cache = false;
  auto* policy = app.add_subcommand("policy", "the MTA-STS policy of domains, through the cache");
  policy->add_option("DOMAIN", domains, "recipient domains")->required();
  policy->add_flag("--json", json, "one JSON object per domain and line");
  policy->add_flag("--no-cache", no_cache, "neither read nor write the cache");
  policy->callback([&] {
    action = [&] {
      return with_config([&](const mxsec::Config& c) { return mxsec::cli::RunPolicy(c, domains, json, no_cache); });
    };
  });

  // mxsec dns ...
  std::string dns_type, dns_name;
  bool dns_json = false;
  auto* dns = app.add_subcommand("dns", "one lookup through mxsec's validating resolver, with its DNSSEC status");
  dns->add_option("TYPE", dns_type, "TXT, MX, A, AAAA or TLSA")
      ->required()
      ->transform(CLI::IsMember({"TXT", "MX", "A", "AAAA", "TLSA"}, CLI::ignore_case));
  dns->add_option("NAME", dns_name, "the name to look up")->required();
  dns->add_flag("--json", dns_json, "print JSON");
  dns->callback([&] {
    action = [&] {
      return with_config([&](const mxsec::Config& c) { return mxsec::cli::RunDns(c, dns_type, dns_name, dns_json); });
    };
  });

  // mxsec serve
  mxsec::cli::ServeFlags serve_flags;
  auto* serve = app.add_subcommand(
      "serve", "the policy daemon: Postfix socketmap, Exim socket, HTTP metrics (docs/configuration.md)");
  serve->add_option("--socketmap", serve_flags.socketmap,
                    "Postfix socketmap listener, ADDR:PORT or a Unix socket path (default 127.0.0.1:8461)");
  serve->add_option("--exim-socket", serve_flags.exim_socket, "Exim readsocket listener (default 127.0.0.1:8462)");
  serve->add_option("--http", serve_flags.http, "HTTP /metrics and /healthz listener (default 127.0.0.1:8463)");
  serve->callback([&] {
    action = [&] {
      return with_config(
          [&](const mxsec::Config& c) { return mxsec::cli::RunServe(c, flags.config_path, serve_flags); });
    };
  });

  // mxsec check / scan
  mxsec::cli::CheckFlags check_flags;
  std::vector<std::string> check_domains;
  std::string scan_input;
  auto add_check_options = [&](CLI::App* cmd) {
    cmd->add_option("--ehlo", check_flags.ehlo_name, "EHLO name (default: this host's name)");
    cmd->add_option("--port", check_flags.port, "SMTP port (default 25)")->check(CLI::Range(1, 65535));
    cmd->add_option("--conn-timeout", check_flags.connect_timeout, "seconds per SMTP session (default 30)")
        ->check(CLI::Range(0.05, 3600.0));
    cmd->add_option("--domain-timeout", check_flags.domain_timeout, "seconds per domain (default 120)")
        ->check(CLI::Range(0.05, 86400.0));
    cmd->add_option("--per-address", check_flags.per_address, "concurrent SMTP sessions per IP address (default 4)")
        ->check(CLI::Range(1, 1000));
    cmd->add_flag("--no-legacy-tls", check_flags.no_legacy_tls, "do not probe whether TLS 1.0/1.1 are accepted");
    cmd->add_flag("--no-ipv6", check_flags.no_ipv6, "do not connect to AAAA addresses");
  };
  auto* check = app.add_subcommand(
      "check", "check domains as a careful sender: MX, STARTTLS, TLS, certificate, DANE, MTA-STS, TLSRPT");
  check->footer(
      "Exit status: 0 every domain success or warning, 1 a domain with a failure or error, 2 usage or set-up "
      "error.\nJSON schema: docs/check-json.md. Status rules: docs/check.md.");
  check->add_option("DOMAIN", check_domains, "domains to check")->required();
  check->add_flag("--json", check_flags.json, "print JSON (docs/check-json.md)");
  check->add_option("--color", check_flags.colour, "auto, always or never (NO_COLOR is honoured)")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  add_check_options(check);
  check->callback([&] {
    action = [&] {
      return with_config([&](const mxsec::Config& c) { return mxsec::cli::RunCheck(c, check_domains, check_flags); });
    };
  });
  auto* scan = app.add_subcommand("scan", "check many domains concurrently; JSON lines out, a summary on stderr");
  scan->footer("Exit status: 0 the scan ran (whatever the domains' statuses), 2 usage or set-up error.");
  scan->add_option("FILE", scan_input, "domains, one per line (# comments); - for stdin")->required();
  scan->add_option("--concurrency", check_flags.concurrency, "domains checked at once (default 32)")
      ->check(CLI::Range(1, 4096));
  scan->add_option("-o,--output", check_flags.output, "write the JSON lines here (default stdout)");
  scan->add_option("--summary-json", check_flags.summary_json, "also write the summary as JSON to this file");
  scan->add_flag("-q,--quiet", check_flags.quiet, "no progress on stderr");
  add_check_options(scan);
  scan->callback([&] {
    action = [&] {
      return with_config([&](const mxsec::Config& c) { return mxsec::cli::RunScan(c, scan_input, check_flags); });
    };
  });

  // mxsec list ...
  std::string list_file, list_domain;
  bool list_json = false;
  auto* list = app.add_subcommand("list", "the STARTTLS-Everywhere policy list (schema 0.1)");
  list->require_subcommand(1);
  auto add_list = [&](const char* name, const char* help) {
    auto* sub = list->add_subcommand(name, help);
    sub->add_option("--file", list_file, "the list (default DATA_DIR/policy-list.json)");
    return sub;
  };
  auto* list_check = add_list("check", "validate a list against schema 0.1; every violation on stderr");
  list_check->callback([&] {
    action = [&] { return with_config([&](const mxsec::Config& c) { return mxsec::cli::RunListCheck(c, list_file); }); };
  });
  auto* list_show = add_list("show", "the list's policy for DOMAIN (exit 1 when not listed)");
  list_show->add_option("DOMAIN", list_domain, "recipient domain")->required();
  list_show->add_flag("--json", list_json, "print JSON");
  list_show->callback([&] {
    action = [&] {
      return with_config(
          [&](const mxsec::Config& c) { return mxsec::cli::RunListShow(c, list_file, list_domain, list_json); });
    };
  });
  auto* list_postfix = add_list("postfix", "print an smtp_tls_policy_maps table (enforce: secure match=..., testing: may)");
  list_postfix->callback([&] {
    action = [&] {
      return with_config([&](const mxsec::Config& c) { return mxsec::cli::RunListPostfix(c, list_file); });
    };
  });

  auto* list_validate = add_list(
      "validate", "check DOMAIN against its list entry with mxsec check: MX hosts match, STARTTLS, valid certificate");
  list_validate->footer("Exit status: 0 valid, 1 not valid or not listed, 2 usage or set-up error.");
  list_validate->add_option("DOMAIN", list_domain, "recipient domain")->required();
  list_validate->add_flag("--json", check_flags.json, "print JSON");
  add_check_options(list_validate);
  list_validate->callback([&] {
    action = [&] {
      return with_config(
          [&](const mxsec::Config& c) { return mxsec::cli::RunListValidate(c, list_file, list_domain, check_flags); });
    };
  });
  mxsec::cli::ListUpdateFlags update_flags;
  auto* list_update = list->add_subcommand(
      "update", "fetch (HTTPS) or read a list, verify its OpenPGP signature, validate it and install it");
  list_update->footer(
      "Installs DATA_DIR/policy-list.json atomically. Refused, and the list in force kept, when the signature\n"
      "is missing or not by the pinned key, the list is invalid or expired, or its timestamp is older than\n"
      "the installed one. Exit status: 0 installed or already current, 1 refused, 2 usage or set-up error.");
  list_update->add_option("SOURCE", update_flags.source,
                          "https:// URL or file (default: policy_list.url from the config)");
  list_update->add_option("--signature", update_flags.signature,
                          "detached OpenPGP signature, URL or file (default SOURCE.asc)");
  list_update->add_option("--keyring", update_flags.keyring,
                          "exported public key file holding the pinned key (default policy_list.keyring)");
  list_update->add_option("--fingerprint", update_flags.fingerprint,
                          "fingerprint of the key that must have signed (default policy_list.fingerprint, the EFF's)");
  list_update->add_flag("--json", update_flags.json, "print the outcome as JSON");
  list_update->callback([&] {
    action = [&] {
      return with_config([&](const mxsec::Config& c) { return mxsec::cli::RunListUpdate(c, update_flags); });
    };
  });

  // mxsec exim ...
  auto* exim = app.add_subcommand("exim", "answers for Exim, as the MTA-STS Perl script gave them");
  exim->require_subcommand(1);
  std::string exim_domain, exim_host;
  auto add_exim = [&](const char* name, const char* help, mxsec::cli::EximQuestion question, bool with_host) {
    auto* sub = exim->add_subcommand(name, help);
    sub->add_option("DOMAIN", exim_domain, "recipient domain")->required();
    if (with_host) sub->add_option("HOST", exim_host, "MX host name")->required();
    sub->callback([&, question] {
      action = [&, question] {
        return with_config(
            [&](const mxsec::Config& c) { return mxsec::cli::RunExim(c, question, exim_domain, exim_host); });
      };
    });
  };
  add_exim("mode", "print enforce, testing or none", mxsec::cli::EximQuestion::kMode, false);
  add_exim("valid-mx", "print nothing, or do_not_connect:no_match when HOST is outside the policy",
           mxsec::cli::EximQuestion::kValidMx, true);
  add_exim("mx-list", "print the policy's mx patterns joined by ':'", mxsec::cli::EximQuestion::kMxList, false);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return mxsec::cli::kExitSetup;
  }
  return action ? action() : mxsec::cli::kExitSetup;
} catch (const std::exception& e) {
  std::fprintf(stderr, "mxsec: internal error: %s\n", e.what());
  return 70;
}
