#ifndef MUSIC_TESTS_TESTING_STATUS_MATCHERS_H_
#define MUSIC_TESTS_TESTING_STATUS_MATCHERS_H_

#include <gmock/gmock.h>

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// gMock matchers for absl::Status and absl::StatusOr<T>:
//   EXPECT_THAT(s, IsOk());
//   EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound));
//   EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("prompt")));
//   EXPECT_THAT(or, IsOkAndHolds(Eq(3)));
namespace music::testing_internal {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

}  // namespace music::testing_internal

namespace music {

/// Matches a Status (or StatusOr) whose code is `code` and whose message matches `message`.
MATCHER_P2(StatusIs, code, message,
           std::string("has status code ") + absl::StatusCodeToString(code) + " and message " +
               ::testing::DescribeMatcher<std::string>(message, negation)) {
  const absl::Status& s = ::music::testing_internal::GetStatus(arg);
  *result_listener << "whose status is " << s;
  return s.code() == code && ::testing::Matches(::testing::SafeMatcherCast<const std::string&>(
                                 message))(std::string(s.message()));
}

/// Matches a Status (or StatusOr) whose code is `code`, whatever the message.
MATCHER_P(StatusIs, code,
          std::string(negation ? "has not status code " : "has status code ") +
              absl::StatusCodeToString(code)) {
  const absl::Status& s = ::music::testing_internal::GetStatus(arg);
  *result_listener << "whose status is " << s;
  return s.code() == code;
}

/// Matches an OK Status (or StatusOr).
MATCHER(IsOk, negation ? "is not OK" : "is OK") {
  const absl::Status& s = ::music::testing_internal::GetStatus(arg);
  *result_listener << "whose status is " << s;
  return s.ok();
}

/// Matches an OK StatusOr whose value matches `inner`.
MATCHER_P(IsOkAndHolds, inner,
          negation ? "is not OK, or holds a value that does not match"
                   : "is OK and holds a value that matches") {
  if (!arg.ok()) {
    *result_listener << "whose status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(inner, *arg, result_listener);
}

}  // namespace music

#endif  // MUSIC_TESTS_TESTING_STATUS_MATCHERS_H_
