// Records and checks shared by the store contract suite and the SQLite-specific store tests.
#ifndef MUSIC_TESTS_PERSISTENCE_STORE_TEST_UTIL_H_
#define MUSIC_TESTS_PERSISTENCE_STORE_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "domain/ledger.h"
#include "domain/ledger_check.h"
#include "domain/task_record.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "music/v1/task.pb.h"
#include "persistence/task_store.h"

namespace music::persistence::store_test {

/// The time the tests' records are created at.
inline const absl::Time kBase = absl::FromUnixSeconds(1700000000);

inline void SetTime(google::protobuf::Timestamp* ts, absl::Time t) {
  const int64_t ns = absl::ToUnixNanos(t);
  ts->set_seconds(ns / 1000000000);
  ts->set_nanos(static_cast<int32_t>(ns % 1000000000));
}

inline absl::Time GetTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

/// A version-1 task of provider "kie", model "model-x", fingerprint "fp-<task_id>".
inline domain::TaskRecord MakeRecord(const std::string& task_id,
                                     const std::string& tenant = "tenant-a",
                                     const std::string& request_id = "",
                                     absl::Time create_time = kBase,
                                     music::v1::TaskState state = music::v1::TASK_STATE_PENDING,
                                     music::v1::TaskKind kind = music::v1::TASK_KIND_MUSIC) {
  domain::TaskRecord r;
  r.task.set_task_id(task_id);
  r.task.set_tenant(tenant);
  r.task.set_request_id(request_id);
  r.task.set_kind(kind);
  r.task.set_state(state);
  r.task.set_model("model-x");
  r.task.set_provider("kie");
  r.task.set_version(1);
  SetTime(r.task.mutable_create_time(), create_time);
  SetTime(r.task.mutable_update_time(), create_time);
  r.request_fingerprint = "fp-" + task_id;
  return r;
}

inline ListQuery Query(const std::string& tenant, int page_size = 50) {
  ListQuery query;
  query.tenant = tenant;
  query.page_size = page_size;
  return query;
}

/// Every field of the records is equal (the task compared as a message).
inline void ExpectSameRecord(const domain::TaskRecord& got, const domain::TaskRecord& want) {
  std::string diff;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differencer.Compare(got.task, want.task)) << diff;
  EXPECT_EQ(got.request_fingerprint, want.request_fingerprint);
  EXPECT_EQ(got.submission, want.submission);
  EXPECT_EQ(got.attempts, want.attempts);
  EXPECT_EQ(got.next_action_time, want.next_action_time);
  EXPECT_EQ(got.deadline, want.deadline);
  EXPECT_EQ(got.unknown_since, want.unknown_since);
  EXPECT_EQ(got.poll_url, want.poll_url);
  EXPECT_EQ(got.reference_artifact_id, want.reference_artifact_id);
  EXPECT_EQ(got.provider_endpoint, want.provider_endpoint);
  EXPECT_EQ(got.traceparent, want.traceparent);
}

/// Creates `record` (expecting a new task) and returns what the store returned.
inline domain::TaskRecord MustCreate(TaskStore& store, const domain::TaskRecord& record) {
  absl::StatusOr<CreateResult> result = store.Create(record);
  EXPECT_TRUE(result.ok()) << result.status();
  if (!result.ok()) return domain::TaskRecord();
  EXPECT_TRUE(result->created) << record.task.task_id();
  return result->record;
}

/// Creates a priced task of tenant-a as the engine does, with its RESERVE (`price` CREDITS
/// micros of model suno-v4.5 / V4_5 at `t`).
inline domain::TaskRecord NewPricedTask(TaskStore& store, const std::string& id, absl::Time t,
                                        int64_t price = 12'000'000) {
  domain::TaskRecord r;
  r.task.set_task_id(id);
  r.task.set_tenant("tenant-a");
  r.task.set_kind(music::v1::TASK_KIND_MUSIC);
  r.task.set_state(music::v1::TASK_STATE_PENDING);
  r.task.set_model("suno-v4.5");
  r.task.set_provider("kie");
  r.task.set_version(1);
  music::v1::Model model;
  model.set_name("suno-v4.5");
  model.set_provider_model("V4_5");
  model.mutable_price()->set_amount_micros(price);
  model.mutable_price()->set_currency("CREDITS");
  billing::BillingTransaction reserve = billing::Reserve(&model, r, t);
  auto created = store.Create(r, absl::MakeConstSpan(&reserve, 1));
  EXPECT_TRUE(created.ok() && created->created) << created.status();
  return r;
}

/// Moves `r` to `state` with its ledger rows, as the engine's terminal write does.
inline absl::Status FinishTask(TaskStore& store, domain::TaskRecord& r, music::v1::TaskState state,
                               absl::Time t) {
  r.task.set_state(state);
  r.task.set_version(r.task.version() + 1);
  std::vector<billing::BillingTransaction> rows = billing::Finish(r, t);
  return store.Update(r, rows);
}

/// The usage record "<id>" of provider kie for provider task "p-<id>".
inline billing::UsageRecord Usage(const std::string& id, absl::Time t, int64_t amount) {
  billing::UsageRecord u;
  u.provider = "kie";
  u.usage_record_id = id;
  u.provider_task_id = "p-" + id;
  u.amount_micros = amount;
  u.time = t;
  return u;
}

/// The kinds CheckLedger reported for `task_id`, in order.
inline std::vector<std::string> KindsFor(const std::vector<billing::LedgerViolation>& v,
                                         const std::string& task_id) {
  std::vector<std::string> kinds;
  for (const auto& x : v) {
    if (x.task_id == task_id) kinds.push_back(x.kind);
  }
  return kinds;
}

}  // namespace music::persistence::store_test

#endif  // MUSIC_TESTS_PERSISTENCE_STORE_TEST_UTIL_H_
