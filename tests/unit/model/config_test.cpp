// Config and weight binding errors on small crafted GGUF files (gguf::writer): each inconsistency
// gives a clear one-line error naming the key or tensor, never a crash.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>

#include "gguf/writer.h"
#include "model/model.h"
#include "model/reference.h"
#include "test_util.h"

namespace uma::model {
namespace {

// A small llama-shaped model; fields can be broken one at a time.
struct spec {
  std::string arch = "llama";
  int64_t n_embd = 32, n_head = 4, n_head_kv = 2, n_ff = 64, n_vocab = 64, n_layer = 2;
  int64_t tensor_layers = 2;  // layers actually written
  bool write_key_length = true;
  int64_t bos = 1;
  std::set<std::string> skip;                           // tensors not written
  std::map<std::string, std::vector<int64_t>> reshape;  // tensors written with another shape
  std::function<void(gguf::writer&)> extra;
  bool tied = false;
  bool qkv_bias = false;
  bool gemma_norms = false;  // q/k norms and the post-attention / post-MLP norms (gemma3)
  // Mixture of experts: expert_count, expert_used_count (keys written when count > 0) and the
  // experts' tensors (router, 3-D gate / up / down of width ff_exp) instead of the dense MLP's.
  int64_t experts = 0, experts_used = 0, ff_exp = 16;
  bool write_ff_exp = true;  // expert_feed_forward_length (else the architecture's default)
};

std::string write_model(const spec& s, const std::string& name) {
  gguf::writer w;
  const std::string a = s.arch;
  w.set_string("general.architecture", a);
  w.set_u32(a + ".embedding_length", static_cast<uint32_t>(s.n_embd));
  w.set_u32(a + ".block_count", static_cast<uint32_t>(s.n_layer));
  w.set_u32(a + ".feed_forward_length", static_cast<uint32_t>(s.n_ff));
  w.set_u32(a + ".attention.head_count", static_cast<uint32_t>(s.n_head));
  w.set_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(s.n_head_kv));
  w.set_u32(a + ".context_length", 128);
  w.set_f32(a + ".attention.layer_norm_rms_epsilon", 1e-5f);
  if (s.write_key_length) w.set_u32(a + ".attention.key_length", 8);
  w.set_u32(a + ".vocab_size", static_cast<uint32_t>(s.n_vocab));
  w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(s.bos));
  if (s.experts > 0) {
    w.set_u32(a + ".expert_count", static_cast<uint32_t>(s.experts));
    w.set_u32(a + ".expert_used_count", static_cast<uint32_t>(s.experts_used));
    if (s.write_ff_exp)
      w.set_u32(a + ".expert_feed_forward_length", static_cast<uint32_t>(s.ff_exp));
  }
  if (s.extra) s.extra(w);

  const int64_t hd = 8;
  auto add = [&](const std::string& n, std::vector<int64_t> ne, float scale, float mean) {
    if (s.skip.count(n)) return;
    if (s.reshape.count(n)) ne = s.reshape.at(n);
    int64_t count = 1;
    for (auto d : ne) count *= d;
    auto data = std::make_shared<std::vector<float>>(static_cast<size_t>(count));
    uint32_t state = static_cast<uint32_t>(std::hash<std::string>{}(n));
    for (auto& v : *data) {
      state = state * 1664525u + 1013904223u;
      v = mean + scale * (static_cast<float>(state >> 8) / 16777216.f - 0.5f);
    }
    auto st = w.add_tensor(n, dtype::f32, ne, [data](std::span<std::byte> out) -> status {
      std::memcpy(out.data(), data->data(), out.size());
      return {};
    });
    EXPECT_TRUE(st.ok()) << st.message();
  };
  add("token_embd.weight", {s.n_embd, s.n_vocab}, 1.f, 0.f);
  add("output_norm.weight", {s.n_embd}, 0.2f, 1.f);
  if (!s.tied) add("output.weight", {s.n_embd, s.n_vocab}, 0.3f, 0.f);
  for (int64_t il = 0; il < s.tensor_layers; ++il) {
    auto n = [il](const char* x) { return "blk." + std::to_string(il) + "." + x; };
    add(n("attn_norm.weight"), {s.n_embd}, 0.2f, 1.f);
    add(n("attn_q.weight"), {s.n_embd, s.n_head * hd}, 0.3f, 0.f);
    add(n("attn_k.weight"), {s.n_embd, s.n_head_kv * hd}, 0.3f, 0.f);
    add(n("attn_v.weight"), {s.n_embd, s.n_head_kv * hd}, 0.3f, 0.f);
    add(n("attn_output.weight"), {s.n_head * hd, s.n_embd}, 0.3f, 0.f);
    if (s.qkv_bias) {
      add(n("attn_q.bias"), {s.n_head * hd}, 0.1f, 0.f);
      add(n("attn_k.bias"), {s.n_head_kv * hd}, 0.1f, 0.f);
      add(n("attn_v.bias"), {s.n_head_kv * hd}, 0.1f, 0.f);
    }
    if (s.gemma_norms) {
      add(n("attn_q_norm.weight"), {hd}, 0.2f, 1.f);
      add(n("attn_k_norm.weight"), {hd}, 0.2f, 1.f);
      add(n("post_attention_norm.weight"), {s.n_embd}, 0.2f, 1.f);
      add(n("post_ffw_norm.weight"), {s.n_embd}, 0.2f, 1.f);
    }
    add(n("ffn_norm.weight"), {s.n_embd}, 0.2f, 1.f);
    if (s.experts > 0) {
      add(n("ffn_gate_inp.weight"), {s.n_embd, s.experts}, 0.5f, 0.f);
      add(n("ffn_gate_exps.weight"), {s.n_embd, s.ff_exp, s.experts}, 0.3f, 0.f);
      add(n("ffn_up_exps.weight"), {s.n_embd, s.ff_exp, s.experts}, 0.3f, 0.f);
      add(n("ffn_down_exps.weight"), {s.ff_exp, s.n_embd, s.experts}, 0.3f, 0.f);
      continue;
    }
    add(n("ffn_gate.weight"), {s.n_embd, s.n_ff}, 0.3f, 0.f);
    add(n("ffn_up.weight"), {s.n_embd, s.n_ff}, 0.3f, 0.f);
    add(n("ffn_down.weight"), {s.n_ff, s.n_embd}, 0.3f, 0.f);
  }
  const std::string path = uma::test::temp_dir() + "/" + name + ".gguf";
  auto st = w.write(path);
  EXPECT_TRUE(st.ok()) << st.message();
  return path;
}

// A spec::extra that writes one more F32 tensor `name` of 32 x 16 zeros.
std::function<void(gguf::writer&)> zero_tensor(std::string name) {
  return [name](gguf::writer& w) {
    const std::vector<int64_t> ne = {32, 16};
    auto st = w.add_tensor(name, dtype::f32, ne, [](std::span<std::byte> out) -> status {
      std::fill(out.begin(), out.end(), std::byte{0});
      return {};
    });
    EXPECT_TRUE(st.ok()) << st.message();
  };
}

void expect_error(const spec& s, const std::string& name, const std::string& needle) {
  auto m = load_model(write_model(s, name), {.n_threads = 1});
  ASSERT_FALSE(m.ok()) << name << " loaded but should not";
  EXPECT_NE(m.message().find(needle), std::string::npos) << m.message();
  EXPECT_EQ(m.message().find('\n'), std::string::npos) << "one line: " << m.message();
}

TEST(ModelConfig, ValidModelLoadsAndRuns) {
  spec s;
  auto m = load_model(write_model(s, "ok"), {.n_threads = 1});
  ASSERT_TRUE(m.ok()) << m.message();
  const auto& c = (*m)->config();
  EXPECT_EQ(c.n_embd, 32);
  EXPECT_EQ(c.n_layer, 2);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.bos_id, 1);
  EXPECT_FALSE((*m)->bound().tied_output);
  EXPECT_GT((*m)->weight_bytes(), 0u);
  // Runs, and agrees with the reference.
  auto cache = (*m)->make_cache(16, 1);
  batch b;
  for (int i = 0; i < 5; ++i) b.add(i + 1, i, 0, true);
  std::vector<float> logits(5 * 64);
  ASSERT_TRUE((*m)->forward(b, *cache, logits.data()).ok());
  reference_forward ref(**m);
  auto want = ref.forward({1, 2, 3, 4, 5});
  ASSERT_TRUE(want.ok());
  for (size_t i = 0; i < logits.size(); ++i) EXPECT_NEAR(logits[i], (*want)[i], 2e-3);
}

// A Q8_0 KV cache stores rows in blocks of 32: a model with 8-wide heads is refused one at load
// (one line naming the head size) and when a cache is made by hand, never read out of its rows.
TEST(ModelConfig, Q8KvCacheNeedsHeadDimsOf32) {
  const std::string path = write_model(spec{}, "kv_q8");
  auto m = load_model(path, {.n_threads = 1, .kv_format = kernels::kv_format::q8_0});
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.message().find("q8_0 KV cache needs head dimensions that are multiples of 32"),
            std::string::npos)
      << m.message();
  EXPECT_NE(m.message().find("8 / 8"), std::string::npos) << m.message();
  EXPECT_EQ(m.message().find('\n'), std::string::npos);
  auto ok = load_model(path, {.n_threads = 1});
  ASSERT_TRUE(ok.ok()) << ok.message();
  const model_config& c = (*ok)->config();
  // Nor can such a cache be built to hand to forward.
  EXPECT_THROW(kv_cache(c.n_layer, c.n_head_kv, c.kv_width(), c.v_width(), 16, 2, 1, 32, 0, 0,
                        kernels::kv_format::q8_0),
               std::invalid_argument);
}

TEST(ModelConfig, TiedOutputUsesTheEmbedding) {
  spec s;
  s.tied = true;
  auto m = load_model(write_model(s, "tied"), {.n_threads = 1});
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_TRUE((*m)->bound().tied_output);
  EXPECT_EQ((*m)->bound().output.data, (*m)->bound().token_embd.data);
}

TEST(ModelConfig, MissingTensor) {
  spec s;
  s.skip = {"blk.1.ffn_up.weight"};
  expect_error(s, "missing", "missing tensor 'blk.1.ffn_up.weight'");
}

TEST(ModelConfig, WrongShape) {
  spec s;
  s.reshape = {{"blk.0.attn_k.weight", {32, 24}}};
  expect_error(s, "shape", "tensor 'blk.0.attn_k.weight' has shape [32, 24], expected [32, 16]");
  spec s2;
  s2.reshape = {{"output_norm.weight", {31}}};
  expect_error(s2, "shape1d", "output_norm.weight");
}

TEST(ModelConfig, HeadCountNotDividingWidth) {
  spec s;
  s.n_head = 5;
  s.n_head_kv = 5;
  s.write_key_length = false;
  expect_error(s, "heads", "head count 5 does not divide the embedding width 32");
}

TEST(ModelConfig, KvHeadsNotDividingHeads) {
  spec s;
  s.n_head_kv = 3;
  expect_error(s, "kvheads", "key/value head count 3 does not divide the head count 4");
}

TEST(ModelConfig, SpecialTokenBeyondVocabulary) {
  spec s;
  s.bos = 64;
  expect_error(s, "bos",
               "special token 'tokenizer.ggml.bos_token_id' = 64 is beyond the vocabulary");
}

TEST(ModelConfig, LayerCountBeyondTensors) {
  spec s;
  s.n_layer = 5;
  expect_error(s, "layers", "block_count is 5 but the file has tensors for 2 layers");
}

TEST(ModelConfig, UnsupportedArchitecture) {
  spec s;
  s.arch = "mamba";
  expect_error(s, "arch", "unsupported architecture 'mamba'");
}

TEST(ModelConfig, Qwen2RequiresBiases) {
  spec s;
  s.arch = "qwen2";
  expect_error(s, "qwen2nobias", "missing tensor 'blk.0.attn_q.bias'");
  s.qkv_bias = true;
  auto m = load_model(write_model(s, "qwen2bias"), {.n_threads = 1});
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_NE((*m)->bound().layers[1].bk, nullptr);
}

// gemma3: its extra norms are required tensors; a bad window is a one-line error; without a
// window gemma3.final_logit_softcapping caps the logits (production and reference alike), with one
// it is ignored as llama.cpp's windowed graph does; the 62-layer shape (27B) scales queries by
// 1 / sqrt(n_embd / n_head).
TEST(ModelConfig, Gemma3KeysAndTensors) {
  spec s;
  s.arch = "gemma3";
  s.tied = true;
  expect_error(s, "gemma3nonorms", "missing tensor 'blk.0.attn_q_norm.weight'");
  s.gemma_norms = true;
  s.skip = {"blk.1.post_ffw_norm.weight"};
  expect_error(s, "gemma3nopost", "missing tensor 'blk.1.post_ffw_norm.weight'");
  s.skip.clear();
  s.extra = [](gguf::writer& w) { w.set_string("gemma3.attention.sliding_window", "wide"); };
  expect_error(s, "gemma3badwindow", "'gemma3.attention.sliding_window' must be a non-negative");
  s.extra = [](gguf::writer& w) { w.set_f32("gemma3.final_logit_softcapping", -1.f); };
  expect_error(s, "gemma3badcap", "'gemma3.final_logit_softcapping' must be a finite number");

  s.extra = [](gguf::writer& w) { w.set_f32("gemma3.final_logit_softcapping", 5.f); };
  auto m = load_model(write_model(s, "gemma3cap"), {.n_threads = 1});
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_FLOAT_EQ((*m)->config().final_logit_softcap, 5.f);
  EXPECT_EQ((*m)->config().sliding_window, 0);
  EXPECT_EQ((*m)->config().attn_scale, 0.f);  // 1 / sqrt(head_dim)
  auto cache = (*m)->make_cache(16, 1);
  batch b;
  for (int i = 0; i < 5; ++i) b.add(i + 1, i, 0, true);
  std::vector<float> logits(5 * 64);
  ASSERT_TRUE((*m)->forward(b, *cache, logits.data()).ok());
  auto want = reference_forward(**m).forward({1, 2, 3, 4, 5});
  ASSERT_TRUE(want.ok());
  model_config uncapped = (*m)->config();
  uncapped.final_logit_softcap = 0;
  auto raw = reference_forward(uncapped, (*m)->bound()).forward({1, 2, 3, 4, 5});
  ASSERT_TRUE(raw.ok());
  float rtop = 0;
  for (float z : *raw) rtop = std::max(rtop, std::abs(z));
  float top = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    EXPECT_NEAR(logits[i], (*want)[i], 2e-3);
    EXPECT_NEAR(logits[i], 5.f * std::tanh((*raw)[i] / 5.f), 2e-3);
    top = std::max(top, std::abs(logits[i]));
  }
  // The largest raw logit (7.8 here) is bent under the cap, not clipped to it.
  EXPECT_GT(rtop, 6.f);
  EXPECT_LT(top, 5.f);
  EXPECT_NEAR(top, 5.f * std::tanh(rtop / 5.f), 2e-3);

  s.extra = [](gguf::writer& w) {
    w.set_u32("gemma3.attention.sliding_window", 4);
    w.set_f32("gemma3.final_logit_softcapping", 5.f);
  };
  auto windowed = load_model(write_model(s, "gemma3window"), {.n_threads = 1});
  ASSERT_TRUE(windowed.ok()) << windowed.message();
  EXPECT_EQ((*windowed)->config().sliding_window, 4);
  EXPECT_EQ((*windowed)->config().final_logit_softcap, 0.f);

  s.extra = nullptr;
  s.n_layer = s.tensor_layers = 62;
  auto big = load_model(write_model(s, "gemma3big"), {.n_threads = 1});
  ASSERT_TRUE(big.ok()) << big.message();
  EXPECT_FLOAT_EQ((*big)->config().attn_scale, 1.f / std::sqrt(32.f / 4.f));
}

TEST(ModelConfig, MissingOrBadKeys) {
  spec s;
  s.extra = [](gguf::writer& w) { w.set_string("llama.embedding_length", "wide"); };
  expect_error(s, "badkey", "'llama.embedding_length' must be an integer");
  spec s2;
  s2.extra = [](gguf::writer& w) { w.set_string("llama.rope.scaling.type", "yarn"); };
  expect_error(s2, "yarn", "unsupported rope.scaling.type 'yarn'");
}

TEST(ModelConfig, MissingTruncatedOrNotAModel) {
  auto m = load_model(uma::test::temp_dir() + "/nope.gguf");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.message().find("no such model file"), std::string::npos) << m.message();

  // Truncated: the first half of a valid file.
  const std::string good = write_model(spec{}, "full");
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = uma::test::temp_dir() + "/cut.gguf";
  std::ofstream(cut, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  m = load_model(cut);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.message().find('\n'), std::string::npos) << m.message();

  const std::string text = uma::test::temp_dir() + "/text.gguf";
  std::ofstream(text) << "hello, not a gguf\n";
  m = load_model(text);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.message().find('\n'), std::string::npos) << m.message();
}

// qwen3moe: its expert keys and tensors are checked before anything is allocated (one-line errors
// for a missing count, more experts used than there are, an absurd count, a dense architecture
// with experts, a missing router, an expert tensor of the wrong shape); a valid file loads and
// runs (its logits against the reference: moe_test.cpp, on `uma synth`'s tiny models).
TEST(ModelConfig, Qwen3MoeKeysAndTensors) {
  spec s;
  s.arch = "qwen3moe";
  s.gemma_norms = true;  // q/k norms (the post norms are not read)
  expect_error(s, "moenocount", "missing metadata key 'qwen3moe.expert_count'");
  s.experts = 4, s.experts_used = 5;
  expect_error(s, "moetoomanyused", "expert_used_count 5 is more than expert_count 4");
  s.experts = 5000, s.experts_used = 2;
  expect_error(s, "moehuge", "expert_count 5000 is more than uma supports");
  s.experts = 4, s.experts_used = 4;
  s.skip = {"blk.0.ffn_gate_inp.weight"};
  expect_error(s, "moenorouter", "missing tensor 'blk.0.ffn_gate_inp.weight'");
  s.skip.clear();
  s.reshape = {{"blk.1.ffn_down_exps.weight", {16, 32, 3}}};
  expect_error(s, "moebadshape",
               "tensor 'blk.1.ffn_down_exps.weight' has shape [16, 32, 3], expected [16, 32, 4]");
  s.reshape = {{"blk.0.ffn_up_exps.weight", {32, 64}}};
  expect_error(s, "moe2d", "tensor 'blk.0.ffn_up_exps.weight' has shape [32, 64], expected");
  s.reshape.clear();
  spec dense;
  dense.arch = "qwen2";
  dense.qkv_bias = true;
  dense.experts = 4, dense.experts_used = 2;
  expect_error(dense, "qwen2experts", "qwen2.expert_count is set, but uma runs qwen2 with a dense");
  // llama with experts (Mixtral) loads; one stored one tensor per expert (old GGUFs) is named.
  spec mixtral;
  mixtral.experts = 4, mixtral.experts_used = 2;
  auto mx = load_model(write_model(mixtral, "llamaexperts"), {.n_threads = 1});
  ASSERT_TRUE(mx.ok()) << mx.message();
  EXPECT_EQ((*mx)->config().n_expert_used, 2);
  // Without expert_feed_forward_length: llama's experts are feed_forward_length wide (64 here),
  // qwen3moe's that shared among the experts used (64 / 4).
  mixtral.write_ff_exp = false;
  mixtral.ff_exp = 64;
  auto wide = load_model(write_model(mixtral, "llamaexpertsnoff"), {.n_threads = 1});
  ASSERT_TRUE(wide.ok()) << wide.message();
  EXPECT_EQ((*wide)->config().n_ff_exp, 64);
  spec q = s;
  q.write_ff_exp = false;
  auto shared = load_model(write_model(q, "moenoff"), {.n_threads = 1});
  ASSERT_TRUE(shared.ok()) << shared.message();
  EXPECT_EQ((*shared)->config().n_ff_exp, 16);
  mixtral.skip = {"blk.0.ffn_gate_exps.weight"};
  mixtral.extra = zero_tensor("blk.0.ffn_gate.0.weight");
  expect_error(mixtral, "llamasplitexperts", "stores its experts one tensor each");
  mixtral.skip.clear();
  mixtral.extra = zero_tensor("blk.0.ffn_up_shexp.weight");
  expect_error(mixtral, "llamasharedexperts", "shared experts are not supported");

  auto m = load_model(write_model(s, "moeok"), {.n_threads = 2});
  ASSERT_TRUE(m.ok()) << m.message();
  const model_config& c = (*m)->config();
  EXPECT_EQ(c.n_expert, 4);
  EXPECT_EQ(c.n_expert_used, 4);
  EXPECT_EQ(c.n_ff_exp, 16);
  auto cache = (*m)->make_cache(16, 1);
  batch b;
  for (int i = 0; i < 6; ++i) b.add(i + 1, i, 0, true);
  std::vector<float> logits(6 * 64);
  ASSERT_TRUE((*m)->forward(b, *cache, logits.data()).ok());
  for (const float v : logits) ASSERT_TRUE(std::isfinite(v));
}

}  // namespace
}  // namespace uma::model
