#ifndef MUSIC_TOOLS_PROVIDER_EMULATOR_PIAPI_CONTRACT_H_
#define MUSIC_TOOLS_PROVIDER_EMULATOR_PIAPI_CONTRACT_H_

#include <memory>

#include "tools/provider-emulator/core.h"

namespace music::emulator {

/// The piapi contract (see README.md). `core` must outlive the contract.
std::unique_ptr<ProviderContract> NewPiapiContract(const EmulatorCore* core);

}  // namespace music::emulator

#endif  // MUSIC_TOOLS_PROVIDER_EMULATOR_PIAPI_CONTRACT_H_
