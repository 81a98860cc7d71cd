#include "tools/provider-emulator/piapi_contract.h"

namespace music::emulator {
namespace {

// Placeholder until the piapi contract lands: no routes, no tasks.
class PiapiContract final : public ProviderContract {
 public:
  explicit PiapiContract(const EmulatorCore* core) : core_(core) {}
  void RegisterRoutes(httplib::Server*) override {}
  int64_t TaskCount() const override { return 0; }
  std::string provider() const override { return "piapi"; }

 private:
  [[maybe_unused]] const EmulatorCore* core_;
};

}  // namespace

std::unique_ptr<ProviderContract> NewPiapiContract(const EmulatorCore* core) {
  return std::make_unique<PiapiContract>(core);
}

}  // namespace music::emulator
