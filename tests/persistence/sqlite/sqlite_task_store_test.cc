#include "persistence/sqlite/sqlite_task_store.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "music/v1/task.pb.h"
#include "domain/task_record.h"
#include "persistence/task_store.h"
#include "tests/testing/temp_dir.h"

namespace music::persistence {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::music::v1::TaskKind;
using ::music::v1::TaskState;

const absl::Time kBase = absl::FromUnixSeconds(1700000000);

void SetTime(google::protobuf::Timestamp* ts, absl::Time t) {
  const int64_t ns = absl::ToUnixNanos(t);
  ts->set_seconds(ns / 1000000000);
  ts->set_nanos(static_cast<int32_t>(ns % 1000000000));
}

absl::Time GetTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

domain::TaskRecord MakeRecord(const std::string& task_id, const std::string& tenant = "tenant-a",
                      const std::string& request_id = "", absl::Time create_time = kBase,
                      TaskState state = music::v1::TASK_STATE_PENDING,
                      TaskKind kind = music::v1::TASK_KIND_MUSIC) {
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

ListQuery Query(const std::string& tenant, int page_size = 50) {
  ListQuery query;
  query.tenant = tenant;
  query.page_size = page_size;
  return query;
}

void ExpectSameRecord(const domain::TaskRecord& got, const domain::TaskRecord& want) {
  std::string diff;
  MessageDifferencer differencer;
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
}

// Runs SQL on the file through a connection of its own, as another process would.
void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (error != nullptr ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

// The first column of the first row of a query, as text.
std::string RawQuery(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    sqlite3_close(db);
    return "<open failed>";
  }
  sqlite3_stmt* stmt = nullptr;
  std::string out = "<no row>";
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    out = std::string("<prepare failed: ") + sqlite3_errmsg(db) + ">";
  } else if (sqlite3_step(stmt) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(stmt, 0);
    out = text != nullptr ? reinterpret_cast<const char*>(text) : "<null>";
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

class SqliteTaskStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_dir_.path().empty());
    dir_ = temp_dir_.path();
    path_ = dir_ + "/tasks.db";
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }

  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::unique_ptr<TaskStore> Open() {
    SqliteOptions options;
    options.path = path_;
    absl::StatusOr<std::unique_ptr<TaskStore>> store = OpenSqliteTaskStore(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  domain::TaskRecord MustCreate(const domain::TaskRecord& record) {
    absl::StatusOr<CreateResult> result = store_->Create(record);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return domain::TaskRecord();
    EXPECT_TRUE(result->created) << record.task.task_id();
    return result->record;
  }

  TempDir temp_dir_{"sqlite_task_store"};
  std::string dir_;
  std::string path_;
  std::unique_ptr<TaskStore> store_;
};

TEST_F(SqliteTaskStoreTest, CreateThenGetRoundTripsEveryField) {
  domain::TaskRecord r = MakeRecord("task-1", "tenant-a", "req-1");
  music::v1::Task& t = r.task;
  t.set_kind(music::v1::TASK_KIND_CONTINUATION);
  t.set_provider_task_id("kie-123");
  t.set_state(music::v1::TASK_STATE_RUNNING);
  t.mutable_input()->set_prompt("a song about the sea");
  t.mutable_input()->set_style("folk, acoustic");
  t.mutable_input()->set_title("Sea");
  t.mutable_input()->set_lyrics("[Verse]\nwaves");
  t.mutable_input()->set_instrumental(true);
  t.mutable_input()->set_negative_tags("metal");
  t.mutable_input()->set_continue_from_clip_id("clip-0");
  t.mutable_input()->set_continue_at_seconds(12.5);
  for (int i = 0; i < 2; ++i) {
    music::v1::Clip* clip = t.add_clips();
    clip->set_clip_id(absl::StrCat("clip-", i + 1));
    clip->set_audio_url("https://a/" + clip->clip_id());
    clip->set_stream_audio_url("https://s/" + clip->clip_id());
    clip->set_image_url("https://i/" + clip->clip_id());
    clip->set_video_url("https://v/" + clip->clip_id());
    clip->set_title("title");
    clip->set_tags("tags");
    clip->set_lyrics("lyrics");
    clip->set_duration_seconds(123.25);
    clip->set_model_name("chirp-v4");
  }
  music::v1::LyricVariant* variant = t.add_lyric_variants();
  variant->set_title("v");
  variant->set_text("[Chorus] la");
  t.mutable_progress()->set_provider_status("TEXT_SUCCESS");
  t.mutable_progress()->set_lyrics_ready(true);
  t.mutable_progress()->set_first_clip_ready(true);
  t.mutable_error()->set_code(4);
  t.mutable_error()->set_message("late");
  t.mutable_error()->set_provider_status("SENSITIVE_WORD_ERROR");
  t.mutable_error()->set_provider_error_code("413");
  SetTime(t.mutable_create_time(), kBase + absl::Nanoseconds(123456789));  // sub-microsecond
  SetTime(t.mutable_update_time(), kBase + absl::Seconds(2));
  SetTime(t.mutable_end_time(), kBase + absl::Seconds(3));
  r.request_fingerprint = std::string(64, 'f');
  r.submission = domain::SubmissionState::kUnknown;
  r.attempts = 7;
  r.next_action_time = absl::InfinitePast();
  r.deadline = absl::InfiniteFuture();
  r.unknown_since = kBase + absl::Microseconds(42);

  absl::StatusOr<CreateResult> created = store_->Create(r);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->created);
  ExpectSameRecord(created->record, r);

  absl::StatusOr<domain::TaskRecord> got = store_->Get("task-1");
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameRecord(*got, r);

  // The opposite infinities, and finite times on both sides of the epoch.
  domain::TaskRecord r2 = MakeRecord("task-2");
  r2.submission = domain::SubmissionState::kSubmitting;
  r2.attempts = std::numeric_limits<int32_t>::max();
  r2.next_action_time = absl::InfiniteFuture();
  r2.deadline = absl::InfinitePast();
  r2.unknown_since = absl::FromUnixMicros(-5);
  MustCreate(r2);
  got = store_->Get("task-2");
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameRecord(*got, r2);

  // A finite time at the edge of the range never reads back as infinite.
  domain::TaskRecord r3 = MakeRecord("task-3");
  r3.next_action_time = absl::FromUnixMicros(std::numeric_limits<int64_t>::max());
  r3.deadline = absl::FromUnixMicros(std::numeric_limits<int64_t>::min());
  MustCreate(r3);
  got = store_->Get("task-3");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_NE(got->next_action_time, absl::InfiniteFuture());
  EXPECT_NE(got->deadline, absl::InfinitePast());

  EXPECT_EQ(store_->Get("missing").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SqliteTaskStoreTest, CreateRejectsBadRecords) {
  domain::TaskRecord r = MakeRecord("task-1");
  r.task.set_version(2);
  EXPECT_EQ(store_->Create(r).status().code(), absl::StatusCode::kInvalidArgument);
  r.task.set_version(0);
  EXPECT_EQ(store_->Create(r).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Create(MakeRecord("")).status().code(), absl::StatusCode::kInvalidArgument);
  domain::TaskRecord bad_submission = MakeRecord("task-1");
  bad_submission.submission = static_cast<domain::SubmissionState>(9);
  EXPECT_EQ(store_->Create(bad_submission).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Get("task-1").status().code(), absl::StatusCode::kNotFound);

  MustCreate(MakeRecord("task-1", "tenant-a", "req-1"));
  // The same task id again, with no, another or the same-tenant-other request id.
  EXPECT_EQ(store_->Create(MakeRecord("task-1")).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->Create(MakeRecord("task-1", "tenant-a", "req-2")).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->Create(MakeRecord("task-1", "tenant-b", "req-1")).status().code(),
            absl::StatusCode::kAlreadyExists);
  // Nothing of the failed creates was stored.
  EXPECT_EQ(store_->FindByClipId("tenant-b", "x").status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<ListPage> page = store_->List(Query("tenant-b"));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->records.empty());
}

TEST_F(SqliteTaskStoreTest, DuplicateRequestIdReturnsExistingTask) {
  domain::TaskRecord first = MakeRecord("task-1", "tenant-a", "req-1");
  first.task.add_clips()->set_clip_id("clip-1");
  MustCreate(first);

  domain::TaskRecord second = MakeRecord("task-2", "tenant-a", "req-1");
  second.task.add_clips()->set_clip_id("clip-2");
  absl::StatusOr<CreateResult> result = store_->Create(second);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->created);
  ExpectSameRecord(result->record, first);
  EXPECT_EQ(result->record.request_fingerprint, "fp-task-1");

  EXPECT_EQ(store_->Get("task-2").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->FindByClipId("tenant-a", "clip-2").status().code(),
            absl::StatusCode::kNotFound);
  // Even with the first task's own id (a retried Create), the original comes back.
  result = store_->Create(MakeRecord("task-1", "tenant-a", "req-1"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->created);
  EXPECT_EQ(result->record.task.task_id(), "task-1");
}

TEST_F(SqliteTaskStoreTest, SameRequestIdInAnotherTenantCreates) {
  MustCreate(MakeRecord("task-1", "tenant-a", "req-1"));
  absl::StatusOr<CreateResult> result = store_->Create(MakeRecord("task-2", "tenant-b", "req-1"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->created);
  EXPECT_EQ(result->record.task.task_id(), "task-2");
  EXPECT_TRUE(store_->Get("task-2").ok());
}

TEST_F(SqliteTaskStoreTest, EmptyRequestIdNeverDeduplicates) {
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<CreateResult> result = store_->Create(MakeRecord(absl::StrCat("task-", i)));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(result->created);
    EXPECT_EQ(result->record.task.task_id(), absl::StrCat("task-", i));
  }
  absl::StatusOr<ListPage> page = store_->List(Query("tenant-a"));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->records.size(), 3u);
}

class SqliteConcurrencyTest : public SqliteTaskStoreTest,
                              public ::testing::WithParamInterface<bool> {
 protected:
  // The store thread i uses: the shared one, or (param true) a connection of its own, as
  // several service processes on one file would have.
  std::vector<std::unique_ptr<TaskStore>> OwnStores(int n) {
    std::vector<std::unique_ptr<TaskStore>> stores;
    if (GetParam()) {
      for (int i = 0; i < n; ++i) stores.push_back(Open());
    }
    return stores;
  }
  TaskStore* StoreFor(std::vector<std::unique_ptr<TaskStore>>& own, int i) {
    return own.empty() ? store_.get() : own[i].get();
  }
};

TEST_P(SqliteConcurrencyTest, ConcurrentCreatesWithOneRequestIdYieldOneTask) {
  constexpr int kThreads = 16;
  std::vector<std::unique_ptr<TaskStore>> own = OwnStores(kThreads);
  absl::Notification start;
  std::vector<absl::StatusOr<CreateResult>> results(kThreads, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.WaitForNotification();
      results[i] = StoreFor(own, i)->Create(MakeRecord(absl::StrCat("task-", i), "t", "req"));
    });
  }
  start.Notify();
  for (std::thread& t : threads) t.join();

  int created = 0;
  std::set<std::string> task_ids;
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    created += result->created ? 1 : 0;
    task_ids.insert(result->record.task.task_id());
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(task_ids.size(), 1u);
  absl::StatusOr<ListPage> page = store_->List(Query("t", 100));
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->records.size(), 1u);
  EXPECT_EQ(page->records[0].task.task_id(), *task_ids.begin());
}

TEST_P(SqliteConcurrencyTest, ConcurrentUpdatersFromOneVersionExactlyOneWins) {
  constexpr int kThreads = 8;
  MustCreate(MakeRecord("task-1"));
  std::vector<std::unique_ptr<TaskStore>> own = OwnStores(kThreads);
  absl::Notification start;
  std::vector<absl::Status> results(kThreads, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      domain::TaskRecord r = MakeRecord("task-1");
      r.task.set_version(2);
      r.task.mutable_progress()->set_provider_status(absl::StrCat("writer-", i));
      start.WaitForNotification();
      results[i] = StoreFor(own, i)->Update(r);
    });
  }
  start.Notify();
  for (std::thread& t : threads) t.join();

  int winner = -1;
  for (int i = 0; i < kThreads; ++i) {
    if (results[i].ok()) {
      EXPECT_EQ(winner, -1) << "two winners: " << winner << " and " << i;
      winner = i;
    } else {
      EXPECT_EQ(results[i].code(), absl::StatusCode::kAborted) << results[i];
    }
  }
  ASSERT_NE(winner, -1);
  absl::StatusOr<domain::TaskRecord> got = store_->Get("task-1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->task.version(), 2);
  EXPECT_EQ(got->task.progress().provider_status(), absl::StrCat("writer-", winner));
}

INSTANTIATE_TEST_SUITE_P(SharedAndOwnConnections, SqliteConcurrencyTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "OwnConnections" : "SharedConnection";
                         });

TEST_F(SqliteTaskStoreTest, UpdateChecksTheVersion) {
  MustCreate(MakeRecord("task-1", "tenant-a", "req-1"));

  domain::TaskRecord v2 = MakeRecord("task-1", "tenant-a", "req-1");
  v2.task.set_version(2);
  v2.task.set_state(music::v1::TASK_STATE_RUNNING);
  v2.task.set_provider_task_id("p-1");
  v2.submission = domain::SubmissionState::kSubmitted;
  v2.attempts = 3;
  v2.next_action_time = kBase + absl::Seconds(10);
  v2.deadline = kBase + absl::Hours(1);
  ASSERT_TRUE(store_->Update(v2).ok());
  absl::StatusOr<domain::TaskRecord> got = store_->Get("task-1");
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameRecord(*got, v2);

  // A writer that read version 1 is stale now; so is one that skips a version.
  domain::TaskRecord stale = v2;
  stale.task.set_state(music::v1::TASK_STATE_FAILED);
  EXPECT_EQ(store_->Update(stale).code(), absl::StatusCode::kAborted);
  stale.task.set_version(4);
  EXPECT_EQ(store_->Update(stale).code(), absl::StatusCode::kAborted);
  got = store_->Get("task-1");
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameRecord(*got, v2);

  domain::TaskRecord missing = MakeRecord("task-9");
  missing.task.set_version(2);
  EXPECT_EQ(store_->Update(missing).code(), absl::StatusCode::kNotFound);

  domain::TaskRecord v1 = MakeRecord("task-1", "tenant-a", "req-1");
  EXPECT_EQ(store_->Update(v1).code(), absl::StatusCode::kInvalidArgument);

  // tenant and request_id are immutable.
  domain::TaskRecord moved = v2;
  moved.task.set_version(3);
  moved.task.set_tenant("tenant-b");
  EXPECT_EQ(store_->Update(moved).code(), absl::StatusCode::kInvalidArgument);
  moved.task.set_tenant("tenant-a");
  moved.task.set_request_id("req-2");
  EXPECT_EQ(store_->Update(moved).code(), absl::StatusCode::kInvalidArgument);

  domain::TaskRecord v3 = v2;
  v3.task.set_version(3);
  v3.task.set_state(music::v1::TASK_STATE_SUCCEEDED);
  ASSERT_TRUE(store_->Update(v3).ok());
  got = store_->Get("task-1");
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameRecord(*got, v3);
}

TEST_F(SqliteTaskStoreTest, ListPagesThroughEveryMatchNewestFirst) {
  const TaskState states[] = {music::v1::TASK_STATE_PENDING, music::v1::TASK_STATE_RUNNING,
                              music::v1::TASK_STATE_SUCCEEDED};
  const TaskKind kinds[] = {music::v1::TASK_KIND_MUSIC, music::v1::TASK_KIND_LYRICS};
  std::vector<domain::TaskRecord> all;
  // 31 tasks of tenant-a; groups of three share a create time (the task id breaks the tie), and
  // the insertion order is not the time order.
  for (int i = 0; i < 31; ++i) {
    const int slot = (i * 7) % 31;
    all.push_back(MakeRecord(absl::StrCat("task-", slot % 10, "-", slot), "tenant-a", "",
                             kBase + absl::Seconds(slot / 3), states[slot % 3],
                             kinds[(slot / 2) % 2]));
  }
  for (const domain::TaskRecord& r : all) MustCreate(r);
  for (int i = 0; i < 5; ++i) {
    MustCreate(MakeRecord(absl::StrCat("other-", i), "tenant-b", "", kBase + absl::Seconds(i),
                          music::v1::TASK_STATE_RUNNING, music::v1::TASK_KIND_LYRICS));
  }

  auto newer = [](const domain::TaskRecord& a, const domain::TaskRecord& b) {
    const absl::Time ta = GetTime(a.task.create_time());
    const absl::Time tb = GetTime(b.task.create_time());
    if (ta != tb) return ta > tb;
    return a.task.task_id() > b.task.task_id();
  };
  for (TaskState state : {music::v1::TASK_STATE_UNSPECIFIED, music::v1::TASK_STATE_RUNNING,
                          music::v1::TASK_STATE_CANCELED}) {
    for (TaskKind kind : {music::v1::TASK_KIND_UNSPECIFIED, music::v1::TASK_KIND_LYRICS}) {
      std::vector<std::string> want;
      std::vector<domain::TaskRecord> sorted = all;
      std::sort(sorted.begin(), sorted.end(), newer);
      for (const domain::TaskRecord& r : sorted) {
        if ((state == 0 || r.task.state() == state) && (kind == 0 || r.task.kind() == kind)) {
          want.push_back(r.task.task_id());
        }
      }
      for (int page_size : {1, 4, 7, 100}) {
        SCOPED_TRACE(absl::StrCat("state ", state, " kind ", kind, " page_size ", page_size));
        ListQuery query = Query("tenant-a", page_size);
        query.state = state;
        query.kind = kind;
        std::vector<std::string> got;
        int pages = 0;
        while (true) {
          absl::StatusOr<ListPage> page = store_->List(query);
          ASSERT_TRUE(page.ok()) << page.status();
          ASSERT_LE(page->records.size(), static_cast<size_t>(page_size));
          ++pages;
          ASSERT_LE(pages, 100);
          for (const domain::TaskRecord& r : page->records) got.push_back(r.task.task_id());
          if (!page->has_more) break;
          ASSERT_EQ(page->records.size(), static_cast<size_t>(page_size));
          const domain::TaskRecord& last = page->records.back();
          query.after = ListCursor{GetTime(last.task.create_time()), last.task.task_id()};
        }
        EXPECT_EQ(got, want);
        const int want_pages =
            want.empty() ? 1 : static_cast<int>((want.size() + page_size - 1) / page_size);
        EXPECT_EQ(pages, want_pages);
      }
    }
  }

  EXPECT_EQ(store_->List(Query("tenant-a", 0)).status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<ListPage> none = store_->List(Query("tenant-z"));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->records.empty());
  EXPECT_FALSE(none->has_more);
}

TEST_F(SqliteTaskStoreTest, ListActiveSkipsTerminalTasksOldestFirst) {
  const TaskState states[] = {music::v1::TASK_STATE_SUCCEEDED, music::v1::TASK_STATE_RUNNING,
                              music::v1::TASK_STATE_FAILED,    music::v1::TASK_STATE_PENDING,
                              music::v1::TASK_STATE_CANCELED,  music::v1::TASK_STATE_RUNNING};
  // Created newest first so that insertion order is the reverse of the wanted order.
  for (int i = 5; i >= 0; --i) {
    MustCreate(MakeRecord(absl::StrCat("task-", i), i % 2 == 0 ? "tenant-a" : "tenant-b", "",
                          kBase + absl::Seconds(i), states[i]));
  }
  auto ids = [](const std::vector<domain::TaskRecord>& records) {
    std::vector<std::string> out;
    for (const domain::TaskRecord& r : records) out.push_back(r.task.task_id());
    return out;
  };
  absl::StatusOr<std::vector<domain::TaskRecord>> active = store_->ListActive(100);
  ASSERT_TRUE(active.ok()) << active.status();
  EXPECT_EQ(ids(*active), (std::vector<std::string>{"task-1", "task-3", "task-5"}));

  active = store_->ListActive(2);
  ASSERT_TRUE(active.ok()) << active.status();
  EXPECT_EQ(ids(*active), (std::vector<std::string>{"task-1", "task-3"}));

  // A task that becomes terminal leaves the list.
  domain::TaskRecord done = MakeRecord("task-3", "tenant-b", "", kBase + absl::Seconds(3),
                               music::v1::TASK_STATE_CANCELED);
  done.task.set_version(2);
  ASSERT_TRUE(store_->Update(done).ok());
  active = store_->ListActive(100);
  ASSERT_TRUE(active.ok()) << active.status();
  EXPECT_EQ(ids(*active), (std::vector<std::string>{"task-1", "task-5"}));

  EXPECT_EQ(store_->ListActive(0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SqliteTaskStoreTest, FindByClipIdFollowsUpdates) {
  domain::TaskRecord r = MakeRecord("task-1", "tenant-a");
  r.task.add_clips()->set_clip_id("clip-1");
  r.task.add_clips()->set_clip_id("clip-2");
  MustCreate(r);
  MustCreate(MakeRecord("task-2", "tenant-a"));

  for (const char* clip : {"clip-1", "clip-2"}) {
    absl::StatusOr<domain::TaskRecord> found = store_->FindByClipId("tenant-a", clip);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_EQ(found->task.task_id(), "task-1");
  }
  EXPECT_EQ(store_->FindByClipId("tenant-b", "clip-1").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->FindByClipId("tenant-a", "clip-9").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->FindByClipId("tenant-a", "").status().code(), absl::StatusCode::kNotFound);

  // The update replaces clip-1 by clip-3 (and repeats clip-2).
  r.task.set_version(2);
  r.task.clear_clips();
  r.task.add_clips()->set_clip_id("clip-2");
  r.task.add_clips()->set_clip_id("clip-3");
  r.task.add_clips()->set_clip_id("clip-2");
  ASSERT_TRUE(store_->Update(r).ok());
  EXPECT_EQ(store_->FindByClipId("tenant-a", "clip-1").status().code(),
            absl::StatusCode::kNotFound);
  for (const char* clip : {"clip-2", "clip-3"}) {
    absl::StatusOr<domain::TaskRecord> found = store_->FindByClipId("tenant-a", clip);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_EQ(found->task.task_id(), "task-1");
    EXPECT_EQ(found->task.version(), 2);
  }
  // A failed (stale) update leaves the index alone.
  domain::TaskRecord stale = r;
  stale.task.clear_clips();
  stale.task.add_clips()->set_clip_id("clip-4");
  EXPECT_EQ(store_->Update(stale).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store_->FindByClipId("tenant-a", "clip-4").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->FindByClipId("tenant-a", "clip-3").ok());
}

TEST_F(SqliteTaskStoreTest, FindByProviderTaskId) {
  domain::TaskRecord r = MakeRecord("task-1");
  r.task.set_provider_task_id("p-1");
  MustCreate(r);
  domain::TaskRecord unsubmitted = MakeRecord("task-2");  // provider "kie", no provider task id
  MustCreate(unsubmitted);

  absl::StatusOr<domain::TaskRecord> found = store_->FindByProviderTaskId("kie", "p-1");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->task.task_id(), "task-1");
  EXPECT_EQ(store_->FindByProviderTaskId("other", "p-1").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->FindByProviderTaskId("kie", "p-2").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->FindByProviderTaskId("kie", "").status().code(), absl::StatusCode::kNotFound);

  unsubmitted.task.set_version(2);
  unsubmitted.task.set_provider_task_id("p-2");
  ASSERT_TRUE(store_->Update(unsubmitted).ok());
  found = store_->FindByProviderTaskId("kie", "p-2");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->task.task_id(), "task-2");
}

TEST_F(SqliteTaskStoreTest, ReopenKeepsDataAndSchema) {
  domain::TaskRecord r = MakeRecord("task-1", "tenant-a", "req-1");
  r.task.add_clips()->set_clip_id("clip-1");
  r.deadline = absl::InfiniteFuture();
  r.poll_url = "https://api.tokenlab.test/v1/tasks/ldtask_1";
  r.reference_artifact_id = "art_1";
  r.provider_endpoint = "/v1/music/generations";
  MustCreate(r);
  const std::string schema_before =
      RawQuery(path_, "SELECT group_concat(sql, ';') FROM sqlite_master");

  for (int i = 0; i < 2; ++i) {
    store_.reset();
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }
  EXPECT_EQ(RawQuery(path_, "PRAGMA user_version"), absl::StrCat(SqliteSchemaVersion()));
  EXPECT_EQ(RawQuery(path_, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(RawQuery(path_, "SELECT group_concat(sql, ';') FROM sqlite_master"), schema_before);
  EXPECT_EQ(RawQuery(path_, "SELECT count(*) FROM tasks"), "1");

  absl::StatusOr<domain::TaskRecord> got = store_->Get("task-1");
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameRecord(*got, r);
  EXPECT_TRUE(store_->FindByClipId("tenant-a", "clip-1").ok());
  // The unique request-id index survived too.
  absl::StatusOr<CreateResult> again = store_->Create(MakeRecord("task-2", "tenant-a", "req-1"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->created);
}

TEST_F(SqliteTaskStoreTest, CorruptRowsAreDataLoss) {
  domain::TaskRecord r = MakeRecord("task-1");
  r.task.add_clips()->set_clip_id("clip-1");
  MustCreate(r);
  MustCreate(MakeRecord("task-2"));

  // Bytes that are not a Task: an over-long varint tag.
  RawExec(path_, "UPDATE tasks SET task = x'ffffffffffffffffffffff' WHERE task_id = 'task-1'");
  EXPECT_EQ(store_->Get("task-1").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store_->FindByClipId("tenant-a", "clip-1").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(store_->List(Query("tenant-a")).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store_->ListActive(10).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(store_->Get("task-2").ok());

  // A valid Task that is not this row's (here: the empty one).
  RawExec(path_, "UPDATE tasks SET task = x'' WHERE task_id = 'task-1'");
  EXPECT_EQ(store_->Get("task-1").status().code(), absl::StatusCode::kDataLoss);
  // Another row's task.
  RawExec(path_,
          "UPDATE tasks SET task = (SELECT task FROM tasks WHERE task_id = 'task-2') "
          "WHERE task_id = 'task-1'");
  EXPECT_EQ(store_->Get("task-1").status().code(), absl::StatusCode::kDataLoss);
  // Bad bookkeeping columns of intact tasks.
  MustCreate(MakeRecord("task-3"));
  ASSERT_TRUE(store_->Get("task-3").ok());
  RawExec(path_,
          "UPDATE tasks SET submission = 9 WHERE task_id = 'task-2';"
          "UPDATE tasks SET attempts = 'many' WHERE task_id = 'task-3'");
  EXPECT_EQ(store_->Get("task-2").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store_->Get("task-3").status().code(), absl::StatusCode::kDataLoss);
  RawExec(path_, "UPDATE tasks SET submission = 0, attempts = 4294967296 WHERE task_id = 'task-2'");
  EXPECT_EQ(store_->Get("task-2").status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(SqliteTaskStoreTest, VersionOneDatabaseIsUpgradedInPlace) {
  domain::TaskRecord r = MakeRecord("task-1");
  MustCreate(r);
  store_.reset();
  // What a version-1 file looked like: no poll_url / reference_artifact_id / provider_endpoint.
  RawExec(path_,
          "ALTER TABLE tasks DROP COLUMN poll_url; "
          "ALTER TABLE tasks DROP COLUMN reference_artifact_id; "
          "ALTER TABLE tasks DROP COLUMN provider_endpoint; PRAGMA user_version = 1");
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(RawQuery(path_, "PRAGMA user_version"), absl::StrCat(SqliteSchemaVersion()));
  absl::StatusOr<domain::TaskRecord> got = store_->Get("task-1");
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameRecord(*got, r);
  domain::TaskRecord next = *got;
  next.task.set_version(2);
  next.poll_url = "https://poll.test/1";
  ASSERT_TRUE(store_->Update(next).ok());
  EXPECT_EQ(store_->Get("task-1")->poll_url, "https://poll.test/1");
}

TEST_F(SqliteTaskStoreTest, NewerSchemaIsFailedPrecondition) {
  MustCreate(MakeRecord("task-1"));
  store_.reset();
  const std::string newer = absl::StrCat(SqliteSchemaVersion() + 1);
  RawExec(path_, "PRAGMA user_version = " + newer);
  SqliteOptions options;
  options.path = path_;
  absl::StatusOr<std::unique_ptr<TaskStore>> store = OpenSqliteTaskStore(options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  EXPECT_EQ(RawQuery(path_, "PRAGMA user_version"), newer);
  EXPECT_EQ(RawQuery(path_, "SELECT count(*) FROM tasks"), "1");
}

TEST_F(SqliteTaskStoreTest, OpenValidatesOptions) {
  auto open = [](const std::string& path, const std::string& synchronous = "FULL",
                 absl::Duration busy_timeout = absl::Seconds(5)) {
    SqliteOptions options;
    options.path = path;
    options.synchronous = synchronous;
    options.busy_timeout = busy_timeout;
    return OpenSqliteTaskStore(options).status().code();
  };
  EXPECT_EQ(open(""), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(open(":memory:"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(open(path_, "SOMETIMES"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(open(path_, "OFF"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(open(path_, "FULL", absl::Seconds(-1)), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(open(path_, "normal"), absl::StatusCode::kOk);
  EXPECT_EQ(open(path_, "EXTRA"), absl::StatusCode::kOk);
  EXPECT_EQ(open(dir_ + "/no/such/dir/tasks.db"), absl::StatusCode::kUnavailable);

  const std::string junk = dir_ + "/junk.db";
  std::ofstream(junk) << std::string(4096, 'x');
  const absl::StatusCode junk_code = open(junk);
  EXPECT_EQ(junk_code, absl::StatusCode::kDataLoss);
}

TEST_F(SqliteTaskStoreTest, LockedDatabaseIsUnavailableAndRecovers) {
  SqliteOptions options;
  options.path = path_;
  options.busy_timeout = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<TaskStore>> impatient = OpenSqliteTaskStore(options);
  ASSERT_TRUE(impatient.ok()) << impatient.status();

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  absl::StatusOr<CreateResult> result = (*impatient)->Create(MakeRecord("task-1"));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
  domain::TaskRecord update = MakeRecord("task-1");
  update.task.set_version(2);
  EXPECT_EQ((*impatient)->Update(update).code(), absl::StatusCode::kUnavailable);
  // Readers are not blocked by a writer in WAL mode.
  EXPECT_EQ((*impatient)->Get("task-1").status().code(), absl::StatusCode::kNotFound);
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);

  result = (*impatient)->Create(MakeRecord("task-1"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->created);
  EXPECT_TRUE(store_->Get("task-1").ok());
}

}  // namespace
}  // namespace music::persistence
