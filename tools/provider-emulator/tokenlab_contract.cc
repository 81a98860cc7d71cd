#include "tools/provider-emulator/tokenlab_contract.h"

namespace music::emulator {
namespace {

// Placeholder until the tokenlab contract lands: no routes, no tasks.
class TokenlabContract final : public ProviderContract {
 public:
  explicit TokenlabContract(const EmulatorCore* core) : core_(core) {}
  void RegisterRoutes(httplib::Server*) override {}
  int64_t TaskCount() const override { return 0; }
  std::string provider() const override { return "tokenlab"; }

 private:
  [[maybe_unused]] const EmulatorCore* core_;
};

}  // namespace

std::unique_ptr<ProviderContract> NewTokenlabContract(const EmulatorCore* core) {
  return std::make_unique<TokenlabContract>(core);
}

}  // namespace music::emulator
