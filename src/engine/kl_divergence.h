// Comparing a model run's next-token distributions with a saved one, as llama.cpp's
// `llama-perplexity --kl-divergence-base / --kl-divergence`: `uma perplexity --kl-save FILE`
// writes the log-probabilities of every scored position (engine::perplexity's rows), and
// `--kl-base FILE` on another run (another quantization, --kv-type q8_0, --attn-bf16, ...) over
// the same text and window length reports KL(base || this run) per position and how often the two
// agree on the most likely token.
//
// File: the 8 bytes "UMAKL01\0", then u32 n_vocab, u32 reserved (0), u64 ctx, u64 rows, u64 a hash
// of the scored token stream (kl_tokens_hash), then rows x n_vocab float32 log-probabilities, all
// little-endian. A 151936-token vocabulary takes 0.6 MB a scored position.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "util/status.h"

namespace uma::engine {

struct kl_header {
  uint32_t n_vocab = 0;
  uint64_t ctx = 0;
  uint64_t rows = 0;
  uint64_t tokens_hash = 0;
};

// FNV-1a over the window length and the tokens that perplexity() reads (whole windows only).
uint64_t kl_tokens_hash(const std::vector<int32_t>& tokens, int64_t ctx);

// The bytes of a file with this header (the header and its rows).
double kl_file_bytes(const kl_header& h);

// Rows perplexity() scores for this many tokens and window length.
int64_t kl_scored_rows(int64_t n_tokens, int64_t ctx);

// log-softmax of n logits (double sums), into out.
void log_softmax_row(const float* logits, int64_t n, float* out);

class kl_writer {
 public:
  // Creates `path` and writes the header.
  static result<std::unique_ptr<kl_writer>> create(const std::string& path, const kl_header& h);
  // One scored position's logits (stored as log-probabilities).
  status write_row(const float* logits);
  // Checks that every promised row was written and closes the file.
  status finish();
  ~kl_writer();

 private:
  std::FILE* f_ = nullptr;
  std::string path_;
  kl_header h_;
  uint64_t written_ = 0;
  std::vector<float> row_;
};

// Per-position KL(base || run) and top-1 agreement, accumulated row by row.
struct kl_summary {
  int64_t rows = 0;
  double kl_mean = 0, kl_median = 0, kl_p99 = 0, kl_max = 0;
  double top1_agree = 0;  // fraction of positions whose most likely token is the same
};

class kl_reader {
 public:
  // Opens `path` and checks it against the run it is compared with: the file's size before any
  // row is read, then vocabulary, window length, row count and the token stream's hash.
  static result<std::unique_ptr<kl_reader>> open(const std::string& path, const kl_header& want);
  // Compares the next saved row with this run's logits for the same position.
  status compare_row(const float* logits);
  // The statistics over the rows compared so far.
  kl_summary summary() const;
  ~kl_reader();

 private:
  std::FILE* f_ = nullptr;
  std::string path_;
  kl_header h_;
  std::vector<float> base_, cur_;
  std::vector<double> kl_;
  int64_t agree_ = 0;
};

}  // namespace uma::engine
