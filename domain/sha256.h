#ifndef MUSIC_DOMAIN_SHA256_H_
#define MUSIC_DOMAIN_SHA256_H_

#include <string>

#include "absl/strings/string_view.h"

namespace music::domain {

/// Lower-case hex SHA-256 of `bytes` (64 characters).
std::string Sha256Hex(absl::string_view bytes);

}  // namespace music::domain

#endif  // MUSIC_DOMAIN_SHA256_H_
