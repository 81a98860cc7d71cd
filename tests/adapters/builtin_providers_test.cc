// The built-in provider modules, and README.md's provider table checked against them.
#include "adapters/builtin_providers.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

#ifndef MUSIC_SOURCE_DIR
#error "MUSIC_SOURCE_DIR must name the source tree (for README.md)"
#endif

namespace music::adapters {
namespace {

std::vector<std::string> ModelNames(const ProviderModule& m) {
  std::vector<std::string> names;
  if (m.models) {
    for (const auto& model : m.models()) names.push_back(model.name());
  }
  return names;
}

TEST(BuiltinProvidersTest, FourModulesInOrderEachComplete) {
  const ProviderModuleRegistry& r = BuiltinProviders();
  std::vector<std::string> names;
  for (const ProviderModule& m : r.modules()) {
    names.push_back(m.name);
    EXPECT_FALSE(m.defaults.base_url.empty()) << m.name;
    EXPECT_FALSE(m.defaults.api_key_env.empty()) << m.name;
    EXPECT_TRUE(m.make_adapter) << m.name;
    EXPECT_FALSE(ModelNames(m).empty()) << m.name;
    for (const auto& model : m.models()) EXPECT_EQ(model.provider(), m.name) << model.name();
    // Every alias member is one of the module's own models.
    for (const AliasMember& a : m.aliases) {
      const std::vector<std::string> own = ModelNames(m);
      EXPECT_NE(std::find(own.begin(), own.end(), a.model), own.end()) << a.model;
    }
  }
  EXPECT_EQ(names, (std::vector<std::string>{"kie", "piapi", "tokenlab", "beatra"}));
  EXPECT_EQ(&r, &BuiltinProviders());
}

TEST(BuiltinProvidersTest, ConfigDefaultsAndSecrets) {
  const ProviderModuleRegistry& r = BuiltinProviders();
  EXPECT_EQ(r.Find("kie")->defaults.api_key_env, "KIE_API_KEY");
  EXPECT_EQ(r.Find("kie")->defaults.price_micros, 12'000'000);
  EXPECT_EQ(r.Find("kie")->defaults.price_currency, "CREDITS");
  ASSERT_EQ(r.Find("kie")->secrets.size(), 1u);
  EXPECT_EQ(r.Find("kie")->secrets[0].config_key, "webhook_hmac_key_env");
  EXPECT_EQ(r.Find("kie")->secrets[0].default_env, "KIE_WEBHOOK_HMAC_KEY");
  ASSERT_EQ(r.Find("piapi")->secrets.size(), 1u);
  EXPECT_EQ(r.Find("piapi")->secrets[0].config_key, "webhook_secret_env");
  EXPECT_EQ(r.Find("piapi")->secrets[0].default_env, "PIAPI_WEBHOOK_SECRET");
  EXPECT_EQ(r.Find("piapi")->defaults.price_micros, 0);
  EXPECT_EQ(r.Find("tokenlab")->defaults.base_url, "https://api.tokenlab.sh");
  EXPECT_EQ(r.Find("tokenlab")->defaults.price_micros, 100'000);
  EXPECT_EQ(r.Find("tokenlab")->defaults.price_currency, "USD");
  EXPECT_TRUE(r.Find("tokenlab")->secrets.empty());
  EXPECT_EQ(r.Find("beatra")->defaults.base_url, "https://api.beatra.ai");
  EXPECT_TRUE(r.Find("beatra")->secrets.empty());
  EXPECT_EQ(r.Find("nope"), nullptr);
}

TEST(BuiltinProvidersTest, SunoAliasMembersInRankOrder) {
  std::vector<AliasMember> members = BuiltinProviders().AliasMembers();
  std::stable_sort(members.begin(), members.end(),
                   [](const AliasMember& a, const AliasMember& b) { return a.rank < b.rank; });
  std::vector<std::string> suno;
  for (const AliasMember& m : members) {
    if (m.alias == "suno") suno.push_back(m.model);
  }
  EXPECT_EQ(suno,
            (std::vector<std::string>{"suno-v4.5", "beatra-suno-5.5", "tokenlab-suno-music"}));
}

TEST(BuiltinProvidersTest, AFactoryBuildsTheAdapterOfItsProvider) {
  for (const ProviderModule& m : BuiltinProviders().modules()) {
    ProviderSettings s;
    s.base_url = m.defaults.base_url;
    s.price_micros = m.defaults.price_micros;
    s.price_currency = m.defaults.price_currency;
    auto adapter = m.make_adapter(s);  // no key, no HTTP client: built, never called
    ASSERT_TRUE(adapter.ok()) << m.name << ": " << adapter.status();
    EXPECT_EQ((*adapter)->provider(), m.name);
    std::vector<std::string> listed;
    for (const auto& model : (*adapter)->Models()) listed.push_back(model.name());
    EXPECT_EQ(listed, ModelNames(m)) << m.name;
  }
}

// README.md's provider table: the rows after the header "| provider | models ...".
struct Row {
  std::string provider;  // the first cell
  std::string models;    // the second cell
};

std::vector<Row> ReadmeProviderRows() {
  std::ifstream in(std::string(MUSIC_SOURCE_DIR) + "/README.md");
  EXPECT_TRUE(in) << "cannot read README.md";
  std::vector<Row> rows;
  bool in_table = false;
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, "| provider | models")) {
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    if (!absl::StartsWith(line, "|")) break;
    if (absl::StartsWith(line, "| ---")) continue;
    std::vector<std::string> cells = absl::StrSplit(line, '|');
    if (cells.size() < 3) continue;
    rows.push_back({std::string(absl::StripAsciiWhitespace(cells[1])),
                    std::string(absl::StripAsciiWhitespace(cells[2]))});
  }
  return rows;
}

// The module a row is about: its first cell starts with the module's name (any case), followed by
// the end or a non-alphanumeric character ("kie.ai Suno API" is "kie", "PiAPI Udio" is "piapi").
const ProviderModule* ModuleOfRow(const Row& row) {
  const std::string cell = absl::AsciiStrToLower(row.provider);
  for (const ProviderModule& m : BuiltinProviders().modules()) {
    if (absl::StartsWith(cell, m.name) &&
        (cell.size() == m.name.size() || !absl::ascii_isalnum(cell[m.name.size()]))) {
      return &m;
    }
  }
  return nullptr;
}

// The catalog names a models cell lists: "`a`, `b`" lists a and b; "`a` … `c`" lists a, c and
// every model of `m` between them; what follows "→" (provider models) is not a catalog name.
std::set<std::string> ListedModels(const std::string& cell, const ProviderModule& m,
                                   std::string* error) {
  const std::vector<std::string> order = ModelNames(m);
  std::set<std::string> listed;
  for (absl::string_view item : absl::StrSplit(cell, ',')) {
    const size_t arrow = item.find("→");
    if (arrow != absl::string_view::npos) item = item.substr(0, arrow);
    std::vector<std::string> names;
    for (absl::string_view part : absl::StrSplit(item, '`')) names.emplace_back(part);
    // Backticked names are at the odd positions.
    std::vector<std::string> quoted;
    for (size_t i = 1; i < names.size(); i += 2) quoted.push_back(names[i]);
    if (quoted.size() == 2 && absl::StrContains(item, "…")) {
      auto from = std::find(order.begin(), order.end(), quoted[0]);
      auto to = std::find(order.begin(), order.end(), quoted[1]);
      if (from == order.end() || to == order.end() || from > to) {
        *error = "bad range " + std::string(item);
        return listed;
      }
      listed.insert(from, to + 1);
      continue;
    }
    listed.insert(quoted.begin(), quoted.end());
  }
  return listed;
}

TEST(ReadmeProviderTableTest, OneRowPerModuleListingExactlyItsModels) {
  const std::vector<Row> rows = ReadmeProviderRows();
  ASSERT_FALSE(rows.empty()) << "README.md has no provider table";
  std::set<std::string> seen;
  for (const Row& row : rows) {
    const ProviderModule* m = ModuleOfRow(row);
    ASSERT_NE(m, nullptr) << "README.md lists provider \"" << row.provider
                          << "\", which no module registers";
    EXPECT_TRUE(seen.insert(m->name).second) << "two README rows for " << m->name;
    std::string error;
    const std::set<std::string> listed = ListedModels(row.models, *m, &error);
    EXPECT_TRUE(error.empty()) << m->name << ": " << error;
    const std::vector<std::string> own = ModelNames(*m);
    EXPECT_EQ(listed, std::set<std::string>(own.begin(), own.end()))
        << "README.md's models of " << m->name << ": " << row.models;
  }
  for (const ProviderModule& m : BuiltinProviders().modules()) {
    EXPECT_EQ(seen.count(m.name), 1u) << "README.md has no row for provider " << m.name;
  }
}

TEST(ReadmeProviderTableTest, TheCheckerRefusesWhatItShould) {
  const ProviderModule& kie = *BuiltinProviders().Find("kie");
  std::string error;
  EXPECT_EQ(ListedModels("`suno-v4` … `suno-v4.5` → `V4` … `V4_5`", kie, &error),
            (std::set<std::string>{"suno-v4", "suno-v4.5"}));
  EXPECT_TRUE(error.empty());
  ListedModels("`suno-v5` … `suno-v3.5`", kie, &error);
  EXPECT_FALSE(error.empty());
  EXPECT_EQ(ModuleOfRow({"Acme Music", ""}), nullptr);
  EXPECT_EQ(ModuleOfRow({"kiex", ""}), nullptr);
  ASSERT_NE(ModuleOfRow({"TokenLab", ""}), nullptr);
  EXPECT_EQ(ModuleOfRow({"TokenLab", ""})->name, "tokenlab");
}

}  // namespace
}  // namespace music::adapters
