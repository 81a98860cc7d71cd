#ifndef MUSIC_TOOLS_PROVIDER_EMULATOR_BEATRA_CONTRACT_H_
#define MUSIC_TOOLS_PROVIDER_EMULATOR_BEATRA_CONTRACT_H_

#include <memory>

#include "tools/provider-emulator/core.h"

namespace music::emulator {

/// The beatra contract (see README.md). `core` must outlive the contract.
std::unique_ptr<ProviderContract> NewBeatraContract(const EmulatorCore* core);

}  // namespace music::emulator

#endif  // MUSIC_TOOLS_PROVIDER_EMULATOR_BEATRA_CONTRACT_H_
