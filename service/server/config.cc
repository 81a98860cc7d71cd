#include "service/server/config.h"

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"

namespace music::service {
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

absl::Status Walk(const rapidjson::Value& object, const std::string& prefix,
                  const std::map<std::string, Setter>& setters) {
  if (!object.IsObject()) {
    return Bad(prefix.empty() ? std::string("(top level)") : prefix, "must be an object");
  }
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
    const std::string key = absl::StrCat(prefix, prefix.empty() ? "" : ".", it->name.GetString());
    if (it->value.IsObject()) {
      if (auto s = Walk(it->value, key, setters); !s.ok()) return s;
      continue;
    }
    auto setter = setters.find(key);
    if (setter == setters.end()) return Bad(key, "unknown key (see README.md, Configuration)");
    if (auto s = setter->second(it->value, key); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SplitHostPort(absl::string_view address, absl::string_view key, std::string* host,
                           int* port) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return Bad(std::string(key), "must be host:port");
  }
  absl::string_view h = address.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  int p = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &p) || p < 0 || p > 65535) {
    return Bad(std::string(key), "port must be 0-65535");
  }
  *host = std::string(h);
  *port = p;
  return absl::OkStatus();
}

absl::StatusOr<ServerConfig> ParseConfig(absl::string_view json) {
  ServerConfig c;
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config is not valid JSON at offset ", doc.GetErrorOffset(), ": ",
                     rapidjson::GetParseError_En(doc.GetParseError())));
  }
  const absl::Duration s = absl::Seconds(1), ms = absl::Milliseconds(1);
  const std::map<std::string, Setter> setters = {
      {"listen", String(&c.listen, false)},
      {"tenant", String(&c.tenant, false)},
      {"default_model", String(&c.default_model, false)},
      {"rpc_workers", Int(&c.rpc_workers, 1, 256)},
      {"shutdown_grace_seconds", Duration(&c.shutdown_grace, s)},
      {"database.path", String(&c.database_path, false)},
      {"database.synchronous", String(&c.database_synchronous, false)},
      {"callbacks.listen", String(&c.callbacks_listen, false)},
      {"callbacks.public_url", String(&c.callbacks_public_url)},
      {"tasks.poll_interval_seconds", Duration(&c.poll_interval, s, absl::Milliseconds(334))},
      {"tasks.deadline_seconds", Duration(&c.task_deadline, s)},
      {"tasks.submit_max_attempts", Int(&c.submit_max_attempts, 1, 100)},
      {"tasks.backoff_initial_ms", Duration(&c.backoff_initial, ms)},
      {"tasks.backoff_max_seconds", Duration(&c.backoff_max, s)},
      {"tasks.unknown_submission_grace_seconds", Duration(&c.unknown_submission_grace, s)},
      {"tasks.workers", Int(&c.workers, 1, 1024)},
      {"watch.heartbeat_seconds", Duration(&c.heartbeat_interval, s, absl::Milliseconds(10))},
      {"providers.kie.base_url", String(&c.kie.base_url, false)},
      {"providers.kie.api_key_env", String(&c.kie.api_key_env)},
      {"providers.kie.api_key_file", String(&c.kie.api_key_file)},
      {"providers.kie.webhook_hmac_key_env", String(&c.kie.webhook_hmac_key_env)},
      {"providers.kie.connect_timeout_seconds", Duration(&c.kie.connect_timeout, s)},
      {"providers.kie.request_timeout_seconds", Duration(&c.kie.request_timeout, s)},
  };
  if (auto st = Walk(doc, "", setters); !st.ok()) return st;
  if (c.database_synchronous != "FULL" && c.database_synchronous != "NORMAL") {
    return Bad("database.synchronous", "must be FULL or NORMAL");
  }
  std::string host;
  int port;
  if (auto st = SplitHostPort(c.listen, "listen", &host, &port); !st.ok()) return st;
  if (auto st = SplitHostPort(c.callbacks_listen, "callbacks.listen", &host, &port); !st.ok()) {
    return st;
  }
  if (c.backoff_max < c.backoff_initial) {
    return Bad("tasks.backoff_max_seconds", "must not be below tasks.backoff_initial_ms");
  }
  return c;
}

absl::StatusOr<ServerConfig> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read config file ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto config = ParseConfig(buffer.str());
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

}  // namespace music::service
