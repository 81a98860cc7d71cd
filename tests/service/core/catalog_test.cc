#include "service/core/catalog.h"

#include <gtest/gtest.h>

#include "adapters/builtin_providers.h"
#include "service/core/status_details.h"

namespace music::service {
namespace {

music::v1::Model M(const std::string& name, const std::string& provider, bool available = true) {
  music::v1::Model m;
  m.set_name(name);
  m.set_provider(provider);
  m.set_provider_model(name + "-id");
  m.set_available(available);
  if (!available) m.set_unavailable_reason("no API key: set $X");
  return m;
}

music::v1::ModelAlias A(const std::string& name, std::vector<std::string> models) {
  music::v1::ModelAlias a;
  a.set_name(name);
  for (auto& m : models) a.add_models(m);
  return a;
}

std::string FirstField(const absl::Status& s) {
  auto payload = s.GetPayload(kBadRequestUrl);
  if (!payload) return "";
  google::rpc::BadRequest br;
  if (!br.ParseFromString(std::string(*payload)) || br.field_violations_size() == 0) return "";
  return br.field_violations(0).field();
}

TEST(CatalogTest, BuiltInSunoAliasKeepsPresentMembersInOrder) {
  std::vector<music::v1::Model> models = {M("tokenlab-suno-music", "tokenlab"),
                                          M("suno-v4.5", "kie"), M("suno-v5", "kie")};
  const std::vector<adapters::AliasMember> builtin = adapters::BuiltinProviders().AliasMembers();
  auto aliases = BuiltInAliases(models, builtin);
  ASSERT_EQ(aliases.size(), 1u);
  EXPECT_EQ(aliases[0].name(), "suno");
  ASSERT_EQ(aliases[0].models_size(), 2);
  EXPECT_EQ(aliases[0].models(0), "suno-v4.5");
  EXPECT_EQ(aliases[0].models(1), "tokenlab-suno-music");
  EXPECT_TRUE(BuiltInAliases({M("other", "x")}, builtin).empty());
  // The legacy constructor carries the built-in aliases.
  Catalog catalog(models, "suno-v4.5", builtin);
  ASSERT_NE(catalog.FindAlias("suno"), nullptr);
}

TEST(CatalogTest, BuiltInAliasesFollowRanksAcrossModules) {
  // Members of one alias from several modules are tried by rank, not by module order; a model
  // named like an alias wins; a member listed twice appears once.
  const std::vector<adapters::AliasMember> members = {
      {"fast", "b", 20}, {"fast", "a", 10}, {"slow", "c", 5}, {"fast", "a", 30}, {"c", "a", 1}};
  auto aliases = BuiltInAliases({M("a", "pa"), M("b", "pb"), M("c", "pc")}, members);
  ASSERT_EQ(aliases.size(), 2u);
  EXPECT_EQ(aliases[0].name(), "fast");
  ASSERT_EQ(aliases[0].models_size(), 2);
  EXPECT_EQ(aliases[0].models(0), "a");
  EXPECT_EQ(aliases[0].models(1), "b");
  EXPECT_EQ(aliases[1].name(), "slow");
  EXPECT_TRUE(BuiltInAliases({M("a", "pa")}, {}).empty());
  // Without members the legacy constructor has no aliases.
  Catalog plain({M("a", "pa")}, "a");
  EXPECT_TRUE(plain.aliases().empty());
}

TEST(CatalogTest, ResolvesModelsAndAliases) {
  auto catalog = Catalog::Create({M("a", "pa"), M("b", "pb", false), M("c", "pc")},
                                 {A("abc", {"a", "b", "c"})}, "a");
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  auto plain = (*catalog)->Resolve("c");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->alias);
  ASSERT_EQ(plain->candidates.size(), 1u);
  EXPECT_EQ(plain->candidates[0]->name(), "c");

  auto dflt = (*catalog)->Resolve("");
  ASSERT_TRUE(dflt.ok());
  EXPECT_EQ(dflt->name, "a");

  auto alias = (*catalog)->Resolve("abc");
  ASSERT_TRUE(alias.ok());
  EXPECT_TRUE(alias->alias);
  ASSERT_EQ(alias->candidates.size(), 2u);  // b is unavailable
  EXPECT_EQ(alias->candidates[0]->name(), "a");
  EXPECT_EQ(alias->candidates[1]->name(), "c");

  auto unknown = (*catalog)->Resolve("nope");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FirstField(unknown.status()), "model");
  auto unavailable = (*catalog)->Resolve("b");
  EXPECT_EQ(unavailable.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(unavailable.status().message().find("no API key"), absl::string_view::npos);
}

TEST(CatalogTest, AliasWithNoAvailableMemberIsFailedPreconditionWithReasons) {
  auto catalog =
      Catalog::Create({M("a", "pa", false), M("b", "pb", false)}, {A("ab", {"a", "b"})}, "");
  ASSERT_TRUE(catalog.ok());
  auto r = (*catalog)->Resolve("ab");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("no model of alias ab"), absl::string_view::npos);
  EXPECT_NE(r.status().message().find("set $X"), absl::string_view::npos);
}

TEST(CatalogTest, BadAliasesAreRefusedNamingTheAlias) {
  const std::vector<music::v1::Model> models = {M("a", "pa"), M("b", "pb")};
  struct Case {
    std::vector<music::v1::ModelAlias> aliases;
    std::string field;
  };
  const Case cases[] = {
      {{A("a", {"b"})}, "aliases.a"},                 // clashes with a model
      {{A("x", {"a", "missing"})}, "aliases.x"},      // unknown member
      {{A("x", {})}, "aliases.x"},                    // empty
      {{A("x", {"a"}), A("x", {"b"})}, "aliases.x"},  // twice
      {{A("y", {"a", "a"})}, "aliases.y"},            // member twice
  };
  for (const Case& c : cases) {
    auto catalog = Catalog::Create(models, c.aliases, "a");
    EXPECT_EQ(catalog.status().code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_EQ(FirstField(catalog.status()), c.field);
  }
  auto bad_default = Catalog::Create(models, {}, "zzz");
  EXPECT_EQ(FirstField(bad_default.status()), "default_model");
  auto alias_default = Catalog::Create(models, {A("both", {"a", "b"})}, "both");
  EXPECT_TRUE(alias_default.ok());
}

}  // namespace
}  // namespace music::service
