// `uma bench`'s command line and what it expands into: the points (every --depth x --pp x --tg,
// each decoding every --batch size) and the model loads (every --threads x --kv-type x
// --attn-bf16), checked before anything runs (bench.cpp runs them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/generate.h"
#include "kernels/ops.h"
#include "model/model.h"

namespace uma::cli::bench_plan {

struct bench_cli {
  std::string model;
  std::string preset = "qwen3-0.6b";
  std::string type = "q4_0";
  // Lists (comma-separated on the command line): every combination is run (bench_point).
  std::vector<int> pp = {512};
  std::vector<int> tg = {128};
  std::vector<int> depth = {0};
  std::vector<int> batch = {1};
  int ubatch = static_cast<int>(uma::engine::prefill_chunk);
  int64_t attn_part_keys = uma::model::default_attn_part_keys;
  int reps = 3;
  std::vector<int> threads = {0};  // a load-time list too (0: one per physical core)
  int bw_mib = 1024;
  bool json = false;
  bool no_probe = false;
  bool timeline = false;
  std::string repack;  // --repack's value, "" when not given
  // Load-time lists (the model is loaded once per combination, KV type outermost):
  std::vector<std::string> kv_type = {"f16"};  // --kv-type
  std::string attn_bf16 = "0";  // --attn-bf16's value: "1" given alone, or a list of 0 / 1
  bool reread = false;
};

constexpr int max_batch = 256;

// One combination of the list options: a prefill test of pp tokens and a decode test of tg, each
// after `depth` cached tokens, then batched decode for each --batch value over 1.
struct bench_point {
  int pp, tg, depth;
};
// The most runs (loads x points x batch sizes) one bench takes.
constexpr size_t max_points = 256;

// One load of the model: the load-time options the lists vary.
struct bench_load {
  int threads;
  uma::kernels::kv_format kv;
  bool attn_bf16;
};

// --attn-bf16's list as values, or false and a message in *err.
bool parse_on_off_list(const std::string& s, std::vector<bool>* out, std::string* err);

// What a bench runs, from its command line.
struct plan {
  std::vector<bench_point> points;
  std::vector<bench_load> loads;
  int threads = 0;  // the most of the loads' (the start-up probes')
  int max_pp = 0, max_tg = 0, max_depth = 0, max_seqs = 0;
};
// 0 and *out, or a bad value's exit code (its message printed).
int make_plan(const bench_cli& c, plan* out);

}  // namespace uma::cli::bench_plan
