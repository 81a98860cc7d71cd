#ifndef MUSIC_SERVICE_CORE_CATALOG_H_
#define MUSIC_SERVICE_CORE_CATALOG_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "music/v1/music_service.pb.h"

namespace music::service {

/// The models this deployment serves: built-in entries from each adapter (limits from the
/// provider's document), marked available or not by the wiring. Immutable after construction.
class Catalog {
 public:
  /// `default_model` must name one of `models` (or be empty when `models` is empty).
  Catalog(std::vector<music::v1::Model> models, std::string default_model);

  /// The model called `name`; an empty name means the default model. INVALID_ARGUMENT (naming
  /// field `field`) when unknown; FAILED_PRECONDITION when the model's provider is unavailable.
  absl::StatusOr<const music::v1::Model*> Resolve(absl::string_view name,
                                                  absl::string_view field = "model") const;

  /// The model called `name` whatever its availability, or nullptr.
  const music::v1::Model* Find(absl::string_view name) const;

  const std::string& default_model() const { return default_model_; }
  /// Every model, in catalog order.
  const std::vector<music::v1::Model>& models() const { return models_; }

 private:
  std::vector<music::v1::Model> models_;
  std::map<std::string, size_t, std::less<>> by_name_;
  std::string default_model_;
};

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_CATALOG_H_
