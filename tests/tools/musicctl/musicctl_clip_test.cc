// musicctl's clip-operation commands against the real server (SQLite, the kie adapter) and the
// provider emulator: runs the built binary and checks its output, its files and its exit codes.
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_fixture.h"
#include "tools/musicctl/clip_commands.h"
#include "tools/musicctl/options.h"

namespace music::e2e {
namespace {

using ::testing::HasSubstr;

struct CliRun {
  int exit_code = -1;
  std::string out;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class MusicctlClipTest : public E2eTest {
 protected:
  // Runs musicctl with `args` against the server; stdout (stderr folded in) and the exit code.
  CliRun Musicctl(const std::string& args) {
    const std::string command = std::string(MUSICCTL_PATH) + " " + args +
                                " --server 127.0.0.1:" + std::to_string(server_->port()) + " 2>&1";
    CliRun run;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return run;
    char buffer[4096];
    size_t n = 0;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) run.out.append(buffer, n);
    const int status = pclose(pipe);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
  }

  std::string SourceClip(const std::string& lyrics) {
    music::v1::CreateMusicRequest req;
    req.set_lyrics(lyrics);
    req.set_style("folk");
    req.set_title("Morning");
    music::v1::CreateMusicResponse resp;
    grpc::ClientContext ctx;
    EXPECT_TRUE(stub_->CreateMusic(&ctx, req, &resp).ok());
    const music::v1::Task done = WaitDone(resp.task().task_id());
    EXPECT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED);
    return done.clips_size() > 0 ? done.clips(0).clip_id() : "";
  }
};

TEST_F(MusicctlClipTest, StemsWatchesWithProgressAndDownloadsEachStemAsAWav) {
  const std::string clip = SourceClip("[Verse]\nhello bright morning");
  const std::string dir = dir_.path();
  const CliRun run = Musicctl("stems " + clip + " --out " + dir);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_THAT(run.out, HasSubstr("SEPARATE_VOCALS of clip " + clip));
  EXPECT_THAT(run.out, HasSubstr("SUCCEEDED"));  // the watch's progress lines end there
  for (const char* stem : {"vocals", "instrumental"}) {
    const std::string path = dir + "/" + clip + "-" + stem + ".wav";
    EXPECT_THAT(run.out, HasSubstr("to " + path));
    EXPECT_EQ(ReadAll(path).substr(0, 4), "RIFF") << path;
  }
}

TEST_F(MusicctlClipTest, LyricsTimingWritesAnLrcFile) {
  const std::string clip = SourceClip("[Verse]\nhello bright morning\nsing along");
  const std::string lrc = dir_.File("song.lrc");
  const CliRun run = Musicctl("lyrics-timing " + clip + " --lrc " + lrc);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  // Half a second per word from 1 s (the emulator's timing); the marker line is left out.
  EXPECT_EQ(ReadAll(lrc), "[00:01.50]hello bright morning\n[00:03.00]sing along\n");
}

TEST_F(MusicctlClipTest, WavVideoBoostAndBalance) {
  const std::string clip = SourceClip("hello");
  const std::string wav = dir_.File("master.wav");
  CliRun run = Musicctl("wav " + clip + " --out " + wav);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_EQ(ReadAll(wav).substr(0, 4), "RIFF");

  run = Musicctl("video " + clip + " --author Band --domain band.example");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_THAT(run.out, HasSubstr("/videos/"));

  run = Musicctl("boost-style 'calm piano'");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_THAT(run.out, HasSubstr("calm piano,"));

  run = Musicctl("balance kie");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_THAT(run.out, HasSubstr("kie: 4999.000000 CREDITS"));  // 5000, less the boost

  run = Musicctl("wav");
  EXPECT_EQ(run.exit_code, musicctl::kExitUsage) << run.out;
}

TEST(FormatLrcTest, LinesAreTimedAtTheirFirstWord) {
  music::v1::GetTimestampedLyricsResponse lyrics;
  auto add = [&](const std::string& word, double start) {
    auto* w = lyrics.add_aligned_words();
    w->set_word(word);
    w->set_start_seconds(start);
    w->set_end_seconds(start + 0.3);
  };
  add("[Chorus]\n", 0);
  add("la", 61.256);
  add("la\n", 61.9);
  add("\nend", 125);
  EXPECT_EQ(musicctl::FormatLrc(lyrics), "[01:01.26]la la\n[02:05.00]end\n");
  EXPECT_EQ(musicctl::FormatLrc(music::v1::GetTimestampedLyricsResponse()), "");
}

}  // namespace
}  // namespace music::e2e
