// The store contract suite: TaskStore and BillingStore behaviour every implementation shares.
// Instantiated per implementation (see store_contract_test.h).
#include "tests/persistence/contract/store_contract_test.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "domain/ledger.h"
#include "domain/task_record.h"
#include "gtest/gtest.h"
#include "music/v1/task.pb.h"
#include "tests/persistence/store_test_util.h"

namespace music::persistence::store_test {

void StoreContractBase::Start(const StoreImplementation& implementation) {
  absl::StatusOr<std::unique_ptr<StoreBackend>> backend = implementation.create();
  ASSERT_TRUE(backend.ok()) << backend.status();
  backend_ = *std::move(backend);
  absl::StatusOr<Stores> stores = backend_->Open();
  ASSERT_TRUE(stores.ok()) << stores.status();
  stores_ = *std::move(stores);
  ASSERT_NE(stores_.tasks, nullptr);
  ASSERT_NE(stores_.billing, nullptr);
}

void StoreContractBase::TearDown() {
  stores_ = Stores();
  backend_.reset();
}

std::vector<Stores> StoreContractBase::OpenMore(int n) {
  std::vector<Stores> more;
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<Stores> stores = backend_->Open();
    EXPECT_TRUE(stores.ok()) << stores.status();
    if (stores.ok()) more.push_back(*std::move(stores));
  }
  return more;
}

domain::TaskRecord StoreContractBase::MustCreate(const domain::TaskRecord& record) {
  return store_test::MustCreate(*tasks(), record);
}

std::vector<Stores> TaskStoreConcurrencyContractTest::OwnStores(int n) {
  if (!std::get<1>(GetParam())) return {};
  std::vector<Stores> own = OpenMore(n);
  EXPECT_EQ(own.size(), static_cast<size_t>(n));
  return own;
}

TaskStore* TaskStoreConcurrencyContractTest::StoreFor(std::vector<Stores>& own, int i) {
  return own.empty() ? tasks() : own[i].tasks.get();
}

std::string ImplementationName(const ::testing::TestParamInfo<StoreImplementation>& info) {
  return info.param.name;
}

std::string ConcurrencyName(
    const ::testing::TestParamInfo<std::tuple<StoreImplementation, bool>>& info) {
  return absl::StrCat(std::get<0>(info.param).name, "_",
                      std::get<1>(info.param) ? "OwnConnections" : "SharedConnection");
}

namespace {

using billing::BillingTransaction;
using billing::TransactionKind;
using ::music::v1::TaskKind;
using ::music::v1::TaskState;

// ---------------------------------------------------------------------------------------------
// TaskStore

TEST_P(TaskStoreContractTest, CreateThenGetRoundTripsEveryField) {
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

  absl::StatusOr<CreateResult> created = tasks()->Create(r);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->created);
  ExpectSameRecord(created->record, r);

  absl::StatusOr<domain::TaskRecord> got = tasks()->Get("task-1");
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
  got = tasks()->Get("task-2");
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameRecord(*got, r2);

  // A finite time at the edge of the range never reads back as infinite.
  domain::TaskRecord r3 = MakeRecord("task-3");
  r3.next_action_time = absl::FromUnixMicros(std::numeric_limits<int64_t>::max());
  r3.deadline = absl::FromUnixMicros(std::numeric_limits<int64_t>::min());
  MustCreate(r3);
  got = tasks()->Get("task-3");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_NE(got->next_action_time, absl::InfiniteFuture());
  EXPECT_NE(got->deadline, absl::InfinitePast());

  EXPECT_EQ(tasks()->Get("missing").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(TaskStoreContractTest, CreateRejectsBadRecords) {
  domain::TaskRecord r = MakeRecord("task-1");
  r.task.set_version(2);
  EXPECT_EQ(tasks()->Create(r).status().code(), absl::StatusCode::kInvalidArgument);
  r.task.set_version(0);
  EXPECT_EQ(tasks()->Create(r).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tasks()->Create(MakeRecord("")).status().code(), absl::StatusCode::kInvalidArgument);
  domain::TaskRecord bad_submission = MakeRecord("task-1");
  bad_submission.submission = static_cast<domain::SubmissionState>(9);
  EXPECT_EQ(tasks()->Create(bad_submission).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tasks()->Get("task-1").status().code(), absl::StatusCode::kNotFound);

  MustCreate(MakeRecord("task-1", "tenant-a", "req-1"));
  // The same task id again, with no, another or the same-tenant-other request id.
  EXPECT_EQ(tasks()->Create(MakeRecord("task-1")).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(tasks()->Create(MakeRecord("task-1", "tenant-a", "req-2")).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(tasks()->Create(MakeRecord("task-1", "tenant-b", "req-1")).status().code(),
            absl::StatusCode::kAlreadyExists);
  // Nothing of the failed creates was stored.
  EXPECT_EQ(tasks()->FindByClipId("tenant-b", "x").status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<ListPage> page = tasks()->List(Query("tenant-b"));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->records.empty());
}

TEST_P(TaskStoreContractTest, DuplicateRequestIdReturnsExistingTask) {
  domain::TaskRecord first = MakeRecord("task-1", "tenant-a", "req-1");
  first.task.add_clips()->set_clip_id("clip-1");
  MustCreate(first);

  domain::TaskRecord second = MakeRecord("task-2", "tenant-a", "req-1");
  second.task.add_clips()->set_clip_id("clip-2");
  absl::StatusOr<CreateResult> result = tasks()->Create(second);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->created);
  ExpectSameRecord(result->record, first);
  EXPECT_EQ(result->record.request_fingerprint, "fp-task-1");

  EXPECT_EQ(tasks()->Get("task-2").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(tasks()->FindByClipId("tenant-a", "clip-2").status().code(),
            absl::StatusCode::kNotFound);
  // Even with the first task's own id (a retried Create), the original comes back.
  result = tasks()->Create(MakeRecord("task-1", "tenant-a", "req-1"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->created);
  EXPECT_EQ(result->record.task.task_id(), "task-1");
}

TEST_P(TaskStoreContractTest, SameRequestIdInAnotherTenantCreates) {
  MustCreate(MakeRecord("task-1", "tenant-a", "req-1"));
  absl::StatusOr<CreateResult> result = tasks()->Create(MakeRecord("task-2", "tenant-b", "req-1"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->created);
  EXPECT_EQ(result->record.task.task_id(), "task-2");
  EXPECT_TRUE(tasks()->Get("task-2").ok());
}

TEST_P(TaskStoreContractTest, EmptyRequestIdNeverDeduplicates) {
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<CreateResult> result = tasks()->Create(MakeRecord(absl::StrCat("task-", i)));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(result->created);
    EXPECT_EQ(result->record.task.task_id(), absl::StrCat("task-", i));
  }
  absl::StatusOr<ListPage> page = tasks()->List(Query("tenant-a"));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->records.size(), 3u);
}

TEST_P(TaskStoreContractTest, UpdateChecksTheVersion) {
  MustCreate(MakeRecord("task-1", "tenant-a", "req-1"));

  domain::TaskRecord v2 = MakeRecord("task-1", "tenant-a", "req-1");
  v2.task.set_version(2);
  v2.task.set_state(music::v1::TASK_STATE_RUNNING);
  v2.task.set_provider_task_id("p-1");
  v2.submission = domain::SubmissionState::kSubmitted;
  v2.attempts = 3;
  v2.next_action_time = kBase + absl::Seconds(10);
  v2.deadline = kBase + absl::Hours(1);
  ASSERT_TRUE(tasks()->Update(v2).ok());
  absl::StatusOr<domain::TaskRecord> got = tasks()->Get("task-1");
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameRecord(*got, v2);

  // A writer that read version 1 is stale now; so is one that skips a version.
  domain::TaskRecord stale = v2;
  stale.task.set_state(music::v1::TASK_STATE_FAILED);
  EXPECT_EQ(tasks()->Update(stale).code(), absl::StatusCode::kAborted);
  stale.task.set_version(4);
  EXPECT_EQ(tasks()->Update(stale).code(), absl::StatusCode::kAborted);
  got = tasks()->Get("task-1");
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameRecord(*got, v2);

  domain::TaskRecord missing = MakeRecord("task-9");
  missing.task.set_version(2);
  EXPECT_EQ(tasks()->Update(missing).code(), absl::StatusCode::kNotFound);

  domain::TaskRecord v1 = MakeRecord("task-1", "tenant-a", "req-1");
  EXPECT_EQ(tasks()->Update(v1).code(), absl::StatusCode::kInvalidArgument);

  // tenant and request_id are immutable.
  domain::TaskRecord moved = v2;
  moved.task.set_version(3);
  moved.task.set_tenant("tenant-b");
  EXPECT_EQ(tasks()->Update(moved).code(), absl::StatusCode::kInvalidArgument);
  moved.task.set_tenant("tenant-a");
  moved.task.set_request_id("req-2");
  EXPECT_EQ(tasks()->Update(moved).code(), absl::StatusCode::kInvalidArgument);

  domain::TaskRecord v3 = v2;
  v3.task.set_version(3);
  v3.task.set_state(music::v1::TASK_STATE_SUCCEEDED);
  ASSERT_TRUE(tasks()->Update(v3).ok());
  got = tasks()->Get("task-1");
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameRecord(*got, v3);
}

TEST_P(TaskStoreContractTest, ListPagesThroughEveryMatchNewestFirst) {
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
          absl::StatusOr<ListPage> page = tasks()->List(query);
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

  EXPECT_EQ(tasks()->List(Query("tenant-a", 0)).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<ListPage> none = tasks()->List(Query("tenant-z"));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->records.empty());
  EXPECT_FALSE(none->has_more);
}

TEST_P(TaskStoreContractTest, ListActiveSkipsTerminalTasksOldestFirst) {
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
  absl::StatusOr<std::vector<domain::TaskRecord>> active = tasks()->ListActive(100);
  ASSERT_TRUE(active.ok()) << active.status();
  EXPECT_EQ(ids(*active), (std::vector<std::string>{"task-1", "task-3", "task-5"}));

  active = tasks()->ListActive(2);
  ASSERT_TRUE(active.ok()) << active.status();
  EXPECT_EQ(ids(*active), (std::vector<std::string>{"task-1", "task-3"}));

  // A task that becomes terminal leaves the list.
  domain::TaskRecord done = MakeRecord("task-3", "tenant-b", "", kBase + absl::Seconds(3),
                                       music::v1::TASK_STATE_CANCELED);
  done.task.set_version(2);
  ASSERT_TRUE(tasks()->Update(done).ok());
  active = tasks()->ListActive(100);
  ASSERT_TRUE(active.ok()) << active.status();
  EXPECT_EQ(ids(*active), (std::vector<std::string>{"task-1", "task-5"}));

  EXPECT_EQ(tasks()->ListActive(0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(TaskStoreContractTest, ListArchivePendingHoldsSucceededTasksWithMediaToCopy) {
  auto with_clip = [](domain::TaskRecord r, bool archived) {
    music::v1::Clip* clip = r.task.add_clips();
    clip->set_clip_id("c-" + r.task.task_id());
    clip->set_audio_url("https://cdn.example/a.mp3");
    if (archived) clip->mutable_audio_archive()->set_key("k");
    return r;
  };
  const TaskState succeeded = music::v1::TASK_STATE_SUCCEEDED;
  // Created newest first: the list is oldest first whatever the insertion order.
  MustCreate(with_clip(MakeRecord("t4", "tenant-b", "", kBase + absl::Seconds(4), succeeded),
                       false));
  MustCreate(with_clip(MakeRecord("t3", "tenant-a", "", kBase + absl::Seconds(3), succeeded),
                       true));  // already archived
  MustCreate(MakeRecord("t2", "tenant-a", "", kBase + absl::Seconds(2), succeeded));  // no clips
  MustCreate(with_clip(MakeRecord("t1", "tenant-a", "", kBase + absl::Seconds(1),
                                  music::v1::TASK_STATE_FAILED),
                       false));
  MustCreate(with_clip(MakeRecord("t0", "tenant-a", "", kBase, succeeded), false));
  auto ids = [](const absl::StatusOr<std::vector<domain::TaskRecord>>& records) {
    std::vector<std::string> out;
    EXPECT_TRUE(records.ok()) << records.status();
    if (records.ok()) {
      for (const domain::TaskRecord& r : *records) out.push_back(r.task.task_id());
    }
    return out;
  };
  ArchivePendingQuery query;
  EXPECT_EQ(ids(tasks()->ListArchivePending(query)), (std::vector<std::string>{"t0", "t4"}));

  query.limit = 1;
  EXPECT_EQ(ids(tasks()->ListArchivePending(query)), (std::vector<std::string>{"t0"}));
  query.after = ListCursor{kBase, "t0"};
  EXPECT_EQ(ids(tasks()->ListArchivePending(query)), (std::vector<std::string>{"t4"}));
  query.after = ListCursor{kBase + absl::Seconds(4), "t4"};
  EXPECT_EQ(ids(tasks()->ListArchivePending(query)), (std::vector<std::string>{}));

  query = ArchivePendingQuery();
  query.created_after = kBase + absl::Seconds(1);
  EXPECT_EQ(ids(tasks()->ListArchivePending(query)), (std::vector<std::string>{"t4"}));

  // Archiving its media takes a task off the list.
  domain::TaskRecord t0 =
      with_clip(MakeRecord("t0", "tenant-a", "", kBase, succeeded), /*archived=*/true);
  t0.task.set_version(2);
  ASSERT_TRUE(tasks()->Update(t0).ok());
  EXPECT_EQ(ids(tasks()->ListArchivePending(ArchivePendingQuery())),
            (std::vector<std::string>{"t4"}));

  query.limit = 0;
  EXPECT_EQ(tasks()->ListArchivePending(query).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(TaskStoreContractTest, FindByClipIdFollowsUpdates) {
  domain::TaskRecord r = MakeRecord("task-1", "tenant-a");
  r.task.add_clips()->set_clip_id("clip-1");
  r.task.add_clips()->set_clip_id("clip-2");
  MustCreate(r);
  MustCreate(MakeRecord("task-2", "tenant-a"));

  for (const char* clip : {"clip-1", "clip-2"}) {
    absl::StatusOr<domain::TaskRecord> found = tasks()->FindByClipId("tenant-a", clip);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_EQ(found->task.task_id(), "task-1");
  }
  EXPECT_EQ(tasks()->FindByClipId("tenant-b", "clip-1").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(tasks()->FindByClipId("tenant-a", "clip-9").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(tasks()->FindByClipId("tenant-a", "").status().code(), absl::StatusCode::kNotFound);

  // The update replaces clip-1 by clip-3 (and repeats clip-2).
  r.task.set_version(2);
  r.task.clear_clips();
  r.task.add_clips()->set_clip_id("clip-2");
  r.task.add_clips()->set_clip_id("clip-3");
  r.task.add_clips()->set_clip_id("clip-2");
  ASSERT_TRUE(tasks()->Update(r).ok());
  EXPECT_EQ(tasks()->FindByClipId("tenant-a", "clip-1").status().code(),
            absl::StatusCode::kNotFound);
  for (const char* clip : {"clip-2", "clip-3"}) {
    absl::StatusOr<domain::TaskRecord> found = tasks()->FindByClipId("tenant-a", clip);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_EQ(found->task.task_id(), "task-1");
    EXPECT_EQ(found->task.version(), 2);
  }
  // A failed (stale) update leaves the index alone.
  domain::TaskRecord stale = r;
  stale.task.clear_clips();
  stale.task.add_clips()->set_clip_id("clip-4");
  EXPECT_EQ(tasks()->Update(stale).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(tasks()->FindByClipId("tenant-a", "clip-4").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(tasks()->FindByClipId("tenant-a", "clip-3").ok());
}

TEST_P(TaskStoreContractTest, FindByProviderTaskId) {
  domain::TaskRecord r = MakeRecord("task-1");
  r.task.set_provider_task_id("p-1");
  MustCreate(r);
  domain::TaskRecord unsubmitted = MakeRecord("task-2");  // provider "kie", no provider task id
  MustCreate(unsubmitted);

  absl::StatusOr<domain::TaskRecord> found = tasks()->FindByProviderTaskId("kie", "p-1");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->task.task_id(), "task-1");
  EXPECT_EQ(tasks()->FindByProviderTaskId("other", "p-1").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(tasks()->FindByProviderTaskId("kie", "p-2").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(tasks()->FindByProviderTaskId("kie", "").status().code(), absl::StatusCode::kNotFound);

  unsubmitted.task.set_version(2);
  unsubmitted.task.set_provider_task_id("p-2");
  ASSERT_TRUE(tasks()->Update(unsubmitted).ok());
  found = tasks()->FindByProviderTaskId("kie", "p-2");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->task.task_id(), "task-2");
}

TEST_P(TaskStoreContractTest, TraceparentRoundTripsThroughEveryRead) {
  domain::TaskRecord r = MakeRecord("task-1", "tenant-a", "req-1");
  r.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  MustCreate(r);
  MustCreate(MakeRecord("task-2", "tenant-a", "req-2"));  // none: stays ""
  EXPECT_EQ(tasks()->Get("task-1")->traceparent, r.traceparent);
  EXPECT_EQ(tasks()->Get("task-2")->traceparent, "");
  // A later write keeps it (the engine copies the record it read).
  domain::TaskRecord next = *tasks()->Get("task-1");
  next.task.set_version(2);
  next.task.set_state(music::v1::TASK_STATE_RUNNING);
  next.task.set_provider_task_id("p-1");
  ASSERT_TRUE(tasks()->Update(next).ok());
  EXPECT_EQ(tasks()->Get("task-1")->traceparent, r.traceparent);
  EXPECT_EQ(tasks()->FindByProviderTaskId("kie", "p-1")->traceparent, r.traceparent);
  absl::StatusOr<std::vector<domain::TaskRecord>> active = tasks()->ListActive(10);
  ASSERT_TRUE(active.ok()) << active.status();
  ASSERT_EQ(active->size(), 2u);
  for (const domain::TaskRecord& a : *active) {
    EXPECT_EQ(a.traceparent, a.task.task_id() == "task-1" ? r.traceparent : "");
  }
}

TEST_P(TaskStoreContractTest, ReopenKeepsData) {
  domain::TaskRecord r = MakeRecord("task-1", "tenant-a", "req-1");
  r.task.add_clips()->set_clip_id("clip-1");
  r.deadline = absl::InfiniteFuture();
  r.poll_url = "https://api.tokenlab.test/v1/tasks/ldtask_1";
  r.reference_artifact_id = "art_1";
  r.provider_endpoint = "/v1/music/generations";
  r.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  MustCreate(r);
  for (int i = 0; i < 2; ++i) {
    stores_ = Stores();
    absl::StatusOr<Stores> reopened = backend_->Open();
    ASSERT_TRUE(reopened.ok()) << reopened.status();
    stores_ = *std::move(reopened);
  }
  absl::StatusOr<domain::TaskRecord> got = tasks()->Get("task-1");
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameRecord(*got, r);
  EXPECT_TRUE(tasks()->FindByClipId("tenant-a", "clip-1").ok());
  // The request id still deduplicates.
  absl::StatusOr<CreateResult> again = tasks()->Create(MakeRecord("task-2", "tenant-a", "req-1"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->created);
}

// ---------------------------------------------------------------------------------------------
// Concurrency

TEST_P(TaskStoreConcurrencyContractTest, ConcurrentCreatesWithOneRequestIdYieldOneTask) {
  constexpr int kThreads = 16;
  std::vector<Stores> own = OwnStores(kThreads);
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
  absl::StatusOr<ListPage> page = tasks()->List(Query("t", 100));
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->records.size(), 1u);
  EXPECT_EQ(page->records[0].task.task_id(), *task_ids.begin());
}

TEST_P(TaskStoreConcurrencyContractTest, ConcurrentUpdatersFromOneVersionExactlyOneWins) {
  constexpr int kThreads = 8;
  MustCreate(MakeRecord("task-1"));
  std::vector<Stores> own = OwnStores(kThreads);
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
  absl::StatusOr<domain::TaskRecord> got = tasks()->Get("task-1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->task.version(), 2);
  EXPECT_EQ(got->task.progress().provider_status(), absl::StrCat("writer-", winner));
}

// ---------------------------------------------------------------------------------------------
// BillingStore

TEST_P(BillingStoreContractTest, CreateWritesTheReservationWithTheTask) {
  NewPricedTask(*tasks(), "task-1", kBase);
  BillingListQuery q;
  q.tenant = "tenant-a";
  auto page = billing()->ListBillingTransactions(q);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->transactions.size(), 1u);
  const BillingTransaction& t = page->transactions[0];
  EXPECT_EQ(t.billing_transaction_id, "btx_task-1_RESERVE");
  EXPECT_EQ(t.kind, TransactionKind::kReserve);
  EXPECT_EQ(t.amount_micros, 12'000'000);
  EXPECT_EQ(t.provider_model, "V4_5");
  EXPECT_EQ(t.time, kBase);
  EXPECT_EQ(tasks()->Get("task-1")->task.billing().reserved_micros(), 12'000'000);
  EXPECT_EQ(tasks()->Get("task-1")->task.billing().currency(), "CREDITS");
}

TEST_P(BillingStoreContractTest, RequestIdReplayAddsNoReservation) {
  domain::TaskRecord r;
  r.task.set_task_id("task-1");
  r.task.set_tenant("tenant-a");
  r.task.set_request_id("req-1");
  r.task.set_version(1);
  BillingTransaction reserve = billing::Reserve(nullptr, r, kBase);
  ASSERT_TRUE(tasks()->Create(r, absl::MakeConstSpan(&reserve, 1))->created);
  domain::TaskRecord replay = r;
  replay.task.set_task_id("task-2");
  BillingTransaction reserve2 = billing::Reserve(nullptr, replay, kBase);
  auto result = tasks()->Create(replay, absl::MakeConstSpan(&reserve2, 1));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->created);
  BillingListQuery q;
  q.tenant = "tenant-a";
  ASSERT_EQ(billing()->ListBillingTransactions(q)->transactions.size(), 1u);
  EXPECT_EQ(billing()->ListBillingTransactions(q)->transactions[0].task_id, "task-1");
}

TEST_P(BillingStoreContractTest, RejectedVersionWritesNoLedgerRow) {
  domain::TaskRecord r = NewPricedTask(*tasks(), "task-1", kBase);
  domain::TaskRecord stale = r;
  ASSERT_TRUE(
      FinishTask(*tasks(), r, music::v1::TASK_STATE_SUCCEEDED, kBase + absl::Seconds(5)).ok());
  // A second writer from the same version: its failure and refund must not land.
  absl::Status lost =
      FinishTask(*tasks(), stale, music::v1::TASK_STATE_FAILED, kBase + absl::Seconds(6));
  EXPECT_EQ(lost.code(), absl::StatusCode::kAborted) << lost;
  BillingListQuery q;
  q.tenant = "tenant-a";
  auto page = billing()->ListBillingTransactions(q);
  ASSERT_EQ(page->transactions.size(), 2u);  // RESERVE + SETTLE
  EXPECT_EQ(page->transactions[0].kind, TransactionKind::kSettle);
  auto check = billing()->CheckLedger();
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->empty());
}

TEST_P(BillingStoreContractTest, ListIsNewestFirstPaginatedAndRanged) {
  for (int i = 0; i < 7; ++i)
    NewPricedTask(*tasks(), absl::StrCat("task-", i), kBase + absl::Seconds(i));
  BillingListQuery q;
  q.tenant = "tenant-a";
  q.page_size = 3;
  std::vector<std::string> seen;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = billing()->ListBillingTransactions(q);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& t : page->transactions) seen.push_back(t.task_id);
    if (!page->has_more) break;
    q.after = BillingCursor{page->transactions.back().time,
                            page->transactions.back().billing_transaction_id};
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"task-6", "task-5", "task-4", "task-3", "task-2",
                                            "task-1", "task-0"}));
  q.after.reset();
  q.page_size = 50;
  q.range = {kBase + absl::Seconds(2), kBase + absl::Seconds(4)};
  auto ranged = billing()->ListBillingTransactions(q);
  ASSERT_EQ(ranged->transactions.size(), 2u);
  EXPECT_EQ(ranged->transactions[0].task_id, "task-3");
  q.tenant = "tenant-b";
  EXPECT_TRUE(billing()->ListBillingTransactions(q)->transactions.empty());
  q.page_size = 0;
  EXPECT_EQ(billing()->ListBillingTransactions(q).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(BillingStoreContractTest, ReconciliationListingKeepsWholeTasks) {
  domain::TaskRecord a = NewPricedTask(*tasks(), "task-a", kBase);
  ASSERT_TRUE(
      FinishTask(*tasks(), a, music::v1::TASK_STATE_SUCCEEDED, kBase + absl::Hours(2)).ok());
  NewPricedTask(*tasks(), "task-b", kBase + absl::Hours(5));
  // The range holds only task-a's RESERVE; its SETTLE (later) comes along.
  auto rows =
      billing()->ListBillingTransactionsForReconciliation({kBase, kBase + absl::Hours(1)}, {});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].kind, TransactionKind::kReserve);
  EXPECT_EQ((*rows)[1].kind, TransactionKind::kSettle);
  std::vector<std::string> other = {"piapi"};
  EXPECT_TRUE(billing()->ListBillingTransactionsForReconciliation({}, other)->empty());
}

TEST_P(BillingStoreContractTest, UsageImportIsIdempotent) {
  std::vector<billing::UsageRecord> records = {Usage("u1", kBase, 1), Usage("u2", kBase, 2)};
  auto first = billing()->InsertUsageRecords(records);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->inserted, 2);
  EXPECT_EQ(first->duplicates, 0);
  records.push_back(Usage("u3", kBase + absl::Seconds(1), 3));
  auto second = billing()->InsertUsageRecords(records);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->inserted, 1);
  EXPECT_EQ(second->duplicates, 2);
  auto all = billing()->ListUsageRecords({}, {});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[2].usage_record_id, "u3");
  EXPECT_EQ((*all)[2].amount_micros, 3);
  EXPECT_EQ((*all)[2].time, kBase + absl::Seconds(1));
  EXPECT_EQ(
      billing()->ListUsageRecords({kBase + absl::Seconds(1), absl::InfiniteFuture()}, {})->size(),
      1u);
  // All or nothing: a bad record adds nothing.
  std::vector<billing::UsageRecord> bad = {Usage("u4", kBase, 4), Usage("", kBase, 5)};
  EXPECT_EQ(billing()->InsertUsageRecords(bad).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(billing()->ListUsageRecords({}, {})->size(), 3u);
}

TEST_P(BillingStoreContractTest, ReconciliationRunsRoundTripAndPage) {
  for (int i = 0; i < 3; ++i) {
    ReconciliationRun run;
    run.run_id = absl::StrCat("run-", i);
    run.create_time = kBase + absl::Seconds(i);
    run.range = {kBase, kBase + absl::Hours(24)};
    run.providers = {"kie", "piapi"};
    run.tolerance_micros = 5;
    run.tasks = 10 + i;
    run.discrepancies = i;
    run.outcome_tasks = {{"MATCHED", 10}, {"AMOUNT_MISMATCH", i}};
    run.difference_usd_micros = -7;
    run.summary = "summary";
    run.report_json = "{\"x\":1}";
    ASSERT_TRUE(billing()->SaveReconciliationRun(run).ok());
  }
  ReconciliationRun dup;
  dup.run_id = "run-0";
  EXPECT_EQ(billing()->SaveReconciliationRun(dup).code(), absl::StatusCode::kAlreadyExists);
  auto got = billing()->GetReconciliationRun("run-1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->providers, (std::vector<std::string>{"kie", "piapi"}));
  EXPECT_EQ(got->outcome_tasks.size(), 2u);
  EXPECT_EQ(got->outcome_tasks[1].second, 1);
  EXPECT_EQ(got->report_json, "{\"x\":1}");
  EXPECT_EQ(got->range.end, kBase + absl::Hours(24));
  EXPECT_EQ(billing()->GetReconciliationRun("nope").status().code(), absl::StatusCode::kNotFound);
  auto page = billing()->ListReconciliationRuns(2, std::nullopt);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->runs.size(), 2u);
  EXPECT_TRUE(page->has_more);
  EXPECT_EQ(page->runs[0].run_id, "run-2");
  auto rest = billing()->ListReconciliationRuns(
      2, BillingCursor{page->runs[1].create_time, page->runs[1].run_id});
  ASSERT_EQ(rest->runs.size(), 1u);
  EXPECT_EQ(rest->runs[0].run_id, "run-0");
  EXPECT_FALSE(rest->has_more);
}

// A ledger row of task `task_id` as a writer outside the engine's rules could append it.
BillingTransaction Row(const std::string& id, const std::string& task_id, TransactionKind kind,
                       int64_t amount) {
  BillingTransaction t;
  t.billing_transaction_id = id;
  t.tenant = "tenant-a";
  t.task_id = task_id;
  t.provider = "kie";
  t.model = "m";
  t.provider_model = "V4_5";
  t.kind = kind;
  t.amount_micros = amount;
  t.currency = billing::Currency::kCredits;
  t.time = kBase;
  return t;
}

TEST_P(BillingStoreContractTest, ATakenTransactionIdRollsBackTheTaskChange) {
  domain::TaskRecord r = NewPricedTask(*tasks(), "task-1", kBase);
  // A REFUND row already there (appended by an earlier, non-terminal write): the terminal write
  // with the same id must fail and leave the task as it was.
  domain::TaskRecord copy = r;
  copy.task.set_state(music::v1::TASK_STATE_FAILED);
  std::vector<BillingTransaction> refund = billing::Finish(copy, kBase);
  ASSERT_EQ(refund.size(), 1u);
  r.task.set_version(2);
  ASSERT_TRUE(tasks()->Update(r, refund).ok());
  absl::Status s = FinishTask(*tasks(), r, music::v1::TASK_STATE_FAILED, kBase);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  auto stored = tasks()->Get("task-1");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->task.state(), music::v1::TASK_STATE_PENDING);
  EXPECT_EQ(stored->task.version(), 2);

  // A Create whose row id is taken stores no task.
  domain::TaskRecord other = MakeRecord("task-2");
  BillingTransaction reserve = billing::Reserve(nullptr, other, kBase);
  reserve.billing_transaction_id = "btx_task-1_RESERVE";
  EXPECT_EQ(tasks()->Create(other, absl::MakeConstSpan(&reserve, 1)).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(tasks()->Get("task-2").status().code(), absl::StatusCode::kNotFound);
  BillingListQuery q;
  q.tenant = "tenant-a";
  EXPECT_EQ(billing()->ListBillingTransactions(q)->transactions.size(), 2u);  // RESERVE, REFUND
}

TEST_P(BillingStoreContractTest, CheckLedgerReportsRowsThatBreakTheRules) {
  domain::TaskRecord ok = NewPricedTask(*tasks(), "ok", kBase);
  ASSERT_TRUE(FinishTask(*tasks(), ok, music::v1::TASK_STATE_SUCCEEDED, kBase).ok());
  domain::TaskRecord dup = NewPricedTask(*tasks(), "dup", kBase);
  ASSERT_TRUE(FinishTask(*tasks(), dup, music::v1::TASK_STATE_SUCCEEDED, kBase).ok());
  domain::TaskRecord failed = NewPricedTask(*tasks(), "failed", kBase);
  ASSERT_TRUE(FinishTask(*tasks(), failed, music::v1::TASK_STATE_FAILED, kBase).ok());
  domain::TaskRecord unfinished = NewPricedTask(*tasks(), "unfinished", kBase);
  // A task stored before the ledger existed: no Task.billing, no rows. Never flagged.
  MustCreate(MakeRecord("legacy", "tenant-a", "", kBase, music::v1::TASK_STATE_SUCCEEDED));
  auto clean = billing()->CheckLedger();
  ASSERT_TRUE(clean.ok()) << clean.status();
  EXPECT_TRUE(clean->empty());

  // Rows the engine never writes, appended through the interface.
  auto append = [&](domain::TaskRecord& r, const BillingTransaction& row) {
    r.task.set_version(r.task.version() + 1);
    return tasks()->Update(r, absl::MakeConstSpan(&row, 1));
  };
  ASSERT_TRUE(append(dup, Row("x1", "dup", TransactionKind::kSettle, 12'000'000)).ok());
  ASSERT_TRUE(append(failed, Row("x2", "failed", TransactionKind::kSettle, 0)).ok());
  ASSERT_TRUE(append(ok, Row("x3", "ghost", TransactionKind::kReserve, 1)).ok());
  // "unfinished" ends FAILED without its REFUND.
  unfinished.task.set_state(music::v1::TASK_STATE_FAILED);
  unfinished.task.set_version(2);
  ASSERT_TRUE(tasks()->Update(unfinished).ok());
  // "copy": a priced task (Task.billing set) stored without its RESERVE.
  domain::TaskRecord copy = unfinished;
  copy.task.set_task_id("copy");
  copy.task.set_state(music::v1::TASK_STATE_PENDING);
  copy.task.set_version(1);
  MustCreate(copy);

  auto found = billing()->CheckLedger();
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(KindsFor(*found, "ok"), std::vector<std::string>{});
  EXPECT_EQ(KindsFor(*found, "legacy"), std::vector<std::string>{});
  EXPECT_EQ(KindsFor(*found, "dup"),
            (std::vector<std::string>{"DUPLICATE_SETTLE", "UNBALANCED", "BILLING_MISMATCH"}));
  EXPECT_EQ(KindsFor(*found, "failed"), std::vector<std::string>{"SETTLED_NOT_SUCCEEDED"});
  EXPECT_EQ(KindsFor(*found, "ghost"), std::vector<std::string>{"ORPHAN"});
  EXPECT_EQ(KindsFor(*found, "unfinished"), (std::vector<std::string>{"UNFINISHED", "UNBALANCED"}));
  EXPECT_EQ(KindsFor(*found, "copy"),
            (std::vector<std::string>{"MISSING_RESERVE", "BILLING_MISMATCH"}));
  // Sorted by task id.
  EXPECT_TRUE(std::is_sorted(
      found->begin(), found->end(),
      [](const LedgerViolation& a, const LedgerViolation& b) { return a.task_id < b.task_id; }));
}

}  // namespace
}  // namespace music::persistence::store_test
