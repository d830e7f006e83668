// Judging a check result against a STARTTLS-Everywhere list entry: the
// checks of list_validation.h, in the order a mail administrator fixes them
// (DNS, then each MX host, then each of its addresses).
#include "check/list_validation.h"

#include <algorithm>
#include <charconv>

namespace mxsec::check {
namespace {

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// RULES.md 3: "Successfully negotiates a TLS session (>= TLS 1.2)".
bool AtLeastTls12(std::string_view version) {
  constexpr std::string_view kPrefix = "TLSv1.";
  if (version.substr(0, kPrefix.size()) != kPrefix) return false;
  version.remove_prefix(kPrefix.size());
  int minor = 0;
  auto [end, error] = std::from_chars(version.data(), version.data() + version.size(), minor);
  return error == std::errc() && end == version.data() + version.size() && minor >= 2;
}

// The first finding of `findings` at or above `level`, optionally of one
// check; nullptr when there is none.
const Finding* FirstFinding(const std::vector<Finding>& findings, Status level, std::string_view check = "") {
  for (const auto& f : findings) {
    if (f.status >= level && (check.empty() || f.check == check)) return &f;
  }
  return nullptr;
}

// "message: hint", or the fallback when there is no finding to quote.
std::string Quote(const Finding* f, const std::string& fallback) {
  if (f == nullptr) return fallback;
  return f->hint.empty() ? f->message : f->message + ": " + f->hint;
}

// An MTA-STS pattern ("*.x": one label) in the list's syntax (".x"), folded,
// to compare a policy with a list entry.
std::vector<std::string> ComparablePatterns(const std::vector<std::string>& patterns) {
  std::vector<std::string> out;
  for (const auto& p : patterns) {
    std::string folded = FoldDomain(p);
    if (folded.rfind("*.", 0) == 0) folded.erase(0, 1);
    out.push_back(std::move(folded));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

class Validator {
 public:
  Validator(const DomainResult& result, const policylist::Policy& policy) : d_(result), policy_(policy) {
    out_.domain = d_.domain;
    out_.mode = policy.mode;
    out_.mxs = policy.mxs;
    patterns_ = Join(policy.mxs);
  }

  ListValidation Run() {
    Domain();
    for (const auto& m : d_.mx) out_.mx.push_back(Mx(m));
    MtaSts();
    out_.valid = out_.problems.empty();
    return std::move(out_);
  }

 private:
  void Problem(std::string line) { out_.problems.push_back(std::move(line)); }
  void Note(std::string line) { out_.notes.push_back(std::move(line)); }

  // Check 1: the domain has MX records.
  void Domain() {
    if (d_.null_mx) {
      Problem(d_.domain +
              " publishes a null MX (RFC 7505) and accepts no mail: remove it from the list, or publish "
              "MX records naming hosts that match the list's mxs (" +
              patterns_ + ")");
    } else if (d_.mx.empty()) {
      Problem(d_.domain + ": " +
              Quote(FirstFinding(d_.findings, Status::kFailure, "mx"), "no MX host could be checked") +
              " (no MX host could be validated)");
    } else if (d_.mx.front().implicit) {
      Problem(d_.domain +
              " has no MX records (mail goes to the domain's own address): publish MX records naming "
              "hosts that match the list's mxs (" +
              patterns_ + ")");
    }
  }

  // Checks 2-6 for one MX host.
  ListMxValidation Mx(const MxResult& m) {
    ListMxValidation v;
    v.hostname = m.hostname;
    v.preference = m.preference;
    v.implicit = m.implicit;
    for (const auto& p : policy_.mxs) {
      if (policylist::MatchesMx(p, m.hostname)) {
        v.pattern = p;
        break;
      }
    }
    // The implicit MX is already a problem of the domain, with the same fix.
    if (v.pattern.empty() && !m.implicit) {
      Problem(m.hostname + " is not covered by the list's mxs (" + patterns_ +
              "): add it to the list entry or change the MX records");
    }
    if (m.addresses.empty()) {
      Problem(Quote(FirstFinding(m.findings, Status::kFailure, "mx"), m.hostname + " has no address") +
              " (so it cannot be validated)");
      return v;
    }
    for (const auto& a : m.results) v.answered = v.answered || a.answered;
    if (!v.answered) {
      const AddressResult* first = m.results.empty() ? nullptr : &m.results.front();
      const std::string where = m.hostname + (first ? " (" + first->address + ")" : "");
      Problem(where + " did not answer: " +
              Quote(first ? FirstFinding(first->findings, Status::kError) : nullptr, "no SMTP session") +
              " (every MX host must pass)");
    }
    bool addresses_valid = v.answered;
    for (const auto& a : m.results) {
      v.addresses.push_back(Address(m, a, !v.pattern.empty()));
      if (a.answered) addresses_valid = addresses_valid && v.addresses.back().valid;
    }
    v.valid = !v.pattern.empty() && addresses_valid;
    return v;
  }

  // Checks 3-6 for one address of an MX host that matched `covered`.
  ListAddressValidation Address(const MxResult& m, const AddressResult& a, bool covered) {
    ListAddressValidation v;
    v.address = a.address;
    v.answered = a.answered;
    v.starttls = a.starttls;
    const std::string where = m.hostname + " (" + a.address + ")";
    if (!a.answered) {
      // Only reached when another address of the host answered.
      if (std::any_of(m.results.begin(), m.results.end(), [](const AddressResult& r) { return r.answered; })) {
        Note(where + " did not answer while another address of the host did: " +
             Quote(FirstFinding(a.findings, Status::kError), "no SMTP session") +
             " (senders that pick this address defer; not judged)");
      }
      return v;
    }
    if (!a.starttls) {
      // No STARTTLS because EHLO failed is an SMTP problem, not a TLS one.
      if (const Finding* smtp = FirstFinding(a.findings, Status::kFailure, "smtp")) {
        Problem(where + ": " + Quote(smtp, ""));
      } else {
        Problem(where +
                " does not offer STARTTLS: enable it with a certificate from a public CA (Postfix: "
                "smtpd_tls_security_level = may, smtpd_tls_chain_files)");
      }
      return v;
    }
    if (!a.tls_ok) {
      const Finding* tls = FirstFinding(a.findings, Status::kFailure, "starttls");
      if (tls == nullptr) tls = FirstFinding(a.findings, Status::kFailure, "tls");
      if (tls == nullptr) tls = FirstFinding(a.findings, Status::kFailure);
      Problem(where + " offers STARTTLS but the TLS handshake failed (" + (tls ? tls->message : "no detail") +
              "): check the server's TLS configuration and logs");
      return v;
    }
    v.tls_version = a.tls.version;
    v.tls_ok = AtLeastTls12(a.tls.version);
    if (!v.tls_ok) {
      Problem(where + " negotiates only " + (a.tls.version.empty() ? "an unknown version" : a.tls.version) +
              ", the list needs TLS 1.2 or newer: enable TLS 1.2 and 1.3 (Postfix: smtpd_tls_protocols = "
              ">=TLSv1.2)");
    }
    const Certificate& c = a.certificate;
    if (!c.present) {
      Problem(where + " presents no certificate: configure one from a public CA");
      return v;
    }
    v.certificate_present = true;
    v.names = c.names;
    v.certificate_valid = c.pkix_valid;
    v.matches_hostname = c.matches_hostname;
    for (const auto& p : policy_.mxs) {
      for (const auto& name : c.names) {
        if (CertificateNameMatchesPattern(p, name)) {
          v.certificate_pattern = p;
          v.certificate_name = name;
          break;
        }
      }
      if (!v.certificate_pattern.empty()) break;
    }
    const std::string names = c.names.empty() ? "none" : Join(c.names);
    if (!c.pkix_valid) {
      if (c.days_left < 0) {
        Problem(where + ": the certificate expired on " + c.not_after +
                ": renew it, and automate renewals (e.g. Certbot)");
      } else {
        Problem(where + ": the certificate is not trusted" + (c.self_signed ? " (self-signed)" : "") + ": " +
                (c.pkix_error.empty() ? "no detail" : c.pkix_error) +
                ": serve a certificate from a public CA with its full chain (e.g. Let's Encrypt via Certbot)");
      }
    } else if (c.days_left < 14) {
      Note(where + ": the certificate expires in " + std::to_string(c.days_left) + " days (" + c.not_after +
           "): renew it before then; the EFF re-validates listed domains daily");
    }
    if (!c.matches_hostname) {
      Problem(where + ": the certificate does not name " + m.hostname + " (names: " + names +
              "): issue one that includes " + m.hostname);
    }
    // A host outside the list's mxs is already a problem whose fix (adding
    // the host) also covers a certificate that names it.
    if (v.certificate_pattern.empty() && covered) {
      Problem(where + ": no certificate name matches the list's mxs (" + patterns_ + "; names: " + names +
              "), so senders applying the list (Postfix match=) refuse it: add such a name to the certificate, "
              "or fix the list entry");
    }
    v.valid = v.starttls && v.tls_ok && v.certificate_present && v.certificate_valid && v.matches_hostname &&
              !v.certificate_pattern.empty();
    return v;
  }

  // VALIDATION.md: a valid MTA-STS policy is how entries are added, changed
  // and removed, and MTA-STS takes precedence over the list (USAGE.md).
  void MtaSts() {
    const MtaStsResult& sts = d_.mta_sts;
    if (!sts.valid) return;
    if (sts.mode == "none") {
      Note(d_.domain +
           " publishes an MTA-STS policy in mode none: senders prefer it to the list, and the EFF reads "
           "it as a request to remove the entry");
      return;
    }
    const std::string list_mode(policylist::ModeName(policy_.mode));
    if (sts.mode != list_mode || ComparablePatterns(sts.mx) != ComparablePatterns(policy_.mxs)) {
      Note(d_.domain + "'s MTA-STS policy (" + sts.mode + "; mx " + Join(sts.mx) + ") differs from its list entry (" +
           list_mode + "; mxs " + patterns_ +
           "): senders that have the policy use it instead of the list, and the EFF updates entries from MTA-STS "
           "policies");
    }
  }

  const DomainResult& d_;
  const policylist::Policy& policy_;
  std::string patterns_;  // the entry's mxs, joined for messages
  ListValidation out_;
};

}  // namespace

bool CertificateNameMatchesPattern(std::string_view pattern, std::string_view name) {
  const std::string p = FoldDomain(pattern);
  const std::string n = FoldDomain(name);
  if (p.empty() || n.empty() || p == ".") return false;
  // ".x": any name below x, compared as text (so "*.x" and "*.sub.x" too).
  if (p.front() == '.') return n.size() > p.size() && n.compare(n.size() - p.size(), p.size(), p) == 0;
  if (n == p) return true;
  // "*.x" stands for exactly one label of "mx.x" (RFC 6125 6.4.3).
  if (n.size() > 2 && n[0] == '*' && n[1] == '.') {
    const size_t dot = p.find('.');
    return dot != std::string::npos && dot > 0 && p.compare(dot + 1, std::string::npos, n, 2) == 0;
  }
  return false;
}

ListValidation ValidateAgainstList(const DomainResult& result, const policylist::Policy& policy) {
  return Validator(result, policy).Run();
}

}  // namespace mxsec::check
