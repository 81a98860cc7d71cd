#include "adapters/beatra/beatra_request_body.h"

#include <google/protobuf/util/json_util.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "adapters/beatra/beatra_models.h"
#include "adapters/internal/json_writer.h"

namespace music::adapters::beatra {
namespace {

using internal::JsonWriter;
using internal::PutString;

// Writes `value` with every object's keys in byte order, so equal options give equal bytes
// (protobuf map order is not part of any contract).
void WriteSorted(const rapidjson::Value& value, JsonWriter& w) {
  if (value.IsObject()) {
    std::vector<const rapidjson::Value::Member*> members;
    for (const auto& m : value.GetObject()) members.push_back(&m);
    std::sort(members.begin(), members.end(), [](const auto* a, const auto* b) {
      return absl::string_view(a->name.GetString(), a->name.GetStringLength()) <
             absl::string_view(b->name.GetString(), b->name.GetStringLength());
    });
    w.StartObject();
    for (const auto* m : members) {
      w.Key(m->name.GetString(), m->name.GetStringLength());
      WriteSorted(m->value, w);
    }
    w.EndObject();
  } else if (value.IsArray()) {
    w.StartArray();
    for (const auto& item : value.GetArray()) WriteSorted(item, w);
    w.EndArray();
  } else {
    value.Accept(w);
  }
}

// The one namespace of model_options, as JSON text (sorted); "" when there are no options.
absl::StatusOr<std::string> ModelOptionsJson(const SubmitRequest& request, absl::string_view ns) {
  const auto& fields = request.input.model_options().fields();
  if (fields.empty()) return std::string();
  for (const auto& [key, value] : fields) {
    if (key != ns) {
      return absl::InvalidArgumentError(
          absl::StrCat("model_options.", key, " is not an option namespace of beatra model ",
                       request.provider_model, " (only model_options.", ns, ")"));
    }
  }
  const google::protobuf::Value& options = fields.at(std::string(ns));
  if (!options.has_struct_value()) {
    return absl::InvalidArgumentError(absl::StrCat("model_options.", ns, " must be an object"));
  }
  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  if (!google::protobuf::util::MessageToJsonString(options.struct_value(), &json, print).ok()) {
    return absl::InvalidArgumentError(absl::StrCat("model_options.", ns, " is not valid JSON"));
  }
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return absl::InvalidArgumentError(absl::StrCat("model_options.", ns, " is not valid JSON"));
  }
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  WriteSorted(doc, w);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// Quotes, backslashes and control characters would break the Content-Disposition header.
std::string SafeFilename(absl::string_view name) {
  if (name.empty()) return "reference-audio";
  std::string out(name.substr(0, 255));
  for (char& c : out) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\' || u < 0x20 || u == 0x7F) c = '_';
  }
  return out;
}

std::string SafeContentType(absl::string_view type) {
  for (unsigned char c : type) {
    if (c < 0x20 || c == 0x7F) return "application/octet-stream";
  }
  return type.empty() ? "application/octet-stream" : std::string(type);
}

}  // namespace

absl::StatusOr<std::string> BuildBeatraCreateBody(const SubmitRequest& request) {
  const music::v1::TaskInput& input = request.input;
  const absl::string_view ns = BeatraModelNamespace(request.provider_model);
  if (ns.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("beatra has no model \"", request.provider_model,
                                                   "\" (suno-5.5 or minimax-music-2.6)"));
  }
  if (!input.negative_tags().empty()) {
    return absl::InvalidArgumentError("beatra takes no negative_tags");
  }
  if (input.seed() != 0) return absl::InvalidArgumentError("beatra takes no seed");
  if (request.reference_artifact_id.empty() &&
      (!input.reference_audio_uri().empty() || !input.reference_audio_id().empty())) {
    return absl::InvalidArgumentError(
        "beatra reference audio must be uploaded first (no reference_artifact_id)");
  }
  absl::StatusOr<std::string> options = ModelOptionsJson(request, ns);
  if (!options.ok()) return options.status();

  // beatra's shared fields (seed 002): `prompt` describes the music, `lyrics` are the words.
  // In simple mode our prompt is the description; in custom mode (style/title/lyrics given) the
  // style is the description and the prompt, when there are no lyrics, the words to sing
  // (task.proto TaskInput.prompt).
  const bool custom = !input.style().empty() || !input.title().empty() || !input.lyrics().empty();
  std::string prompt = input.prompt();
  std::string lyrics;
  if (custom) {
    prompt = input.style();
    if (!input.lyrics().empty()) {
      lyrics = input.lyrics();
    } else if (!input.instrumental()) {
      lyrics = input.prompt();
    } else if (!input.prompt().empty()) {
      // An instrumental has no words: the prompt can only be more description.
      prompt = prompt.empty() ? input.prompt() : absl::StrCat(prompt, "\n", input.prompt());
    }
  }

  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  PutString(w, "model", request.provider_model);
  PutString(w, "prompt", prompt);
  if (!lyrics.empty()) PutString(w, "lyrics", lyrics);
  w.Key("instrumental");
  w.Bool(input.instrumental());
  if (!input.title().empty()) PutString(w, "title", input.title());
  // Our ids travel with the task so beatra's dashboard and exports can be matched to ours.
  w.Key("metadata");
  w.StartObject();
  PutString(w, "task_id", request.task_id);
  if (!request.request_id.empty()) PutString(w, "request_id", request.request_id);
  w.EndObject();
  if (!options->empty()) {
    w.Key("model_options");
    w.StartObject();
    w.Key(ns.data(), static_cast<rapidjson::SizeType>(ns.size()));
    w.RawValue(options->data(), options->size(), rapidjson::kObjectType);
    w.EndObject();
  }
  if (!request.reference_artifact_id.empty()) {
    w.Key("reference_audio");
    w.StartObject();
    PutString(w, "artifact_id", request.reference_artifact_id);
    w.EndObject();
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string NewMultipartBoundary(absl::string_view content) {
  absl::BitGen gen;
  while (true) {
    std::string boundary = absl::StrFormat("----beatra-%016x%016x", absl::Uniform<uint64_t>(gen),
                                           absl::Uniform<uint64_t>(gen));
    if (content.find(boundary) == absl::string_view::npos) return boundary;
  }
}

std::string BuildUploadBody(const ReferenceAudioUpload& upload, absl::string_view boundary) {
  std::string body;
  body.reserve(upload.bytes.size() + 1024);
  // CONTRACT-NOTES "beatra": "Uploads: multipart `file`, `purpose` (`reference_audio` for
  // music), `media_type`, `metadata` (a JSON string)". beatra refuses an upload without purpose.
  rapidjson::StringBuffer metadata;
  {
    JsonWriter w(metadata);
    w.StartObject();
    PutString(w, "filename", SafeFilename(upload.filename));
    w.EndObject();
  }
  const std::pair<absl::string_view, absl::string_view> fields[] = {
      {"purpose", "reference_audio"},
      {"media_type", "audio"},
      {"metadata", absl::string_view(metadata.GetString(), metadata.GetSize())},
  };
  for (const auto& [name, value] : fields) {
    absl::StrAppend(&body, "--", boundary, "\r\n", "Content-Disposition: form-data; name=\"", name,
                    "\"\r\n\r\n", value, "\r\n");
  }
  absl::StrAppend(&body, "--", boundary, "\r\n",
                  "Content-Disposition: form-data; name=\"file\"; filename=\"",
                  SafeFilename(upload.filename), "\"\r\n",
                  "Content-Type: ", SafeContentType(upload.content_type), "\r\n\r\n");
  body.append(upload.bytes);
  absl::StrAppend(&body, "\r\n--", boundary, "--\r\n");
  return body;
}

}  // namespace music::adapters::beatra
