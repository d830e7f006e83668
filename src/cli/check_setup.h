// cli/check_setup: the one place that builds a check::Checker from the
// config (DNS servers, trust anchor, CA file, HTTPS time limit) and the
// check options of the command line. Used by `mxsec check`, `mxsec scan`
// and `mxsec list validate`.
#pragma once

#include <memory>

#include "base/base.h"
#include "check/check.h"
#include "cli/cli.h"
#include "dns/dns.h"
#include "net/net.h"

namespace mxsec::cli {

// A checker and the clients it uses. Members are destroyed in reverse
// order, so the checker goes before the clients it refers to. Not copyable;
// movable while no check runs.
struct CheckSetup {
  std::unique_ptr<dns::Resolver> resolver;
  std::unique_ptr<net::HttpsClient> https;
  std::unique_ptr<net::SmtpProber> prober;
  std::unique_ptr<check::Checker> checker;

  // kInvalidArgument for an out-of-range flag (port, time limits); the
  // resolver's or the trust store's error when they cannot be set up.
  // `max_mx`: MX hosts checked per domain, by preference.
  static Result<CheckSetup> Make(const Config& config, const CheckFlags& flags,
                                 int max_mx = check::CheckOptions{}.max_mx);
};

}  // namespace mxsec::cli
