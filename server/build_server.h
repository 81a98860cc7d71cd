// The wiring: a running MusicServer from a config and the provider modules. The one place that
// picks concrete parts (SQLite, libcurl, the SSRF-safe fetcher); main.cc only calls it.
#ifndef MUSIC_SERVER_BUILD_SERVER_H_
#define MUSIC_SERVER_BUILD_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "adapters/provider_module.h"
#include "domain/clock.h"
#include "server/config.h"
#include "service/server/music_server.h"

namespace music::server {

/// Reads a secret by environment variable name: its value, or "" when unset. Never logged.
using SecretLookup = std::function<std::string(const std::string& env_name)>;

/// The process environment (getenv).
SecretLookup EnvironmentSecrets();

/// Builds and starts the server `config` describes: for each module of `registry` (in order) its
/// HTTP client (providers.<name>.connect/request timeouts), its API key (`secrets` of
/// api_key_env, else the file api_key_file, whitespace-trimmed) and other secrets (`secrets` of
/// the variables its config names), and its adapter; the catalog (BuildCatalog); the
/// reference-audio fetcher; the stores, opened last so a bad config never creates a database
/// (PostgreSQL when database.url, or the variable database.url_env names, is set: FAILED_PRECONDITION
/// when that variable is empty; else the SQLite file); the ServerOptions. A provider without a key is listed unavailable, never
/// called. Errors: NOT_FOUND naming `providers.<name>.api_key_file` when that file cannot be
/// read; INVALID_ARGUMENT naming the config key from an adapter factory or the catalog; a module
/// of `registry` with no settings in `config` is INVALID_ARGUMENT naming `providers.<name>`;
/// errors of opening the database or binding the listeners. `clock` is not owned and must
/// outlive the server. `provider_summary`, when given, gets e.g. "kie available, piapi
/// unavailable (no API key)".
absl::StatusOr<std::unique_ptr<service::MusicServer>> BuildServer(
    const ServerConfig& config, const adapters::ProviderModuleRegistry& registry,
    const SecretLookup& secrets, const Clock* clock, std::string* provider_summary = nullptr);

}  // namespace music::server

#endif  // MUSIC_SERVER_BUILD_SERVER_H_
