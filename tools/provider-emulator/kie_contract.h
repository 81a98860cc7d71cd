#ifndef MUSIC_TOOLS_PROVIDER_EMULATOR_KIE_CONTRACT_H_
#define MUSIC_TOOLS_PROVIDER_EMULATOR_KIE_CONTRACT_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "tools/provider-emulator/core.h"

namespace music::emulator {

/// kie.ai's Suno API (adapters/kie/WIRE.md): /api/v1/generate, /api/v1/generate/extend,
/// /api/v1/lyrics and their record-info polls, with callbacks. `core` must outlive the contract.
std::unique_ptr<ProviderContract> NewKieContract(const EmulatorCore* core);

/// kie's error envelope `{"code": code, "msg": msg, "data": null}`.
std::string KieEnvelope(int code, absl::string_view msg);

/// base64(HMAC-SHA256(key, task_id + "." + timestamp)): kie's X-Webhook-Signature.
std::string KieWebhookSignature(absl::string_view key, absl::string_view task_id,
                                absl::string_view timestamp);

}  // namespace music::emulator

#endif  // MUSIC_TOOLS_PROVIDER_EMULATOR_KIE_CONTRACT_H_
