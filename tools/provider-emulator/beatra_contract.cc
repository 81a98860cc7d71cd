#include "tools/provider-emulator/beatra_contract.h"

namespace music::emulator {
namespace {

// Placeholder until the beatra contract lands: no routes, no tasks.
class BeatraContract final : public ProviderContract {
 public:
  explicit BeatraContract(const EmulatorCore* core) : core_(core) {}
  void RegisterRoutes(httplib::Server*) override {}
  int64_t TaskCount() const override { return 0; }
  std::string provider() const override { return "beatra"; }

 private:
  [[maybe_unused]] const EmulatorCore* core_;
};

}  // namespace

std::unique_ptr<ProviderContract> NewBeatraContract(const EmulatorCore* core) {
  return std::make_unique<BeatraContract>(core);
}

}  // namespace music::emulator
