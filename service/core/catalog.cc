#include "service/core/catalog.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "service/core/status_details.h"

namespace music::service {

Catalog::Catalog(std::vector<music::v1::Model> models, std::string default_model)
    : models_(std::move(models)), default_model_(std::move(default_model)) {
  for (size_t i = 0; i < models_.size(); ++i) by_name_.emplace(models_[i].name(), i);
}

const music::v1::Model* Catalog::Find(absl::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &models_[it->second];
}

absl::StatusOr<const music::v1::Model*> Catalog::Resolve(absl::string_view name,
                                                         absl::string_view field) const {
  if (name.empty()) name = default_model_;
  const music::v1::Model* model = Find(name);
  if (model == nullptr) {
    return InvalidField(
        field, absl::StrCat("unknown model \"", name, "\"; ListModels lists the models served"));
  }
  if (!model->available()) {
    return FailedPrecondition(
        "PROVIDER_UNAVAILABLE", model->provider(),
        absl::StrCat("model ", model->name(), " is unavailable: ", model->unavailable_reason()));
  }
  return model;
}

}  // namespace music::service
