#include "persistence/archive/s3_archive_store.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "domain/sha256.h"

namespace music::persistence {
namespace {

// The SHA-256 of no bytes: the payload hash of HEAD and GET.
constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct Answer {
  long status = 0;  // NOLINT(google-runtime-int): libcurl's type
  std::string body;
  int64_t content_length = -1;
  // From Content-Range "bytes a-b/total", when present.
  int64_t range_total = -1;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* answer = static_cast<Answer*>(user);
  const absl::string_view line(data, size * n);
  const size_t colon = line.find(':');
  if (colon != absl::string_view::npos) {
    const absl::string_view name = absl::StripAsciiWhitespace(line.substr(0, colon));
    const absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (absl::EqualsIgnoreCase(name, "content-length")) {
      int64_t v;
      if (absl::SimpleAtoi(value, &v)) answer->content_length = v;
    } else if (absl::EqualsIgnoreCase(name, "content-range")) {
      const size_t slash = value.rfind('/');
      int64_t v;
      if (slash != absl::string_view::npos && absl::SimpleAtoi(value.substr(slash + 1), &v)) {
        answer->range_total = v;
      }
    }
  }
  return size * n;
}

class S3ArchiveStore final : public ArchiveStore {
 public:
  explicit S3ArchiveStore(S3ArchiveOptions options)
      : options_(std::move(options)),
        sigv4_(absl::StrCat("aws:amz:", options_.region, ":s3")),
        userpwd_(absl::StrCat(options_.access_key_id, ":", options_.secret_access_key)) {}

  absl::Status Put(absl::string_view key, absl::string_view bytes,
                   const ArchiveObject& object) override {
    if (!ValidArchiveKey(key)) return absl::InvalidArgumentError(absl::StrCat("bad key ", key));
    if (static_cast<int64_t>(bytes.size()) != object.size_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("size ", bytes.size(), " is not the declared ",
                                                     object.size_bytes));
    }
    if (domain::Sha256Hex(bytes) != object.sha256) {
      return absl::InvalidArgumentError("the bytes do not have the declared SHA-256");
    }
    absl::StatusOr<Answer> answer =
        Send("PUT", key, bytes, object.sha256,
             {absl::StrCat("Content-Type: ", object.content_type.empty()
                                                 ? "application/octet-stream"
                                                 : object.content_type)});
    if (!answer.ok()) return answer.status();
    return StatusOf(*answer, key);
  }

  absl::StatusOr<int64_t> Size(absl::string_view key) override {
    if (!ValidArchiveKey(key)) return absl::InvalidArgumentError(absl::StrCat("bad key ", key));
    absl::StatusOr<Answer> answer = Send("HEAD", key, {}, kEmptySha256, {});
    if (!answer.ok()) return answer.status();
    if (absl::Status s = StatusOf(*answer, key); !s.ok()) return s;
    if (answer->content_length < 0) {
      return absl::UnavailableError(absl::StrCat("HEAD ", key, ": no Content-Length"));
    }
    return answer->content_length;
  }

  absl::StatusOr<std::string> Read(absl::string_view key, int64_t offset,
                                   int64_t length) override {
    if (!ValidArchiveKey(key)) return absl::InvalidArgumentError(absl::StrCat("bad key ", key));
    if (length < 0) return absl::InvalidArgumentError("length must not be negative");
    if (offset < 0) return absl::OutOfRangeError("offset must not be negative");
    // A range starting at the end is refused by S3 (416) even though it is a valid empty read:
    // the size decides those.
    absl::StatusOr<int64_t> size = Size(key);
    if (!size.ok()) return size.status();
    if (offset > *size) {
      return absl::OutOfRangeError(absl::StrCat("offset ", offset, " is outside 0..", *size));
    }
    const int64_t n = std::min(length, *size - offset);
    if (n == 0) return std::string();
    absl::StatusOr<Answer> answer =
        Send("GET", key, {}, kEmptySha256,
             {absl::StrCat("Range: bytes=", offset, "-", offset + n - 1)});
    if (!answer.ok()) return answer.status();
    if (absl::Status s = StatusOf(*answer, key); !s.ok()) return s;
    // A server that ignores Range answers 200 with everything.
    if (answer->status == 200 && static_cast<int64_t>(answer->body.size()) == *size) {
      return answer->body.substr(static_cast<size_t>(offset), static_cast<size_t>(n));
    }
    if (static_cast<int64_t>(answer->body.size()) != n) {
      return absl::UnavailableError(absl::StrCat("GET ", key, ": ", answer->body.size(),
                                                 " bytes instead of ", n));
    }
    return std::move(answer->body);
  }

  std::string Location(absl::string_view key) const override {
    return absl::StrCat("s3://", options_.bucket, "/", options_.key_prefix, key);
  }

 private:
  absl::StatusOr<Answer> Send(const char* method, absl::string_view key, absl::string_view body,
                              absl::string_view payload_sha256,
                              std::initializer_list<std::string> headers) const {
    CURL* curl = curl_easy_init();
    if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
    const std::string url =
        absl::StrCat(options_.endpoint, "/", options_.bucket, "/", options_.key_prefix, key);
    Answer answer;
    curl_slist* list = nullptr;
    // S3 requires the payload hash header; libcurl signs it (it is an x-amz-* header).
    list = curl_slist_append(list, absl::StrCat("x-amz-content-sha256: ", payload_sha256).c_str());
    for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
    // No "Expect: 100-continue" round trip on puts.
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4_.c_str());
    curl_easy_setopt(curl, CURLOPT_USERPWD, userpwd_.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout)));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(options_.request_timeout)));
    if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &answer);
    const absl::string_view m(method);
    if (m == "HEAD") {
      curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (m == "PUT") {
      // POSTFIELDS is the body libcurl hashes for the signature and sends as is.
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    }
    const CURLcode rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
    curl_easy_cleanup(curl);
    curl_slist_free_all(list);
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      return absl::UnavailableError(absl::StrCat(method, " ", key, ": timed out"));
    }
    if (rc != CURLE_OK) {
      return absl::UnavailableError(
          absl::StrCat(method, " ", key, ": ", curl_easy_strerror(rc)));
    }
    return answer;
  }

  static absl::Status StatusOf(const Answer& answer, absl::string_view key) {
    const long s = answer.status;  // NOLINT(google-runtime-int): libcurl's type
    if (s >= 200 && s < 300) return absl::OkStatus();
    const std::string message = absl::StrCat("object store answered HTTP ", s, " for ", key);
    if (s == 404) return absl::NotFoundError(message);
    if (s == 416) return absl::OutOfRangeError(message);
    if (s == 401 || s == 403) return absl::PermissionDeniedError(message);
    if (s == 408 || s == 429 || s >= 500) return absl::UnavailableError(message);
    return absl::FailedPreconditionError(message);
  }

  const S3ArchiveOptions options_;
  const std::string sigv4_;
  const std::string userpwd_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ArchiveStore>> OpenS3ArchiveStore(S3ArchiveOptions options) {
  if (options.bucket.empty()) return absl::InvalidArgumentError("the archive bucket is empty");
  if (!absl::StartsWith(options.endpoint, "http://") &&
      !absl::StartsWith(options.endpoint, "https://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("the archive endpoint must start with http:// or https://: ",
                     options.endpoint));
  }
  while (absl::EndsWith(options.endpoint, "/")) options.endpoint.pop_back();
  if (!options.key_prefix.empty() && !absl::EndsWith(options.key_prefix, "/")) {
    options.key_prefix += '/';
  }
  return std::unique_ptr<ArchiveStore>(new S3ArchiveStore(std::move(options)));
}

}  // namespace music::persistence
