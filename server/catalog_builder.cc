#include "server/catalog_builder.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "service/core/event_log.h"

namespace music::server {
namespace {

using service::Catalog;
using service::LogEvent;
using service::LogLevel;

absl::Status Bad(const std::string& key, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("config key \"", key, "\": ", why));
}

music::v1::Model* FindIn(std::vector<music::v1::Model>& models, absl::string_view name) {
  for (auto& m : models) {
    if (m.name() == name) return &m;
  }
  return nullptr;
}

// Sets an int32 field of ModelCapabilities by name (the limit keys of catalog.models).
bool SetLimit(music::v1::ModelCapabilities* caps, const std::string& field, int value) {
  const auto* f = caps->GetDescriptor()->FindFieldByName(field);
  if (f == nullptr || f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_INT32) {
    return false;
  }
  caps->GetReflection()->SetInt32(caps, f, value);
  return true;
}

}  // namespace

std::string NoApiKeyReason(absl::string_view provider, const ProviderConfig& config) {
  return absl::StrCat("no API key: set $", config.api_key_env,
                      config.api_key_file.empty()
                          ? ""
                          : absl::StrCat(" or the file providers.", provider, ".api_key_file"));
}

absl::StatusOr<std::unique_ptr<Catalog>> BuildCatalog(
    const ServerConfig& config, const adapters::ProviderModuleRegistry& registry,
    const std::vector<CatalogProvider>& providers) {
  std::vector<music::v1::Model> models;
  std::map<std::string, std::string> unavailable;  // provider -> reason
  for (const CatalogProvider& p : providers) {
    const std::string name = p.adapter->provider();
    unavailable[name] = p.unavailable_reason;
    std::vector<music::v1::Model> entries = p.adapter->Models();
    if (p.unavailable_reason.empty()) {
      auto live = p.adapter->FetchModels();
      if (live.ok() && !live->empty()) {
        entries = *std::move(live);
      } else if (!live.ok() && !absl::IsUnimplemented(live.status())) {
        LogEvent(LogLevel::kWarn, "catalog.fetch_models_failed",
                 {{"provider", name}, {"error", live.status().message()}});
      }
    }
    const ProviderConfig* pc = FindProviderConfig(config, name);
    for (auto& m : entries) {
      m.set_provider(name);
      if (pc != nullptr && pc->price_micros > 0) {  // the operator's price wins
        m.mutable_price()->set_amount_micros(pc->price_micros);
        m.mutable_price()->set_currency(pc->price_currency);
      }
      if (pc != nullptr) {  // and so do its clip operation prices
        for (auto& p : *m.mutable_clip_operation_prices()) {
          auto it = pc->operation_price_micros.find(p.operation());
          if (it == pc->operation_price_micros.end() || it->second <= 0) continue;
          p.mutable_price()->set_amount_micros(it->second);
          if (!pc->price_currency.empty()) p.mutable_price()->set_currency(pc->price_currency);
        }
      }
      if (FindIn(models, m.name()) != nullptr) continue;  // the first provider's entry wins
      models.push_back(std::move(m));
    }
  }

  for (const auto& [name, o] : config.model_overrides) {
    const std::string key = absl::StrCat("catalog.models.", name);
    music::v1::Model* model = FindIn(models, name);
    if (model == nullptr) {
      // A new model: a provider model the adapter does not list, with another's capabilities.
      if (o.provider.empty()) {
        return Bad(key, "no such model; a new model needs provider, provider_model and copy_from");
      }
      if (unavailable.count(o.provider) == 0) {
        return Bad(key + ".provider", absl::StrCat("provider ", o.provider, " is not wired in"));
      }
      if (o.provider_model.empty()) return Bad(key + ".provider_model", "required for a new model");
      music::v1::Model added;
      if (!o.copy_from.empty()) {
        const music::v1::Model* base = FindIn(models, o.copy_from);
        if (base == nullptr) return Bad(key + ".copy_from", "no such model");
        if (base->provider() != o.provider) {
          return Bad(key + ".copy_from", "must be a model of the same provider");
        }
        added = *base;
      }
      added.set_name(name);
      added.set_provider(o.provider);
      models.push_back(std::move(added));
      model = &models.back();
    } else if (!o.provider.empty() && o.provider != model->provider()) {
      return Bad(key + ".provider",
                 absl::StrCat("model ", name, " is served by ", model->provider()));
    }
    if (!o.provider_model.empty()) model->set_provider_model(o.provider_model);
    if (o.price_micros) model->mutable_price()->set_amount_micros(*o.price_micros);
    if (o.price_currency) model->mutable_price()->set_currency(*o.price_currency);
    if (model->price().amount_micros() > 0 && model->price().currency().empty()) {
      return Bad(key + ".price_currency", "required with price_micros");
    }
    for (const auto& [field, value] : o.limits) {
      if (!SetLimit(model->mutable_capabilities(), field, value)) {
        return Bad(absl::StrCat(key, ".", field), "not a capability limit");
      }
    }
  }

  // Availability last, so overrides cannot make a keyless provider's model available.
  for (auto& m : models) {
    const std::string& reason = unavailable[m.provider()];
    auto o = config.model_overrides.find(m.name());
    if (!reason.empty()) {
      m.set_available(false);
      m.set_unavailable_reason(reason);
    } else if (o != config.model_overrides.end() && o->second.enabled == false) {
      m.set_available(false);
      m.set_unavailable_reason(
          absl::StrCat("disabled in config (catalog.models.", m.name(), ".enabled)"));
    } else {
      m.set_available(true);
      m.clear_unavailable_reason();
    }
  }

  std::vector<music::v1::ModelAlias> aliases =
      service::BuiltInAliases(models, registry.AliasMembers());
  for (const auto& [name, members] : config.aliases) {
    music::v1::ModelAlias alias;
    alias.set_name(name);
    for (const auto& m : members) alias.add_models(m);
    bool replaced = false;
    for (auto& a : aliases) {
      if (a.name() == name) {
        a = alias;
        replaced = true;
      }
    }
    if (!replaced) aliases.push_back(std::move(alias));
  }
  if (auto s = service::ValidateAliases(models, aliases); !s.ok()) {
    // The message is "aliases.<name>: why"; name the config key.
    absl::string_view message = s.message();
    const size_t colon = message.find(": ");
    return Bad(absl::StrCat("catalog.", message.substr(0, colon)),
               colon == absl::string_view::npos ? message : message.substr(colon + 2));
  }
  auto catalog = Catalog::Create(std::move(models), std::move(aliases), config.default_model);
  if (!catalog.ok()) {
    return Bad("default_model", catalog.status().message());
  }
  return catalog;
}

}  // namespace music::server
