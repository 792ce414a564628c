// Shared helpers for tests: fixture paths, temporary directories, running the uma binary.
#pragma once

#include <string>
#include <vector>

namespace uma::test {

// ../shared (or $UMA_SHARED if set).
std::string shared_dir();
// shared_dir() + "/data/" + rel
std::string shared_data(const std::string& rel);
// The repository root.
std::string source_dir();
// Path of the built uma binary.
std::string uma_binary();
// A fresh empty directory under the build tree's temp area, removed at process exit.
std::string temp_dir();

struct run_result {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs the uma binary with args (no shell), capturing stdout and stderr.
run_result run_uma(const std::vector<std::string>& args, const std::string& stdin_text = "");

}  // namespace uma::test
