#ifndef MUSIC_SERVICE_SERVER_HOST_PORT_H_
#define MUSIC_SERVICE_SERVER_HOST_PORT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace music::service {

/// Splits "host:port" (IPv6 as "[::1]:port"). INVALID_ARGUMENT naming config key `key` when
/// malformed or the port is outside 0-65535.
absl::Status SplitHostPort(absl::string_view address, absl::string_view key, std::string* host,
                           int* port);

}  // namespace music::service

#endif  // MUSIC_SERVICE_SERVER_HOST_PORT_H_
