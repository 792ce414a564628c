// Numeric settings from the environment (diagnostic and tuning knobs such as UMA_AMX_BF16_KC):
// a malformed value is reported and ignored, never half-read.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace uma {

// The whole of s as a non-negative decimal integer up to `max`, else nullopt (empty, signs,
// spaces, trailing characters, overflow).
std::optional<int64_t> parse_count(std::string_view s, int64_t max);

// getenv(name) through parse_count: `fallback` when unset or empty; when set but malformed or
// above `max`, one line on stderr naming the variable, and `fallback`.
int64_t env_count(const char* name, int64_t fallback, int64_t max);

}  // namespace uma
