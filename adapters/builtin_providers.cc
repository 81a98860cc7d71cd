#include "adapters/builtin_providers.h"

#include <cstdlib>
#include <iostream>

#include "adapters/beatra/beatra_module.h"
#include "adapters/kie/kie_module.h"
#include "adapters/piapi/piapi_module.h"
#include "adapters/tokenlab/tokenlab_module.h"

namespace music::adapters {

const ProviderModuleRegistry& BuiltinProviders() {
  static const ProviderModuleRegistry* const registry = [] {
    auto* r = new ProviderModuleRegistry();
    for (ProviderModule m :
         {kie::Module(), piapi::Module(), tokenlab::Module(), beatra::Module()}) {
      if (absl::Status s = r->Add(std::move(m)); !s.ok()) {
        // Only a programming error (two modules of one name) gets here.
        std::cerr << "BuiltinProviders: " << s << std::endl;
        std::abort();
      }
    }
    return r;
  }();
  return *registry;
}

}  // namespace music::adapters
