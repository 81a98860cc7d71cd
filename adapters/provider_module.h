// A provider as one module: everything the rest of the program needs to know about a provider,
// declared once in the provider's own folder (adapters/<name>/<name>_module.cc) and registered in
// one place (adapters/builtin_providers.cc). The config reader, the wiring, the catalog's default
// aliases and the billing formats read these descriptors; none of them names a provider.
#ifndef MUSIC_ADAPTERS_PROVIDER_MODULE_H_
#define MUSIC_ADAPTERS_PROVIDER_MODULE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "adapters/http/http_client.h"
#include "adapters/provider_adapter.h"
#include "domain/billing_types.h"
#include "domain/clock.h"

namespace music::adapters {

/// A secret of a provider besides its API key (a webhook key), read from the environment variable
/// that config key `providers.<name>.<config_key>` names. Never stored, logged or echoed.
struct SecretSpec {
  /// The config key under `providers.<name>.`, e.g. "webhook_hmac_key_env".
  std::string config_key;
  /// The variable read when the config names none, e.g. "KIE_WEBHOOK_HMAC_KEY".
  std::string default_env;
};

/// A numeric setting of one provider besides the common ones, read from config key
/// `providers.<name>.<config_key>` (a finite number >= 0; INVALID_ARGUMENT naming the key
/// otherwise). Absent from ProviderSettings::numbers when the config does not set it.
struct NumberSettingSpec {
  std::string config_key;
};

/// A string setting of one provider besides the common ones, `providers.<name>.<config_key>`
/// (kie.ai's `upload_base_url`). Not a secret: it may be logged.
struct SettingSpec {
  std::string config_key;
  std::string default_value;
};

/// Defaults of the `providers.<name>.*` config section.
struct ProviderDefaults {
  std::string base_url;
  /// The environment variable holding the API key, e.g. "KIE_API_KEY".
  std::string api_key_env;
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration request_timeout = absl::Seconds(30);
  /// Price per task of the provider's models that carry none from the adapter, micro-units of
  /// price_currency ("CREDITS" or "USD"); 0 = none.
  int64_t price_micros = 0;
  std::string price_currency;
};

/// A provider account's request limits, which the engine keeps client side (TaskEngine: a
/// request over them is queued on the engine's timer, not sent). Counts of 0 mean no limit. The
/// config keys `providers.<name>.rate_limit_creates`, `rate_limit_window_seconds` and
/// `rate_limit_polls_per_second` override a module's values.
struct RateLimits {
  /// Creates (every request that starts a provider task) per `create_window`, for the whole
  /// account: shared by every task of the provider.
  int creates_per_window = 0;
  absl::Duration create_window = absl::Seconds(10);
  /// Status polls per second of one task.
  int polls_per_second = 0;
};

/// What the wiring hands an adapter factory once config and secrets are read.
struct ProviderSettings {
  std::string base_url;
  /// May be empty: the provider is then listed unavailable and never called.
  std::string api_key;
  /// The secrets of ProviderModule::secrets by SecretSpec::config_key ("" when unset).
  std::map<std::string, std::string> secrets;
  /// The ProviderModule::number_settings the config sets, by config_key (unset: absent).
  std::map<std::string, double> numbers;
  /// The values of ProviderModule::settings by SettingSpec::config_key (the default when unset).
  std::map<std::string, std::string> settings;
  absl::Duration request_timeout = absl::Seconds(30);
  /// The configured price (providers.<name>.price_micros / price_currency); 0 = the adapter's.
  int64_t price_micros = 0;
  std::string price_currency;
  /// The provider's HTTP transport (its own timeouts and connection cache). Shared ownership.
  std::shared_ptr<http::HttpClient> http;
  /// The time source; not owned, outlives the adapter.
  const Clock* clock = nullptr;
};

/// A built-in alias membership: `model` (a catalog model of this provider) belongs to alias
/// `alias`; members are tried in ascending `rank`, across providers.
struct AliasMember {
  std::string alias;
  std::string model;
  int rank = 0;
};

/// The provider's usage-record export (service/billing/USAGE-FORMATS.md). `parse` normalises an
/// export into UsageRecords (INVALID_ARGUMENT naming source, line and field); `write` produces
/// exactly what `parse` reads (the provider emulator's export). Either may be empty: the
/// provider has no usage export.
struct UsageFormat {
  std::function<absl::StatusOr<std::vector<billing::UsageRecord>>(
      billing::FileFormat format, absl::string_view content, absl::string_view source)>
      parse;
  std::function<absl::StatusOr<std::string>(billing::FileFormat format,
                                            absl::Span<const billing::UsageRecord> records)>
      write;
};

/// One provider's descriptor.
struct ProviderModule {
  /// The provider's name in config (`providers.<name>`), the catalog and callback URLs: "kie".
  std::string name;
  ProviderDefaults defaults;
  /// Secrets besides the API key.
  std::vector<SecretSpec> secrets;
  /// Numeric settings besides the common ones (PiAPI `consume_usd_per_unit`).
  std::vector<NumberSettingSpec> number_settings;
  /// Settings besides the common ones.
  std::vector<SettingSpec> settings;
  /// The account limits the provider's documents state (none unless they name one).
  RateLimits rate_limits;
  /// Builds the adapter. Never fails for a missing key (the provider is then unavailable); an
  /// error (INVALID_ARGUMENT naming the config key) stops start-up.
  std::function<absl::StatusOr<std::shared_ptr<ProviderAdapter>>(const ProviderSettings&)>
      make_adapter;
  /// The built-in catalog entries, as the adapter's Models() lists them, without building an
  /// adapter or calling the provider (README's provider table is checked against them). Empty
  /// function: the module lists none up front.
  std::function<std::vector<music::v1::Model>()> models;
  /// Built-in alias memberships.
  std::vector<AliasMember> aliases;
  UsageFormat usage;
};

/// The providers a program knows, in registration order. Not thread-safe while being filled;
/// read-only afterwards.
class ProviderModuleRegistry {
 public:
  /// ALREADY_EXISTS when a module of that name is registered; INVALID_ARGUMENT without a name or
  /// an adapter factory.
  absl::Status Add(ProviderModule module);
  /// The module named `name`, or nullptr.
  const ProviderModule* Find(absl::string_view name) const;
  const std::vector<ProviderModule>& modules() const { return modules_; }
  /// Every module's AliasMember list, in registration order (the catalog's built-in aliases).
  std::vector<AliasMember> AliasMembers() const;

 private:
  std::vector<ProviderModule> modules_;
};

}  // namespace music::adapters

#endif  // MUSIC_ADAPTERS_PROVIDER_MODULE_H_
