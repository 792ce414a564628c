// Implementation of tests/test_util.h.
#include "test_util.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace uma::test {
namespace fs = std::filesystem;

std::string shared_dir() {
  if (const char* s = std::getenv("UMA_SHARED")) return s;
  return UMA_SHARED_DIR;
}
std::string shared_data(const std::string& rel) {
  return shared_dir() + "/data/" + rel;
}
std::string source_dir() {
  return UMA_SOURCE_DIR;
}
std::string uma_binary() {
  if (const char* s = std::getenv("UMA_BINARY")) return s;
  return UMA_BINARY;
}

namespace {
struct temp_root {
  fs::path path;
  temp_root() {
    std::string tmpl = (fs::temp_directory_path() / "uma-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~temp_root() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};
}  // namespace

std::string temp_dir() {
  static temp_root root;
  static int counter = 0;
  fs::path p = root.path / std::to_string(counter++);
  fs::create_directories(p);
  return p.string();
}

static std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

run_result run_uma(const std::vector<std::string>& args, const std::string& stdin_text) {
  std::string dir = temp_dir();
  std::string out_path = dir + "/out", err_path = dir + "/err", in_path = dir + "/in";
  {
    std::ofstream in(in_path, std::ios::binary);
    in << stdin_text;
  }
  pid_t pid = fork();
  if (pid == 0) {
    int in = open(in_path.c_str(), O_RDONLY);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<std::string> full = {uma_binary()};
    full.insert(full.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : full) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  run_result r;
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  return r;
}

}  // namespace uma::test
