// KL divergence against a saved run; see kl_divergence.h.
#include "engine/kl_divergence.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

namespace uma::engine {
namespace {

constexpr char magic[8] = {'U', 'M', 'A', 'K', 'L', '0', '1', '\0'};
constexpr uint64_t header_bytes = 8 + 4 + 4 + 8 + 8 + 8;

void put(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint64_t get(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}

}  // namespace

uint64_t kl_tokens_hash(const std::vector<int32_t>& tokens, int64_t ctx) {
  uint64_t h = 1469598103934665603ull;
  const auto mix = [&](uint64_t v) {
    for (int i = 0; i < 8; ++i) h = (h ^ ((v >> (8 * i)) & 0xff)) * 1099511628211ull;
  };
  mix(static_cast<uint64_t>(ctx));
  const auto n = static_cast<int64_t>(tokens.size());
  const int64_t used = ctx > 0 ? n / ctx * ctx : 0;
  for (int64_t i = 0; i < used; ++i) mix(static_cast<uint32_t>(tokens[static_cast<size_t>(i)]));
  return h;
}

double kl_file_bytes(const kl_header& h) {
  return double(header_bytes) + double(h.rows) * h.n_vocab * sizeof(float);
}

int64_t kl_scored_rows(int64_t n_tokens, int64_t ctx) {
  if (ctx < 4) return 0;
  return n_tokens / ctx * (ctx - 1 - ctx / 2);
}

void log_softmax_row(const float* logits, int64_t n, float* out) {
  const float mx = *std::max_element(logits, logits + n);
  double sum = 0;
  for (int64_t k = 0; k < n; ++k) sum += std::exp(double(logits[k]) - mx);
  const double lse = std::log(sum) + mx;
  for (int64_t k = 0; k < n; ++k) out[k] = static_cast<float>(double(logits[k]) - lse);
}

result<std::unique_ptr<kl_writer>> kl_writer::create(const std::string& path, const kl_header& h) {
  // The whole file's size up front: refused where the file system has not that much free.
  const double bytes = kl_file_bytes(h);
  std::error_code ec;
  const auto parent = std::filesystem::absolute(path, ec).parent_path();
  const auto space = std::filesystem::space(parent, ec);
  if (!ec && double(space.available) < bytes)
    return make_error(
        "{} would take {:.2f} GB ({} positions x {} log-probabilities), {:.2f} GB "
        "free there (fewer windows: a shorter text)",
        path, bytes / 1e9, h.rows, h.n_vocab, double(space.available) / 1e9);
  std::unique_ptr<kl_writer> w(new kl_writer());
  w->f_ = std::fopen(path.c_str(), "wb");
  if (w->f_ == nullptr) return make_error("cannot create {}: {}", path, std::strerror(errno));
  w->path_ = path;
  w->h_ = h;
  w->row_.resize(h.n_vocab);
  std::vector<uint8_t> head(magic, magic + 8);
  put(head, h.n_vocab, 4);
  put(head, 0, 4);
  put(head, h.ctx, 8);
  put(head, h.rows, 8);
  put(head, h.tokens_hash, 8);
  if (std::fwrite(head.data(), 1, head.size(), w->f_) != head.size())
    return make_error("cannot write {}", path);
  return w;
}

status kl_writer::write_row(const float* logits) {
  if (written_ >= h_.rows) return make_error("{}: more rows than the header promised", path_);
  log_softmax_row(logits, h_.n_vocab, row_.data());
  if (std::fwrite(row_.data(), sizeof(float), row_.size(), f_) != row_.size())
    return make_error("cannot write {} (disk full?)", path_);
  ++written_;
  return {};
}

status kl_writer::finish() {
  if (written_ != h_.rows) return make_error("{}: {} rows written of {}", path_, written_, h_.rows);
  const int rc = std::fclose(f_);
  f_ = nullptr;
  if (rc != 0) return make_error("cannot write {}", path_);
  return {};
}

kl_writer::~kl_writer() {
  if (f_ != nullptr) std::fclose(f_);
}

result<std::unique_ptr<kl_reader>> kl_reader::open(const std::string& path, const kl_header& want) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return make_error("cannot read {}: {}", path, ec.message());
  if (size < header_bytes)
    return make_error("{}: not a `uma perplexity --kl-save` file (too short)", path);
  std::unique_ptr<kl_reader> r(new kl_reader());
  r->f_ = std::fopen(path.c_str(), "rb");
  if (r->f_ == nullptr) return make_error("cannot read {}: {}", path, std::strerror(errno));
  r->path_ = path;
  uint8_t head[header_bytes];
  if (std::fread(head, 1, header_bytes, r->f_) != header_bytes)
    return make_error("cannot read {}", path);
  if (std::memcmp(head, magic, 8) != 0)
    return make_error("{}: not a `uma perplexity --kl-save` file (bad magic)", path);
  kl_header h;
  h.n_vocab = static_cast<uint32_t>(get(head + 8, 4));
  h.ctx = get(head + 16, 8);
  h.rows = get(head + 24, 8);
  h.tokens_hash = get(head + 32, 8);
  if (h.n_vocab != want.n_vocab)
    return make_error("{}: saved for a vocabulary of {} tokens, this model has {}", path, h.n_vocab,
                      want.n_vocab);
  if (h.ctx != want.ctx)
    return make_error("{}: saved with --ctx {}, this run uses {}", path, h.ctx, want.ctx);
  if (h.rows != want.rows || h.tokens_hash != want.tokens_hash)
    return make_error(
        "{}: saved over another text or tokenization ({} scored positions, this run "
        "{})",
        path, h.rows, want.rows);
  // Before any row is read or held: the size the header promises (rows x vocab floats).
  const uint64_t per_row = uint64_t(h.n_vocab) * sizeof(float);
  if (h.rows > (size - header_bytes) / std::max<uint64_t>(per_row, 1) ||
      size != header_bytes + h.rows * per_row)
    return make_error(
        "{}: {} bytes where the header promises {} rows of {} log-probabilities "
        "(truncated?)",
        path, size, h.rows, h.n_vocab);
  r->h_ = h;
  r->base_.resize(h.n_vocab);
  r->cur_.resize(h.n_vocab);
  r->kl_.reserve(static_cast<size_t>(h.rows));
  return r;
}

status kl_reader::compare_row(const float* logits) {
  if (kl_.size() >= h_.rows) return make_error("{}: more positions than it holds", path_);
  if (std::fread(base_.data(), sizeof(float), base_.size(), f_) != base_.size())
    return make_error("cannot read {}", path_);
  log_softmax_row(logits, h_.n_vocab, cur_.data());
  double kl = 0;
  for (size_t k = 0; k < base_.size(); ++k) {
    const double lp = base_[k];
    if (!std::isfinite(lp)) {
      if (std::isnan(lp)) return make_error("{}: a NaN log-probability", path_);
      continue;  // a zero base probability adds nothing
    }
    kl += std::exp(lp) * (lp - double(cur_[k]));
  }
  kl_.push_back(std::max(0.0, kl));
  const auto top = [](const std::vector<float>& v) {
    return std::max_element(v.begin(), v.end()) - v.begin();
  };
  agree_ += top(base_) == top(cur_);
  return {};
}

kl_summary kl_reader::summary() const {
  kl_summary s;
  s.rows = static_cast<int64_t>(kl_.size());
  if (kl_.empty()) return s;
  std::vector<double> v = kl_;
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  const auto at = [&](double q) {
    const auto i = static_cast<size_t>(std::ceil(q * double(v.size())));
    return v[std::clamp<size_t>(i, 1, v.size()) - 1];
  };
  s.kl_mean = sum / double(v.size());
  s.kl_median = at(0.5);
  s.kl_p99 = at(0.99);
  s.kl_max = v.back();
  s.top1_agree = double(agree_) / double(v.size());
  return s;
}

kl_reader::~kl_reader() {
  if (f_ != nullptr) std::fclose(f_);
}

}  // namespace uma::engine
