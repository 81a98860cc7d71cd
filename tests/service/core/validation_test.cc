#include "service/core/validation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "adapters/beatra/beatra_models.h"
#include "adapters/kie/kie_models.h"
#include "adapters/piapi/piapi_models.h"
#include "adapters/tokenlab/tokenlab_models.h"
#include "service/core/reference_audio_id.h"

namespace music::service {
namespace {

music::v1::Model KieModel(bool v45) {
  music::v1::Model m;
  m.set_name(v45 ? "suno-v4.5" : "suno-v4");
  m.set_provider("kie");
  auto* c = m.mutable_capabilities();
  c->set_music(true);
  c->set_lyrics(true);
  c->set_continuation(true);
  c->set_instrumental(true);
  c->set_max_prompt_chars(500);
  c->set_max_custom_prompt_chars(v45 ? 5000 : 3000);
  c->set_max_style_chars(v45 ? 1000 : 200);
  c->set_max_title_chars(80);
  c->set_max_lyrics_prompt_chars(200);
  return m;
}

std::vector<std::string> Fields(const std::vector<FieldViolation>& v) {
  std::vector<std::string> out;
  for (const auto& f : v) out.push_back(f.field);
  return out;
}

TEST(ValidationTest, CharCountCountsCodePoints) {
  EXPECT_EQ(CharCount("abc"), 3u);
  EXPECT_EQ(CharCount("\xC3\xA9t\xC3\xA9"), 3u);  // "été"
  EXPECT_EQ(CharCount("\xF0\x9F\x8E\xB5"), 1u);   // one emoji
}

TEST(ValidationTest, SimpleModePromptLimitIs500) {
  music::v1::CreateMusicRequest r;
  r.set_prompt(std::string(500, 'a'));
  std::vector<FieldViolation> v;
  ValidateCreateMusic(r, KieModel(true), v);
  EXPECT_TRUE(v.empty());
  r.set_prompt(std::string(501, 'a'));
  ValidateCreateMusic(r, KieModel(true), v);
  EXPECT_EQ(Fields(v), std::vector<std::string>{"prompt"});
}

TEST(ValidationTest, CustomModeLimitsDependOnModel) {
  music::v1::CreateMusicRequest r;
  r.set_style(std::string(201, 's'));
  r.set_title("t");
  r.set_lyrics(std::string(3001, 'l'));
  std::vector<FieldViolation> v4, v45;
  ValidateCreateMusic(r, KieModel(false), v4);
  ValidateCreateMusic(r, KieModel(true), v45);
  EXPECT_EQ(Fields(v4), (std::vector<std::string>{"style", "lyrics"}));
  EXPECT_TRUE(v45.empty());
  r.set_lyrics(std::string(5001, 'l'));
  r.set_style(std::string(1001, 's'));
  v45.clear();
  ValidateCreateMusic(r, KieModel(true), v45);
  EXPECT_EQ(Fields(v45), (std::vector<std::string>{"style", "lyrics"}));
}

TEST(ValidationTest, CustomModeNeedsStyleTitleAndWords) {
  music::v1::CreateMusicRequest r;
  r.set_lyrics("la la");
  std::vector<FieldViolation> v;
  ValidateCreateMusic(r, KieModel(true), v);
  EXPECT_EQ(Fields(v), (std::vector<std::string>{"style", "title"}));

  music::v1::CreateMusicRequest words;
  words.set_style("rock");
  words.set_title("T");
  v.clear();
  ValidateCreateMusic(words, KieModel(true), v);
  EXPECT_EQ(Fields(v), std::vector<std::string>{"lyrics"});
  words.set_instrumental(true);
  v.clear();
  ValidateCreateMusic(words, KieModel(true), v);
  EXPECT_TRUE(v.empty());
}

TEST(ValidationTest, TitleLimitIs80) {
  music::v1::CreateMusicRequest r;
  r.set_style("rock");
  r.set_title(std::string(81, 't'));
  r.set_instrumental(true);
  std::vector<FieldViolation> v;
  ValidateCreateMusic(r, KieModel(true), v);
  EXPECT_EQ(Fields(v), std::vector<std::string>{"title"});
}

TEST(ValidationTest, LyricsPromptLimitIs200) {
  music::v1::CreateLyricsRequest r;
  std::vector<FieldViolation> v;
  ValidateCreateLyrics(r, KieModel(true), v);
  EXPECT_EQ(Fields(v), std::vector<std::string>{"prompt"});
  r.set_prompt(std::string(200, 'p'));
  v.clear();
  ValidateCreateLyrics(r, KieModel(true), v);
  EXPECT_TRUE(v.empty());
  r.set_prompt(std::string(201, 'p'));
  ValidateCreateLyrics(r, KieModel(true), v);
  EXPECT_EQ(Fields(v), std::vector<std::string>{"prompt"});
}

// A model that declares only its continuation contract: validation must follow the
// declaration, whatever the provider is called.
music::v1::Model ContinuationModel(music::v1::ContinuationStyle style) {
  music::v1::Model m;
  m.set_name("any-model");
  m.set_provider("any-provider");
  m.mutable_capabilities()->set_continuation(true);
  m.mutable_capabilities()->set_continuation_style(style);
  return m;
}

music::v1::ContinueClipRequest Continue(double at, absl::string_view prompt = "",
                                        absl::string_view style = "", absl::string_view title = "",
                                        absl::string_view lyrics = "") {
  music::v1::ContinueClipRequest r;
  r.set_clip_id("c1");
  r.set_continue_at_seconds(at);
  r.set_prompt(std::string(prompt));
  r.set_style(std::string(style));
  r.set_title(std::string(title));
  r.set_lyrics(std::string(lyrics));
  return r;
}

std::vector<std::string> ContinueFields(const music::v1::ContinueClipRequest& r,
                                        const music::v1::Model& model) {
  std::vector<FieldViolation> v;
  ValidateContinueClip(r, model, v);
  return Fields(v);
}

const std::vector<std::string> kNone;

TEST(ValidationTest, ContinueClipRules) {
  music::v1::ContinueClipRequest r;
  std::vector<FieldViolation> v;
  ValidateContinueClip(r, KieModel(true), v);
  EXPECT_EQ(Fields(v), std::vector<std::string>{"clip_id"});

  r.set_clip_id("c1");
  r.set_continue_at_seconds(30);
  v.clear();
  ValidateContinueClip(r, KieModel(true), v);
  EXPECT_EQ(Fields(v), (std::vector<std::string>{"prompt", "style", "title"}));

  r.set_continue_at_seconds(-1);
  v.clear();
  ValidateContinueClip(r, KieModel(true), v);
  EXPECT_EQ(Fields(v), std::vector<std::string>{"continue_at_seconds"});

  music::v1::ContinueClipRequest reuse;
  reuse.set_clip_id("c1");
  reuse.set_prompt("new words");
  v.clear();
  ValidateContinueClip(reuse, KieModel(true), v);
  EXPECT_EQ(Fields(v), std::vector<std::string>{"prompt"});
}

// kie.ai's `defaultParamFlag` rule (CONTRACT-NOTES "kie.ai" Extend), declared by its models.
TEST(ValidationTest, SourceParametersOrCustomContinuation) {
  const music::v1::Model model =
      ContinuationModel(music::v1::CONTINUATION_STYLE_SOURCE_PARAMETERS_OR_CUSTOM);
  EXPECT_EQ(ContinueFields(Continue(0), model), kNone);
  EXPECT_EQ(ContinueFields(Continue(0, "p", "s", "t"), model),
            (std::vector<std::string>{"prompt", "style", "title"}));
  EXPECT_EQ(ContinueFields(Continue(30), model),
            (std::vector<std::string>{"prompt", "style", "title"}));
  EXPECT_EQ(ContinueFields(Continue(30, "p", "s", "t"), model), kNone);
  // No separate lyrics: the prompt carries the words.
  EXPECT_EQ(ContinueFields(Continue(30, "p", "s", "t", "words"), model),
            std::vector<std::string>{"lyrics"});
  // A model that declares nothing keeps the rule every continuation had before.
  const music::v1::Model undeclared = ContinuationModel(music::v1::CONTINUATION_STYLE_UNSPECIFIED);
  EXPECT_EQ(ContinueFields(Continue(0, "p"), undeclared), std::vector<std::string>{"prompt"});
  EXPECT_EQ(ContinueFields(Continue(30, "p"), undeclared),
            (std::vector<std::string>{"style", "title"}));
}

// PiAPI's extend (seed 003 "Udio Song Extend Example"): a description or lyrics at any
// continue_at, 0 included.
TEST(ValidationTest, DescriptionOrLyricsContinuation) {
  music::v1::Model model = ContinuationModel(music::v1::CONTINUATION_STYLE_DESCRIPTION_OR_LYRICS);
  // Seed 003's example: gpt_description_prompt "winter snow, Folk music" with continue_at 0.
  EXPECT_EQ(ContinueFields(Continue(0, "winter snow, Folk music"), model), kNone);
  EXPECT_EQ(ContinueFields(Continue(12, "winter snow, Folk music"), model), kNone);
  EXPECT_EQ(ContinueFields(Continue(0, "", "", "", "[Verse] snow falls"), model), kNone);
  EXPECT_EQ(ContinueFields(Continue(0, "winter", "folk", "Snow", "[Verse] snow falls"), model),
            kNone);
  // Neither a description nor words: nothing says what to sing.
  EXPECT_EQ(ContinueFields(Continue(0), model), std::vector<std::string>{"prompt"});
  EXPECT_EQ(ContinueFields(Continue(12, "", "folk", "Snow"), model),
            std::vector<std::string>{"prompt"});
  // Limits where the model sets them: the description is a simple-mode prompt, lyrics are
  // custom-mode words.
  model.mutable_capabilities()->set_max_prompt_chars(10);
  model.mutable_capabilities()->set_max_custom_prompt_chars(5);
  model.mutable_capabilities()->set_max_title_chars(3);
  EXPECT_EQ(ContinueFields(Continue(0, "winter snow, Folk music", "", "Snowy", "123456"), model),
            (std::vector<std::string>{"prompt", "lyrics", "title"}));
}

// TokenLab (seed 000 "Continue an existing clip": `continue_clip_id`, optional `continue_at`).
TEST(ValidationTest, OptionalFieldsContinuation) {
  music::v1::Model model = ContinuationModel(music::v1::CONTINUATION_STYLE_OPTIONAL_FIELDS);
  EXPECT_EQ(ContinueFields(Continue(0), model), kNone);
  EXPECT_EQ(ContinueFields(Continue(30), model), kNone);
  EXPECT_EQ(ContinueFields(Continue(0, "new words", "", "New Title"), model), kNone);
  EXPECT_EQ(ContinueFields(Continue(30, "", "folk"), model), kNone);
  EXPECT_EQ(ContinueFields(Continue(0, "", "", "", "words"), model),
            std::vector<std::string>{"lyrics"});
  EXPECT_EQ(ContinueFields(Continue(-1), model), std::vector<std::string>{"continue_at_seconds"});
  model.mutable_capabilities()->set_max_style_chars(3);
  EXPECT_EQ(ContinueFields(Continue(0, "", "folk"), model), std::vector<std::string>{"style"});
}

// Each adapter's catalog entry declares its provider's contract, and validation follows it: the
// same request is refused or accepted by what the model says, not by its provider's name.
TEST(ValidationTest, EachProvidersModelsDeclareTheirContinuationContract) {
  const music::v1::Model kie = adapters::kie::KieModels().front();
  const music::v1::Model piapi = adapters::piapi::PiapiModels().front();
  const music::v1::Model tokenlab = adapters::tokenlab::TokenlabModels({}).front();
  EXPECT_EQ(kie.capabilities().continuation_style(),
            music::v1::CONTINUATION_STYLE_SOURCE_PARAMETERS_OR_CUSTOM);
  EXPECT_EQ(piapi.capabilities().continuation_style(),
            music::v1::CONTINUATION_STYLE_DESCRIPTION_OR_LYRICS);
  EXPECT_EQ(tokenlab.capabilities().continuation_style(),
            music::v1::CONTINUATION_STYLE_OPTIONAL_FIELDS);

  const music::v1::ContinueClipRequest seed003 = Continue(0, "winter snow, Folk music");
  EXPECT_EQ(ContinueFields(seed003, piapi), kNone);
  EXPECT_EQ(ContinueFields(seed003, tokenlab), kNone);
  EXPECT_EQ(ContinueFields(seed003, kie), std::vector<std::string>{"prompt"});

  const music::v1::ContinueClipRequest bare = Continue(20);
  EXPECT_EQ(ContinueFields(bare, piapi), std::vector<std::string>{"prompt"});
  EXPECT_EQ(ContinueFields(bare, tokenlab), kNone);
  EXPECT_EQ(ContinueFields(bare, kie), (std::vector<std::string>{"prompt", "style", "title"}));
}

// A stored continuation is re-checked from its TaskInput (failover): the lyrics come along.
TEST(ValidationTest, ContinuationTaskInputCarriesLyrics) {
  music::v1::TaskInput in;
  in.set_continue_from_clip_id("c1");
  in.set_lyrics("[Verse] snow falls");
  std::vector<FieldViolation> v;
  ValidateTaskInput(music::v1::TASK_KIND_CONTINUATION, in,
                    ContinuationModel(music::v1::CONTINUATION_STYLE_DESCRIPTION_OR_LYRICS), v);
  EXPECT_EQ(Fields(v), kNone);
  ValidateTaskInput(music::v1::TASK_KIND_CONTINUATION, in,
                    ContinuationModel(music::v1::CONTINUATION_STYLE_OPTIONAL_FIELDS), v);
  EXPECT_EQ(Fields(v), std::vector<std::string>{"lyrics"});
}

TEST(ValidationTest, RequestIdRules) {
  std::vector<FieldViolation> v;
  ValidateRequestId("abc-123_X", v);
  EXPECT_TRUE(v.empty());
  ValidateRequestId(std::string(129, 'a'), v);
  ValidateRequestId("has space", v);
  EXPECT_EQ(Fields(v), (std::vector<std::string>{"request_id", "request_id"}));
}

music::v1::Model BeatraModel() {
  music::v1::Model m = KieModel(true);
  m.set_name("beatra-suno-5.5");
  m.set_provider("beatra");
  auto* c = m.mutable_capabilities();
  c->set_reference_audio(true);
  c->set_seed(true);
  c->set_negative_tags(true);
  c->set_max_lyrics_chars(3000);
  c->add_model_option_namespaces("suno");
  return m;
}

music::v1::CreateMusicRequest Simple() {
  music::v1::CreateMusicRequest r;
  r.set_prompt("a song");
  return r;
}

std::vector<std::string> MusicFields(const music::v1::CreateMusicRequest& r,
                                     const music::v1::Model& m) {
  std::vector<FieldViolation> v;
  ValidateCreateMusic(r, m, v);
  return Fields(v);
}

using Strings = std::vector<std::string>;

// An id as UploadReferenceAudio issues it (the tenant's tag is MusicApi's check, not validation's).
std::string UploadedId(const std::string& provider, const std::string& artifact) {
  return IssueReferenceAudioId("validation-test-secret", "tenant", provider, artifact);
}

TEST(ValidationTest, ReferenceAudioOnlyWhereTheModelTakesIt) {
  auto r = Simple();
  r.set_reference_audio_uri("https://cdn.example/a.mp3");
  EXPECT_EQ(MusicFields(r, KieModel(true)), Strings{"reference_audio_uri"});
  EXPECT_EQ(MusicFields(r, BeatraModel()), Strings{});
  r.set_reference_audio_id(UploadedId("beatra", "art-1"));
  EXPECT_EQ(MusicFields(r, BeatraModel()), Strings{"reference_audio_id"});  // not both
}

TEST(ValidationTest, ReferenceAudioUriMustBeHttps) {
  for (const char* bad : {"http://cdn.example/a.mp3", "ftp://x/a", "https://", "https:///a.mp3",
                          "https://cdn.example/a b.mp3", "cdn.example/a.mp3"}) {
    auto r = Simple();
    r.set_reference_audio_uri(bad);
    EXPECT_EQ(MusicFields(r, BeatraModel()), Strings{"reference_audio_uri"}) << bad;
  }
  auto r = Simple();
  r.set_reference_audio_uri("https://" + std::string(3000, 'a'));
  EXPECT_EQ(MusicFields(r, BeatraModel()), Strings{"reference_audio_uri"});
}

TEST(ValidationTest, ReferenceAudioIdMustBelongToTheModelsProvider) {
  auto r = Simple();
  r.set_reference_audio_id(UploadedId("beatra", "art-1"));
  EXPECT_EQ(MusicFields(r, BeatraModel()), Strings{});
  r.set_reference_audio_id(UploadedId("tokenlab", "art-1"));
  EXPECT_EQ(MusicFields(r, BeatraModel()), Strings{"reference_audio_id"});
  // Malformed, and the untagged "<provider>/<artifact>" of before ids were bound to tenants.
  for (const char* bad : {"art-1", "/art-1", "beatra/", "beatra/art-1"}) {
    r.set_reference_audio_id(bad);
    EXPECT_EQ(MusicFields(r, BeatraModel()), Strings{"reference_audio_id"}) << bad;
  }
}

TEST(ValidationTest, SeedAndNegativeTagsOnlyWhereTaken) {
  auto r = Simple();
  r.set_seed(0);
  EXPECT_EQ(MusicFields(r, KieModel(true)), Strings{});  // 0 is always fine
  r.set_seed(42);
  EXPECT_EQ(MusicFields(r, KieModel(true)), Strings{"seed"});
  EXPECT_EQ(MusicFields(r, BeatraModel()), Strings{});
  r.set_seed(-1);
  EXPECT_EQ(MusicFields(r, BeatraModel()), Strings{"seed"});
  auto n = Simple();
  n.set_negative_tags("metal");
  EXPECT_EQ(MusicFields(n, KieModel(true)), Strings{"negative_tags"});
  EXPECT_EQ(MusicFields(n, BeatraModel()), Strings{});
}

TEST(ValidationTest, ModelOptionsOnlyUnderTheModelsNamespaces) {
  auto r = Simple();
  (*(*r.mutable_model_options()->mutable_fields())["suno"]
        .mutable_struct_value()
        ->mutable_fields())["weirdness"]
      .set_number_value(0.5);
  EXPECT_EQ(MusicFields(r, BeatraModel()), Strings{});
  EXPECT_EQ(MusicFields(r, KieModel(true)), Strings{"model_options.suno"});
  (*r.mutable_model_options()->mutable_fields())["minimax"].mutable_struct_value();
  EXPECT_EQ(MusicFields(r, BeatraModel()), Strings{"model_options.minimax"});
  auto s = Simple();
  (*s.mutable_model_options()->mutable_fields())["suno"].set_string_value("x");
  EXPECT_EQ(MusicFields(s, BeatraModel()), Strings{"model_options.suno"});
}

TEST(ValidationTest, LyricsLimitUsesMaxLyricsCharsWhenSet) {
  music::v1::CreateMusicRequest r;
  r.set_style("pop");
  r.set_title("t");
  r.set_lyrics(std::string(3001, 'l'));
  EXPECT_EQ(MusicFields(r, BeatraModel()), Strings{"lyrics"});
  EXPECT_EQ(MusicFields(r, KieModel(true)), Strings{});  // 5000 on kie V4_5
  r.set_lyrics(std::string(3000, 'l'));
  EXPECT_EQ(MusicFields(r, BeatraModel()), Strings{});
}

TEST(ValidationTest, TaskInputIsCheckedLikeTheCreateRequest) {
  auto r = Simple();
  r.set_seed(7);
  std::vector<FieldViolation> v;
  ValidateTaskInput(music::v1::TASK_KIND_MUSIC, MusicInput(r), KieModel(true), v);
  EXPECT_EQ(Fields(v), Strings{"seed"});
  v.clear();
  ValidateTaskInput(music::v1::TASK_KIND_MUSIC, MusicInput(r), BeatraModel(), v);
  EXPECT_TRUE(v.empty());
  music::v1::TaskInput lyrics;
  lyrics.set_prompt(std::string(201, 'p'));
  ValidateTaskInput(music::v1::TASK_KIND_LYRICS, lyrics, KieModel(true), v);
  EXPECT_EQ(Fields(v), Strings{"prompt"});
}

// ---------------------------------------------------------------------------------------------
// The generate options (CONTRACT-NOTES.md kie.ai "Generate (and extend) optional fields":
// `vocalGender` `m` | `f` (custom mode only); `styleWeight`, `weirdnessConstraint`, `audioWeight`,
// each a number in [0, 1] with at most 2 decimals; `personaId` (custom mode only)).

// The catalog's own entry, as ListModels shows it.
music::v1::Model CatalogModel(const std::vector<music::v1::Model>& models, const char* name) {
  for (const auto& m : models) {
    if (m.name() == name) return m;
  }
  ADD_FAILURE() << "no model " << name;
  return {};
}

music::v1::CreateMusicRequest CustomWithEveryOption() {
  music::v1::CreateMusicRequest r;
  r.set_style("synthwave");
  r.set_title("Neon");
  r.set_lyrics("[Verse] neon rain");
  r.set_negative_tags("metal");
  r.set_vocal_gender(music::v1::VOCAL_GENDER_MALE);
  r.set_style_weight(0.65);
  r.set_weirdness(0.29);
  r.set_audio_weight(1);
  r.set_persona_id("persona-1");
  return r;
}

TEST(ValidationTest, GenerateOptionsAcceptedOnTheKieCatalogModel) {
  const music::v1::Model plus = CatalogModel(adapters::kie::KieModels(), "suno-v4.5-plus");
  EXPECT_EQ(MusicFields(CustomWithEveryOption(), plus), Strings{});
  // The ends of the range and a weight of 0 (set, not unset) are fine.
  for (double ok : {0.0, 0.01, 0.5, 0.99, 1.0}) {
    auto r = CustomWithEveryOption();
    r.set_style_weight(ok);
    r.set_weirdness(ok);
    r.set_audio_weight(ok);
    EXPECT_EQ(MusicFields(r, plus), Strings{}) << ok;
  }
}

TEST(ValidationTest, WeightsMustBeInZeroOneWithAtMostTwoDecimals) {
  const music::v1::Model plus = CatalogModel(adapters::kie::KieModels(), "suno-v4.5-plus");
  for (double bad : {-0.01, 1.01, 2.0, 0.125, 0.001, std::nan(""),
                     std::numeric_limits<double>::infinity()}) {
    SCOPED_TRACE(bad);
    auto style = CustomWithEveryOption();
    style.set_style_weight(bad);
    EXPECT_EQ(MusicFields(style, plus), Strings{"style_weight"});
    auto weird = CustomWithEveryOption();
    weird.set_weirdness(bad);
    EXPECT_EQ(MusicFields(weird, plus), Strings{"weirdness"});
    auto audio = CustomWithEveryOption();
    audio.set_audio_weight(bad);
    EXPECT_EQ(MusicFields(audio, plus), Strings{"audio_weight"});
  }
  auto r = CustomWithEveryOption();
  r.set_weirdness(0.125);
  std::vector<FieldViolation> v;
  ValidateCreateMusic(r, plus, v);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].description, "at most 2 decimals (e.g. 0.65)");
}

TEST(ValidationTest, VoiceAndPersonaOnlyInCustomMode) {
  const music::v1::Model plus = CatalogModel(adapters::kie::KieModels(), "suno-v4.5-plus");
  auto r = Simple();
  r.set_vocal_gender(music::v1::VOCAL_GENDER_FEMALE);
  r.set_persona_id("persona-1");
  r.set_style_weight(0.5);  // the weights are not custom-mode only
  EXPECT_EQ(MusicFields(r, plus), (Strings{"vocal_gender", "persona_id"}));
  auto unknown = CustomWithEveryOption();
  unknown.set_vocal_gender(static_cast<music::v1::VocalGender>(7));  // from a newer client
  EXPECT_EQ(MusicFields(unknown, plus), Strings{"vocal_gender"});
}

TEST(ValidationTest, GenerateOptionsRefusedWhereTheCapabilityIsMissing) {
  // beatra documents none of them (seed 002): each is named, a weight of 0 included.
  const music::v1::Model beatra = CatalogModel(adapters::beatra::BeatraModels(), "beatra-suno-5.5");
  auto r = CustomWithEveryOption();
  r.set_negative_tags("");
  r.set_audio_weight(0);
  EXPECT_EQ(MusicFields(r, beatra),
            (Strings{"vocal_gender", "persona_id", "style_weight", "weirdness", "audio_weight"}));
  // One capability at a time: only that field is refused.
  music::v1::Model partial = CatalogModel(adapters::kie::KieModels(), "suno-v4.5-plus");
  partial.mutable_capabilities()->set_weirdness(false);
  EXPECT_EQ(MusicFields(CustomWithEveryOption(), partial), Strings{"weirdness"});
}

TEST(ValidationTest, ContinuationTakesTheGenerateOptions) {
  const music::v1::Model plus = CatalogModel(adapters::kie::KieModels(), "suno-v4.5-plus");
  music::v1::ContinueClipRequest own;
  own.set_clip_id("c1");
  own.set_continue_at_seconds(30);
  own.set_prompt("more");
  own.set_style("folk");
  own.set_title("T2");
  own.set_negative_tags("metal");
  own.set_vocal_gender(music::v1::VOCAL_GENDER_FEMALE);
  own.set_style_weight(0.4);
  own.set_weirdness(0.3);
  own.set_audio_weight(0.2);
  own.set_persona_id("persona-1");
  std::vector<FieldViolation> v;
  ValidateContinueClip(own, plus, v);
  EXPECT_EQ(Fields(v), Strings{});

  // continue_at_seconds 0 reuses the source's parameters: no voice or persona, weights fine.
  music::v1::ContinueClipRequest reuse;
  reuse.set_clip_id("c1");
  reuse.set_negative_tags("metal");
  reuse.set_vocal_gender(music::v1::VOCAL_GENDER_MALE);
  reuse.set_persona_id("persona-1");
  reuse.set_style_weight(0.4);
  v.clear();
  ValidateContinueClip(reuse, plus, v);
  EXPECT_EQ(Fields(v), (Strings{"vocal_gender", "persona_id"}));

  own.set_weirdness(1.5);
  v.clear();
  ValidateContinueClip(own, plus, v);
  EXPECT_EQ(Fields(v), Strings{"weirdness"});

  music::v1::ContinueClipRequest tags;
  tags.set_clip_id("c1");
  tags.set_negative_tags("metal");
  music::v1::Model no_tags = plus;
  no_tags.mutable_capabilities()->set_negative_tags(false);
  v.clear();
  ValidateContinueClip(tags, no_tags, v);
  EXPECT_EQ(Fields(v), Strings{"negative_tags"});
  tags.set_negative_tags(std::string(1001, 'n'));  // max_style_chars of V4_5PLUS
  v.clear();
  ValidateContinueClip(tags, plus, v);
  EXPECT_EQ(Fields(v), Strings{"negative_tags"});
}

TEST(ValidationTest, StoredInputCarriesTheGenerateOptions) {
  // The routing engine re-checks a stored input against each alias member: the options survive
  // the copy, so a member without them is skipped.
  const music::v1::Model plus = CatalogModel(adapters::kie::KieModels(), "suno-v4.5-plus");
  const music::v1::Model beatra = CatalogModel(adapters::beatra::BeatraModels(), "beatra-suno-5.5");
  auto r = CustomWithEveryOption();
  r.set_negative_tags("");
  const music::v1::TaskInput in = MusicInput(r);
  EXPECT_TRUE(in.has_audio_weight());
  EXPECT_EQ(in.persona_id(), "persona-1");
  std::vector<FieldViolation> v;
  ValidateTaskInput(music::v1::TASK_KIND_MUSIC, in, plus, v);
  EXPECT_EQ(Fields(v), Strings{});
  ValidateTaskInput(music::v1::TASK_KIND_MUSIC, in, beatra, v);
  EXPECT_EQ(Fields(v),
            (Strings{"vocal_gender", "persona_id", "style_weight", "weirdness", "audio_weight"}));

  music::v1::TaskInput continuation;
  continuation.set_continue_from_clip_id("c1");
  continuation.set_vocal_gender(music::v1::VOCAL_GENDER_MALE);  // continue_at 0: not custom
  v.clear();
  ValidateTaskInput(music::v1::TASK_KIND_CONTINUATION, continuation, plus, v);
  EXPECT_EQ(Fields(v), Strings{"vocal_gender"});
}

// CreateClipOperation: clip and operation required; author / domain only for a video, <= 50
// characters (kie.ai `author` / `domainName`, CONTRACT-NOTES), each named.
TEST(ValidationTest, ClipOperationNamesEachBadField) {
  music::v1::CreateClipOperationRequest r;
  std::vector<FieldViolation> v;
  ValidateClipOperation(r, v);
  EXPECT_EQ(Fields(v), (std::vector<std::string>{"clip_id", "operation"}));

  r.set_clip_id("c1");
  r.set_operation(music::v1::CLIP_OPERATION_CONVERT_TO_WAV);
  r.set_video_author("Band");
  v.clear();
  ValidateClipOperation(r, v);
  EXPECT_EQ(Fields(v), std::vector<std::string>{"video_author"});  // not a video

  r.set_operation(music::v1::CLIP_OPERATION_CREATE_MUSIC_VIDEO);
  r.set_video_domain_name(std::string(51, 'd'));
  v.clear();
  ValidateClipOperation(r, v);
  EXPECT_EQ(Fields(v), std::vector<std::string>{"video_domain_name"});

  r.set_video_domain_name(std::string(50, 'd'));
  v.clear();
  ValidateClipOperation(r, v);
  EXPECT_TRUE(v.empty());
  // Without the operation in capabilities.clip_operations the stored task fits no model.
  music::v1::TaskInput in;
  in.set_clip_operation(r.operation());
  in.set_source_clip_id("c1");
  ValidateTaskInput(music::v1::TASK_KIND_CLIP_OPERATION, in, KieModel(true), v);
  EXPECT_EQ(Fields(v), std::vector<std::string>{"operation"});
}

}  // namespace
}  // namespace music::service
