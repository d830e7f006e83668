// Character classes shared by the key=value TXT record grammars of RFC 8461
// (MTA-STS, 3.1) and RFC 8460 (TLSRPT, 3), which define their extensions
// the same way, and the offset note their error details end with.
#pragma once

#include <string>
#include <string_view>

#include "base/base.h"

namespace mxsec::abnf {

inline bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
inline bool IsWsp(char c) { return c == ' ' || c == '\t'; }

// ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
inline bool IsExtName(std::string_view s) {
  if (s.empty() || s.size() > 32 || !IsAlnum(s[0])) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '_' && c != '-' && c != '.') return false;
  }
  return true;
}

// ext-value = 1*(%x21-3A / %x3C / %x3E-7E)
inline bool IsExtValue(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c < 0x21 || c > 0x7e || c == ';' || c == '=') return false;
  }
  return true;
}

// " (at offset N)", for error details.
inline std::string At(size_t offset) { return " (at offset " + std::to_string(offset) + ")"; }

// The error detail for an extension field `name=value` starting at
// `offset`, or "" when both parts are valid.
inline std::string ExtensionError(std::string_view name, std::string_view value, size_t offset) {
  if (!IsExtName(name)) return "invalid extension name " + Quote(name, 40) + At(offset);
  if (!IsExtValue(value)) return "invalid value for extension " + Quote(name, 40) + At(offset);
  return "";
}

// Skips `*WSP ";" *WSP` at `pos` (the field separator of both records).
// Returns false, with `pos` unchanged, when there is no ";".
inline bool SkipSeparator(std::string_view text, size_t& pos) {
  size_t p = pos;
  while (p < text.size() && IsWsp(text[p])) ++p;
  if (p >= text.size() || text[p] != ';') return false;
  ++p;
  while (p < text.size() && IsWsp(text[p])) ++p;
  pos = p;
  return true;
}

}  // namespace mxsec::abnf
