#ifndef MUSIC_SERVICE_CORE_REQUEST_FINGERPRINT_H_
#define MUSIC_SERVICE_CORE_REQUEST_FINGERPRINT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "music/v1/task.pb.h"

namespace music::service {

/// Hex SHA-256 of what a create asks for (kind, model as given, input), stable across restarts
/// and builds: two creates with one request_id are the same request iff their fingerprints match.
std::string RequestFingerprint(music::v1::TaskKind kind, absl::string_view model,
                               const music::v1::TaskInput& input);

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_REQUEST_FINGERPRINT_H_
