// Scans: a fixed pool of threads, each taking the next domain. Checks block
// on DNS and SMTP, so the pool size is the number of domains in flight.
#include <mutex>
#include <thread>

#include "check/check.h"

namespace mxsec::check {

void Scan(Checker& checker, const std::function<std::optional<std::string>()>& next, int concurrency,
          const std::function<void(const DomainResult&)>& done) {
  std::mutex input, output;
  auto work = [&] {
    while (true) {
      std::optional<std::string> domain;
      {
        std::lock_guard<std::mutex> lock(input);
        domain = next();
      }
      if (!domain) return;
      DomainResult result = checker.Check(*domain);
      std::lock_guard<std::mutex> lock(output);
      done(result);
    }
  };
  std::vector<std::thread> threads;
  for (int i = 1; i < std::max(1, concurrency); ++i) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
}

}  // namespace mxsec::check
