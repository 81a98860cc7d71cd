#include "service/core/catalog.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "service/core/status_details.h"

namespace music::service {
namespace {

bool HasModel(const std::vector<music::v1::Model>& models, absl::string_view name) {
  for (const auto& m : models) {
    if (m.name() == name) return true;
  }
  return false;
}

}  // namespace

std::vector<music::v1::ModelAlias> BuiltInAliases(const std::vector<music::v1::Model>& models,
                                                  absl::Span<const adapters::AliasMember> members) {
  std::vector<const adapters::AliasMember*> sorted;
  std::vector<std::string> names;  // alias names in order of first appearance
  for (const adapters::AliasMember& m : members) {
    sorted.push_back(&m);
    if (std::find(names.begin(), names.end(), m.alias) == names.end()) names.push_back(m.alias);
  }
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const adapters::AliasMember* a, const adapters::AliasMember* b) {
                     return a->rank < b->rank;
                   });
  std::vector<music::v1::ModelAlias> aliases;
  for (const std::string& name : names) {
    if (HasModel(models, name)) continue;  // a model of that name wins
    music::v1::ModelAlias alias;
    alias.set_name(name);
    std::set<std::string> listed;
    for (const adapters::AliasMember* m : sorted) {
      if (m->alias == name && HasModel(models, m->model) && listed.insert(m->model).second) {
        alias.add_models(m->model);
      }
    }
    if (alias.models_size() > 0) aliases.push_back(std::move(alias));
  }
  return aliases;
}

absl::Status ValidateAliases(const std::vector<music::v1::Model>& models,
                             const std::vector<music::v1::ModelAlias>& aliases) {
  std::set<std::string> seen;
  for (const auto& alias : aliases) {
    const std::string field = absl::StrCat("aliases.", alias.name());
    if (alias.name().empty()) return InvalidField("aliases", "an alias needs a name");
    if (HasModel(models, alias.name())) {
      return InvalidField(field, absl::StrCat("alias \"", alias.name(),
                                              "\" has the name of a model; pick another name"));
    }
    if (!seen.insert(alias.name()).second) {
      return InvalidField(field, absl::StrCat("alias \"", alias.name(), "\" is defined twice"));
    }
    if (alias.models_size() == 0) {
      return InvalidField(field, absl::StrCat("alias \"", alias.name(), "\" lists no models"));
    }
    std::set<std::string> members;
    for (const auto& member : alias.models()) {
      if (!HasModel(models, member)) {
        return InvalidField(field, absl::StrCat("alias \"", alias.name(), "\" lists \"", member,
                                                "\", which is not a model of the catalog"));
      }
      if (!members.insert(member).second) {
        return InvalidField(
            field, absl::StrCat("alias \"", alias.name(), "\" lists \"", member, "\" twice"));
      }
    }
  }
  return absl::OkStatus();
}

Catalog::Catalog(std::vector<music::v1::Model> models, std::string default_model,
                 absl::Span<const adapters::AliasMember> alias_members)
    : models_(std::move(models)), default_model_(std::move(default_model)) {
  aliases_ = BuiltInAliases(models_, alias_members);
  Index();
}

absl::StatusOr<std::unique_ptr<Catalog>> Catalog::Create(std::vector<music::v1::Model> models,
                                                         std::vector<music::v1::ModelAlias> aliases,
                                                         std::string default_model) {
  if (auto s = ValidateAliases(models, aliases); !s.ok()) return s;
  std::unique_ptr<Catalog> catalog(new Catalog());
  catalog->models_ = std::move(models);
  catalog->aliases_ = std::move(aliases);
  catalog->default_model_ = std::move(default_model);
  catalog->Index();
  if (!catalog->default_model_.empty() && catalog->Find(catalog->default_model_) == nullptr &&
      catalog->FindAlias(catalog->default_model_) == nullptr) {
    return InvalidField("default_model",
                        absl::StrCat("no model or alias named \"", catalog->default_model_, "\""));
  }
  return catalog;
}

void Catalog::Index() {
  for (size_t i = 0; i < models_.size(); ++i) by_name_.emplace(models_[i].name(), i);
  for (size_t i = 0; i < aliases_.size(); ++i) alias_by_name_.emplace(aliases_[i].name(), i);
}

const music::v1::Model* Catalog::Find(absl::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &models_[it->second];
}

const music::v1::ModelAlias* Catalog::FindAlias(absl::string_view name) const {
  auto it = alias_by_name_.find(name);
  return it == alias_by_name_.end() ? nullptr : &aliases_[it->second];
}

absl::StatusOr<Route> Catalog::Resolve(absl::string_view name, absl::string_view field) const {
  if (name.empty()) name = default_model_;
  Route route;
  route.name = std::string(name);
  if (const music::v1::Model* model = Find(name); model != nullptr) {
    if (!model->available()) {
      return FailedPrecondition(
          "PROVIDER_UNAVAILABLE", model->provider(),
          absl::StrCat("model ", model->name(), " is unavailable: ", model->unavailable_reason()));
    }
    route.candidates.push_back(model);
    return route;
  }
  const music::v1::ModelAlias* alias = FindAlias(name);
  if (alias == nullptr) {
    return InvalidField(
        field, absl::StrCat("unknown model \"", TruncateForError(name), "\"; ListModels lists the models served"));
  }
  route.alias = true;
  std::vector<std::string> reasons;
  for (const auto& member : alias->models()) {
    const music::v1::Model* model = Find(member);
    if (model == nullptr) continue;  // Create refuses such aliases; kept safe anyway
    if (model->available()) {
      route.candidates.push_back(model);
    } else {
      reasons.push_back(absl::StrCat(model->name(), ": ", model->unavailable_reason()));
    }
  }
  if (route.candidates.empty()) {
    return FailedPrecondition("PROVIDER_UNAVAILABLE", alias->name(),
                              absl::StrCat("no model of alias ", alias->name(), " is available (",
                                           absl::StrJoin(reasons, "; "), ")"));
  }
  return route;
}

}  // namespace music::service
