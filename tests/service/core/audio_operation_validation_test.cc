// CreateAudioOperation's validation: each operation's required fields (CONTRACT-NOTES.md kie.ai,
// "From uploaded audio"), the one audio source, and the model's limits.
#include "service/core/audio_operation_validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "service/core/reference_audio_id.h"

namespace music::service {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

music::v1::Model Kie() {
  music::v1::Model m;
  m.set_name("suno-v5");
  m.set_provider("kie");
  auto* c = m.mutable_capabilities();
  c->set_max_prompt_chars(500);
  c->set_max_custom_prompt_chars(5000);
  c->set_max_style_chars(1000);
  c->set_max_title_chars(80);
  c->add_audio_operations(music::v1::AUDIO_OPERATION_COVER);
  return m;
}

std::vector<std::string> Fields(const music::v1::TaskInput& in) {
  std::vector<FieldViolation> out;
  ValidateAudioOperation(in, Kie(), out);
  std::vector<std::string> fields;
  for (const auto& v : out) fields.push_back(v.field);
  return fields;
}

music::v1::TaskInput Input(music::v1::AudioOperation op) {
  music::v1::TaskInput in;
  in.set_audio_operation(op);
  in.set_reference_audio_id(
      IssueReferenceAudioId("test-secret", "tenant", "kie", "https://files.example/a.mp3"));
  return in;
}

TEST(AudioOperationValidationTest, OperationAndExactlyOneAudioSource) {
  music::v1::TaskInput in = Input(music::v1::AUDIO_OPERATION_UNSPECIFIED);
  EXPECT_THAT(Fields(in), ElementsAre("operation"));
  in = Input(music::v1::AUDIO_OPERATION_COVER);
  in.set_prompt("a cover");
  EXPECT_THAT(Fields(in), IsEmpty());
  in.clear_reference_audio_id();
  EXPECT_THAT(Fields(in), ElementsAre("reference_audio_id"));
  in.set_reference_audio_id("kie/x");
  in.set_reference_audio_uri("https://example.com/a.mp3");
  EXPECT_THAT(Fields(in), ElementsAre("reference_audio_id"));
  in.clear_reference_audio_id();
  in.set_reference_audio_uri("http://example.com/a.mp3");  // https only
  EXPECT_THAT(Fields(in), ElementsAre("reference_audio_uri"));
  in.clear_reference_audio_uri();
  in.set_reference_audio_id(
      IssueReferenceAudioId("test-secret", "tenant", "beatra", "art_1"));  // another provider
  EXPECT_THAT(Fields(in), ElementsAre("reference_audio_id"));
  in.set_reference_audio_id("kie/https://files.example/a.mp3");  // untagged, from before tags
  EXPECT_THAT(Fields(in), ElementsAre("reference_audio_id"));
}

TEST(AudioOperationValidationTest, CoverFollowsGeneratesModes) {
  music::v1::TaskInput in = Input(music::v1::AUDIO_OPERATION_COVER);
  EXPECT_THAT(Fields(in), ElementsAre("prompt"));  // simple mode needs the description
  in.set_style("jazz");
  EXPECT_THAT(Fields(in), UnorderedElementsAre("title", "prompt"));
  in.set_title("Mine");
  in.set_instrumental(true);  // custom mode: prompt only unless instrumental
  EXPECT_THAT(Fields(in), IsEmpty());
  in.set_title(std::string(81, 't'));
  EXPECT_THAT(Fields(in), ElementsAre("title"));
}

TEST(AudioOperationValidationTest, EachOtherOperationsRequiredFields) {
  music::v1::TaskInput extend = Input(music::v1::AUDIO_OPERATION_EXTEND);
  EXPECT_THAT(Fields(extend),
              UnorderedElementsAre("continue_at_seconds", "prompt", "style", "title"));
  extend.set_continue_at_seconds(10);
  extend.set_prompt("p");
  extend.set_style("s");
  extend.set_title("t");
  EXPECT_THAT(Fields(extend), IsEmpty());
  extend.set_negative_tags("x");  // upload-extend documents no negativeTags
  EXPECT_THAT(Fields(extend), ElementsAre("negative_tags"));

  music::v1::TaskInput instrumental = Input(music::v1::AUDIO_OPERATION_ADD_INSTRUMENTAL);
  instrumental.set_prompt("words");  // add-instrumental takes no prompt
  instrumental.set_continue_at_seconds(3);
  EXPECT_THAT(Fields(instrumental),
              UnorderedElementsAre("continue_at_seconds", "title", "style", "prompt"));

  music::v1::TaskInput vocals = Input(music::v1::AUDIO_OPERATION_ADD_VOCALS);
  vocals.set_instrumental(true);
  EXPECT_THAT(Fields(vocals), UnorderedElementsAre("instrumental", "prompt", "style", "title"));
}

TEST(AudioOperationValidationTest, ModelOffersOnlyItsListedOperations) {
  EXPECT_TRUE(ModelOffersAudioOperation(Kie(), music::v1::AUDIO_OPERATION_COVER));
  EXPECT_FALSE(ModelOffersAudioOperation(Kie(), music::v1::AUDIO_OPERATION_ADD_VOCALS));
}

}  // namespace
}  // namespace music::service
