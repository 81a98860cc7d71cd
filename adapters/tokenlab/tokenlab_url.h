#ifndef MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_URL_H_
#define MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_URL_H_

#include <string>

#include "absl/strings/string_view.h"

namespace music::adapters::tokenlab {

/// True when `url` is an absolute http(s) URL on the same scheme, host and port as `base_url`
/// (scheme and host compared case-insensitively; a missing port is the scheme's default), with
/// no user info and no fragment. Only such a `poll_url` may receive the API key.
bool SameOrigin(absl::string_view base_url, absl::string_view url);

}  // namespace music::adapters::tokenlab

#endif  // MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_URL_H_
