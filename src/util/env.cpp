#include "util/env.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace uma {

std::optional<int64_t> parse_count(std::string_view s, int64_t max) {
  if (s.empty() || s.front() < '0' || s.front() > '9') return std::nullopt;
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

int64_t env_count(const char* name, int64_t fallback, int64_t max) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == 0) return fallback;
  if (const auto n = parse_count(v, max)) return *n;
  std::fprintf(stderr, "uma: ignoring %s=%s (want a whole number 0..%lld)\n", name, v,
               static_cast<long long>(max));
  return fallback;
}

}  // namespace uma
