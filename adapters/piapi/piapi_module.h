// PiAPI (Udio) as one provider module (adapters/provider_module.h).
#ifndef MUSIC_ADAPTERS_PIAPI_PIAPI_MODULE_H_
#define MUSIC_ADAPTERS_PIAPI_PIAPI_MODULE_H_

#include "adapters/provider_module.h"

namespace music::adapters::piapi {

/// The "piapi" module: config section `providers.piapi.*` (base URL https://api.piapi.ai, key
/// from $PIAPI_API_KEY, the adapter's own $0.05 price, webhook secret from the variable named by
/// `webhook_secret_env`, default $PIAPI_WEBHOOK_SECRET), the PiAPI adapter and its models. No
/// built-in alias membership.
ProviderModule Module();

}  // namespace music::adapters::piapi

#endif  // MUSIC_ADAPTERS_PIAPI_PIAPI_MODULE_H_
