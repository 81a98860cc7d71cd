#include "server/catalog_builder.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "adapters/builtin_providers.h"
#include "adapters/kie/kie_adapter.h"
#include "tests/testing/fake_provider.h"

namespace music::server {
namespace {

using service::Catalog;
using service::FakeProvider;

// The catalog music-server builds: the built-in providers' aliases.
absl::StatusOr<std::unique_ptr<Catalog>> BuildCatalog(const ServerConfig& config,
                                                      const std::vector<CatalogProvider>& p) {
  return server::BuildCatalog(config, adapters::BuiltinProviders(), p);
}

// A fake provider whose models carry the names of the real Suno-family entries.
class NamedModelsProvider : public FakeProvider {
 public:
  NamedModelsProvider(std::string name, std::vector<std::string> models, int64_t price = 0)
      : FakeProvider(adapters::ResubmitPolicy::kIdempotencyKey, name),
        name_(std::move(name)),
        models_(std::move(models)),
        price_(price) {}
  std::vector<music::v1::Model> Models() const override {
    std::vector<music::v1::Model> out;
    for (const auto& n : models_) {
      music::v1::Model m = FakeProvider::Models().front();
      m.set_name(n);
      m.set_provider_model(n + "-id");
      if (price_ > 0) {
        m.mutable_price()->set_amount_micros(price_);
        m.mutable_price()->set_currency("CREDITS");
      }
      out.push_back(m);
    }
    return out;
  }

 private:
  std::string name_;
  std::vector<std::string> models_;
  int64_t price_;
};

class CatalogBuilderTest : public ::testing::Test {
 protected:
  std::vector<CatalogProvider> Providers(bool beatra_key = true) {
    return {
        {std::make_shared<NamedModelsProvider>("kie",
                                               std::vector<std::string>{"suno-v4.5", "suno-v5"}),
         ""},
        {std::make_shared<NamedModelsProvider>(
             "beatra", std::vector<std::string>{"beatra-suno-5.5"}, 80'000'000),
         beatra_key ? "" : NoApiKeyReason("beatra", config_.providers.at("beatra"))},
        {std::make_shared<NamedModelsProvider>("tokenlab",
                                               std::vector<std::string>{"tokenlab-suno-music"}),
         ""},
    };
  }
  ServerConfig config_ = DefaultServerConfig(adapters::BuiltinProviders());
};

TEST_F(CatalogBuilderTest, BuiltInEntriesPricesAvailabilityAndTheSunoAlias) {
  auto catalog = BuildCatalog(config_, Providers(/*beatra_key=*/false));
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  const Catalog& c = **catalog;
  EXPECT_EQ(c.default_model(), "suno-v4.5");
  // kie and TokenLab carry no price: the provider defaults; beatra keeps the adapter's.
  EXPECT_EQ(c.Find("suno-v5")->price().amount_micros(), 12'000'000);
  EXPECT_EQ(c.Find("suno-v5")->price().currency(), "CREDITS");
  EXPECT_EQ(c.Find("tokenlab-suno-music")->price().amount_micros(), 100'000);
  EXPECT_EQ(c.Find("tokenlab-suno-music")->price().currency(), "USD");
  EXPECT_EQ(c.Find("beatra-suno-5.5")->price().amount_micros(), 80'000'000);
  // A provider without a key is listed, unavailable, with the variable to set.
  const music::v1::Model* beatra = c.Find("beatra-suno-5.5");
  EXPECT_FALSE(beatra->available());
  EXPECT_EQ(beatra->unavailable_reason(), "no API key: set $BEATRA_API_KEY");
  EXPECT_TRUE(c.Find("suno-v4.5")->available());
  ASSERT_NE(c.FindAlias("suno"), nullptr);
  EXPECT_EQ(c.FindAlias("suno")->models_size(), 3);
  auto route = c.Resolve("suno");
  ASSERT_TRUE(route.ok());
  ASSERT_EQ(route->candidates.size(), 2u);  // beatra skipped
  EXPECT_EQ(route->candidates[1]->name(), "tokenlab-suno-music");
}

// providers.kie.price_convert_to_wav_micros overrides the adapter's WAV price; vocal separation
// keeps kie.ai's documented 10 credits (CONTRACT-NOTES).
TEST_F(CatalogBuilderTest, ClipOperationPricesComeFromTheModelsAndConfig) {
  config_.providers["kie"].operation_price_micros[music::v1::CLIP_OPERATION_CONVERT_TO_WAV] = 3;
  // The real kie.ai models (their Models() makes no request).
  const std::vector<CatalogProvider> kie = {
      {std::shared_ptr<adapters::ProviderAdapter>(adapters::kie::NewKieAdapter({}, nullptr)), ""}};
  auto catalog = BuildCatalog(config_, kie);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  const music::v1::Model* m = (*catalog)->Find("suno-v4.5");
  ASSERT_NE(m, nullptr);
  const std::vector<int> offered(m->capabilities().clip_operations().begin(),
                                 m->capabilities().clip_operations().end());
  EXPECT_EQ(offered, (std::vector<int>{music::v1::CLIP_OPERATION_CONVERT_TO_WAV,
                                       music::v1::CLIP_OPERATION_SEPARATE_VOCALS,
                                       music::v1::CLIP_OPERATION_SPLIT_STEMS,
                                       music::v1::CLIP_OPERATION_CREATE_MUSIC_VIDEO}));
  EXPECT_TRUE(m->capabilities().timestamped_lyrics());
  EXPECT_TRUE(m->capabilities().style_boost());
  std::map<int, int64_t> prices;
  for (const auto& p : m->clip_operation_prices()) {
    prices[p.operation()] = p.price().amount_micros();
    EXPECT_EQ(p.price().currency(), "CREDITS");
  }
  EXPECT_EQ(prices[music::v1::CLIP_OPERATION_CONVERT_TO_WAV], 3);
  EXPECT_EQ(prices[music::v1::CLIP_OPERATION_SEPARATE_VOCALS], 10'000'000);
  EXPECT_EQ(prices[music::v1::CLIP_OPERATION_SPLIT_STEMS], 50'000'000);
  EXPECT_EQ(prices[music::v1::CLIP_OPERATION_CREATE_MUSIC_VIDEO], 4'000'000);
}

TEST_F(CatalogBuilderTest, ConfigOverridesAddsAndAliases) {
  config_.model_overrides["suno-v5"].enabled = false;
  config_.model_overrides["suno-v5"].price_micros = 5;
  config_.model_overrides["suno-v5"].limits["max_style_chars"] = 300;
  ModelOverride added;
  added.provider = "kie";
  added.provider_model = "V5_5";
  added.copy_from = "suno-v5";
  config_.model_overrides["suno-v5.5"] = added;
  config_.aliases.push_back({"suno", {"tokenlab-suno-music", "suno-v4.5"}});
  config_.aliases.push_back({"newest", {"suno-v5.5", "suno-v5"}});
  config_.default_model = "suno";
  auto catalog = BuildCatalog(config_, Providers());
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  const Catalog& c = **catalog;
  const music::v1::Model* v5 = c.Find("suno-v5");
  EXPECT_FALSE(v5->available());
  EXPECT_NE(v5->unavailable_reason().find("catalog.models.suno-v5.enabled"), std::string::npos);
  EXPECT_EQ(v5->price().amount_micros(), 5);
  EXPECT_EQ(v5->capabilities().max_style_chars(), 300);
  const music::v1::Model* v55 = c.Find("suno-v5.5");
  ASSERT_NE(v55, nullptr);
  EXPECT_EQ(v55->provider(), "kie");
  EXPECT_EQ(v55->provider_model(), "V5_5");
  EXPECT_TRUE(v55->available());
  EXPECT_TRUE(v55->capabilities().music());
  EXPECT_EQ(c.FindAlias("suno")->models(0), "tokenlab-suno-music");  // replaced the built-in
  EXPECT_EQ(c.FindAlias("suno")->models_size(), 2);
  EXPECT_NE(c.FindAlias("newest"), nullptr);
  EXPECT_EQ(c.default_model(), "suno");
}

TEST_F(CatalogBuilderTest, BadConfigNamesTheKey) {
  struct Case {
    std::function<void(ServerConfig&)> change;
    std::string key;
  };
  const Case cases[] = {
      {[](ServerConfig& c) {
         c.aliases.push_back({"x", {"suno-v4.5", "nope"}});
       },
       "catalog.aliases.x"},
      {[](ServerConfig& c) {
         c.aliases.push_back({"suno-v5", {"suno-v4.5"}});
       },
       "catalog.aliases.suno-v5"},
      {[](ServerConfig& c) { c.model_overrides["ghost"].enabled = false; }, "catalog.models.ghost"},
      {[](ServerConfig& c) {
         c.model_overrides["ghost"].provider = "piapi";
         c.model_overrides["ghost"].provider_model = "x";
       },
       "catalog.models.ghost.provider"},
      {[](ServerConfig& c) { c.model_overrides["suno-v5"].limits["colour"] = 1; },
       "catalog.models.suno-v5.colour"},
      {[](ServerConfig& c) { c.default_model = "nope"; }, "default_model"},
  };
  for (const Case& bad : cases) {
    ServerConfig config = DefaultServerConfig(adapters::BuiltinProviders());
    bad.change(config);
    auto catalog = BuildCatalog(config, Providers());
    ASSERT_FALSE(catalog.ok()) << bad.key;
    EXPECT_EQ(catalog.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(catalog.status().message().find("\"" + bad.key + "\""), absl::string_view::npos)
        << catalog.status();
  }
}

}  // namespace
}  // namespace music::server
