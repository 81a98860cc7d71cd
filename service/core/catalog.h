#ifndef MUSIC_SERVICE_CORE_CATALOG_H_
#define MUSIC_SERVICE_CORE_CATALOG_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "adapters/provider_module.h"
#include "music/v1/music_service.pb.h"

namespace music::service {

/// What a request's `model` resolves to: the models to try, in order. A plain model name gives
/// one candidate; an alias gives its available members.
struct Route {
  /// The name as asked (model or alias), after the default was applied.
  std::string name;
  /// True when `name` is an alias (the engine may fail over along `candidates`).
  bool alias = false;
  /// Available catalog models, in the order they are tried. Never empty in a resolved route.
  std::vector<const music::v1::Model*> candidates;
};

/// The built-in aliases for `models` from the provider modules' memberships `members`
/// (ProviderModuleRegistry::AliasMembers(), each module's `aliases`). Aliases come in the order
/// of their first member in `members`; each lists its members present in `models` by ascending
/// rank (ties: in `members` order); an alias with no member present, or whose name is a model's,
/// is left out.
std::vector<music::v1::ModelAlias> BuiltInAliases(const std::vector<music::v1::Model>& models,
                                                  absl::Span<const adapters::AliasMember> members);

/// The models this deployment serves (built-in entries from each adapter, adjusted by config,
/// marked available or not by the wiring) and the aliases over them. Immutable after
/// construction, so thread-safe.
class Catalog {
 public:
  /// `models` with the built-in aliases BuiltInAliases(models, alias_members) (none without
  /// members). `default_model` must name one of `models` or an alias (or be empty when `models`
  /// is empty).
  Catalog(std::vector<music::v1::Model> models, std::string default_model,
          absl::Span<const adapters::AliasMember> alias_members = {});

  /// A catalog with exactly `aliases`. INVALID_ARGUMENT naming the alias when an alias has no
  /// members, names a model, is defined twice, or lists a model that does not exist (or twice);
  /// INVALID_ARGUMENT naming `default_model` when it is neither a model nor an alias.
  static absl::StatusOr<std::unique_ptr<Catalog>> Create(std::vector<music::v1::Model> models,
                                                         std::vector<music::v1::ModelAlias> aliases,
                                                         std::string default_model);

  /// The route for `name` (a model or an alias; empty means the default). INVALID_ARGUMENT
  /// naming `field` when unknown; FAILED_PRECONDITION naming the reason when no candidate is
  /// available.
  absl::StatusOr<Route> Resolve(absl::string_view name, absl::string_view field = "model") const;

  /// The model called `name` whatever its availability, or nullptr.
  const music::v1::Model* Find(absl::string_view name) const;
  /// The alias called `name`, or nullptr.
  const music::v1::ModelAlias* FindAlias(absl::string_view name) const;

  const std::string& default_model() const { return default_model_; }
  /// Every model, in catalog order.
  const std::vector<music::v1::Model>& models() const { return models_; }
  /// Every alias, in definition order.
  const std::vector<music::v1::ModelAlias>& aliases() const { return aliases_; }

 private:
  Catalog() = default;
  void Index();

  std::vector<music::v1::Model> models_;
  std::vector<music::v1::ModelAlias> aliases_;
  std::map<std::string, size_t, std::less<>> by_name_;
  std::map<std::string, size_t, std::less<>> alias_by_name_;
  std::string default_model_;
};

/// Checks `aliases` against `models` as Catalog::Create does.
absl::Status ValidateAliases(const std::vector<music::v1::Model>& models,
                             const std::vector<music::v1::ModelAlias>& aliases);

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_CATALOG_H_
