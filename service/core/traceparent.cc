#include "service/core/traceparent.h"

#include "absl/strings/str_cat.h"

namespace music::service {
namespace {

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZeros(absl::string_view s) { return s.find_first_not_of('0') == absl::string_view::npos; }

}  // namespace

std::string NormalizeTraceparent(absl::string_view value) {
  constexpr size_t kLength = 55;  // 2 + 1 + 32 + 1 + 16 + 1 + 2
  if (value.size() < kLength) return "";
  const absl::string_view version = value.substr(0, 2);
  const absl::string_view trace_id = value.substr(3, 32);
  const absl::string_view parent_id = value.substr(36, 16);
  const absl::string_view flags = value.substr(53, 2);
  if (value[2] != '-' || value[35] != '-' || value[52] != '-') return "";
  if (!IsLowerHex(version) || !IsLowerHex(trace_id) || !IsLowerHex(parent_id) ||
      !IsLowerHex(flags)) {
    return "";
  }
  if (version == "ff" || AllZeros(trace_id) || AllZeros(parent_id)) return "";
  // Version 00 has nothing after the flags; a later version may add fields after a '-'.
  if (value.size() > kLength && (version == "00" || value[kLength] != '-')) return "";
  return absl::StrCat("00-", trace_id, "-", parent_id, "-", flags);
}

}  // namespace music::service
