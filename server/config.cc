#include "server/config.h"

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <array>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace music::server {
namespace {

using Setter = std::function<absl::Status(const rapidjson::Value&, const std::string& key)>;

absl::Status Bad(const std::string& key, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("config key \"", key, "\": ", why));
}

Setter String(std::string* out, bool allow_empty = true) {
  return [=](const rapidjson::Value& v, const std::string& key) {
    if (!v.IsString()) return Bad(key, "must be a string");
    if (!allow_empty && v.GetStringLength() == 0) return Bad(key, "must not be empty");
    *out = v.GetString();
    return absl::OkStatus();
  };
}

Setter Bool(bool* out) {
  return [=](const rapidjson::Value& v, const std::string& key) {
    if (!v.IsBool()) return Bad(key, "must be true or false");
    *out = v.GetBool();
    return absl::OkStatus();
  };
}

Setter Int64(int64_t* out, int64_t min, int64_t max) {
  return [=](const rapidjson::Value& v, const std::string& key) {
    if (!v.IsInt64()) return Bad(key, "must be an integer");
    if (v.GetInt64() < min || v.GetInt64() > max) {
      return Bad(key, absl::StrCat("must be between ", min, " and ", max));
    }
    *out = v.GetInt64();
    return absl::OkStatus();
  };
}

Setter Int(int* out, int min, int max) {
  return [=](const rapidjson::Value& v, const std::string& key) {
    if (!v.IsInt()) return Bad(key, "must be an integer");
    if (v.GetInt() < min || v.GetInt() > max) {
      return Bad(key, absl::StrCat("must be between ", min, " and ", max));
    }
    *out = v.GetInt();
    return absl::OkStatus();
  };
}

// A duration given as a number of `unit`s (seconds or milliseconds), > 0.
Setter Duration(absl::Duration* out, absl::Duration unit,
                absl::Duration min = absl::ZeroDuration()) {
  return [=](const rapidjson::Value& v, const std::string& key) {
    if (!v.IsNumber()) return Bad(key, "must be a number");
    const double n = v.GetDouble();
    if (!(n > 0) || n > 1e9) return Bad(key, "must be a positive number");
    absl::Duration d = unit * n;
    if (d < min) return Bad(key, absl::StrCat("must be at least ", absl::FormatDuration(min)));
    *out = d;
    return absl::OkStatus();
  };
}

// A duration in `unit`s where 0 means "off" (the option's doc says what off does).
Setter DurationOrOff(absl::Duration* out, absl::Duration unit) {
  return [=](const rapidjson::Value& v, const std::string& key) {
    if (!v.IsNumber()) return Bad(key, "must be a number");
    const double n = v.GetDouble();
    if (!(n >= 0) || n > 1e9) return Bad(key, "must be 0 (off) or a positive number");
    *out = unit * n;
    return absl::OkStatus();
  };
}

absl::Status Walk(const rapidjson::Value& object, const std::string& prefix,
                  const std::map<std::string, Setter>& setters) {
  if (!object.IsObject()) {
    return Bad(prefix.empty() ? std::string("(top level)") : prefix, "must be an object");
  }
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
    const std::string key = absl::StrCat(prefix, prefix.empty() ? "" : ".", it->name.GetString());
    auto setter = setters.find(key);
    if (it->value.IsObject() && setter == setters.end()) {
      if (auto s = Walk(it->value, key, setters); !s.ok()) return s;
      continue;
    }
    if (setter == setters.end()) return Bad(key, "unknown key (see README.md, Configuration)");
    if (auto s = setter->second(it->value, key); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// catalog.aliases: {"name": ["model", ...], ...}.
Setter Aliases(std::vector<std::pair<std::string, std::vector<std::string>>>* out) {
  return [=](const rapidjson::Value& v, const std::string& key) {
    if (!v.IsObject()) return Bad(key, "must be an object of alias name -> list of model names");
    out->clear();
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      const std::string alias_key = absl::StrCat(key, ".", it->name.GetString());
      if (it->name.GetStringLength() == 0) return Bad(alias_key, "an alias needs a name");
      if (!it->value.IsArray() || it->value.Empty()) {
        return Bad(alias_key, "must be a non-empty list of model names");
      }
      std::vector<std::string> models;
      for (const auto& m : it->value.GetArray()) {
        if (!m.IsString() || m.GetStringLength() == 0) {
          return Bad(alias_key, "must list model names (strings)");
        }
        models.emplace_back(m.GetString());
      }
      out->emplace_back(it->name.GetString(), std::move(models));
    }
    return absl::OkStatus();
  };
}

// A tenant quota field: requests_per_second a number >= 0, burst and max_tasks_in_flight
// integers >= 0; any other name is unknown.
absl::Status SetQuotaField(const rapidjson::Value& v, const std::string& key,
                           absl::string_view field, service::TenantQuota* q) {
  if (field == "requests_per_second") {
    if (!v.IsNumber() || !std::isfinite(v.GetDouble()) || v.GetDouble() < 0 ||
        v.GetDouble() > 1e6) {
      return Bad(key, "must be a number between 0 and 1000000 (0: unlimited)");
    }
    q->requests_per_second = v.GetDouble();
    return absl::OkStatus();
  }
  int* out = field == "burst"                 ? &q->burst
             : field == "max_tasks_in_flight" ? &q->max_tasks_in_flight
                                              : nullptr;
  if (out == nullptr) return Bad(key, "unknown key (see README.md, Configuration)");
  if (!v.IsInt() || v.GetInt() < 0 || v.GetInt() > 10'000'000) {
    return Bad(key, "must be an integer between 0 and 10000000 (0: unlimited)");
  }
  *out = v.GetInt();
  return absl::OkStatus();
}

// tenants: {"default_<field>": n, ..., "<tenant>": {"<field>": n, ...}, ...}. A listed tenant
// starts from the defaults, so it sets only what differs.
Setter Tenants(service::QuotaOptions* out) {
  return [=](const rapidjson::Value& v, const std::string& key) {
    if (!v.IsObject()) return Bad(key, "must be an object");
    // Defaults first: a tenant's entry inherits them whatever the key order.
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      const absl::string_view name(it->name.GetString(), it->name.GetStringLength());
      if (!absl::StartsWith(name, "default_")) continue;
      if (auto s = SetQuotaField(it->value, absl::StrCat(key, ".", name),
                                 absl::StripPrefix(name, "default_"), &out->defaults);
          !s.ok()) {
        return s;
      }
    }
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      const absl::string_view name(it->name.GetString(), it->name.GetStringLength());
      if (absl::StartsWith(name, "default_")) continue;
      const std::string tenant_key = absl::StrCat(key, ".", name);
      if (name.empty()) return Bad(tenant_key, "a tenant needs a name");
      if (!it->value.IsObject()) {
        return Bad(tenant_key, "must be an object of requests_per_second, burst, "
                               "max_tasks_in_flight");
      }
      service::TenantQuota q = out->defaults;
      for (auto f = it->value.MemberBegin(); f != it->value.MemberEnd(); ++f) {
        const absl::string_view field(f->name.GetString(), f->name.GetStringLength());
        if (auto s = SetQuotaField(f->value, absl::StrCat(tenant_key, ".", field), field, &q);
            !s.ok()) {
          return s;
        }
      }
      out->tenants[std::string(name)] = q;
    }
    return absl::OkStatus();
  };
}

// The capability limits `catalog.models.<name>` may set.
constexpr const char* kLimitKeys[] = {
    "max_duration_seconds", "max_prompt_chars", "max_custom_prompt_chars",
    "max_style_chars",      "max_title_chars",  "max_lyrics_prompt_chars",
    "max_lyrics_chars",     "clips_per_task",   "continuation_added_seconds"};

// catalog.models: {"name": {"enabled": false, "price_micros": 1, ...}, ...}.
Setter Models(std::map<std::string, ModelOverride>* out) {
  return [=](const rapidjson::Value& v, const std::string& key) {
    if (!v.IsObject()) return Bad(key, "must be an object of model name -> settings");
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      const std::string model_key = absl::StrCat(key, ".", it->name.GetString());
      if (it->name.GetStringLength() == 0) return Bad(model_key, "a model needs a name");
      ModelOverride o;
      bool enabled = true;
      int64_t price = 0;
      std::string currency;
      std::map<std::string, Setter> setters = {
          {"enabled", Bool(&enabled)},
          {"price_micros", Int64(&price, 0, int64_t{1} << 50)},
          {"price_currency", String(&currency, false)},
          {"provider", String(&o.provider, false)},
          {"provider_model", String(&o.provider_model, false)},
          {"copy_from", String(&o.copy_from, false)},
      };
      std::map<std::string, int> limits;
      for (const char* limit : kLimitKeys) limits[limit] = -1;
      for (const char* limit : kLimitKeys) setters[limit] = Int(&limits[limit], 0, 1'000'000);
      if (!it->value.IsObject()) return Bad(model_key, "must be an object");
      for (auto f = it->value.MemberBegin(); f != it->value.MemberEnd(); ++f) {
        const std::string field_key = absl::StrCat(model_key, ".", f->name.GetString());
        auto setter = setters.find(f->name.GetString());
        if (setter == setters.end()) {
          return Bad(field_key, "unknown key (see README.md, Configuration)");
        }
        if (auto s = setter->second(f->value, field_key); !s.ok()) return s;
        const std::string name = f->name.GetString();
        if (name == "enabled") o.enabled = enabled;
        if (name == "price_micros") o.price_micros = price;
        if (name == "price_currency") o.price_currency = currency;
      }
      for (const auto& [limit, value] : limits) {
        if (value >= 0) o.limits[limit] = value;
      }
      if (!o.copy_from.empty() && o.provider.empty()) {
        return Bad(model_key + ".provider", "required for a new model (with copy_from)");
      }
      (*out)[it->name.GetString()] = std::move(o);
    }
    return absl::OkStatus();
  };
}

// The setters of `providers.<name>.*` for one module: the keys every provider has, plus the
// config key of each of its secrets (the environment variable's name; may be empty = unset).
void AddProviderSetters(const adapters::ProviderModule& module, ProviderConfig* p,
                        std::map<std::string, Setter>& setters) {
  const absl::Duration s = absl::Seconds(1);
  const std::string k = absl::StrCat("providers.", module.name, ".");
  setters[k + "base_url"] = String(&p->base_url, false);
  setters[k + "api_key_env"] = String(&p->api_key_env);
  setters[k + "api_key_file"] = String(&p->api_key_file);
  setters[k + "connect_timeout_seconds"] = Duration(&p->connect_timeout, s);
  setters[k + "request_timeout_seconds"] = Duration(&p->request_timeout, s);
  setters[k + "price_micros"] = Int64(&p->price_micros, 0, int64_t{1} << 50);
  setters[k + "price_currency"] = String(&p->price_currency, false);
  for (const adapters::SecretSpec& secret : module.secrets) {
    setters[k + secret.config_key] = String(&p->secret_envs[secret.config_key]);
  }
  setters[k + "rate_limit_creates"] = Int(&p->rate_limits.creates_per_window, 0, 1'000'000);
  setters[k + "rate_limit_window_seconds"] = Duration(&p->rate_limits.create_window, s);
  setters[k + "rate_limit_polls_per_second"] = Int(&p->rate_limits.polls_per_second, 0, 1000);
  for (const adapters::NumberSettingSpec& number : module.number_settings) {
    std::map<std::string, double>* numbers = &p->numbers;
    const std::string name = number.config_key;
    setters[k + name] = [numbers, name](const rapidjson::Value& v, const std::string& key) {
      if (!v.IsNumber() || !std::isfinite(v.GetDouble()) || v.GetDouble() < 0) {
        return Bad(key, "must be a number >= 0");
      }
      (*numbers)[name] = v.GetDouble();
      return absl::OkStatus();
    };
  }
  for (int op = music::v1::ClipOperation_MIN + 1; op <= music::v1::ClipOperation_MAX; ++op) {
    const auto operation = static_cast<music::v1::ClipOperation>(op);
    if (!music::v1::ClipOperation_IsValid(op)) continue;
    setters[k + OperationPriceKey(operation)] =
        Int64(&p->operation_price_micros[operation], 0, int64_t{1} << 50);
  }
  for (const adapters::SettingSpec& setting : module.settings) {
    setters[k + setting.config_key] = String(&p->settings[setting.config_key], false);
  }
}

// ---- auth.* (issue 11 A) ----

// A list of non-empty strings.
absl::StatusOr<std::vector<std::string>> StringList(const rapidjson::Value& v,
                                                    const std::string& key) {
  if (!v.IsArray()) return Bad(key, "must be a list of strings");
  std::vector<std::string> out;
  for (const auto& item : v.GetArray()) {
    if (!item.IsString() || item.GetStringLength() == 0) {
      return Bad(key, "must be a list of non-empty strings");
    }
    out.emplace_back(item.GetString());
  }
  return out;
}

// 64 hex digits -> 32 bytes.
bool ParseSha256Hex(absl::string_view hex, std::array<uint8_t, 32>* out) {
  if (hex.size() != 64) return false;
  for (size_t i = 0; i < 32; ++i) {
    int byte = 0;
    for (size_t j = 0; j < 2; ++j) {
      const char c = absl::ascii_tolower(hex[2 * i + j]);
      int d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else {
        return false;
      }
      byte = byte * 16 + d;
    }
    (*out)[i] = static_cast<uint8_t>(byte);
  }
  return true;
}

// auth.callers: {"<name>": {"tenant": "a", "roles": ["tasks.create"], "token_sha256": ["<hex>"],
// "mesh_ids": ["spiffe://..."]}, ...}.
Setter Callers(std::vector<service::auth::CallerConfig>* out) {
  return [=](const rapidjson::Value& v, const std::string& key) -> absl::Status {
    if (!v.IsObject()) return Bad(key, "must be an object of caller name -> settings");
    out->clear();
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      const std::string ck = absl::StrCat(key, ".", it->name.GetString());
      if (it->name.GetStringLength() == 0) return Bad(ck, "a caller needs a name");
      if (!it->value.IsObject()) return Bad(ck, "must be an object");
      service::auth::CallerConfig c;
      c.name = it->name.GetString();
      for (auto f = it->value.MemberBegin(); f != it->value.MemberEnd(); ++f) {
        const std::string field = f->name.GetString();
        const std::string fk = absl::StrCat(ck, ".", field);
        if (field == "tenant") {
          if (!f->value.IsString() || f->value.GetStringLength() == 0) {
            return Bad(fk, "must be a non-empty string");
          }
          c.tenant = f->value.GetString();
        } else if (field == "roles" || field == "token_sha256" || field == "mesh_ids") {
          auto list = StringList(f->value, fk);
          if (!list.ok()) return list.status();
          for (const std::string& item : *list) {
            if (field == "roles") {
              std::optional<service::auth::Role> role = service::auth::ParseRole(item);
              if (!role) {
                std::vector<std::string> names;
                for (service::auth::Role r : service::auth::AllRoles()) {
                  names.emplace_back(service::auth::RoleName(r));
                }
                return Bad(fk, absl::StrCat("unknown role \"", item,
                                            "\" (one of: ", absl::StrJoin(names, ", "), ")"));
              }
              c.roles |= static_cast<service::auth::RoleSet>(*role);
            } else if (field == "token_sha256") {
              std::array<uint8_t, 32> hash;
              if (!ParseSha256Hex(item, &hash)) {
                // Never echo the value: someone may have pasted a token instead of its hash.
                return Bad(fk, "must list SHA-256 digests, 64 hex digits each (never a token)");
              }
              c.token_sha256.push_back(hash);
            } else {
              c.mesh_ids.push_back(item);
            }
          }
        } else {
          return Bad(fk, "unknown key (tenant, roles, token_sha256, mesh_ids)");
        }
      }
      if (c.tenant.empty()) return Bad(absl::StrCat(ck, ".tenant"), "required");
      if (c.token_sha256.empty() && c.mesh_ids.empty()) {
        return Bad(ck, "needs token_sha256 or mesh_ids (how else would it be recognized?)");
      }
      out->push_back(std::move(c));
    }
    return absl::OkStatus();
  };
}

Setter TrustedPeers(std::vector<service::auth::Cidr>* out) {
  return [=](const rapidjson::Value& v, const std::string& key) -> absl::Status {
    auto list = StringList(v, key);
    if (!list.ok()) return list.status();
    out->clear();
    for (size_t i = 0; i < list->size(); ++i) {
      auto cidr = service::auth::ParseCidr((*list)[i]);
      if (!cidr.ok()) return Bad(absl::StrCat(key, "[", i, "]"), cidr.status().message());
      out->push_back(*cidr);
    }
    return absl::OkStatus();
  };
}

bool IsLoopbackHost(absl::string_view host) {
  return host == "localhost" || host == "::1" || host == "[::1]" ||
         absl::StartsWith(host, "127.");
}

// auth.mode against the callers and the listen address.
absl::Status CheckAuth(const ServerConfig& c) {
  if (!c.auth_mode.empty() && c.auth_mode != "none" && c.auth_mode != "required") {
    return Bad("auth.mode", "must be none or required");
  }
  if (c.auth_mode == "required" && c.auth_callers.empty()) {
    return Bad("auth.callers", "auth.mode required needs at least one caller");
  }
  if (c.auth_mode == "none" && !c.auth_callers.empty()) {
    return Bad("auth.mode", "none ignores auth.callers: remove one of them");
  }
  if (!c.auth_mesh_identity_header.empty() && c.auth_trusted_peers.empty()) {
    return Bad("auth.trusted_peers",
               "required with auth.mesh_identity_header (the header is believed only from them)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckUnauthenticatedListen(const ServerConfig& c) {
  if (AuthRequired(c) || c.auth_allow_unauthenticated) return absl::OkStatus();
  std::string host;
  int port = 0;
  if (auto st = SplitHostPort(c.listen, "listen", &host, &port); !st.ok()) return st;
  if (IsLoopbackHost(host)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "config key \"auth.mode\": no callers are configured and listen ", c.listen,
      " is not loopback: configure auth.callers (README \"Callers\"), or set "
      "auth.allow_unauthenticated true to serve everyone as tenant \"", c.tenant, "\""));
}

bool AuthRequired(const ServerConfig& config) {
  return config.auth_mode == "required" ||
         (config.auth_mode.empty() && !config.auth_callers.empty());
}

std::string OperationPriceKey(music::v1::ClipOperation operation) {
  return absl::StrCat("price_",
                      absl::AsciiStrToLower(absl::StripPrefix(
                          music::v1::ClipOperation_Name(operation), "CLIP_OPERATION_")),
                      "_micros");
}

ProviderConfig DefaultProviderConfig(const adapters::ProviderModule& module) {
  ProviderConfig c;
  c.base_url = module.defaults.base_url;
  c.api_key_env = module.defaults.api_key_env;
  c.connect_timeout = module.defaults.connect_timeout;
  c.request_timeout = module.defaults.request_timeout;
  c.price_micros = module.defaults.price_micros;
  c.price_currency = module.defaults.price_currency;
  c.rate_limits = module.rate_limits;
  for (const adapters::SecretSpec& secret : module.secrets) {
    c.secret_envs[secret.config_key] = secret.default_env;
  }
  for (const adapters::SettingSpec& setting : module.settings) {
    c.settings[setting.config_key] = setting.default_value;
  }
  return c;
}

ServerConfig DefaultServerConfig(const adapters::ProviderModuleRegistry& registry) {
  ServerConfig c;
  for (const adapters::ProviderModule& m : registry.modules()) {
    c.providers[m.name] = DefaultProviderConfig(m);
  }
  return c;
}

const ProviderConfig* FindProviderConfig(const ServerConfig& config, absl::string_view name) {
  auto it = config.providers.find(std::string(name));
  return it == config.providers.end() ? nullptr : &it->second;
}

absl::StatusOr<ServerConfig> ParseConfig(absl::string_view json,
                                         const adapters::ProviderModuleRegistry& registry) {
  ServerConfig c = DefaultServerConfig(registry);
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config is not valid JSON at offset ", doc.GetErrorOffset(), ": ",
                     rapidjson::GetParseError_En(doc.GetParseError())));
  }
  const absl::Duration s = absl::Seconds(1), ms = absl::Milliseconds(1);
  std::map<std::string, Setter> setters = {
      {"listen", String(&c.listen, false)},
      {"tenant", String(&c.tenant, false)},
      {"default_model", String(&c.default_model, false)},
      {"rpc_workers", Int(&c.rpc_workers, 1, 256)},
      {"shutdown_grace_seconds", Duration(&c.shutdown_grace, s)},
      {"database.path", String(&c.database_path, false)},
      {"database.synchronous", String(&c.database_synchronous, false)},
      {"database.allow_recreate", Bool(&c.database_allow_recreate)},
      {"database.url", String(&c.database_url)},
      {"database.url_env", String(&c.database_url_env)},
      {"database.connections", Int(&c.database_connections, 1, 256)},
      {"database.lease_seconds", Duration(&c.database_lease, s)},
      {"callbacks.listen", String(&c.callbacks_listen, false)},
      {"callbacks.public_url", String(&c.callbacks_public_url)},
      {"callbacks.token_secret_env", String(&c.callbacks_token_secret_env)},
      {"callbacks.token_secret_file", String(&c.callbacks_token_secret_file)},
      {"callbacks.token_secret_previous_env", String(&c.callbacks_token_secret_previous_env)},
      {"callbacks.tls.cert_file", String(&c.callbacks_tls_cert_file)},
      {"callbacks.tls.key_file", String(&c.callbacks_tls_key_file)},
      {"callbacks.max_connections", Int(&c.callbacks_max_connections, 1, 1'000'000)},
      {"callbacks.max_connections_per_peer",
       Int(&c.callbacks_max_connections_per_peer, 1, 1'000'000)},
      {"callbacks.header_timeout_seconds",
       Duration(&c.callbacks_header_timeout, s, absl::Milliseconds(100))},
      {"callbacks.body_timeout_seconds",
       Duration(&c.callbacks_body_timeout, s, absl::Milliseconds(100))},
      {"tasks.poll_interval_seconds", Duration(&c.poll_interval, s, absl::Milliseconds(334))},
      {"tasks.callback_poll_interval_seconds",
       Duration(&c.callback_poll_interval, s, absl::Milliseconds(334))},
      {"tasks.deadline_seconds", Duration(&c.task_deadline, s)},
      {"tasks.submit_max_attempts", Int(&c.submit_max_attempts, 1, 100)},
      {"tasks.backoff_initial_ms", Duration(&c.backoff_initial, ms)},
      {"tasks.backoff_max_seconds", Duration(&c.backoff_max, s)},
      {"tasks.unknown_submission_grace_seconds", Duration(&c.unknown_submission_grace, s)},
      {"tasks.workers", Int(&c.workers, 1, 1024)},
      {"tasks.max_submissions_in_flight", Int(&c.max_submissions_in_flight, 1, 100'000)},
      {"tasks.overload_submission_wait_seconds", DurationOrOff(&c.overload_submission_wait, s)},
      {"tenants", Tenants(&c.quotas)},
      {"watch.heartbeat_seconds", Duration(&c.heartbeat_interval, s, absl::Milliseconds(10))},
      {"metrics.listen", String(&c.metrics_listen)},
      {"catalog.aliases", Aliases(&c.aliases)},
      {"catalog.models", Models(&c.model_overrides)},
      {"routing.circuit_breaker_failures", Int(&c.circuit_breaker_failures, 0, 1000)},
      {"billing.credits_per_usd", Int64(&c.credits_per_usd, 1, 1'000'000'000)},
      {"routing.circuit_breaker_cooldown_seconds", Duration(&c.circuit_breaker_cooldown, s)},
      {"reference_audio.enabled", Bool(&c.reference_audio_enabled)},
      {"reference_audio.max_bytes", Int64(&c.reference_audio_max_bytes, 1, 100 << 20)},
      {"reference_audio.timeout_seconds", Duration(&c.reference_audio_timeout, s)},
      {"reference_audio.allow_loopback", Bool(&c.reference_audio_allow_loopback)},
      {"reference_audio.allow_http", Bool(&c.reference_audio_allow_http)},
      {"archive.enabled", Bool(&c.archive_enabled)},
      {"archive.backend", String(&c.archive_backend, false)},
      {"archive.directory", String(&c.archive_directory)},
      {"archive.s3.endpoint", String(&c.archive_s3_endpoint)},
      {"archive.s3.bucket", String(&c.archive_s3_bucket)},
      {"archive.s3.region", String(&c.archive_s3_region, false)},
      {"archive.s3.key_prefix", String(&c.archive_s3_key_prefix)},
      {"archive.s3.access_key_id_env", String(&c.archive_s3_access_key_id_env, false)},
      {"archive.s3.secret_access_key_env", String(&c.archive_s3_secret_access_key_env, false)},
      {"archive.max_bytes", Int64(&c.archive_max_bytes, 1, int64_t{2} << 30)},
      {"archive.timeout_seconds", Duration(&c.archive_timeout, s)},
      {"archive.workers", Int(&c.archive_workers, 1, 64)},
      {"archive.max_attempts", Int(&c.archive_max_attempts, 1, 100)},
      {"archive.backoff_initial_ms", Duration(&c.archive_backoff_initial, ms)},
      {"archive.backoff_max_seconds", Duration(&c.archive_backoff_max, s)},
      {"archive.sweep_interval_seconds",
       Duration(&c.archive_sweep_interval, s, absl::Milliseconds(100))},
      {"archive.max_age_hours", Duration(&c.archive_max_age, absl::Hours(1))},
      {"archive.allow_loopback", Bool(&c.archive_allow_loopback)},
      {"archive.allow_http", Bool(&c.archive_allow_http)},
  };
  setters["log.level"] = [&c](const rapidjson::Value& v, const std::string& key) {
    if (!v.IsString()) return Bad(key, "must be a string");
    std::optional<service::LogLevel> level = service::ParseLogLevel(v.GetString());
    if (!level) return Bad(key, "must be debug, info, warn or error");
    c.log_level = *level;
    return absl::OkStatus();
  };
  setters["grpc.keepalive_time_seconds"] = Duration(&c.grpc_keepalive_time, s, absl::Seconds(1));
  setters["grpc.keepalive_timeout_seconds"] =
      Duration(&c.grpc_keepalive_timeout, s, absl::Seconds(1));
  setters["grpc.max_connection_age_seconds"] =
      Duration(&c.grpc_max_connection_age, s, absl::Milliseconds(100));
  setters["grpc.max_connection_age_grace_seconds"] =
      Duration(&c.grpc_max_connection_age_grace, s, absl::Milliseconds(100));
  // auth.* and grpc.tls.* (issue 11 A).
  setters["auth.mode"] = String(&c.auth_mode, false);
  setters["auth.allow_unauthenticated"] = Bool(&c.auth_allow_unauthenticated);
  setters["auth.callers"] = Callers(&c.auth_callers);
  setters["auth.mesh_identity_header"] = [&c](const rapidjson::Value& v, const std::string& key) {
    if (!v.IsString()) return Bad(key, "must be a string");
    c.auth_mesh_identity_header = absl::AsciiStrToLower(v.GetString());  // gRPC keys are lower case
    return absl::OkStatus();
  };
  setters["auth.trusted_peers"] = TrustedPeers(&c.auth_trusted_peers);
  setters["grpc.tls.cert_file"] = String(&c.grpc_tls_cert_file);
  setters["grpc.tls.key_file"] = String(&c.grpc_tls_key_file);
  setters["grpc.tls.client_ca_file"] = String(&c.grpc_tls_client_ca_file);
  setters["grpc.tls.require_client_cert"] = Bool(&c.grpc_tls_require_client_cert);
  setters["grpc.tls.refresh_seconds"] = Int(&c.grpc_tls_refresh_seconds, 1, 86400);
  setters["grpc.max_receive_message_bytes"] =
      Int(&c.grpc_max_receive_message_bytes, 64 << 10, 64 << 20);
  for (const adapters::ProviderModule& m : registry.modules()) {
    AddProviderSetters(m, &c.providers[m.name], setters);
  }
  if (auto st = Walk(doc, "", setters); !st.ok()) return st;
  if (c.database_synchronous != "FULL" && c.database_synchronous != "NORMAL") {
    return Bad("database.synchronous", "must be FULL or NORMAL");
  }
  if (!c.database_url.empty() && !c.database_url_env.empty()) {
    return Bad("database.url", "set database.url or database.url_env, not both");
  }
  if (!c.database_url.empty()) {
    if (!absl::StartsWith(c.database_url, "postgresql://") &&
        !absl::StartsWith(c.database_url, "postgres://")) {
      return Bad("database.url", "must be a postgresql:// URI");
    }
    // A password never sits in a config file: "user:password@" or a password= parameter.
    const absl::string_view rest = absl::string_view(c.database_url).substr(
        c.database_url.find("://") + 3);
    const absl::string_view authority = rest.substr(0, rest.find_first_of("/?"));
    const size_t at = authority.rfind('@');
    if ((at != absl::string_view::npos &&
         authority.substr(0, at).find(':') != absl::string_view::npos) ||
        absl::StrContains(absl::AsciiStrToLower(c.database_url), "password=")) {
      return Bad("database.url",
                 "holds a password: put it in PGPASSWORD or a PGPASSFILE, or put the whole URL in "
                 "the variable database.url_env names");
    }
  }
  if (c.database_lease < absl::Seconds(2) || c.database_lease > absl::Minutes(10)) {
    return Bad("database.lease_seconds", "must be between 2 and 600");
  }
  std::string host;
  int port;
  if (auto st = SplitHostPort(c.listen, "listen", &host, &port); !st.ok()) return st;
  if (auto st = SplitHostPort(c.callbacks_listen, "callbacks.listen", &host, &port); !st.ok()) {
    return st;
  }
  if (c.callbacks_tls_cert_file.empty() != c.callbacks_tls_key_file.empty()) {
    return Bad(c.callbacks_tls_cert_file.empty() ? "callbacks.tls.cert_file"
                                                 : "callbacks.tls.key_file",
               "callbacks.tls.cert_file and key_file go together: set both or neither");
  }
  if (c.callbacks_token_secret_env.empty() && c.callbacks_token_secret_file.empty()) {
    return Bad("callbacks.token_secret_env",
               "callbacks need a token secret: name its variable or token_secret_file");
  }
  if (!c.metrics_listen.empty()) {
    if (auto st = SplitHostPort(c.metrics_listen, "metrics.listen", &host, &port); !st.ok()) {
      return st;
    }
  }
  for (const adapters::ProviderModule& m : registry.modules()) {  // in registration order
    const ProviderConfig& p = c.providers.at(m.name);
    if (p.price_micros > 0 && p.price_currency != "CREDITS" && p.price_currency != "USD") {
      return Bad(absl::StrCat("providers.", m.name, ".price_currency"), "must be CREDITS or USD");
    }
  }
  for (const auto& [name, o] : c.model_overrides) {
    if (o.price_currency && *o.price_currency != "CREDITS" && *o.price_currency != "USD") {
      return Bad(absl::StrCat("catalog.models.", name, ".price_currency"),
                 "must be CREDITS or USD");
    }
  }
  if (c.backoff_max < c.backoff_initial) {
    return Bad("tasks.backoff_max_seconds", "must not be below tasks.backoff_initial_ms");
  }
  if (c.archive_backend != "directory" && c.archive_backend != "s3") {
    return Bad("archive.backend", "must be directory or s3");
  }
  if (c.archive_enabled && c.archive_backend == "s3") {
    if (c.archive_s3_bucket.empty()) return Bad("archive.s3.bucket", "required with backend s3");
    if (!absl::StartsWith(c.archive_s3_endpoint, "http://") &&
        !absl::StartsWith(c.archive_s3_endpoint, "https://")) {
      return Bad("archive.s3.endpoint", "required with backend s3: http(s)://host[:port]");
    }
  }
  if (c.archive_backoff_max < c.archive_backoff_initial) {
    return Bad("archive.backoff_max_seconds", "must not be below archive.backoff_initial_ms");
  }
  if (auto st = CheckAuth(c); !st.ok()) return st;
  if (c.grpc_tls_cert_file.empty() != c.grpc_tls_key_file.empty()) {
    return Bad(c.grpc_tls_cert_file.empty() ? "grpc.tls.cert_file" : "grpc.tls.key_file",
               "grpc.tls.cert_file and grpc.tls.key_file go together");
  }
  if (c.grpc_tls_require_client_cert && c.grpc_tls_client_ca_file.empty()) {
    return Bad("grpc.tls.require_client_cert", "needs grpc.tls.client_ca_file");
  }
  if (!c.grpc_tls_client_ca_file.empty() && c.grpc_tls_cert_file.empty()) {
    return Bad("grpc.tls.client_ca_file", "needs grpc.tls.cert_file and grpc.tls.key_file");
  }
  return c;
}

std::string ArchiveDirectory(const ServerConfig& config) {
  if (!config.archive_directory.empty()) return config.archive_directory;
  const size_t slash = config.database_path.rfind('/');
  if (slash == std::string::npos) return "archive";
  return absl::StrCat(config.database_path.substr(0, slash + 1), "archive");
}

std::string DescribeConfig(const ServerConfig& config) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("listen");
  w.StartArray();
  for (const auto& [key, address] :
       {std::pair<const char*, const std::string&>("listen", config.listen),
        std::pair<const char*, const std::string&>("callbacks.listen", config.callbacks_listen)}) {
    std::string host;
    int port = 0;
    SplitHostPort(address, key, &host, &port).IgnoreError();  // ParseConfig checked it
    w.StartObject();
    w.Key("key");
    w.String(key);
    w.Key("address");
    w.String(address.c_str());
    w.Key("port");
    w.Int(port);
    w.EndObject();
  }
  w.EndArray();
  std::set<std::string> envs;
  for (const auto& [name, p] : config.providers) {
    if (!p.api_key_env.empty()) envs.insert(p.api_key_env);
    for (const auto& [key, env] : p.secret_envs) {
      if (!env.empty()) envs.insert(env);
    }
  }
  // The callback token secrets (BuildServer); the current one is required.
  std::set<std::string> required;
  if (!config.callbacks_token_secret_env.empty()) {
    envs.insert(config.callbacks_token_secret_env);
    if (config.callbacks_token_secret_file.empty()) {
      required.insert(config.callbacks_token_secret_env);
    }
  }
  if (!config.callbacks_token_secret_previous_env.empty()) {
    envs.insert(config.callbacks_token_secret_previous_env);
  }
  // The PostgreSQL URL when it comes from the environment (it may hold a password); required.
  if (!config.database_url_env.empty()) {
    envs.insert(config.database_url_env);
    required.insert(config.database_url_env);
  }
  // The S3 archive's keys come from the environment too.
  if (config.archive_enabled && config.archive_backend == "s3") {
    envs.insert(config.archive_s3_access_key_id_env);
    envs.insert(config.archive_s3_secret_access_key_env);
  }
  w.Key("secret_envs");
  w.StartArray();
  for (const std::string& env : envs) w.String(env.c_str());
  w.EndArray();
  w.Key("required_secret_envs");
  w.StartArray();
  for (const std::string& env : required) w.String(env.c_str());
  w.EndArray();
  w.Key("shutdown_grace_seconds");
  w.Double(absl::ToDoubleSeconds(config.shutdown_grace));
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

absl::StatusOr<ServerConfig> LoadConfigFile(const std::string& path,
                                            const adapters::ProviderModuleRegistry& registry) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read config file ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto config = ParseConfig(buffer.str(), registry);
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

}  // namespace music::server
