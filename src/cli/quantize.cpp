// `uma quantize IN OUT --type T`: convert a GGUF between weight formats. Metadata is copied
// (general.file_type updated), each tensor gets the type chosen by tensor/quant_plan.h, and rows
// are converted in parallel on the thread pool, streamed straight into the output file.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "tensor/dtype.h"
#include "tensor/quant.h"
#include "tensor/quant_plan.h"
#include "util/thread_pool.h"

namespace {

struct quantize_cli {
  std::string input;
  std::string output;
  std::string type;
  int threads = 0;
  bool quiet = false;
};

struct planned_tensor {
  const uma::gguf::tensor_info* src;
  uma::dtype out;
};

// Converts all rows of `t` into `dst` (exactly the output tensor's bytes).
uma::status convert_tensor(const uma::gguf::tensor_info& t, uma::dtype out,
                           std::span<std::byte> dst, uma::thread_pool& pool) {
  if (out == t.type) {
    if (dst.size() != t.data.size())
      return uma::make_error("tensor '{}': size mismatch", uma::gguf::printable(t.name));
    std::memcpy(dst.data(), t.data.data(), dst.size());
    return {};
  }
  const int64_t cols = t.ne[0];
  const int64_t rows = t.rows();
  const size_t in_row = t.row_bytes();
  const size_t out_row = static_cast<size_t>(*uma::bytes_for(out, static_cast<uint64_t>(cols)));
  if (static_cast<uint64_t>(rows) * out_row != dst.size())
    return uma::make_error("tensor '{}': size mismatch", uma::gguf::printable(t.name));
  std::vector<std::vector<float>> scratch(static_cast<size_t>(pool.size()));
  std::vector<std::string> errors(static_cast<size_t>(pool.size()));
  // About 1 MiB of floats per chunk keeps the threads balanced without much overhead.
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 18) / std::max<int64_t>(cols, 1));
  pool.parallel_for(rows, grain, [&](int ti, int64_t begin, int64_t end) {
    auto& buf = scratch[static_cast<size_t>(ti)];
    buf.resize(static_cast<size_t>(cols));
    for (int64_t r = begin; r < end; ++r) {
      const std::byte* in = t.data.data() + static_cast<size_t>(r) * in_row;
      std::byte* o = dst.data() + static_cast<size_t>(r) * out_row;
      auto st = uma::dequantize_row(t.type, in, buf.data(), cols);
      if (st.ok()) st = uma::quantize_row(out, buf.data(), o, cols);
      if (!st.ok()) {
        errors[static_cast<size_t>(ti)] = st.message();
        return;
      }
    }
  });
  for (const auto& e : errors)
    if (!e.empty()) return uma::make_error("tensor '{}': {}", uma::gguf::printable(t.name), e);
  return {};
}

int run_quantize(const quantize_cli& c) {
  const auto fail = [](const std::string& m) { return uma::cli::fail("quantize", m); };
  if (int code = 0; uma::cli::bad_threads("quantize", c.threads, &code)) return code;
  auto target = uma::parse_quant_target(c.type);
  if (!target.ok()) return fail(target.message());
  auto opened = uma::gguf::file::open(c.input);
  if (!opened.ok()) return fail("cannot read " + c.input + ": " + opened.message());
  const uma::gguf::file& in = *opened;

  uma::quant_model_info model;
  model.arch = std::string(in.architecture());
  model.n_layer = in.get_int(model.arch + ".block_count").value_or(0);
  model.n_expert = in.get_int(model.arch + ".expert_count").value_or(0);
  model.has_output = in.find_tensor("output.weight") != nullptr;

  // Plan every tensor before writing anything, so a bad input fails without output.
  std::vector<planned_tensor> plan;
  uint64_t in_bytes = 0, out_bytes = 0;
  std::map<std::string, int> counts;
  for (const auto& t : in.tensors()) {
    const uma::dtype out =
        uma::choose_quant_type(*target, model, {t.name, t.n_dims, t.ne[0], t.type});
    if (out != t.type && !uma::can_dequantize(t.type))
      return fail("tensor '" + uma::gguf::printable(t.name) + "': no dequantizer for its type " +
                  std::string(uma::dtype_name(t.type)));
    plan.push_back({&t, out});
    in_bytes += t.n_bytes;
    out_bytes += *uma::bytes_for(out, t.n_elements);
    counts[std::string(uma::dtype_name(out))]++;
  }

  uma::gguf::writer w;
  for (const auto& [key, v] : in.metadata()) {
    if (key == "general.file_type" || key == "general.quantization_version") continue;
    w.set_value(key, v);
  }
  w.set_u32("general.quantization_version", 2);  // ggml's GGML_QNT_VERSION
  w.set_u32("general.file_type", target->file_type);

  uma::thread_pool pool(c.threads);
  for (const auto& p : plan) {
    const auto* t = p.src;
    std::vector<int64_t> ne(t->ne, t->ne + std::max(t->n_dims, 1));
    const uma::dtype out = p.out;
    auto fill = [t, out, &pool](std::span<std::byte> dst) {
      return convert_tensor(*t, out, dst, pool);
    };
    if (auto st = w.add_tensor(t->name, out, ne, fill); !st.ok()) return fail(st.message());
  }
  const auto start = std::chrono::steady_clock::now();
  if (auto st = w.write(c.output); !st.ok()) return fail(st.message());
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!c.quiet) {
    std::string mix;
    for (const auto& [name, n] : counts) mix += " " + name + ":" + std::to_string(n);
    std::printf(
        "wrote %s (%s): %zu tensors [%s ], %.1f MiB -> %.1f MiB in %.2f s (%.0f MB/s in, %d "
        "threads)\n",
        c.output.c_str(), target->name.c_str(), plan.size(), mix.c_str(),
        double(in_bytes) / (1 << 20), double(out_bytes) / (1 << 20), secs,
        secs > 0 ? double(in_bytes) / 1e6 / secs : 0.0, pool.size());
  }
  return 0;
}

}  // namespace

UMA_COMMAND(
    quantize, "convert a GGUF between weight formats", [](CLI::App& app) -> uma::cli::runner {
      auto o = std::make_shared<quantize_cli>();
      app.add_option("input", o->input, "source GGUF")->required();
      app.add_option("output", o->output, "GGUF to write")->required();
      app.add_option("-t,--type", o->type, "target: " + uma::quant_target_names())->required();
      app.add_option("--threads", o->threads, "worker threads (0: one per physical core)");
      app.add_flag("-q,--quiet", o->quiet, "print nothing on success");
      return [o] { return run_quantize(*o); };
    });
