// Rendering check results: the JSON of docs/check-json.md, readable text,
// and scan summaries.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "check/check.h"

namespace mxsec::check {
namespace {

using nlohmann::json;

json FindingJson(const Finding& f, const std::string& where) {
  json j = {{"check", f.check}, {"status", StatusName(f.status)}, {"message", f.message}};
  if (!f.hint.empty()) j["hint"] = f.hint;
  if (!where.empty()) j["where"] = where;
  return j;
}

json FindingsJson(const std::vector<Finding>& findings) {
  json list = json::array();
  for (const auto& f : findings) list.push_back(FindingJson(f, ""));
  return list;
}

json OptionalBool(const std::optional<bool>& value) { return value ? json(*value) : json(nullptr); }

json TlsJson(const AddressResult& a) {
  if (!a.tls_ok) return nullptr;
  return {{"version", a.tls.version},
          {"cipher", a.tls.cipher},
          {"key_exchange", a.tls.key_exchange},
          {"tls10_accepted", OptionalBool(a.tls.tls10_accepted)},
          {"tls11_accepted", OptionalBool(a.tls.tls11_accepted)}};
}

json CertificateJson(const Certificate& c) {
  if (!c.present) return nullptr;
  json j = {{"pkix_valid", c.pkix_valid},
            {"matches_hostname", c.matches_hostname},
            {"names", c.names},
            {"subject", c.subject},
            {"issuer", c.issuer},
            {"self_signed", c.self_signed},
            {"not_before", c.not_before},
            {"not_after", c.not_after},
            {"days_left", c.days_left},
            {"key_type", c.key_type},
            {"key_bits", c.key_bits},
            {"signature_algorithm", c.signature_algorithm},
            {"chain_length", c.chain_length}};
  if (!c.pkix_valid) j["pkix_error"] = c.pkix_error;
  return j;
}

json DaneJson(const Dane& d) {
  json j = {{"dnssec", d.dnssec.empty() ? json(nullptr) : json(d.dnssec)},
            {"tlsa", d.tlsa},
            {"usable", d.usable},
            {"valid", d.valid},
            {"matched", d.matched.empty() ? json(nullptr) : json(d.matched)}};
  if (!d.error.empty() && !d.tlsa.empty()) j["error"] = d.error;
  return j;
}

json AddressJson(const AddressResult& a) {
  return {{"address", a.address},     {"connected", a.connected},
          {"answered", a.answered},   {"banner", a.banner},
          {"starttls", a.starttls},   {"tls", TlsJson(a)},
          {"certificate", CertificateJson(a.certificate)},
          {"dane", DaneJson(a.dane)}, {"status", StatusName(a.status)},
          {"findings", FindingsJson(a.findings)}, {"elapsed_ms", a.elapsed_ms}};
}

const AddressResult* Representative(const MxResult& m) {
  for (const auto& a : m.results) {
    if (a.answered) return &a;
  }
  return m.results.empty() ? nullptr : &m.results.front();
}

json MxJson(const MxResult& m) {
  const AddressResult* a = Representative(m);
  json probes = json::array();
  for (const auto& r : m.results) probes.push_back(AddressJson(r));
  return {{"hostname", m.hostname},
          {"preference", m.preference},
          {"implicit", m.implicit},
          {"dnssec", m.dnssec.empty() ? json(nullptr) : json(m.dnssec)},
          {"addresses", m.addresses},
          {"answered", m.answered},
          {"starttls", m.starttls},
          {"tls", a ? TlsJson(*a) : json(nullptr)},
          {"certificate", a ? CertificateJson(a->certificate) : json(nullptr)},
          {"dane", DaneJson(m.dane)},
          {"policy_match", m.policy_match},
          {"status", StatusName(m.status)},
          {"findings", FindingsJson(m.findings)},
          {"probes", probes}};
}

// Every finding of a domain, in the order they matter: domain, then each
// MX host, then its addresses.
std::vector<std::pair<std::string, const Finding*>> AllFindings(const DomainResult& d) {
  std::vector<std::pair<std::string, const Finding*>> all;
  for (const auto& f : d.findings) all.emplace_back("", &f);
  for (const auto& m : d.mx) {
    for (const auto& f : m.findings) all.emplace_back(m.hostname, &f);
    for (const auto& a : m.results) {
      for (const auto& f : a.findings) all.emplace_back(m.hostname + "[" + a.address + "]", &f);
    }
  }
  return all;
}

}  // namespace

std::string ToJson(const DomainResult& d, bool pretty) {
  json mx = json::array();
  for (const auto& m : d.mx) mx.push_back(MxJson(m));
  json findings = json::array();
  for (const auto& [where, f] : AllFindings(d)) findings.push_back(FindingJson(*f, where));
  const MtaStsResult& s = d.mta_sts;
  json sts = {{"record", s.record.empty() ? json(nullptr) : json(s.record)},
              {"id", s.id.empty() ? json(nullptr) : json(s.id)},
              {"policy", s.policy.empty() ? json(nullptr) : json(s.policy)},
              {"mode", s.mode.empty() ? json(nullptr) : json(s.mode)},
              {"mx", s.mx},
              {"max_age", s.max_age},
              {"valid", s.valid},
              {"mx_ok", s.mx_ok},
              {"error", s.error.empty() ? json(nullptr) : json(s.error)},
              {"status", StatusName(s.status)}};
  const TlsrptResult& t = d.tlsrpt;
  json tlsrpt = {{"record", t.record.empty() ? json(nullptr) : json(t.record)},
                 {"valid", t.valid},
                 {"rua", t.rua},
                 {"error", t.error.empty() ? json(nullptr) : json(t.error)},
                 {"status", StatusName(t.status)}};
  json j = {{"schema", "mxsec.check/1"},
            {"domain", d.domain},
            {"status", StatusName(d.status)},
            {"started", d.started},
            {"elapsed_ms", d.elapsed_ms},
            {"mx_dnssec", d.mx_dnssec.empty() ? json(nullptr) : json(d.mx_dnssec)},
            {"null_mx", d.null_mx},
            {"mx", mx},
            {"mta_sts", sts},
            {"tlsrpt", tlsrpt},
            {"findings", findings}};
  // Replace invalid UTF-8 (banners, certificate names) instead of throwing.
  return j.dump(pretty ? 2 : -1, ' ', false, json::error_handler_t::replace);
}

std::string ToText(const DomainResult& d, bool colour) {
  auto paint = [&](Status s, std::string_view text) {
    if (!colour) return std::string(text);
    const char* code = s == Status::kSuccess ? "32" : s == Status::kWarning ? "33" : s == Status::kFailure ? "31" : "35";
    return "\x1b[" + std::string(code) + "m" + std::string(text) + "\x1b[0m";
  };
  auto status = [&](Status s) {
    std::string name(StatusName(s));
    for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return paint(s, name);
  };
  std::ostringstream out;
  out << d.domain << ": " << status(d.status) << "  (" << d.elapsed_ms << " ms)\n";
  if (d.null_mx) out << "  null MX: accepts no mail\n";
  if (!d.mx_dnssec.empty()) out << "  MX records: DNSSEC " << d.mx_dnssec << "\n";
  for (const auto& m : d.mx) {
    out << "  MX " << m.preference << " " << m.hostname << (m.implicit ? " (implicit)" : "") << "  "
        << status(m.status) << "\n";
    if (!m.addresses.empty()) {
      out << "    addresses:";
      for (const auto& a : m.addresses) out << " " << a;
      out << (m.dnssec.empty() ? "" : "  (DNSSEC " + m.dnssec + ")") << "\n";
    }
    for (const auto& a : m.results) {
      out << "    " << a.address << ": ";
      const Finding* error = nullptr;
      for (const auto& f : a.findings) {
        if (f.status == Status::kError && error == nullptr) error = &f;
      }
      if (error != nullptr) {
        out << paint(Status::kError, "error") << " (" << error->check << ")\n";
      } else if (!a.answered) {
        out << "no answer\n";
      } else if (!a.starttls) {
        out << "no STARTTLS\n";
      } else if (!a.tls_ok) {
        out << "STARTTLS, TLS failed\n";
      } else {
        out << a.tls.version << " " << a.tls.cipher << (a.tls.key_exchange.empty() ? "" : " " + a.tls.key_exchange);
        if (a.tls.tls10_accepted.value_or(false)) out << ", TLS 1.0 accepted";
        if (a.tls.tls11_accepted.value_or(false)) out << ", TLS 1.1 accepted";
        out << "\n";
        const Certificate& c = a.certificate;
        if (c.present) {
          out << "      certificate: " << (c.pkix_valid ? "trusted" : "NOT trusted (" + c.pkix_error + ")") << ", "
              << (c.matches_hostname ? "name ok" : "name MISMATCH") << ", expires " << c.not_after << " ("
              << c.days_left << " days), " << c.key_type << " " << c.key_bits << "\n";
          std::string names;
          for (const auto& n : c.names) names += (names.empty() ? "" : " ") + n;
          out << "      names: " << (names.empty() ? "(none)" : names) << "\n";
        }
        if (!a.dane.tlsa.empty()) {
          out << "      DANE: " << (a.dane.valid ? "valid, matched " + a.dane.matched : "NOT valid: " + a.dane.error)
              << "\n";
        }
      }
    }
    if (!m.dane.tlsa.empty() && m.results.empty()) out << "    TLSA: " << m.dane.tlsa.size() << " records\n";
  }
  const MtaStsResult& s = d.mta_sts;
  out << "  MTA-STS: ";
  if (s.valid) {
    out << s.mode << " (id " << s.id << ", max_age " << s.max_age << ")";
    if (!s.mx.empty()) {
      out << " mx:";
      for (const auto& p : s.mx) out << " " << p;
    }
  } else {
    out << (s.error.empty() ? "none" : "invalid");
  }
  const TlsrptResult& t = d.tlsrpt;
  out << "\n  TLSRPT: ";
  if (t.valid) {
    for (size_t i = 0; i < t.rua.size(); ++i) out << (i ? ", " : "") << t.rua[i];
  } else {
    out << (t.error.empty() ? "none" : "invalid");
  }
  out << "\n";
  auto findings = AllFindings(d);
  bool header = false;
  for (const auto& [where, f] : findings) {
    if (f->status == Status::kSuccess) continue;
    if (!header) {
      out << "  findings:\n";
      header = true;
    }
    out << "    " << status(f->status) << " " << (where.empty() ? "" : where + ": ") << f->message << "\n";
    if (!f->hint.empty()) out << "      fix: " << f->hint << "\n";
  }
  return out.str();
}

void ScanSummary::Add(const DomainResult& d) {
  ++attempted;
  ++by_status[static_cast<int>(d.status)];
  if (d.null_mx) ++null_mx;
  bool any = false, all_starttls = true, all_certs = true, all_dane = true;
  for (const auto& m : d.mx) {
    if (!m.addresses.empty()) any = true;
    if (!m.answered) continue;
    const AddressResult* a = Representative(m);
    all_starttls = all_starttls && m.starttls;
    all_certs = all_certs && a && a->certificate.pkix_valid && a->certificate.matches_hostname;
    all_dane = all_dane && m.dane.valid;
  }
  bool answered = std::any_of(d.mx.begin(), d.mx.end(), [](const MxResult& m) { return m.answered; });
  if (any) ++with_mx;
  if (answered && all_starttls) ++starttls;
  if (answered && all_certs) ++valid_certificates;
  if (answered && all_dane) ++dane_valid;
  if (d.mta_sts.valid && d.mta_sts.mode == "testing") mta_sts_testing.push_back(d.domain);
  if (d.mta_sts.valid && d.mta_sts.mode == "enforce") mta_sts_enforce.push_back(d.domain);
}

std::string SummaryJson(const ScanSummary& s) {
  json by_status = json::object();
  for (int i = 0; i < 4; ++i) by_status[std::string(StatusName(static_cast<Status>(i)))] = s.by_status[i];
  json j = {{"schema", "mxsec.scan-summary/1"},
            {"attempted", s.attempted},
            {"with_mx", s.with_mx},
            {"null_mx", s.null_mx},
            {"starttls", s.starttls},
            {"valid_certificates", s.valid_certificates},
            {"dane_valid", s.dane_valid},
            {"mta_sts", {{"testing", s.mta_sts_testing.size()},
                         {"enforce", s.mta_sts_enforce.size()},
                         {"testing_domains", s.mta_sts_testing},
                         {"enforce_domains", s.mta_sts_enforce}}},
            {"by_status", by_status},
            {"seconds", s.seconds},
            {"domains_per_second", s.seconds > 0 ? s.attempted / s.seconds : 0.0}};
  return j.dump(2);
}

std::string SummaryText(const ScanSummary& s) {
  std::ostringstream out;
  auto list = [&](const std::vector<std::string>& domains) {
    std::string text;
    for (size_t i = 0; i < domains.size() && i < 20; ++i) text += (i ? " " : "") + domains[i];
    if (domains.size() > 20) text += " ... (" + std::to_string(domains.size() - 20) + " more)";
    return text;
  };
  out << "attempted           " << s.attempted << "\n"
      << "with MX             " << s.with_mx << "\n"
      << "null MX             " << s.null_mx << "\n"
      << "STARTTLS            " << s.starttls << "\n"
      << "valid certificates  " << s.valid_certificates << "\n"
      << "DANE valid          " << s.dane_valid << "\n"
      << "MTA-STS testing     " << s.mta_sts_testing.size()
      << (s.mta_sts_testing.empty() ? "" : "  " + list(s.mta_sts_testing)) << "\n"
      << "MTA-STS enforce     " << s.mta_sts_enforce.size()
      << (s.mta_sts_enforce.empty() ? "" : "  " + list(s.mta_sts_enforce)) << "\n";
  for (int i = 0; i < 4; ++i) {
    std::string name(StatusName(static_cast<Status>(i)));
    out << name << std::string(20 - name.size(), ' ') << s.by_status[i] << "\n";
  }
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.1f s, %.1f domains/s", s.seconds, s.seconds > 0 ? s.attempted / s.seconds : 0.0);
  out << "time                " << rate << "\n";
  return out.str();
}

}  // namespace mxsec::check
