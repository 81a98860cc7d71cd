#include "adapters/kie/kie_file_upload.h"

#include <rapidjson/document.h>

#include <cstdint>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "adapters/internal/json_reader.h"
#include "adapters/kie/kie_reader.h"

namespace music::adapters::kie {
namespace {

// A value safe inside a quoted Content-Disposition parameter and a form field: no quotes,
// backslashes or control characters (a file name is caller input).
std::string SafeName(absl::string_view name) {
  std::string out;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7F || c == '"' || c == '\\') {
      out.push_back('_');
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out.empty() ? "reference-audio" : out;
}

std::string SafeContentType(absl::string_view type) {
  for (unsigned char c : type) {
    if (c <= 0x20 || c >= 0x7F) return "application/octet-stream";
  }
  return type.empty() ? "application/octet-stream" : std::string(type);
}

void AppendField(std::string& body, absl::string_view boundary, absl::string_view name,
                 absl::string_view value) {
  absl::StrAppend(&body, "--", boundary, "\r\nContent-Disposition: form-data; name=\"", name,
                  "\"\r\n\r\n", value, "\r\n");
}

}  // namespace

std::string NewKieMultipartBoundary(absl::string_view content) {
  absl::BitGen gen;
  while (true) {
    std::string boundary = absl::StrFormat("----kie-%016x%016x", absl::Uniform<uint64_t>(gen),
                                           absl::Uniform<uint64_t>(gen));
    if (content.find(boundary) == absl::string_view::npos) return boundary;
  }
}

std::string BuildKieFileUploadBody(const ReferenceAudioUpload& upload,
                                   absl::string_view boundary) {
  const std::string name = SafeName(upload.filename);
  std::string body;
  body.reserve(upload.bytes.size() + 1024);
  AppendField(body, boundary, "uploadPath", kKieUploadPath);
  AppendField(body, boundary, "fileName", name);
  absl::StrAppend(&body, "--", boundary, "\r\n",
                  "Content-Disposition: form-data; name=\"file\"; filename=\"", name, "\"\r\n",
                  "Content-Type: ", SafeContentType(upload.content_type), "\r\n\r\n");
  body.append(upload.bytes);
  absl::StrAppend(&body, "\r\n--", boundary, "--\r\n");
  return body;
}

absl::StatusOr<std::string> ParseKieFileUploadAnswer(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = kKieJson.ParseObject(body, doc); !s.ok()) return s;
  bool success = false;
  if (absl::Status s = kKieJson.ReadBool(doc, "success", &success); !s.ok()) return s;
  if (!success) return kKieJson.Malformed("the upload answer's `success` is not true");
  const rapidjson::Value* data = nullptr;
  if (absl::Status s = kKieJson.ReadObject(doc, "data", &data); !s.ok()) return s;
  if (data == nullptr) return kKieJson.Malformed("no `data` in the upload answer");
  std::string url;
  if (absl::Status s = kKieJson.ReadString(*data, "downloadUrl", &url); !s.ok()) return s;
  if (!absl::StartsWith(url, "https://") && !absl::StartsWith(url, "http://")) {
    return kKieJson.Malformed("no `data.downloadUrl` URL in the upload answer");
  }
  return url;
}

}  // namespace music::adapters::kie
