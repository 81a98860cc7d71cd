// For each adapter's async test: SubmitAsync/PollAsync against Submit/Poll on the same answers.
// The blocking call runs on one FakeHttpClient, the asynchronous one on another that holds its
// completions; the adapter is destroyed before they run, so a completion that reached back into
// the adapter would fail under ASan. Results are compared as text: every field, and statuses with
// their payloads (Retry-After, outcome-unknown, provider error code).
#ifndef MUSIC_TESTS_ADAPTERS_ASYNC_EQUIVALENCE_H_
#define MUSIC_TESTS_ADAPTERS_ASYNC_EQUIVALENCE_H_

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "adapters/http/http_types.h"
#include "adapters/provider_adapter.h"
#include "adapters/provider_errors.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_http_client.h"

namespace music::adapters::equivalence {

/// One canned answer: an HTTP answer or a transport failure.
struct CannedAnswer {
  std::string name;
  absl::StatusOr<http::Response> answer;
};

inline CannedAnswer Http(std::string name, int status, std::string body,
                         http::Headers headers = {}) {
  return {std::move(name), http::Response{status, std::move(headers), std::move(body)}};
}

/// Answers every adapter must read the same way on both paths: transport failures (one marked
/// outcome-unknown), the generic HTTP errors, and unreadable 2xx bodies.
inline std::vector<CannedAnswer> CommonAnswers() {
  absl::Status timed_out = absl::DeadlineExceededError("Timeout was reached");
  MarkOutcomeUnknown(timed_out);
  return {
      {"refused", absl::UnavailableError("Couldn't connect to server")},
      {"timed out", timed_out},
      Http("500", 500, R"({"error":"boom"})"),
      Http("503 retry-after", 503, "", {{"Retry-After", "7"}}),
      Http("429 retry-after", 429, R"({"code":429,"message":"slow down"})", {{"Retry-After", "3"}}),
      Http("401", 401, R"({"code":401,"message":"bad key"})"),
      Http("404", 404, R"({"code":404,"message":"not found"})"),
      Http("empty 200", 200, ""),
      Http("truncated 200", 200, "{"),
      Http("null 200", 200, "null"),
  };
}

// Code, message and payloads (sorted: their order in a Status is unspecified).
inline std::string Describe(const absl::Status& status) {
  std::vector<std::string> payloads;
  status.ForEachPayload([&payloads](absl::string_view url, const absl::Cord& payload) {
    payloads.push_back(absl::StrCat(url, "=", std::string(payload)));
  });
  std::sort(payloads.begin(), payloads.end());
  return absl::StrCat(absl::StatusCodeToString(status.code()), ": ", status.message(), " [",
                      absl::StrJoin(payloads, "] ["), "]");
}

inline std::string Describe(const absl::StatusOr<SubmitResult>& result) {
  if (!result.ok()) return Describe(result.status());
  return absl::StrCat("id=", result->provider_task_id, " poll_url=", result->poll_url,
                      " billing=", result->provider_billing_transaction_id,
                      " endpoint=", result->endpoint);
}

inline std::string Describe(const absl::StatusOr<ProviderUpdate>& result) {
  if (!result.ok()) return Describe(result.status());
  const ProviderUpdate& u = *result;
  std::string out = absl::StrCat(
      "id=", u.provider_task_id, " state=", static_cast<int>(u.state),
      " status=", u.provider_status, " lyrics_ready=", u.lyrics_ready,
      " first_clip_ready=", u.first_clip_ready, " error=", static_cast<int>(u.error_code), ":",
      u.error_message, " code=", u.provider_error_code, " progress=", u.progress_percent, "/",
      u.progress_stage, "/", u.progress_message, " billing=", u.has_billing, ":", u.charged_micros,
      ":", u.refunded_micros, ":", u.billing_currency, ":", u.provider_billing_transaction_id);
  for (const music::v1::Clip& clip : u.clips)
    absl::StrAppend(&out, " clip{", clip.ShortDebugString(), "}");
  for (const music::v1::LyricVariant& v : u.lyric_variants) {
    absl::StrAppend(&out, " lyrics{", v.ShortDebugString(), "}");
  }
  return out;
}

inline std::string Describe(const http::Request& r) {
  std::string out =
      absl::StrCat(r.method, " ", r.url, " timeout=", absl::FormatDuration(r.timeout));
  for (const auto& [name, value] : r.headers) absl::StrAppend(&out, "\n", name, ": ", value);
  absl::StrAppend(&out, "\n\n", r.body);
  return out;
}

using AdapterFactory =
    std::function<std::unique_ptr<ProviderAdapter>(std::shared_ptr<http::HttpClient>)>;

namespace internal_equivalence {

inline void Queue(http::FakeHttpClient& client, const absl::StatusOr<http::Response>& answer) {
  if (answer.ok()) {
    client.Answer(answer->status, answer->body, answer->headers);
  } else {
    client.Fail(answer.status());
  }
}

// Runs `sync` on one client and `async` on another (completions held until the adapter is gone)
// with the same answer; compares results and the requests sent. True when the result is OK.
template <typename T>
bool Compare(const AdapterFactory& factory, const CannedAnswer& canned,
             const std::function<absl::StatusOr<T>(ProviderAdapter&)>& sync,
             const std::function<void(ProviderAdapter&,
                                      absl::AnyInvocable<void(absl::StatusOr<T>) &&>)>& async) {
  SCOPED_TRACE(canned.name);
  bool ok = false;
  auto sync_client = std::make_shared<http::FakeHttpClient>();
  Queue(*sync_client, canned.answer);
  const absl::StatusOr<T> expected = sync(*factory(sync_client));

  auto async_client = std::make_shared<http::FakeHttpClient>();
  async_client->DeferAsync();
  Queue(*async_client, canned.answer);
  std::optional<absl::StatusOr<T>> got;
  std::unique_ptr<ProviderAdapter> adapter = factory(async_client);
  async(*adapter, [&got](absl::StatusOr<T> result) {
    ASSERT_FALSE(got.has_value()) << "callback ran twice";
    got = std::move(result);
  });
  if (async_client->count() > 0) {
    // A request went out: its answer is read on the transport thread, never inside the call.
    EXPECT_FALSE(got.has_value());
  }
  adapter.reset();
  async_client->RunPending();
  EXPECT_TRUE(got.has_value());
  if (!got.has_value()) return false;
  EXPECT_EQ(Describe(*got), Describe(expected));
  ok = got->ok() && expected.ok();

  const std::vector<http::Request> sent_sync = sync_client->requests();
  const std::vector<http::Request> sent_async = async_client->requests();
  EXPECT_EQ(sent_async.size(), sent_sync.size());
  for (size_t i = 0; i < std::min(sent_sync.size(), sent_async.size()); ++i) {
    EXPECT_EQ(Describe(sent_async[i]), Describe(sent_sync[i]));
  }
  return ok;
}

}  // namespace internal_equivalence

/// Expects PollAsync(target) to send what Poll(target) sends and to give the same result, for
/// every answer in `answers`. Returns how many of the results were OK (so a test can check that
/// its success answers did succeed, rather than failing the same way twice).
inline int ExpectPollAsyncMatchesPoll(const AdapterFactory& factory, const PollTarget& target,
                                      const std::vector<CannedAnswer>& answers) {
  int ok = 0;
  for (const CannedAnswer& canned : answers) {
    ok += internal_equivalence::Compare<ProviderUpdate>(
        factory, canned, [&target](ProviderAdapter& a) { return a.Poll(target); },
        [&target](ProviderAdapter& a, PollCallback done) { a.PollAsync(target, std::move(done)); });
  }
  return ok;
}

/// The same for SubmitAsync and Submit.
inline int ExpectSubmitAsyncMatchesSubmit(const AdapterFactory& factory,
                                          const SubmitRequest& request,
                                          const std::vector<CannedAnswer>& answers) {
  int ok = 0;
  for (const CannedAnswer& canned : answers) {
    ok += internal_equivalence::Compare<SubmitResult>(
        factory, canned, [&request](ProviderAdapter& a) { return a.Submit(request); },
        [&request](ProviderAdapter& a, SubmitCallback done) {
          a.SubmitAsync(request, std::move(done));
        });
  }
  return ok;
}

/// `answers` followed by CommonAnswers().
inline std::vector<CannedAnswer> With(std::vector<CannedAnswer> answers) {
  for (CannedAnswer& common : CommonAnswers()) answers.push_back(std::move(common));
  return answers;
}

}  // namespace music::adapters::equivalence

#endif  // MUSIC_TESTS_ADAPTERS_ASYNC_EQUIVALENCE_H_
