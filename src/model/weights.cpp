// Binds GGUF tensors to the model's slots, checking presence, shape and type of each.
#include "model/weights.h"

#include <fmt/format.h>

#include <sys/mman.h>

#include <cstdlib>
#include <type_traits>
#include <vector>

#include "gguf/gguf.h"
#include "tensor/quant.h"

namespace uma::model {

namespace {

std::string shape_str(const gguf::tensor_info& t) {
  std::string s = "[";
  for (int d = 0; d < t.n_dims; ++d) s += fmt::format("{}{}", d ? ", " : "", t.ne[d]);
  return s + "]";
}

class binder {
 public:
  binder(const gguf::file& f, weights& w) : f_(f), w_(w) {}

  // A 2-D matrix of shape (cols = ne0, rows = ne1) that matmul can compute with.
  result<matrix_ref> matrix(const std::string& name, int64_t cols, int64_t rows,
                            bool required = true) {
    const gguf::tensor_info* t = f_.find_tensor(name);
    if (!t) {
      if (!required) return matrix_ref{};
      return make_error("missing tensor '{}'", name);
    }
    if (t->n_dims > 2 || t->ne[0] != cols || t->ne[1] != rows || t->ne[2] != 1 || t->ne[3] != 1) {
      return make_error("tensor '{}' has shape {}, expected [{}, {}]", name, shape_str(*t), cols,
                        rows);
    }
    if (!kernels::matmul_supports(t->type)) {
      return make_error("tensor '{}' has type {}, which uma cannot compute with", name,
                        dtype_name(t->type));
    }
    matrix_ref m;
    m.info = t;
    m.type = t->type;
    m.data = t->data.data();
    m.rows = rows;
    m.cols = cols;
    m.row_bytes = t->row_bytes();
    return m;
  }

  // A 3-D stack of `count` matrices of shape (cols, rows), each expert's rows contiguous.
  result<expert_ref> experts(const std::string& name, int64_t cols, int64_t rows, int64_t count) {
    const gguf::tensor_info* t = f_.find_tensor(name);
    if (!t) return make_error("missing tensor '{}'", name);
    if (t->n_dims != 3 || t->ne[0] != cols || t->ne[1] != rows || t->ne[2] != count ||
        t->ne[3] != 1) {
      return make_error("tensor '{}' has shape {}, expected [{}, {}, {}]", name, shape_str(*t),
                        cols, rows, count);
    }
    if (!kernels::matmul_supports(t->type)) {
      return make_error("tensor '{}' has type {}, which uma cannot compute with", name,
                        dtype_name(t->type));
    }
    expert_ref x;
    x.all.info = t;
    x.all.type = t->type;
    x.all.data = t->data.data();
    x.all.rows = rows * count;
    x.all.cols = cols;
    x.all.row_bytes = t->row_bytes();
    x.count = count;
    x.rows = rows;
    return x;
  }

  // A 1-D vector of n floats (norm weights, biases); converted to F32 when stored otherwise.
  result<const float*> vec(const std::string& name, int64_t n, bool required = true) {
    const gguf::tensor_info* t = f_.find_tensor(name);
    if (!t) {
      if (!required) return static_cast<const float*>(nullptr);
      return make_error("missing tensor '{}'", name);
    }
    if (t->n_elements != static_cast<uint64_t>(n) || t->ne[0] != n) {
      return make_error("tensor '{}' has shape {}, expected [{}]", name, shape_str(*t), n);
    }
    if (t->type == dtype::f32) {
      if (reinterpret_cast<uintptr_t>(t->data.data()) % alignof(float) == 0) {
        return reinterpret_cast<const float*>(t->data.data());
      }
    } else if (!traits(t->type).codec || traits(t->type).block_elems > 1) {
      return make_error("tensor '{}' has type {}; 1-D tensors must be f32, f16 or bf16", name,
                        dtype_name(t->type));
    }
    auto& v = w_.owned.emplace_back(static_cast<size_t>(n));
    UMA_TRY(dequantize_row(t->type, t->data.data(), v.data(), n));
    return static_cast<const float*>(v.data());
  }

 private:
  const gguf::file& f_;
  weights& w_;
};

}  // namespace

result<std::unique_ptr<weights>> bind_weights(const gguf::file& f, const model_config& c) {
  auto w = std::make_unique<weights>();
  binder b(f, *w);
  const int64_t e = c.n_embd;

  UMA_ASSIGN(w->token_embd, b.matrix("token_embd.weight", e, c.n_vocab));
  if (!traits(w->token_embd.type).codec) {
    return make_error("tensor 'token_embd.weight' has type {}, which uma cannot decode",
                      dtype_name(w->token_embd.type));
  }
  UMA_ASSIGN(w->output_norm, b.vec("output_norm.weight", e));
  UMA_ASSIGN(w->output, b.matrix("output.weight", e, c.n_vocab, /*required=*/false));
  if (!w->output) {
    w->output = w->token_embd;
    w->tied_output = true;
  }
  UMA_ASSIGN(w->rope_freqs, b.vec("rope_freqs.weight", c.n_rot / 2, /*required=*/false));

  // A block_count larger than the blocks present is reported as such, not as a lone tensor.
  if (!f.find_tensor(fmt::format("blk.{}.attn_norm.weight", c.n_layer - 1)) &&
      !f.find_tensor(fmt::format("blk.{}.attn_q.weight", c.n_layer - 1))) {
    int64_t present = 0;
    while (f.find_tensor(fmt::format("blk.{}.attn_q.weight", present))) ++present;
    return make_error("block_count is {} but the file has tensors for {} layers", c.n_layer,
                      present);
  }

  w->layers.resize(static_cast<size_t>(c.n_layer));
  for (int64_t il = 0; il < c.n_layer; ++il) {
    auto& l = w->layers[static_cast<size_t>(il)];
    auto n = [il](const char* s) { return fmt::format("blk.{}.{}", il, s); };
    UMA_ASSIGN(l.attn_norm, b.vec(n("attn_norm.weight"), e));
    UMA_ASSIGN(l.wq, b.matrix(n("attn_q.weight"), e, c.q_width()));
    UMA_ASSIGN(l.wk, b.matrix(n("attn_k.weight"), e, c.kv_width()));
    UMA_ASSIGN(l.wv, b.matrix(n("attn_v.weight"), e, c.v_width()));
    UMA_ASSIGN(l.wo, b.matrix(n("attn_output.weight"), c.n_head * c.head_dim_v, e));
    UMA_ASSIGN(l.bq, b.vec(n("attn_q.bias"), c.q_width(), c.qkv_bias));
    UMA_ASSIGN(l.bk, b.vec(n("attn_k.bias"), c.kv_width(), c.qkv_bias));
    UMA_ASSIGN(l.bv, b.vec(n("attn_v.bias"), c.v_width(), c.qkv_bias));
    UMA_ASSIGN(l.bo, b.vec(n("attn_output.bias"), e, false));
    UMA_ASSIGN(l.q_norm, b.vec(n("attn_q_norm.weight"), c.head_dim, c.qk_norm));
    UMA_ASSIGN(l.k_norm, b.vec(n("attn_k_norm.weight"), c.head_dim, c.qk_norm));
    if (!c.qk_norm) l.q_norm = l.k_norm = nullptr;
    UMA_ASSIGN(l.post_attn_norm, b.vec(n("post_attention_norm.weight"), e, c.post_norms));
    UMA_ASSIGN(l.ffn_norm, b.vec(n("ffn_norm.weight"), e));
    if (c.moe()) {
      // Older GGUFs (llama.cpp before mid-2024) stored Mixtral's experts one tensor each.
      if (f.find_tensor(n("ffn_gate.0.weight")) != nullptr &&
          f.find_tensor(n("ffn_gate_exps.weight")) == nullptr)
        return make_error(
            "tensor '{}' holds one expert: this GGUF stores its experts one tensor each (an old "
            "conversion); convert it again with a current llama.cpp (3-D ffn_*_exps tensors)",
            n("ffn_gate.0.weight"));
      // Shared experts (Granite-MoE-shared in llama's layout, qwen2moe) are not run: refuse
      // rather than compute without them.
      if (f.find_tensor(n("ffn_gate_shexp.weight")) != nullptr ||
          f.find_tensor(n("ffn_up_shexp.weight")) != nullptr)
        return make_error("tensor '{}': shared experts are not supported",
                          n("ffn_up_shexp.weight"));
      UMA_ASSIGN(l.ffn_gate_inp, b.matrix(n("ffn_gate_inp.weight"), e, c.n_expert));
      UMA_ASSIGN(l.gate_exps, b.experts(n("ffn_gate_exps.weight"), e, c.n_ff_exp, c.n_expert));
      UMA_ASSIGN(l.up_exps, b.experts(n("ffn_up_exps.weight"), e, c.n_ff_exp, c.n_expert));
      UMA_ASSIGN(l.down_exps, b.experts(n("ffn_down_exps.weight"), c.n_ff_exp, e, c.n_expert));
    } else {
      UMA_ASSIGN(l.w_gate, b.matrix(n("ffn_gate.weight"), e, c.n_ff));
      UMA_ASSIGN(l.w_up, b.matrix(n("ffn_up.weight"), e, c.n_ff));
      UMA_ASSIGN(l.w_down, b.matrix(n("ffn_down.weight"), c.n_ff, e));
    }
    UMA_ASSIGN(l.post_ffn_norm, b.vec(n("post_ffw_norm.weight"), e, c.post_norms));
  }
  return w;
}

void weights::region_unmap::operator()(uint8_t* p) const {
  if (p != nullptr) munmap(p, bytes);
}

namespace {

// The matrices interleave_weights copies (W: weights or const weights).
template <class W>
auto repack_targets(W& w, bool all) {
  using ref = std::conditional_t<std::is_const_v<W>, const matrix_ref*, matrix_ref*>;
  const auto take = [all](const matrix_ref& m) {
    return all ? interleave_supported(m.view()) : kernels::repack_faster(m.view());
  };
  std::vector<ref> todo;
  for (auto& l : w.layers)
    for (ref m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
      if (*m && take(*m)) todo.push_back(m);
  if (take(w.output)) todo.push_back(&w.output);
  return todo;
}

}  // namespace

uint64_t repack_bytes(const weights& w, bool all) {
  uint64_t n = 0;
  for (const matrix_ref* m : repack_targets(w, all)) n += m->bytes();
  return n;
}

void interleave_weights(weights& w, const gguf::file& f, thread_pool* pool, bool all) {
  const std::vector<matrix_ref*> todo = repack_targets(w, all);
  if (todo.empty()) return;
  size_t total = 0;
  for (const matrix_ref* m : todo) total += (static_cast<size_t>(m->bytes()) + 63) / 64 * 64;
  // One anonymous region for all copies. Not MADV_HUGEPAGE: measured on the dev VM (THP on
  // madvise), decode was ~3 % faster but one load in two took 5.9 s instead of 0.3 s (direct
  // compaction on fault, which also evicted the model file from the page cache).
  void* region = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (region == MAP_FAILED) return;  // keep the zero-copy views
  w.interleaved = std::unique_ptr<uint8_t, weights::region_unmap>(static_cast<uint8_t*>(region),
                                                                  weights::region_unmap{total});
  uint8_t* dst = w.interleaved.get();
  for (matrix_ref* m : todo) {
    const size_t bytes = static_cast<size_t>(m->bytes());
    kernels::interleave(m->view(), dst, pool);
    w.interleaved_bytes += bytes;
    if (m != &w.output || !w.tied_output)
      f.release({static_cast<const std::byte*>(m->data), bytes});
    m->data = dst;
    m->layout = kernels::weight_layout::x16;
    dst += (bytes + 63) / 64 * 64;
  }
  // The token embedding (tied or not) is read one row per token from the mapping: drop the pages
  // the copy touched, the few rows used fault back in.
  if (w.tied_output && w.output.layout == kernels::weight_layout::x16)
    f.release({static_cast<const std::byte*>(w.token_embd.data),
               static_cast<size_t>(w.token_embd.bytes())});
}

uint64_t decode_bytes(const weights& w, const model_config& c) {
  uint64_t n = w.output.bytes() + w.token_embd.row_bytes + static_cast<uint64_t>(c.n_embd) * 4;
  for (const auto& l : w.layers) {
    n += l.wq.bytes() + l.wk.bytes() + l.wv.bytes() + l.wo.bytes() + l.w_gate.bytes() +
         l.w_up.bytes() + l.w_down.bytes();
    // Experts: the router, and the experts a token uses (n_expert_used of n_expert).
    if (l.gate_exps) {
      n += l.ffn_gate_inp.bytes();
      n += (l.gate_exps.bytes() + l.up_exps.bytes() + l.down_exps.bytes()) /
           static_cast<uint64_t>(c.n_expert) * static_cast<uint64_t>(c.n_expert_used);
    }
    n += static_cast<uint64_t>(2 * c.n_embd) * 4;  // norms
  }
  return n;
}

}  // namespace uma::model
