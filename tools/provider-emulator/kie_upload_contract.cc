// kie.ai's file upload API as CONTRACT-NOTES.md describes it. The emulator's choices where the
// notes are silent (README.md in this directory): `uploadPath` is required (422 without it),
// `fileName` defaults to the file part's name, 100 MB at most (413), and the answer's `code`
// mirrors the HTTP status.
#include "tools/provider-emulator/kie_upload_contract.h"

#include <rapidjson/stringbuffer.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace music::emulator {
namespace {

constexpr size_t kMaxUploadBytes = 100 << 20;

// {"success": false, "code": code, "msg": msg, "data": null}
std::string UploadError(int code, absl::string_view msg) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("success");
  w.Bool(false);
  w.Key("code");
  w.Int(code);
  PutString(w, "msg", msg);
  w.Key("data");
  w.Null();
  w.EndObject();
  return Finish(buffer);
}

// Keeps a name usable as one URL path segment.
std::string PathSafe(absl::string_view name) {
  std::string out;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_';
    out.push_back(ok ? c : '_');
  }
  return out.empty() ? "file" : out;
}

void HandleUpload(const EmulatorCore* core, KieUploadStore* store, const httplib::Request& req,
                  httplib::Response* res) {
  const std::string& key = core->options.kie_api_key;
  if (!key.empty() && req.get_header_value("Authorization") != absl::StrCat("Bearer ", key)) {
    core->stats->Add(&EmulatorStats::unauthorized);
    SetJson(res, 401, UploadError(401, "You do not have access permissions"));
    return;
  }
  if (!req.is_multipart_form_data() || !req.has_file("file")) {
    SetJson(res, 422, UploadError(422, "file cannot be empty (multipart/form-data `file`)"));
    return;
  }
  const httplib::MultipartFormData file = req.get_file_value("file");
  const std::string upload_path =
      req.has_file("uploadPath") ? req.get_file_value("uploadPath").content : "";
  std::string file_name = req.has_file("fileName") ? req.get_file_value("fileName").content : "";
  if (upload_path.empty()) {
    SetJson(res, 422, UploadError(422, "uploadPath cannot be empty"));
    return;
  }
  if (file.content.empty()) {
    SetJson(res, 422, UploadError(422, "file cannot be empty"));
    return;
  }
  if (file.content.size() > kMaxUploadBytes) {
    SetJson(res, 413, UploadError(413, "file exceeds 100 MB"));
    return;
  }
  if (file_name.empty()) file_name = file.filename;

  KieUploadStore::File stored;
  stored.id = RandomHexId();
  stored.file_name = file_name;
  stored.upload_path = upload_path;
  stored.mime_type = file.content_type.empty() ? "application/octet-stream" : file.content_type;
  stored.bytes = file.content;
  stored.uploaded = core->Now();
  stored.download_url = absl::StrCat(core->public_base_url, kKieUploadPrefix, "/files/",
                                     stored.id, "/", PathSafe(file_name));

  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("success");
  w.Bool(true);
  w.Key("code");
  w.Int(200);
  PutString(w, "msg", "File uploaded successfully");
  w.Key("data");
  w.StartObject();
  PutString(w, "fileName", stored.file_name);
  PutString(w, "filePath", absl::StrCat(upload_path, "/", PathSafe(file_name)));
  PutString(w, "downloadUrl", stored.download_url);
  w.Key("fileSize");
  w.Uint64(stored.bytes.size());
  PutString(w, "mimeType", stored.mime_type);
  PutString(w, "uploadedAt", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", stored.uploaded,
                                              absl::UTCTimeZone()));
  w.EndObject();
  w.EndObject();
  store->Put(std::move(stored));
  SetJson(res, 200, Finish(buffer));
}

}  // namespace

void KieUploadStore::Put(File file) {
  absl::MutexLock lock(&mu_);
  by_url_[file.download_url] = file.id;
  std::string id = file.id;
  files_[id] = std::move(file);
}

std::optional<KieUploadStore::File> KieUploadStore::Find(absl::string_view id) const {
  absl::MutexLock lock(&mu_);
  auto it = files_.find(id);
  if (it == files_.end()) return std::nullopt;
  return it->second;
}

std::optional<KieUploadStore::File> KieUploadStore::FindByDownloadUrl(absl::string_view url,
                                                                      absl::Time now) const {
  absl::MutexLock lock(&mu_);
  auto id = by_url_.find(url);
  if (id == by_url_.end()) return std::nullopt;
  auto it = files_.find(id->second);
  if (it == files_.end() || now - it->second.uploaded > kKieUploadLifetime) return std::nullopt;
  return it->second;
}

void RegisterKieUploadRoutes(httplib::Server* server, const EmulatorCore* core,
                             KieUploadStore* store) {
  server->Post(absl::StrCat(kKieUploadPrefix, "/api/file-stream-upload"),
               [core, store](const httplib::Request& req, httplib::Response& res) {
                 HandleUpload(core, store, req, &res);
               });
  // The downloadUrl: public, no key (the operations' `uploadUrl` is "a public URL of the audio").
  server->Get(absl::StrCat(kKieUploadPrefix, R"(/files/([0-9a-f]+)/([^/]+))"),
              [core, store](const httplib::Request& req, httplib::Response& res) {
                std::optional<KieUploadStore::File> file = store->Find(req.matches[1].str());
                if (!file.has_value() || core->Now() - file->uploaded > kKieUploadLifetime) {
                  SetJson(&res, 404, UploadError(404, "file not found or expired"));
                  return;
                }
                res.status = 200;
                res.set_content(file->bytes, file->mime_type.c_str());
              });
}

}  // namespace music::emulator
