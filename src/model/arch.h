// Registry of supported architectures. Each archs/<arch>.cpp defines one `arch_def`: how its
// hyperparameters differ from the common `<arch>.*` keys, which tensors it requires, and its layer
// forward built from the shared blocks in model/blocks.h.
#pragma once

#include <string_view>

#include "model/config.h"
#include "util/status.h"

namespace uma::gguf {
class file;
}

namespace uma::model {

struct forward_state;  // model/blocks.h
struct weights;

struct arch_def {
  const char* name;
  arch_id id;
  // Architecture-specific config after the common keys are read (rope style, features).
  status (*configure)(const gguf::file& f, model_config& c);
  // One transformer layer of the production path on the batch in `st` (residual in st.x).
  void (*layer_forward)(forward_state& st, int64_t il);
};

const arch_def* find_arch(std::string_view name);

// Defined in archs/*.cpp.
extern const arch_def llama_arch;
extern const arch_def qwen2_arch;
extern const arch_def qwen3_arch;
extern const arch_def qwen3moe_arch;
extern const arch_def gemma3_arch;

}  // namespace uma::model
