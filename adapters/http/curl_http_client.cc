// http::HttpClient over libcurl's easy interface.
//
// Each calling thread owns one easy handle for its whole life: curl_easy_reset() between requests
// clears the options but keeps the handle's connection, DNS and TLS-session caches, so repeated
// requests to a provider reuse one kept-alive connection without any locking.

#include <curl/curl.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "adapters/http/curl_http_client.h"
#include "adapters/provider_errors.h"

namespace music::http {
namespace {

void GlobalInitOnce() {
  static std::once_flag once;
  // Never paired with curl_global_cleanup(): thread-local handles may outlive any caller.
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// The calling thread's easy handle; destroyed when the thread exits.
CURL* ThreadHandle() {
  struct Handle {
    CURL* curl = curl_easy_init();
    ~Handle() {
      if (curl != nullptr) curl_easy_cleanup(curl);
    }
  };
  thread_local Handle handle;
  return handle.curl;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

bool AppendHeader(Slist& list, const std::string& line) {
  curl_slist* head = curl_slist_append(list.get(), line.c_str());
  if (head == nullptr) return false;
  // The head only changes on the first append; keep ownership in one place either way.
  static_cast<void>(list.release());
  list.reset(head);
  return true;
}

// libcurl bounds each header line but not their number; this bounds the whole header block.
constexpr size_t kMaxHeaderBytes = 64 << 10;

// Collects one response, failing the transfer once the body or the headers pass their caps.
struct ResponseSink {
  Response* response;
  size_t max_body_bytes;
  size_t header_bytes = 0;
  bool too_large = false;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<ResponseSink*>(user);
  const size_t n = size * count;
  // Returning less than `n` makes libcurl abort the transfer with CURLE_WRITE_ERROR.
  if (n > sink->max_body_bytes - sink->response->body.size()) {
    sink->too_large = true;
    return 0;
  }
  sink->response->body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<ResponseSink*>(user);
  const size_t n = size * count;
  sink->header_bytes += n;
  if (sink->header_bytes > kMaxHeaderBytes) {
    sink->too_large = true;
    return 0;
  }
  absl::string_view line(data, n);
  // A status line starts a new header block (after "100 Continue"): keep only the final one.
  if (absl::StartsWith(line, "HTTP/")) {
    sink->response->headers.clear();
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return n;  // the blank line ending the block
  sink->response->headers.emplace_back(
      std::string(absl::StripAsciiWhitespace(line.substr(0, colon))),
      std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  return n;
}

// True when the request may have reached the server: a connection was made (or reused) or
// request bytes went out. A connect that never completed leaves all three at zero.
bool MayHaveReachedServer(CURL* curl) {
  curl_off_t connect_us = 0;
  curl_off_t pretransfer_us = 0;
  long request_bytes = 0;
  curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connect_us);
  curl_easy_getinfo(curl, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us);
  curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &request_bytes);
  return connect_us > 0 || pretransfer_us > 0 || request_bytes > 0;
}

// Maps a failed transfer onto the codes of http_client.h. Messages hold libcurl's text only,
// never request headers (they carry API keys).
absl::Status TransportError(CURL* curl, CURLcode code, const char* detail, const ResponseSink& sink,
                            absl::string_view method) {
  const std::string what =
      absl::StrCat(method, " failed: ", curl_easy_strerror(code),
                   detail[0] != '\0' ? absl::StrCat(" (", detail, ")") : std::string());
  const bool reached = MayHaveReachedServer(curl);
  absl::Status status;
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      return absl::UnavailableError(what);
    case CURLE_OPERATION_TIMEDOUT:
      status = absl::DeadlineExceededError(what);
      break;
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
      // A write error is ours only when a cap was hit; the size cap is checked up front too.
      status = sink.too_large || code == CURLE_FILESIZE_EXCEEDED
                   ? absl::InternalError(
                         absl::StrCat(method, " failed: response body over ", sink.max_body_bytes,
                                      " bytes or headers over ", kMaxHeaderBytes, " bytes"))
                   : absl::InternalError(what);
      break;
    default:
      status = absl::InternalError(what);
      break;
  }
  if (reached) adapters::MarkOutcomeUnknown(status);
  return status;
}

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(CurlOptions options) : options_(options) { GlobalInitOnce(); }

  absl::StatusOr<Response> Send(const Request& request) override {
    CURL* curl = ThreadHandle();
    if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
    curl_easy_reset(curl);

    Slist headers;
    for (const auto& [name, value] : request.headers) {
      // A line break would let a value smuggle in another header; the value stays out of the
      // message because it may be a secret.
      if (absl::StrContains(name, '\r') || absl::StrContains(name, '\n') ||
          absl::StrContains(value, '\r') || absl::StrContains(value, '\n')) {
        return absl::InvalidArgumentError(
            absl::StrCat("header \"", absl::CEscape(name), "\" contains a line break"));
      }
      // "Name;" is libcurl's spelling of an empty header ("Name:" would remove it).
      if (!AppendHeader(
              headers, value.empty() ? absl::StrCat(name, ";") : absl::StrCat(name, ": ", value))) {
        return absl::InternalError("curl_slist_append failed");
      }
    }
    // An empty "Expect:" stops libcurl from waiting for "100 Continue" before large bodies.
    if (!AppendHeader(headers, "Expect:")) return absl::InternalError("curl_slist_append failed");

    Response response;
    ResponseSink sink{&response, options_.max_response_bytes};
    char error_buffer[CURL_ERROR_SIZE] = {};
    const absl::Duration timeout =
        request.timeout > absl::ZeroDuration() ? request.timeout : options_.request_timeout;

    curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout)));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(timeout)));
    // Rejects a too-large answer up front when it announces its Content-Length.
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                     static_cast<curl_off_t>(options_.max_response_bytes));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &sink);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);

    const std::string method = absl::AsciiStrToUpper(request.method);
    if (method == "GET") {
      curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else if (method == "HEAD") {
      curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else {
      if (method != "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    }

    const CURLcode code = curl_easy_perform(curl);
    absl::Status status;
    if (code != CURLE_OK) status = TransportError(curl, code, error_buffer, sink, method);
    long http_status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_status);
    // Drop pointers into this frame before the handle is reused.
    curl_easy_reset(curl);
    if (!status.ok()) return status;
    response.status = static_cast<int>(http_status);
    return response;
  }

 private:
  const CurlOptions options_;
};

}  // namespace

std::unique_ptr<HttpClient> NewCurlHttpClient(CurlOptions options) {
  return std::make_unique<CurlHttpClient>(options);
}

}  // namespace music::http
