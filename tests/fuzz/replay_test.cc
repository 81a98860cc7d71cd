// Replays a fuzz target's checked-in inputs in the normal (GCC) build: every file of its seed
// corpus (corpus/<target>/) and of its regression inputs (regressions/<target>/, the inputs of
// crashes found and fixed) goes through the same LLVMFuzzerTestOneInput the fuzzer runs, so the
// ordinary ctest suite fails if a fixed crash comes back. A fuzz check or a crash aborts the test
// binary, which ctest reports as failed, naming the file last printed.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::filesystem::path> Inputs(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  if (!std::filesystem::is_directory(dir)) return files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  return files;
}

void Replay(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  ASSERT_TRUE(in) << file;
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::fprintf(stderr, "replaying %s (%zu bytes)\n", file.c_str(), bytes.size());
  EXPECT_EQ(LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
            0)
      << file;
}

TEST(FuzzReplayTest, EverySeedInput) {
  const std::vector<std::filesystem::path> seeds = Inputs(MUSIC_FUZZ_CORPUS_DIR);
  ASSERT_FALSE(seeds.empty()) << "no seed inputs in " << MUSIC_FUZZ_CORPUS_DIR;
  for (const auto& f : seeds) Replay(f);
}

TEST(FuzzReplayTest, EveryRegressionInput) {
  // Empty until a crash is found: each one found is kept here once fixed.
  for (const auto& f : Inputs(MUSIC_FUZZ_REGRESSION_DIR)) Replay(f);
}

}  // namespace
