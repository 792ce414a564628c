// Writes the checked-in seed corpus for the gguf harness (tests/fuzz/corpus/gguf/): small valid
// files covering every value type, nested arrays, v2 and v3, custom alignment, several tensor
// types, and a real model's metadata cut down to a few tokens. Run by hand when the format
// support changes:  tests/fuzz/run.sh --seeds
#include <cstdio>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "gguf/writer.h"

using namespace uma;
using namespace uma::gguf;

namespace {

int fail(const std::string& m) {
  std::fprintf(stderr, "make_gguf_seeds: %s\n", m.c_str());
  return 1;
}

bool save(const std::string& path, std::span<const std::byte> b) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  bool ok = std::fwrite(b.data(), 1, b.size(), f) == b.size();
  return std::fclose(f) == 0 && ok;
}

std::vector<std::byte> filled(size_t n, int seed) {
  std::vector<std::byte> v(n);
  for (size_t k = 0; k < n; ++k) v[k] = static_cast<std::byte>((k * 31 + seed) & 0xff);
  return v;
}

// A model file's metadata, with every array cut to `keep` elements, plus a few tiny tensors.
result<std::vector<std::byte>> shrunk(const std::string& path, uint64_t keep) {
  UMA_ASSIGN(file f, file::open(path));
  writer w;
  for (const auto& [k, v] : f.metadata()) {
    if (!v.is_array()) {
      w.set_value(k, v);
      continue;
    }
    value cut = v;
    cut.count = std::min<uint64_t>(v.count, keep);
    if (v.elem_type == value_type::string) cut.strs.resize(cut.count);
    if (v.elem_type == value_type::array) cut.items.resize(cut.count);
    cut.raw = v.raw.first(cut.count * v.scalar_elem_size());
    w.set_value(k, cut);
  }
  const int64_t q4[] = {32, 2}, qk[] = {256}, f16[] = {4, 2, 1, 2};
  UMA_TRY(w.add_tensor_bytes("blk.0.attn_q.weight", dtype::q4_0, q4, filled(36, 1)));
  UMA_TRY(w.add_tensor_bytes("blk.0.ffn_down.weight", dtype::q4_k, qk, filled(144, 2)));
  UMA_TRY(w.add_tensor_bytes("output_norm.weight", dtype::f16, f16, filled(32, 3)));
  return w.write_to_memory();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return fail("usage: make_gguf_seeds OUT_DIR SHARED_DATA_DIR");
  std::string out = argv[1], data = argv[2];

  {  // every value type, nested arrays, custom alignment, several tensor types
    writer w;
    w.set_string("general.architecture", "llama");
    w.set_u8("a.u8", 200);
    w.set_i8("a.i8", -7);
    w.set_u16("a.u16", 60000);
    w.set_i16("a.i16", -300);
    w.set_u32("llama.block_count", 2);
    w.set_i32("a.i32", -70000);
    w.set_u64("a.u64", 1ull << 40);
    w.set_i64("a.i64", -(1ll << 40));
    w.set_f32("a.f32", 0.125f);
    w.set_f64("a.f64", 1e100);
    w.set_bool("a.bool", true);
    w.set_array_string("tokenizer.ggml.tokens", std::vector<std::string>{"<s>", "a",
                                                                         "\xe2\x96\x81"
                                                                         "b"});
    const float sc[] = {0, -1, -2};
    w.set_array_f32("tokenizer.ggml.scores", sc);
    const int32_t tt[] = {3, 1, 1};
    w.set_array_i32("tokenizer.ggml.token_type", tt);
    value inner;
    inner.type = value_type::array;
    inner.elem_type = value_type::string;
    inner.strs = {"x", "yz"};
    value mid;
    mid.type = value_type::array;
    mid.elem_type = value_type::array;
    mid.items = {inner, inner};
    value top;
    top.type = value_type::array;
    top.elem_type = value_type::array;
    top.items = {mid};
    w.set_value("a.nested", top);
    w.set_alignment(64);
    const int64_t a[] = {8, 2}, b[] = {32, 1}, c[] = {3};
    if (!w.add_tensor_bytes("token_embd.weight", dtype::f32, a, filled(64, 4)).ok() ||
        !w.add_tensor_bytes("blk.0.attn_k.weight", dtype::q8_0, b, filled(34, 5)).ok() ||
        !w.add_tensor_bytes("rope_freqs.weight", dtype::bf16, c, filled(6, 6)).ok())
      return fail("add_tensor");
    auto bytes = w.write_to_memory();
    if (!bytes.ok() || !save(out + "/all_types.gguf", *bytes)) return fail("all_types");
  }
  {  // empty file: no keys, no tensors
    writer w;
    auto bytes = w.write_to_memory();
    if (!bytes.ok() || !save(out + "/empty.gguf", *bytes)) return fail("empty");
  }
  {  // version 2 header (same layout as 3 for little-endian files), one tensor
    writer w;
    w.set_string("general.name", "v2");
    const int64_t ne[] = {4};
    if (!w.add_tensor_bytes("w", dtype::f32, ne, filled(16, 7)).ok()) return fail("v2 tensor");
    auto bytes = w.write_to_memory();
    if (!bytes.ok()) return fail("v2");
    (*bytes)[4] = std::byte{2};
    if (!save(out + "/v2.gguf", *bytes)) return fail("v2 save");
  }
  for (const char* name : {"golden/tiny-qwen3.q4_k_m.gguf", "vocab/ggml-vocab-llama-spm.gguf"}) {
    auto bytes = shrunk(data + "/" + name, 6);
    if (!bytes.ok()) return fail(bytes.message());
    std::string base = name;
    base = base.substr(base.find('/') + 1);
    if (!save(out + "/shrunk-" + base, *bytes)) return fail("save shrunk");
  }
  return 0;
}
