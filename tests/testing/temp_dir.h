#ifndef MUSIC_TESTS_TESTING_TEMP_DIR_H_
#define MUSIC_TESTS_TESTING_TEMP_DIR_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace music {

/// A fresh directory under the test's temp dir (gtest's TempDir(), $TEST_TMPDIR when set), named
/// "<prefix>_XXXXXX", removed with its contents when the object goes. A failure to create it
/// fails the test and leaves path() empty.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "test") {
    std::string tmpl = ::testing::TempDir() + "/" + prefix + "_XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << tmpl << " failed";
      return;
    }
    path_ = tmpl;
  }
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ignored;  // best effort: a leftover temp dir fails nothing
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  /// The directory, without a trailing slash.
  const std::string& path() const { return path_; }
  /// `name` inside the directory.
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace music

#endif  // MUSIC_TESTS_TESTING_TEMP_DIR_H_
