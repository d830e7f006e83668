// Helpers for table-driven tests: naming parameterized cases, and matching
// the words an error detail must contain.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace mxsec::test {

// Names each parameterized test after its case (`param.name`).
struct CaseName {
  template <typename T>
  std::string operator()(const testing::TestParamInfo<T>& param_info) const {
    return param_info.param.name;
  }
};

// `want` is either "a&b" (every word must occur in `detail`) or "a|b" (at
// least one must occur); a single word is both.
inline bool DetailMatches(const std::string& detail, std::string_view want) {
  const bool any = want.find('|') != std::string_view::npos;
  const char sep = any ? '|' : '&';
  size_t start = 0;
  while (start <= want.size()) {
    size_t end = want.find(sep, start);
    if (end == std::string_view::npos) end = want.size();
    const bool found = detail.find(want.substr(start, end - start)) != std::string::npos;
    if (any && found) return true;
    if (!any && !found) return false;
    start = end + 1;
  }
  return !any;
}

}  // namespace mxsec::test
