#include "adapters/provider_module.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace music::adapters {

absl::Status ProviderModuleRegistry::Add(ProviderModule module) {
  if (module.name.empty()) return absl::InvalidArgumentError("a provider module needs a name");
  if (!module.make_adapter) {
    return absl::InvalidArgumentError(
        absl::StrCat("provider module \"", module.name, "\" has no adapter factory"));
  }
  if (Find(module.name) != nullptr) {
    return absl::AlreadyExistsError(
        absl::StrCat("provider module \"", module.name, "\" is registered twice"));
  }
  modules_.push_back(std::move(module));
  return absl::OkStatus();
}

const ProviderModule* ProviderModuleRegistry::Find(absl::string_view name) const {
  for (const ProviderModule& m : modules_) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

std::vector<AliasMember> ProviderModuleRegistry::AliasMembers() const {
  std::vector<AliasMember> members;
  for (const ProviderModule& m : modules_) {
    members.insert(members.end(), m.aliases.begin(), m.aliases.end());
  }
  return members;
}

}  // namespace music::adapters
