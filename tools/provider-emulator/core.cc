#include "tools/provider-emulator/core.h"

#include <openssl/rand.h>

#include <random>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace music::emulator {
namespace {

std::string RandomBytes(size_t n) {
  std::string bytes(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(n)) != 1) {
    // The OpenSSL generator failing is near impossible; fall back rather than crash.
    std::random_device device;
    for (char& c : bytes) c = static_cast<char>(device());
  }
  return bytes;
}

}  // namespace

void ClipRegistry::Put(const std::string& clip_id, ClipAudio audio) {
  absl::MutexLock lock(&mu_);
  clips_[clip_id] = audio;
}

std::optional<ClipAudio> ClipRegistry::Find(const std::string& clip_id) const {
  absl::MutexLock lock(&mu_);
  auto it = clips_.find(clip_id);
  if (it == clips_.end()) return std::nullopt;
  return it->second;
}

std::string CallbackTaskId(absl::string_view callback_url) {
  // Only the path matters: skip "scheme://authority" so that a host named "callbacks" cannot match.
  if (size_t scheme = callback_url.find("://"); scheme != absl::string_view::npos) {
    callback_url.remove_prefix(scheme + 3);
    const size_t path = callback_url.find('/');
    if (path == absl::string_view::npos) return "";
    callback_url.remove_prefix(path);
  }
  callback_url = callback_url.substr(0, callback_url.find_first_of("?#"));
  constexpr absl::string_view kPrefix = "/callbacks/";
  const size_t at = callback_url.find(kPrefix);
  if (at == absl::string_view::npos) return "";
  absl::string_view rest = callback_url.substr(at + kPrefix.size());
  const size_t provider_end = rest.find('/');
  if (provider_end == 0 || provider_end == absl::string_view::npos) return "";
  rest.remove_prefix(provider_end + 1);
  return std::string(rest.substr(0, rest.find('/')));
}

void SubmissionCounter::Record(absl::string_view callback_url) {
  std::string task_id = CallbackTaskId(callback_url);
  if (task_id.empty()) return;
  absl::MutexLock lock(&mu_);
  ++by_task_[std::move(task_id)];
}

absl::flat_hash_map<std::string, int64_t> SubmissionCounter::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return by_task_;
}

std::string RandomHexId() { return absl::BytesToHexString(RandomBytes(16)); }

std::string RandomUuid() {
  std::string b = RandomBytes(16);
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  const std::string hex = absl::BytesToHexString(b);
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20));
}

std::string FormatDateTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", t, absl::UTCTimeZone());
}

size_t Utf8Length(absl::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xc0) != 0x80) ++n;  // count every byte that is not a continuation byte
  }
  return n;
}

void SetJson(httplib::Response* res, int http_status, const std::string& body) {
  res->status = http_status;
  res->set_content(body, "application/json");
}

std::string Truncate(const std::string& body) {
  if (body.size() < 2) return "{";
  return body.substr(0, body.size() / 2);
}

void PutString(JsonWriter& w, absl::string_view key, absl::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void PutNullableString(JsonWriter& w, absl::string_view key, absl::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  if (value.empty()) {
    w.Null();
  } else {
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  }
}

std::string Finish(const rapidjson::StringBuffer& buffer) {
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace music::emulator
