#ifndef MUSIC_ADAPTERS_INTERNAL_URL_ENCODE_H_
#define MUSIC_ADAPTERS_INTERNAL_URL_ENCODE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace music::adapters::internal {

/// Percent-encodes every byte but the RFC 3986 unreserved characters (ALPHA, DIGIT, "-", ".",
/// "_", "~"), with upper-case hex ("a b/c" -> "a%20b%2Fc"), so the result is safe both as one path
/// segment and as a query value. Bytes are encoded one by one: UTF-8 comes out as its octets.
std::string UrlEncode(absl::string_view value);

}  // namespace music::adapters::internal

#endif  // MUSIC_ADAPTERS_INTERNAL_URL_ENCODE_H_
