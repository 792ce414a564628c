// The per-tensor type rule of `uma quantize` (tensor/quant_plan.h): --type parsing, which tensors
// are converted, llama.cpp's q4_k_m / q5_k_m layer pattern, and the fallbacks for odd row lengths.
#include <gtest/gtest.h>

#include <string>

#include "tensor/quant_plan.h"

namespace uma {
namespace {

quant_target target(const char* name) {
  auto t = parse_quant_target(name);
  EXPECT_TRUE(t.ok()) << name;
  return t.ok() ? *t : quant_target{};
}

dtype pick(const char* type, const std::string& name, int n_dims = 2, int64_t ne0 = 4096,
           quant_model_info m = {"llama", 32, 0, true}, dtype src = dtype::f16) {
  return choose_quant_type(target(type), m, {name, n_dims, ne0, src});
}

TEST(quant_plan, parses_targets_and_file_types) {
  EXPECT_EQ(target("q8_0").base, dtype::q8_0);
  EXPECT_EQ(target("Q4_K_M").base, dtype::q4_k);
  EXPECT_EQ(target("Q4_K_M").mix, quant_mix::q4_k_m);
  EXPECT_EQ(target("q5_k_m").mix, quant_mix::q5_k_m);
  // llama.cpp's LLAMA_FTYPE values.
  EXPECT_EQ(target("f32").file_type, 0u);
  EXPECT_EQ(target("f16").file_type, 1u);
  EXPECT_EQ(target("q4_0").file_type, 2u);
  EXPECT_EQ(target("q4_1").file_type, 3u);
  EXPECT_EQ(target("q8_0").file_type, 7u);
  EXPECT_EQ(target("q5_0").file_type, 8u);
  EXPECT_EQ(target("q5_1").file_type, 9u);
  EXPECT_EQ(target("q2_k").file_type, 10u);
  EXPECT_EQ(target("q3_k").file_type, 11u);
  EXPECT_EQ(target("q4_k").file_type, 14u);
  EXPECT_EQ(target("q4_k_m").file_type, 15u);
  EXPECT_EQ(target("q5_k").file_type, 16u);
  EXPECT_EQ(target("q5_k_m").file_type, 17u);
  EXPECT_EQ(target("q6_k").file_type, 18u);
  EXPECT_EQ(target("q3_k_s").file_type, 11u);
  EXPECT_EQ(target("Q3_K_M").file_type, 12u);
  EXPECT_EQ(target("q3_k_l").file_type, 13u);
  EXPECT_EQ(target("q4_k_s").file_type, 14u);
  EXPECT_EQ(target("q5_k_s").file_type, 16u);
  EXPECT_EQ(target("q3_k_m").base, dtype::q3_k);
  EXPECT_EQ(target("q4_k_s").mix, quant_mix::q4_k_s);
  EXPECT_EQ(target("bf16").file_type, 32u);
  for (const char* bad : {"q9", "", "q2_k_s", "q6_k_m", "q8_k", "q1_k", "iq2_xxs"}) {
    auto t = parse_quant_target(bad);
    EXPECT_FALSE(t.ok()) << bad;
    if (!t.ok()) {
      EXPECT_EQ(t.message().find('\n'), std::string::npos);
    }
  }
}

TEST(quant_plan, layer_of_parses_block_names) {
  EXPECT_EQ(layer_of("blk.0.attn_v.weight"), 0);
  EXPECT_EQ(layer_of("blk.31.ffn_down.weight"), 31);
  EXPECT_EQ(layer_of("output.weight"), -1);
  EXPECT_EQ(layer_of("blk.x.ffn_down.weight"), -1);
  EXPECT_EQ(layer_of("blk.12"), -1);
}

TEST(quant_plan, which_tensors_are_converted) {
  EXPECT_EQ(pick("q4_0", "blk.0.attn_q.weight"), dtype::q4_0);
  EXPECT_EQ(pick("q4_0", "blk.0.attn_norm.weight", 1), dtype::f32);  // 1-D -> F32
  EXPECT_EQ(pick("q4_0", "blk.0.attn_q.bias", 1), dtype::f32);       // 1-D -> F32
  EXPECT_EQ(pick("f16", "blk.0.ffn_norm.weight", 1, 4096, {}, dtype::f16), dtype::f32);
  EXPECT_EQ(pick("q4_0", "blk.0.ffn_gate_inp.weight"), dtype::f16);  // router kept
  EXPECT_EQ(pick("q4_0", "position_embd.weight"), dtype::f16);
  EXPECT_EQ(pick("q4_0", "blk.0.attn_q_norm.weight", 2), dtype::f16);  // 2-D norm kept
  EXPECT_EQ(pick("q4_0", "some_table", 2), dtype::f16);                // not a weight: kept
  EXPECT_EQ(pick("q8_0", "tokens", 1, 100, {}, dtype::i32), dtype::i32);
  // Plain targets are pure: output and embeddings too.
  EXPECT_EQ(pick("q4_0", "output.weight"), dtype::q4_0);
  EXPECT_EQ(pick("q4_k", "token_embd.weight"), dtype::q4_k);
  EXPECT_EQ(pick("bf16", "blk.3.ffn_down.weight", 3), dtype::bf16);  // 3-D experts
}

TEST(quant_plan, q4_k_m_follows_llama_cpp) {
  const quant_model_info m{"llama", 32, 0, true};
  int v_q6 = 0, down_q6 = 0;
  for (int i = 0; i < 32; ++i) {
    const bool more = i < 4 || i >= 28 || (i - 4) % 3 == 2;
    const dtype want = more ? dtype::q6_k : dtype::q4_k;
    const std::string blk = "blk." + std::to_string(i) + ".";
    EXPECT_EQ(pick("q4_k_m", blk + "attn_v.weight", 2, 4096, m), want) << i;
    EXPECT_EQ(pick("q4_k_m", blk + "ffn_down.weight", 2, 14336, m), want) << i;
    EXPECT_EQ(pick("q5_k_m", blk + "ffn_down.weight", 2, 14336, m),
              more ? dtype::q6_k : dtype::q5_k);
    EXPECT_EQ(pick("q4_k_m", blk + "attn_q.weight", 2, 4096, m), dtype::q4_k);
    EXPECT_EQ(pick("q4_k_m", blk + "ffn_up.weight", 2, 4096, m), dtype::q4_k);
    v_q6 += pick("q4_k_m", blk + "attn_v.weight", 2, 4096, m) == dtype::q6_k;
    down_q6 += pick("q4_k_m", blk + "ffn_down.weight", 2, 4096, m) == dtype::q6_k;
  }
  EXPECT_EQ(v_q6,
            16);  // 4 first + 4 last + 8 in between, as llama.cpp's Q4_K_M of a 32-layer model
  EXPECT_EQ(down_q6, 16);
  EXPECT_EQ(pick("q4_k_m", "output.weight", 2, 4096, m), dtype::q6_k);
  EXPECT_EQ(pick("q4_k_m", "token_embd.weight", 2, 4096, m), dtype::q4_k);
  // Tied embeddings: token_embd plays output's part.
  EXPECT_EQ(pick("q4_k_m", "token_embd.weight", 2, 4096, {"qwen2", 28, 0, false}), dtype::q6_k);
  EXPECT_EQ(pick("q4_k_m", "blk.0.attn_qkv.weight", 2, 4096, m), dtype::q5_k);
  EXPECT_EQ(pick("q5_k_m", "blk.0.attn_qkv.weight", 2, 4096, m), dtype::q6_k);
  // 8 experts (Mixtral shape).
  const quant_model_info moe{"llama", 32, 8, true};
  EXPECT_EQ(pick("q4_k_m", "blk.5.attn_v.weight", 2, 4096, moe), dtype::q8_0);
  EXPECT_EQ(pick("q4_k_m", "blk.5.attn_k.weight", 2, 4096, moe), dtype::q8_0);
  EXPECT_EQ(pick("q4_k_m", "blk.5.attn_output.weight", 2, 4096, moe), dtype::q5_k);
  EXPECT_EQ(pick("q4_k_m", "blk.0.ffn_down_exps.weight", 3, 14336, moe), dtype::q6_k);
  // 80-layer llama (70B): attn_v never below Q5_K.
  const quant_model_info big{"llama", 80, 0, true};
  EXPECT_EQ(pick("q4_k_m", "blk.20.attn_v.weight", 2, 8192, big), dtype::q5_k);
}

// The Q3_K and _S mixes, layer by layer against llama.cpp's rule for a 32-layer llama.
TEST(quant_plan, q3_k_and_s_mixes_follow_llama_cpp) {
  const quant_model_info m{"llama", 32, 0, true};
  for (int i = 0; i < 32; ++i) {
    const std::string blk = "blk." + std::to_string(i) + ".";
    const auto v = blk + "attn_v.weight", down = blk + "ffn_down.weight";
    const auto o = blk + "attn_output.weight", q = blk + "attn_q.weight";
    EXPECT_EQ(pick("q3_k_m", v, 2, 4096, m), i < 2 ? dtype::q5_k : dtype::q4_k) << i;
    EXPECT_EQ(pick("q3_k_m", down, 2, 14336, m), i < 2 ? dtype::q5_k : dtype::q4_k) << i;
    EXPECT_EQ(pick("q3_k_m", o, 2, 4096, m), dtype::q4_k);
    EXPECT_EQ(pick("q3_k_m", q, 2, 4096, m), dtype::q3_k);
    EXPECT_EQ(pick("q3_k_l", v, 2, 4096, m), dtype::q5_k);
    EXPECT_EQ(pick("q3_k_l", down, 2, 14336, m), dtype::q5_k);
    EXPECT_EQ(pick("q3_k_l", o, 2, 4096, m), dtype::q5_k);
    EXPECT_EQ(pick("q3_k_l", blk + "ffn_up.weight", 2, 4096, m), dtype::q3_k);
    EXPECT_EQ(pick("q3_k_s", v, 2, 4096, m), dtype::q3_k);
    EXPECT_EQ(pick("q3_k_s", down, 2, 14336, m), dtype::q3_k);
    EXPECT_EQ(pick("q3_k_s", o, 2, 4096, m), dtype::q3_k);
    EXPECT_EQ(pick("q4_k_s", v, 2, 4096, m), i < 4 ? dtype::q5_k : dtype::q4_k) << i;
    EXPECT_EQ(pick("q4_k_s", down, 2, 14336, m), i < 4 ? dtype::q5_k : dtype::q4_k) << i;
    EXPECT_EQ(pick("q4_k_s", o, 2, 4096, m), dtype::q4_k);
    EXPECT_EQ(pick("q5_k_s", v, 2, 4096, m), dtype::q5_k);
    EXPECT_EQ(pick("q5_k_s", down, 2, 14336, m), dtype::q5_k);
  }
  // ffn_down's Q5_K head is n/16 layers deep: 4 of a 64-layer model.
  const quant_model_info deep{"qwen2", 64, 0, true};
  EXPECT_EQ(pick("q3_k_m", "blk.3.ffn_down.weight", 2, 4096, deep), dtype::q5_k);
  EXPECT_EQ(pick("q3_k_m", "blk.4.ffn_down.weight", 2, 4096, deep), dtype::q4_k);
  // Every mix: output Q6_K, untied embeddings at the base type, tied ones as output.
  for (const char* mix : {"q3_k_s", "q3_k_m", "q3_k_l", "q4_k_s", "q5_k_s"}) {
    EXPECT_EQ(pick(mix, "output.weight", 2, 4096, m), dtype::q6_k) << mix;
    EXPECT_EQ(pick(mix, "token_embd.weight", 2, 4096, m), target(mix).base) << mix;
    EXPECT_EQ(pick(mix, "token_embd.weight", 2, 1024, {"qwen3", 28, 0, false}), dtype::q6_k);
  }
  EXPECT_EQ(pick("q3_k_m", "blk.0.attn_qkv.weight", 2, 4096, m), dtype::q4_k);
  EXPECT_EQ(pick("q3_k_l", "blk.0.attn_qkv.weight", 2, 4096, m), dtype::q4_k);
  // Falcon: ffn_down at Q4_K on more-bits layers else Q3_K (q3_k_m), Q4_K (q3_k_l).
  const quant_model_info falcon{"falcon", 32, 0, true};
  EXPECT_EQ(pick("q3_k_m", "blk.4.ffn_down.weight", 2, 4096, falcon), dtype::q3_k);
  EXPECT_EQ(pick("q3_k_m", "blk.6.ffn_down.weight", 2, 4096, falcon), dtype::q4_k);
  EXPECT_EQ(pick("q3_k_l", "blk.6.ffn_down.weight", 2, 4096, falcon), dtype::q4_k);
  EXPECT_EQ(pick("q3_k_l", "blk.6.attn_output.weight", 2, 4096, falcon), dtype::q4_k);
  EXPECT_EQ(pick("q3_k_m", "blk.6.attn_output.weight", 2, 4096, falcon), dtype::q3_k);
  // 8 experts: attn_output Q5_K for q3_k_s / q3_k_m / q4_k_s, not q3_k_l; V and K at Q8_0.
  const quant_model_info moe{"llama", 32, 8, true};
  EXPECT_EQ(pick("q3_k_s", "blk.5.attn_output.weight", 2, 4096, moe), dtype::q5_k);
  EXPECT_EQ(pick("q3_k_m", "blk.5.attn_output.weight", 2, 4096, moe), dtype::q5_k);
  EXPECT_EQ(pick("q4_k_s", "blk.5.attn_output.weight", 2, 4096, moe), dtype::q5_k);
  EXPECT_EQ(pick("q3_k_l", "blk.5.attn_output.weight", 2, 4096, moe), dtype::q3_k);
  EXPECT_EQ(pick("q3_k_m", "blk.5.attn_v.weight", 2, 4096, moe), dtype::q8_0);
  EXPECT_EQ(pick("q3_k_s", "blk.5.attn_k.weight", 2, 4096, moe), dtype::q8_0);
  // 80-layer llama: attn_v at Q3_K / Q4_K is raised to Q5_K.
  const quant_model_info big{"llama", 80, 0, true};
  EXPECT_EQ(pick("q3_k_s", "blk.20.attn_v.weight", 2, 8192, big), dtype::q5_k);
  EXPECT_EQ(pick("q3_k_m", "blk.20.attn_v.weight", 2, 8192, big), dtype::q5_k);
  EXPECT_EQ(pick("q4_k_s", "blk.20.attn_v.weight", 2, 8192, big), dtype::q5_k);
  EXPECT_EQ(pick("q5_k_s", "blk.20.attn_v.weight", 2, 8192, big), dtype::q5_k);
  // Rows that Q3_K cannot hold fall back as the pure target does.
  EXPECT_EQ(pick("q3_k_m", "blk.9.attn_q.weight", 2, 96, m), dtype::q4_0);
}

TEST(quant_plan, odd_rows_fall_back) {
  EXPECT_EQ(pick("q3_k", "blk.0.ffn_down.weight", 2, 96), dtype::q4_0);
  EXPECT_EQ(pick("q2_k", "blk.0.ffn_down.weight", 2, 96), dtype::q4_0);
  EXPECT_EQ(pick("q3_k", "blk.0.ffn_down.weight", 2, 512), dtype::q3_k);
  EXPECT_EQ(pick("q4_k", "blk.0.ffn_down.weight", 2, 96), dtype::q5_0);
  EXPECT_EQ(pick("q5_k", "blk.0.ffn_down.weight", 2, 96), dtype::q5_1);
  EXPECT_EQ(pick("q6_k", "blk.0.ffn_down.weight", 2, 96), dtype::q8_0);
  EXPECT_EQ(pick("q4_k", "blk.0.ffn_down.weight", 2, 40), dtype::f16);
  EXPECT_EQ(pick("q8_0", "blk.0.ffn_down.weight", 2, 40), dtype::f16);
  EXPECT_EQ(pick("f32", "blk.0.ffn_down.weight", 2, 41), dtype::f32);
  // Mix: output with rows not a multiple of 256 goes to Q8_0 (llama.cpp).
  EXPECT_EQ(pick("q4_k_m", "output.weight", 2, 2880), dtype::q8_0);
}

}  // namespace
}  // namespace uma
