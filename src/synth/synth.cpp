// synthesize(): metadata with llama.cpp's keys, tokenizer metadata, and tensors whose bytes are
// generated row by row (counter-based random numbers, quantized with the reference codecs) inside
// the GGUF writer's fill callbacks, in parallel over rows. At most one tensor is in memory at a
// time.
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "gguf/writer.h"
#include "synth/random.h"
#include "synth/synth.h"
#include "synth/tokenizer_meta.h"
#include "tensor/quant.h"
#include "util/thread_pool.h"

namespace uma::synth {
namespace {

// Llama 3 "llama3" RoPE: per frequency pair, the factor its rotation period is divided by, as
// written to rope_freqs.weight by llama.cpp's converter (wavelengths shorter than original/high
// are kept, longer than original/low are scaled by `factor`, in between interpolated smoothly).
void llama3_rope_factors(const preset& p, float* out) {
  const auto& s = p.rope_scaling;
  const double low_wavelen = double(s.original_context) / s.low_freq_factor;
  const double high_wavelen = double(s.original_context) / s.high_freq_factor;
  const int64_t n = p.head_dim / 2;
  for (int64_t i = 0; i < n; ++i) {
    const double freq = 1.0 / std::pow(p.rope_theta, double(2 * i) / double(p.head_dim));
    const double wavelen = 2.0 * M_PI / freq;
    double f;
    if (wavelen < high_wavelen) {
      f = 1.0;
    } else if (wavelen > low_wavelen) {
      f = s.factor;
    } else {
      const double smooth = (double(s.original_context) / wavelen - s.low_freq_factor) /
                            (s.high_freq_factor - s.low_freq_factor);
      f = 1.0 / ((1.0 - smooth) / s.factor + smooth);
    }
    out[i] = static_cast<float>(f);
  }
}

// Fills one tensor's bytes. Row r's values depend only on (seed, name, r).
status fill_tensor(const tensor_plan& t, const preset& p, uint64_t seed, thread_pool& pool,
                   std::span<std::byte> dst) {
  if (dst.size() != t.n_bytes())
    return make_error("{}: writer gave {} bytes, expected {}", t.name, dst.size(), t.n_bytes());
  if (t.role == tensor_role::rope_freqs) {
    std::vector<float> f(static_cast<size_t>(t.n_elements()));
    llama3_rope_factors(p, f.data());
    std::memcpy(dst.data(), f.data(), dst.size());
    return {};
  }
  const int64_t row_len = t.ne[0];
  const int64_t rows = static_cast<int64_t>(t.n_elements()) / row_len;
  const uint64_t row_bytes = *bytes_for(t.type, static_cast<uint64_t>(row_len));
  const uint64_t th = name_hash(t.name);
  std::vector<std::vector<float>> scratch(static_cast<size_t>(pool.size()));
  std::atomic<bool> failed{false};
  std::mutex mu;
  error first;
  const int64_t grain = std::max<int64_t>(1, 16384 / row_len);
  pool.parallel_for(rows, grain, [&](int thread, int64_t begin, int64_t end) {
    auto& buf = scratch[static_cast<size_t>(thread)];
    buf.resize(static_cast<size_t>(row_len));
    for (int64_t r = begin; r < end && !failed.load(std::memory_order_relaxed); ++r) {
      fill_row(row_key(seed, th, static_cast<uint64_t>(r)), t.mean, t.stddev, buf.data(), row_len);
      std::byte* out = dst.data() + static_cast<uint64_t>(r) * row_bytes;
      if (t.type == dtype::f32) {
        std::memcpy(out, buf.data(), row_bytes);
        continue;
      }
      status st = quantize_row(t.type, buf.data(), out, row_len);
      if (!st.ok()) {
        std::lock_guard lock(mu);
        if (!failed.exchange(true)) first = st.err();
      }
    }
  });
  if (failed) return make_error("{}: {}", t.name, first.message);
  return {};
}

void write_model_metadata(gguf::writer& w, const model_layout& l, const synth_options& o,
                          const tokenizer_meta& tok) {
  const preset& p = *l.p;
  const std::string a(p.arch);
  auto k = [&](std::string_view suffix) { return a + "." + std::string(suffix); };
  w.set_string("general.architecture", a);
  w.set_string("general.type", "model");
  w.set_string("general.name", std::string(p.display_name) + " (uma synth, random weights)");
  w.set_string(
      "general.description",
      "SYNTHETIC: random weights (uma synth, seed " + std::to_string(o.seed) +
          ") in the exact shape of " + std::string(p.display_name) + " (" + std::string(p.source) +
          "); not a trained model, its text is noise. Tokenizer: " + tok.description + ".");
  w.set_u32("general.file_type", l.file_type);
  w.set_u32("general.quantization_version", 2);
  w.set_string("uma.synth.preset", p.name);
  w.set_u64("uma.synth.seed", o.seed);
  w.set_string("uma.synth.type", l.type_name);

  w.set_u32(k("vocab_size"), static_cast<uint32_t>(l.n_vocab));
  w.set_u32(k("context_length"), static_cast<uint32_t>(p.n_ctx));
  w.set_u32(k("embedding_length"), static_cast<uint32_t>(p.n_embd));
  w.set_u32(k("block_count"), static_cast<uint32_t>(p.n_layer));
  w.set_u32(k("feed_forward_length"), static_cast<uint32_t>(p.n_ff));
  w.set_u32(k("attention.head_count"), static_cast<uint32_t>(p.n_head));
  w.set_u32(k("attention.head_count_kv"), static_cast<uint32_t>(p.n_head_kv));
  w.set_u32(k("attention.key_length"), static_cast<uint32_t>(p.head_dim));
  w.set_u32(k("attention.value_length"), static_cast<uint32_t>(p.head_dim));
  w.set_f32(k("attention.layer_norm_rms_epsilon"), static_cast<float>(p.rms_eps));
  w.set_f32(k("rope.freq_base"), static_cast<float>(p.rope_theta));
  w.set_u32(k("rope.dimension_count"), static_cast<uint32_t>(p.head_dim));
  if (p.n_expert > 0) {
    w.set_u32(k("expert_count"), static_cast<uint32_t>(p.n_expert));
    w.set_u32(k("expert_used_count"), static_cast<uint32_t>(p.n_expert_used));
    // llama.cpp writes the experts' width for qwen3moe; a llama one (Mixtral) is n_ff wide.
    if (p.arch != "llama")
      w.set_u32(k("expert_feed_forward_length"), static_cast<uint32_t>(p.n_ff_exp));
  }
  if (p.sliding_window > 0)
    w.set_u32(k("attention.sliding_window"), static_cast<uint32_t>(p.sliding_window));
  if (p.rope_linear_factor > 0) {
    w.set_string(k("rope.scaling.type"), "linear");
    w.set_f32(k("rope.scaling.factor"), static_cast<float>(p.rope_linear_factor));
  }
}

}  // namespace

status synthesize(const synth_options& o, synth_report* report) {
  const auto t0 = std::chrono::steady_clock::now();
  const preset* p = find_preset(o.preset);
  if (p == nullptr) return make_error("unknown preset '{}' (see `uma synth --list`)", o.preset);
  // Validate the type and the output before reading a tokenizer (which can take a second).
  if (auto probe = plan_layout(*p, o.type, p->n_vocab); !probe) return probe.err();
  if (o.output.empty()) return make_error("no output path (-o FILE)");
  namespace fs = std::filesystem;
  const fs::path out(o.output);
  std::error_code ec;
  if (fs::is_directory(out, ec)) return make_error("output '{}' is a directory", o.output);
  const fs::path dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec))
    return make_error("cannot write '{}': directory '{}' does not exist", o.output, dir.string());
  if (!o.vocab_gguf.empty() && !o.tokenizer_json.empty())
    return make_error("give --vocab or --tokenizer, not both");

  const bool has_tokenizer = !o.vocab_gguf.empty() || !o.tokenizer_json.empty();
  result<tokenizer_meta> tok = !o.vocab_gguf.empty()       ? tokenizer_from_gguf(o.vocab_gguf)
                               : !o.tokenizer_json.empty() ? tokenizer_from_hf(o.tokenizer_json)
                                                           : placeholder_tokenizer(p->n_vocab);
  if (!tok) return tok.err();
  const int64_t n_vocab = model_vocab_size(*p, tok->n_tokens, has_tokenizer);
  UMA_ASSIGN(model_layout layout, plan_layout(*p, o.type, n_vocab));

  gguf::writer w;
  write_model_metadata(w, layout, o, *tok);
  UMA_TRY(tok->write(w, n_vocab));

  thread_pool pool(o.threads);
  const uint64_t seed = o.seed;
  for (const tensor_plan& t : layout.tensors) {
    const tensor_plan* tp = &t;
    UMA_TRY(w.add_tensor(t.name, t.type, t.ne, [tp, p, seed, &pool](std::span<std::byte> dst) {
      return fill_tensor(*tp, *p, seed, pool, dst);
    }));
  }
  UMA_TRY(w.write(o.output));

  if (report != nullptr) {
    report->file_bytes = fs::file_size(out, ec);
    report->tokenizer = tok->description;
    report->layout = std::move(layout);
    report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return {};
}

}  // namespace uma::synth
