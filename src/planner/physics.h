// The planner's physics: pure functions from a model's shape, a weight format and a machine's
// figures to memory, tok/s, energy and money. No I/O, no catalogs; every formula is spelled out in
// docs/planner.md and checked against hand-computed cases in tests/unit/planner/physics_test.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "planner/catalog.h"
#include "planner/quant.h"

namespace uma::planner {

// Fractions of the hardware peak the engine reaches. Defaults are guesses until calibrated from
// `uma bench --json` (see calibrate.h).
struct efficiency {
  double decode = 0.6;   // achieved / theoretical memory bandwidth while decoding
  double prefill = 0.5;  // achieved / peak dense fp16 compute while prefilling
  std::string source = "default guess (calibrate with --calibrate bench.json)";
};

// A link between pipeline stages: one-way latency per hop and bandwidth.
struct link_spec {
  std::string name;
  double latency_us = 0;
  double gbit_s = 0;
  std::string note;
  bool tensor_parallel = false;  // GPUs on NVLink split every layer instead of layer ranges
};
const std::vector<link_spec>& link_presets();
const link_spec* find_link(std::string_view name);
// Picks a preset from the hardware's interconnect text (RDMA over Thunderbolt 5, NVLink, ...).
const link_spec& default_link(const hardware_spec& hw);

// ---- memory ----

// Bytes of all weights: params x bpw / 8, or the GGUF file's exact bytes when quant is null.
double weight_bytes(const model_spec& m, const quant_format* q);
// KV cache values stored per token per full-attention layer (K and V; MLA: latent + rope key).
double kv_values_per_token_layer(const model_spec& m);
// KV cache bytes for `users` sequences of `ctx` tokens; sliding-window layers hold at most
// `window` tokens, linear-attention layers none.
double kv_cache_bytes(const model_spec& m, int64_t ctx, int64_t users, double elem_bytes);
// Runtime overhead beside weights and KV: 1 GiB + 1% of the weight bytes.
double overhead_bytes(double weight_bytes);
// Memory a model may use on the machine: total minus an OS / driver reserve by kind.
double usable_bytes(const hardware_spec& hw);

struct workload {
  const quant_format* quant = nullptr;  // null: the GGUF file's own weights
  int64_t ctx = 8192;                   // tokens per sequence
  int64_t users = 1;                    // concurrent sequences
  double kv_elem_bytes = 2.0;           // f16 KV cache
};

struct memory_need {
  double weights = 0, kv = 0, overhead = 0;  // totals over all nodes
  double total() const { return weights + kv + overhead; }
};
// Need when split over `nodes` identical machines (each pays its own overhead).
memory_need memory_for(const model_spec& m, const workload& w, int nodes);
bool fits(const model_spec& m, const hardware_spec& hw, const workload& w, int nodes);
// Smallest node count in [1, max_nodes] that fits, or 0.
int nodes_needed(const model_spec& m, const hardware_spec& hw, const workload& w, int max_nodes);
// Longest context (<= the model's context_length) for w.users sequences; 0 if none fits.
int64_t max_context(const model_spec& m, const hardware_spec& hw, const workload& w, int nodes);
// Most concurrent sequences of w.ctx tokens; 0 if none fits.
int64_t max_users(const model_spec& m, const hardware_spec& hw, const workload& w, int nodes);

// ---- speed ----

// Fraction of the weight bytes read per decode step for `users` sequences. Dense: everything but
// the input-embedding lookup (untied models). MoE: shared parts + routed experts, where a batch of
// U sequences touches 1 - (1 - k/n)^U of each layer's experts.
double weight_read_fraction(const model_spec& m, int64_t users);
// Bytes read from memory per decode step: weights once for the batch + each sequence's KV cache
// up to `kv_pos` tokens.
double decode_step_bytes(const model_spec& m, const workload& w, int64_t kv_pos);
// Seconds of link time per decode step through `nodes` stages: `nodes` hops of latency (nodes-1
// activations forward and the sampled token back) + activation bytes (n_embd f16 per sequence).
double pipeline_hop_seconds(const model_spec& m, int nodes, const link_spec& link, int64_t users);

// Seconds of link time per decode step when `nodes` GPUs split every layer (tensor parallel):
// two all-reduces per layer, each a hop of latency + 2 (n-1)/n x users x n_embd f16 values.
double tensor_parallel_seconds(const model_spec& m, int nodes, const link_spec& link,
                               int64_t users);

struct decode_speed {
  double per_user_tps = 0;   // tokens/s seen by each sequence
  double aggregate_tps = 0;  // tokens/s over all sequences
  bool compute_bound = false;
};
// Step time = max(bytes / (eff x bandwidth), flops / (eff x compute)) + pipeline hops; on a
// tensor-parallel link the nodes share each step (time / nodes) and pay all-reduces instead.
decode_speed decode(const model_spec& m, const hardware_spec& hw, const workload& w,
                    const efficiency& eff, int nodes, const link_spec& link, int64_t kv_pos);
// The physical upper bound: all of the bandwidth, one sequence, empty context, no overhead.
double decode_bound_tps(const model_spec& m, const hardware_spec& hw, const quant_format* q);
// FLOPs per prompt token for a prompt of `prompt_len`: 2 x params used + attention over the
// (window-limited) prefix, averaged over the prompt.
double prefill_flops_per_token(const model_spec& m, int64_t prompt_len);
// eff x fp16 compute / flops per token; nullopt when the hardware has no compute figure.
std::optional<double> prefill_tps(const model_spec& m, const hardware_spec& hw,
                                  const efficiency& eff, int64_t prompt_len);

// ---- energy and money ----

// kWh per million tokens at `watts` and `tps`.
double kwh_per_mtok(double watts, double tps);
// Owning: the price amortised over `life_years` of which `utilisation` is spent generating,
// plus electricity while generating; per million tokens at `tps`.
double own_usd_per_mtok(double price_usd, double life_years, double utilisation, double watts,
                        double usd_per_kwh, double tps);
// Renting at `usd_per_hour`, busy `utilisation` of the paid hours; per million tokens at `tps`.
double rent_usd_per_mtok(double usd_per_hour, double utilisation, double tps);
// Hours of generation after which owning is cheaper than renting the same tokens; nullopt when
// renting is always cheaper (the rented tokens cost less than the electricity alone).
std::optional<double> break_even_hours(double price_usd, double watts, double usd_per_kwh,
                                       double rent_usd_per_hour, double tps_own, double tps_rent);

}  // namespace uma::planner
