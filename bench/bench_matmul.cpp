// Microbenchmarks of kernels::matmul per weight format and backend (Google Benchmark):
//   matvec (decode): weights >> L3 (768 MiB, on 2 MiB pages where the system has them), reported
//   as GB/s of weights and as a fraction of this machine's measured read bandwidth (bw_ratio);
//   gemm (prefill, n = 64 activation rows): GOPS and fraction of the measured int8 peak.
//   decode_seq / prefill_seq: qwen3-0.6b's matmul sequence from DRAM, one activation row (GB/s and
//   bw_ratio) or UMA_BENCH_PREFILL_N rows (default 512; GOPS and peak_ratio);
//   gemm64: UMA_BENCH_GEMM_N sets its activation rows (default 64).
//   decode_seq_loads: decode_seq with a matvec that only reads the weights (kernel cost zero);
//   interleave/<isa>/<type>: prefill's on-the-fly x16 copy of a 32-row block in L2 (GB/s);
//   "<type>_x16" rows (q4_0, q5_0, q8_0, q4_k, q6_k): the same matrix in the interleaved x16 layout
//   (--repack), where the backend has kernels for it.
// Run: build/<dir>/bench_matmul [--benchmark_filter=q4_0]
// Environment: UMA_BENCH_SHAPE (the *_seq sequences' model: qwen3-0.6b, qwen2.5-0.5b,
// llama-3.2-1b), UMA_BENCH_MATVEC_MIB / UMA_BENCH_MATVEC_KIB (matvec matrix size; e.g. KIB=512
// keeps it in one core's L2), UMA_BENCH_MATVEC_COLS (row length), UMA_BENCH_THREADS (pool size,
// default all cores), UMA_BENCH_LAYERS (layers of the *_seq sequences), UMA_BENCH_WEIGHTS_FILE
// (decode_seq, prefill_seq: write the weights to this file and multiply from its read-only
// mapping, as a model's are), UMA_BENCH_EVICT (with it: drop the written file from the page cache
// so that the mapping reads it back, in 2 MiB pages where the file system has large folios).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "bench_common.h"
#include "kernels/backend.h"
#include "kernels/matmul.h"
#include "kernels/probe.h"
#include "tensor/half.h"
#include "util/cpu_features.h"
#include "util/env.h"
#include "util/mapped_file.h"
#include "util/pages.h"
#include "util/thread_pool.h"

namespace {

using namespace uma;
using namespace uma::kernels;

using bench::machine_bandwidth;
using bench::pool;

double machine_int8_peak() {
  static const double p = measure_int8_peak(&pool(), 0.2, 3).best;
  return p;
}

// Counters `rate` (amount per second), `ref_name` (the machine's figure `ref`) and `ratio_name`
// (the rate over ref): GB/s against the bandwidth, or GOPS against the int8 peak.
void rate_counters(benchmark::State& st, double amount, const char* rate, double ref,
                   const char* ref_name, const char* ratio_name) {
  const auto it = static_cast<double>(st.iterations());
  st.counters[rate] = benchmark::Counter(amount * it, benchmark::Counter::kIsRate);
  st.counters[ref_name] = ref;
  st.counters[ratio_name] = benchmark::Counter(amount * it / ref, benchmark::Counter::kIsRate);
}

// Random bytes with sane fp16 scales in every block (the values do not change the speed).
std::vector<uint8_t> make_weights(dtype t, int64_t rows, int64_t cols) {
  const auto& tr = traits(t);
  const size_t bytes = static_cast<size_t>(rows) * (cols / tr.block_elems) * tr.block_bytes;
  std::vector<uint8_t> w(bytes);
  std::mt19937 rng(1);
  for (auto& b : w) b = static_cast<uint8_t>(rng());
  if (t == dtype::f32 || t == dtype::f16 || t == dtype::bf16) {
    for (size_t i = 0; i + 4 <= bytes; i += 4) {
      const float v = 0.01f * static_cast<float>(static_cast<int>(rng() % 200) - 100);
      if (t == dtype::f32) std::memcpy(&w[i], &v, 4);
      const uint16_t h = t == dtype::f16 ? f32_to_f16(v) : f32_to_bf16(v);
      if (t != dtype::f32) std::memcpy(&w[i], &h, 2), std::memcpy(&w[i + 2], &h, 2);
    }
  }
  return w;
}

// The view to multiply: `w` as stored, or (x16) interleaved into `copy`.
matrix_view layout_view(const matrix_view& w, bool x16, std::vector<uint8_t>& copy) {
  if (!x16) return w;
  copy.resize(w.rows * w.row_bytes);
  interleave(w, copy.data(), &pool());
  matrix_view v = w;
  v.data = copy.data();
  v.layout = weight_layout::x16;
  return v;
}

void bm_matvec(benchmark::State& st, const matmul_backend* be, dtype t, bool x16) {
  // UMA_BENCH_MATVEC_COLS overrides the row length (e.g. 896 for qwen2.5-0.5b's rows, whose
  // last 16-block chunk is partial); rounded down to the format's block.
  const auto& tr = traits(t);
  const char* cols_env = std::getenv("UMA_BENCH_MATVEC_COLS");
  int64_t cols = cols_env != nullptr ? std::strtoll(cols_env, nullptr, 10) : 2048;
  cols = std::max<int64_t>(cols / tr.block_elems * tr.block_elems, tr.block_elems);
  const size_t row_bytes = cols / tr.block_elems * tr.block_bytes;
  // Weights must come from DRAM, not the last-level cache (300 MiB on some Xeons): 768 MiB by
  // default, UMA_BENCH_MATVEC_MIB (or _KIB, for a matrix that stays in L2) overrides.
  const char* env = std::getenv("UMA_BENCH_MATVEC_MIB");
  const char* kib_env = std::getenv("UMA_BENCH_MATVEC_KIB");
  size_t kib = (env != nullptr ? std::strtoull(env, nullptr, 10) : 768) << 10;
  if (kib_env != nullptr) kib = std::strtoull(kib_env, nullptr, 10);
  const int64_t rows = static_cast<int64_t>((std::max<size_t>(kib, 16) << 10) / row_bytes);
  const int64_t rows16 = rows / 16 * 16;
  auto w = make_weights(t, rows16, cols);
  std::vector<float> x(cols), y(rows16);
  for (int64_t i = 0; i < cols; ++i) x[i] = std::sin(0.1f * i);
  std::vector<uint8_t> copy;
  matrix_view mv = layout_view({t, w.data(), rows16, cols, row_bytes}, x16, copy);
  // The multiplied bytes moved to 2 MiB pages where the system has them, as a model's weights
  // once read back (`uma bench --reread`): from the vectors' 4 KiB pages one thread streamed Q4_0
  // from DRAM at 21-23.6 GB/s against 27-28.4 (1024 columns, Zen 4 VM, 2026-12-07, alternated).
  const size_t bytes = static_cast<size_t>(mv.rows) * mv.row_bytes;
  reserved_memory huge(bytes);
  std::memcpy(huge.data(), mv.data, bytes);
  mv.data = huge.data();
  std::vector<uint8_t>().swap(copy);
  std::vector<uint8_t>().swap(w);
  for (auto _ : st) {
    matmul_on(*be, mv, x.data(), 1, y.data(), &pool());
    benchmark::DoNotOptimize(y.data());
  }
  st.SetBytesProcessed(static_cast<int64_t>(static_cast<double>(bytes) * st.iterations()));
  rate_counters(st, static_cast<double>(bytes) * 1e-9, "GBps", machine_bandwidth(), "bw_GBps",
                "bw_ratio");
}

void bm_gemm(benchmark::State& st, const matmul_backend* be, dtype t, bool x16) {
  // UMA_BENCH_GEMM_N: activation rows (default 64; 2..16 is batched decode's range).
  const int64_t cols = 1024, rows = 2048,
                n = std::max<int64_t>(1, uma::env_count("UMA_BENCH_GEMM_N", 64, 4096));
  const auto& tr = traits(t);
  const size_t row_bytes = cols / tr.block_elems * tr.block_bytes;
  auto w = make_weights(t, rows, cols);
  std::vector<float> x(n * cols), y(n * rows);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i));
  std::vector<uint8_t> copy;
  const matrix_view mv = layout_view({t, w.data(), rows, cols, row_bytes}, x16, copy);
  for (auto _ : st) {
    matmul_on(*be, mv, x.data(), n, y.data(), &pool());
    benchmark::DoNotOptimize(y.data());
  }
  const double ops = 2.0 * rows * cols * n;
  rate_counters(st, ops * 1e-9, "GOPS", machine_int8_peak(), "peak_GOPS", "peak_ratio");
}

// A model's matmuls, each with its own weights, plus the vocab x hidden output matrix where
// `output`: UMA_BENCH_SHAPE qwen3-0.6b (the default: hidden 1024, Q 2048, K/V 1024, FFN 3072, 28
// layers; 298 MiB of Q4_0 without the output), qwen2.5-0.5b (896, 896, 128, 4864, 24 layers: rows
// of 28 Q4_0 blocks, the stream tiles) or llama-3.2-1b (2048, 2048, 512, 8192, 16 layers);
// UMA_BENCH_LAYERS overrides the layer count.
struct seq_shape {
  const char* name;
  int64_t e, q, kv, ff, vocab;
  int layers;
};
constexpr seq_shape kShapes[] = {{"qwen3-0.6b", 1024, 2048, 1024, 3072, 151936, 28},
                                 {"qwen2.5-0.5b", 896, 896, 128, 4864, 151936, 24},
                                 {"llama-3.2-1b", 2048, 2048, 512, 8192, 128256, 16}};

// The shape UMA_BENCH_SHAPE names (the first where it is unset), or null for an unknown name.
const seq_shape* chosen_shape() {
  const char* s = std::getenv("UMA_BENCH_SHAPE");
  if (s == nullptr) return &kShapes[0];
  for (const seq_shape& k : kShapes)
    if (std::string(s) == k.name) return &k;
  return nullptr;
}

struct layer_set {
  // Null, or what is wrong with UMA_BENCH_SHAPE.
  static const char* shape_error() {
    return chosen_shape() != nullptr ? nullptr
                                     : "UMA_BENCH_SHAPE: qwen3-0.6b, qwen2.5-0.5b or llama-3.2-1b";
  }
  int64_t e = 1024, q = 2048, kv = 1024, ff = 3072, vocab = 151936;
  struct mat {
    std::vector<uint8_t> bytes;
    matrix_view v;
  };
  std::vector<mat> mats;
  int layers = 28;
  std::unique_ptr<mapped_file> file;  // the weights' mapping, where they come from a file

  layer_set(dtype t, bool x16, bool output) {
    if (const seq_shape* k = chosen_shape()) {  // callers check shape_error() first
      e = k->e, q = k->q, kv = k->kv, ff = k->ff, vocab = k->vocab, layers = k->layers;
    }
    if (const char* env = std::getenv("UMA_BENCH_LAYERS"); env != nullptr)
      layers = std::max(1, std::atoi(env));
    const auto& tr = traits(t);
    auto add = [&](int64_t rows, int64_t cols) {
      const size_t row_bytes = static_cast<size_t>(cols / tr.block_elems * tr.block_bytes);
      mat m;
      m.bytes = make_weights(t, rows, cols);
      std::vector<uint8_t> copy;
      m.v = layout_view({t, m.bytes.data(), rows, cols, row_bytes}, x16, copy);
      if (x16) m.bytes.swap(copy);
      m.v.data = m.bytes.data();
      mats.push_back(std::move(m));
    };
    for (int l = 0; l < layers; ++l) {
      add(q, e), add(kv, e), add(kv, e), add(e, q), add(ff, e), add(ff, e), add(e, ff);
    }
    if (output) add(vocab, e);
  }

  // Moves the weights into `path` and multiplies from its read-only mapping from then on.
  void map_from(const char* path) {
    std::FILE* f = std::fopen(path, "wb");
    if (f == nullptr) throw std::runtime_error(std::string("cannot write ") + path);
    for (const mat& m : mats) std::fwrite(m.bytes.data(), 1, m.bytes.size(), f);
    std::fflush(f);
    fsync(fileno(f));
    if (std::getenv("UMA_BENCH_EVICT") != nullptr)
      posix_fadvise(fileno(f), 0, 0, POSIX_FADV_DONTNEED);
    std::fclose(f);
    auto mf = mapped_file::open(path);
    if (!mf.ok()) throw std::runtime_error(mf.message());
    file = std::make_unique<mapped_file>(std::move(mf).value());
    const auto* base = reinterpret_cast<const uint8_t*>(file->data());
    size_t off = 0;
    for (mat& m : mats) {
      m.v.data = base + off;
      off += m.bytes.size();
      std::vector<uint8_t>().swap(m.bytes);
    }
  }

  double bytes() const {
    double b = 0;
    for (const mat& m : mats) b += static_cast<double>(m.v.rows * m.v.row_bytes);
    return b;
  }

  // One pass as the model runs it (Q/K/V and gate/up through matmul_many) over n rows of x.
  void run(const matmul_backend& be, const float* x, int64_t n, float* y) const {
    float* yq = y;  // outputs side by side in y: n x (q + 2 kv + 2 ff) floats (n x vocab with the
                    // output matrix)
    float* yk = yq + n * q;
    float* yv = yk + n * kv;
    float* yg = yv + n * kv;
    float* yu = yg + n * ff;
    for (int l = 0; l < layers; ++l) {
      const mat* m = &mats[static_cast<size_t>(l) * 7];
      const matrix_view qkv[] = {m[0].v, m[1].v, m[2].v};
      float* const qkv_out[] = {yq, yk, yv};
      matmul_many_on(be, qkv, x, n, qkv_out, &pool());
      matmul_on(be, m[3].v, x, n, yk, &pool());
      const matrix_view gu[] = {m[4].v, m[5].v};
      float* const gu_out[] = {yg, yu};
      matmul_many_on(be, gu, x, n, gu_out, &pool());
      matmul_on(be, m[6].v, x, n, yk, &pool());
    }
    if (mats.size() > static_cast<size_t>(layers) * 7)
      matmul_on(be, mats.back().v, x, n, y, &pool());  // y holds n x vocab floats here
  }
};

// Decode's matmul sequence without the rest of the forward pass: the layer set with the output
// matrix, one activation vector. GB/s of weights over the whole sequence and its ratio to the
// measured bandwidth: what decode could reach if attention and the element-wise ops took no time.
// On a given backend, for bm_decode_sequence and bm_decode_sequence_loads.
void decode_sequence_on(benchmark::State& st, const matmul_backend& be, dtype t, bool x16) {
  if (const char* e = layer_set::shape_error()) {
    st.SkipWithError(e);
    return;
  }
  layer_set ls(t, x16, true);
  if (const char* path = std::getenv("UMA_BENCH_WEIGHTS_FILE"); path != nullptr) {
    try {
      ls.map_from(path);
    } catch (const std::exception& e) {
      st.SkipWithError(e.what());
      return;
    }
  }
  std::vector<float> x(static_cast<size_t>(ls.ff)), y(static_cast<size_t>(ls.vocab));
  for (int64_t i = 0; i < ls.ff; ++i) x[i] = std::sin(0.1f * i);
  const double bytes = ls.bytes();
  for (auto _ : st) {
    ls.run(be, x.data(), 1, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  rate_counters(st, bytes * 1e-9, "GBps", machine_bandwidth(), "bw_GBps", "bw_ratio");
  st.counters["tok_s"] =
      benchmark::Counter(static_cast<double>(st.iterations()), benchmark::Counter::kIsRate);
}

void bm_decode_sequence(benchmark::State& st, const matmul_backend* be, dtype t, bool x16) {
  decode_sequence_on(st, *be, t, x16);
}

// A stand-in matvec that only reads its weights (four independent 8-byte sums a step, which the
// compiler vectorises) and writes one float per output row: the kernels' arithmetic at zero cost.
void load_only_matvec(const gemm_args& g) {
  const auto* p = g.w;
  const size_t n = static_cast<size_t>(g.rows) * g.w_row_bytes;
  uint64_t s[4] = {};
  size_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int k = 0; k < 4; ++k) {
      uint64_t v;
      std::memcpy(&v, p + i + 8 * k, 8);
      s[k] += v;
    }
  for (; i < n; ++i) s[0] += p[i];
  const float f = static_cast<float>((s[0] ^ s[1] ^ s[2] ^ s[3]) & 1);
  for (int64_t c = 0; c < g.n; ++c)
    for (int64_t r = 0; r < g.rows; ++r) g.y[c * g.ldy + r] = f;
}

// decode_seq with load_only_matvec in place of the backend's matvec (the same pieces, hand-offs,
// activation conversion and layout): the rate the decode sequence's structure allows if the
// kernels cost nothing. Against decode_seq it tells whether the kernels or the memory access
// pattern hold decode back (docs/performance.md, 2026-12-03 19:41).
void bm_decode_sequence_loads(benchmark::State& st, const matmul_backend* found, dtype t,
                              bool x16) {
  matmul_backend be = *found;
  for (gemm_fn& f : be.matvec)
    if (f != nullptr) f = load_only_matvec;
  decode_sequence_on(st, be, t, x16);
}

// Prefill's matmul sequence without the rest of the forward pass: the layer set (no output
// matrix) over UMA_BENCH_PREFILL_N activation rows (default 512), weights from DRAM as in a
// model's prefill (rows-layout types with x16 kernels are interleaved on the fly). GOPS and the
// ratio to the int8 peak: what prefill could reach if attention and the element-wise ops took no
// time. With UMA_BENCH_WEIGHTS_FILE the weights come from that file's mapping (the page cache).
void bm_prefill_sequence(benchmark::State& st, const matmul_backend* be, dtype t, bool x16) {
  const char* n_env = std::getenv("UMA_BENCH_PREFILL_N");
  const int64_t n = n_env != nullptr ? std::max(1, std::atoi(n_env)) : 512;
  if (const char* e = layer_set::shape_error()) {
    st.SkipWithError(e);
    return;
  }
  layer_set ls(t, x16, false);
  if (const char* path = std::getenv("UMA_BENCH_WEIGHTS_FILE"); path != nullptr && !x16) {
    try {
      ls.map_from(path);
    } catch (const std::exception& e) {
      st.SkipWithError(e.what());
      return;
    }
  }
  std::vector<float> x(static_cast<size_t>(n * ls.ff));
  std::vector<float> y(static_cast<size_t>(n * (ls.q + 2 * ls.kv + 2 * ls.ff)));
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i));
  double ops = 0;
  for (const auto& m : ls.mats) ops += 2.0 * static_cast<double>(m.v.rows * m.v.cols * n);
  for (auto _ : st) {
    ls.run(*be, x.data(), n, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  rate_counters(st, ops * 1e-9, "GOPS", machine_int8_peak(), "peak_GOPS", "peak_ratio");
}

const dtype kTypes[] = {dtype::q4_0, dtype::q8_0, dtype::q4_k, dtype::q6_k, dtype::q5_k,
                        dtype::q3_k, dtype::q2_k, dtype::q4_1, dtype::q5_0, dtype::q5_1,
                        dtype::f16,  dtype::bf16, dtype::f32};

// Activation conversion for a weight type (one thread): 512 rows of 1024 floats, as a pp512
// prefill's hidden-size matmul input (2 MiB, L2/L3). Reports the float input read in GB/s.
void bm_convert(benchmark::State& st, const matmul_backend* be, dtype t, bool) {
  const act_format f = act_format_for(t);
  const act_convert_fn fn = be->convert[static_cast<size_t>(f)];
  if (fn == nullptr) {
    st.SkipWithError("no converter for this format on this backend");
    return;
  }
  const int64_t cols = 1024, n = 512;
  std::vector<float> x(static_cast<size_t>(n * cols));
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i));
  const size_t rb = act_row_bytes(f, cols);
  std::vector<uint8_t> out(rb * static_cast<size_t>(n));
  for (auto _ : st) {
    for (int64_t r = 0; r < n; ++r) fn(x.data() + r * cols, out.data() + r * rb, cols);
    benchmark::DoNotOptimize(out.data());
  }
  st.counters["GBps"] = benchmark::Counter(
      static_cast<double>(x.size() * 4) * 1e-9 * static_cast<double>(st.iterations()),
      benchmark::Counter::kIsRate);
}

// Prefill's on-the-fly copy of a rows-layout block into the x16 layout (one thread, as
// run_x16_prefill does per 32-row task), source and copy in L2: 32 rows of 3072 columns (FFN down's
// width). Reports the bytes copied in GB/s.
void bm_interleave(benchmark::State& st, copy_isa isa, dtype t) {
  const int64_t rows = 32, cols = 3072;
  const auto& tr = traits(t);
  const size_t row_bytes = static_cast<size_t>(cols / tr.block_elems * tr.block_bytes);
  const auto w = make_weights(t, rows, cols);
  std::vector<uint8_t> copy(w.size());
  const matrix_view v{t, w.data(), rows, cols, row_bytes};
  for (auto _ : st) {
    interleave(v, copy.data(), nullptr, true, isa);
    benchmark::DoNotOptimize(copy.data());
  }
  st.counters["GBps"] = benchmark::Counter(
      static_cast<double>(w.size()) * 1e-9 * static_cast<double>(st.iterations()),
      benchmark::Counter::kIsRate);
}

using bench_fn = void (*)(benchmark::State&, const matmul_backend*, dtype, bool);

// One benchmark "<kind>/<backend>/<type>[_x16]", in milliseconds of real time.
void add(const char* kind, bench_fn fn, const matmul_backend& be, dtype t, bool x16) {
  const std::string name =
      std::string(kind) + "/" + be.name + "/" + std::string(dtype_name(t)) + (x16 ? "_x16" : "");
  benchmark::RegisterBenchmark(name.c_str(), fn, &be, t, x16)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}

int register_all() {
  // The amx backend also with its int8 tiles instead of the bf16 ones ("amx-int8", from 16 rows);
  // amx-emulated (the tiles modelled in scalar code, for tests) is not measured.
  static matmul_backend amx_int8;
  std::vector<const matmul_backend*> backends;
  for (int b = 0; b < backend_count; ++b) {
    const auto id = static_cast<backend_id>(b);
    const auto* be = find_backend(id);
    if (be == nullptr || id == backend_id::amx_emulated) continue;
    backends.push_back(be);
    if (id == backend_id::amx && be->big_gemm_bf16_min_n > 0) {
      amx_int8 = *be;
      amx_int8.name = "amx-int8";
      amx_int8.big_gemm_bf16_min_n = 0;
      amx_int8.big_gemm_min_n = 16;
      backends.push_back(&amx_int8);
    }
  }
  const std::pair<copy_isa, const char*> isas[] = {
      {copy_isa::avx512, "avx512"}, {copy_isa::avx2, "avx2"}, {copy_isa::scalar, "scalar"}};
  for (const auto& [isa, isa_name] : isas) {
    if ((isa == copy_isa::avx512 && !cpu().avx512) || (isa == copy_isa::avx2 && !cpu().avx2))
      continue;
    for (dtype t : {dtype::q4_0, dtype::q4_1, dtype::q5_0, dtype::q5_1, dtype::q8_0, dtype::q2_k,
                    dtype::q3_k, dtype::q4_k, dtype::q5_k, dtype::q6_k})
      benchmark::RegisterBenchmark(
          ("interleave/" + std::string(isa_name) + "/" + std::string(dtype_name(t))).c_str(),
          bm_interleave, isa, t)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
  }
  for (const matmul_backend* be : backends) {
    for (dtype t : kTypes) {
      add("matvec", bm_matvec, *be, t, false);
      add("gemm64", bm_gemm, *be, t, false);
    }
    for (dtype t : {dtype::q4_0, dtype::q4_1, dtype::q4_k})
      add("convert", bm_convert, *be, t, false);
    for (dtype t : {dtype::q4_0, dtype::q8_0, dtype::q4_k, dtype::q6_k}) {
      add("decode_seq", bm_decode_sequence, *be, t, false);
      add("decode_seq_loads", bm_decode_sequence_loads, *be, t, false);
      add("prefill_seq", bm_prefill_sequence, *be, t, false);
    }
    // Every type with a native x16 kernel (Q2_K / Q3_K / Q5_K since 2026-12-07: a change to the
    // Q3_K copy's requests made its decode 2.5x slower, and no benchmark showed it; here it shows:
    // one thread from a 64 MiB matrix, q3_k_x16 18.5 GB/s against 8.7 with that change).
    for (dtype t : {dtype::q4_0, dtype::q5_0, dtype::q8_0, dtype::q2_k, dtype::q3_k, dtype::q4_k,
                    dtype::q5_k, dtype::q6_k}) {
      const auto ti = static_cast<size_t>(t);
      if (be->matvec_x16[ti] == nullptr || be->matvec_x16[ti] == scalar_backend().matvec_x16[ti])
        continue;  // no native kernel: the layout would only be slower
      add("matvec", bm_matvec, *be, t, true);
      add("gemm64", bm_gemm, *be, t, true);
      if (t != dtype::q4_0 && t != dtype::q8_0 && t != dtype::q4_k && t != dtype::q6_k) continue;
      add("decode_seq", bm_decode_sequence, *be, t, true);
      add("prefill_seq", bm_prefill_sequence, *be, t, true);
    }
  }
  return 0;
}
const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
