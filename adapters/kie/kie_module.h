// The kie.ai Suno API as one provider module (adapters/provider_module.h).
#ifndef MUSIC_ADAPTERS_KIE_KIE_MODULE_H_
#define MUSIC_ADAPTERS_KIE_KIE_MODULE_H_

#include "adapters/provider_module.h"

namespace music::adapters::kie {

/// The "kie" module: config section `providers.kie.*` (base URL https://api.kie.ai, key from
/// $KIE_API_KEY, 12 credits per task, callback HMAC key from the variable named by
/// `webhook_hmac_key_env`, default $KIE_WEBHOOK_HMAC_KEY), the kie.ai adapter, its models, and
/// suno-v4.5 as the first member of the built-in alias "suno".
ProviderModule Module();

}  // namespace music::adapters::kie

#endif  // MUSIC_ADAPTERS_KIE_KIE_MODULE_H_
