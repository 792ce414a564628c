// Error handling without exceptions on hot or parsing paths: functions that can fail on bad input
// return `result<T>` (a value or an `error` with a human-readable message) or `status`.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace uma {

struct error {
  std::string message;
};

// Builds an error with fmt-style formatting: `return make_error("bad magic {:#x}", m);`
template <class... Args>
error make_error(fmt::format_string<Args...> f, Args&&... args) {
  return error{fmt::format(f, std::forward<Args>(args)...)};
}

template <class T>
class [[nodiscard]] result {
 public:
  result(T v) : v_(std::move(v)) {}      // NOLINT: implicit by design
  result(error e) : v_(std::move(e)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const error& err() const {
    assert(!ok());
    return std::get<1>(v_);
  }
  const std::string& message() const { return err().message; }

 private:
  std::variant<T, error> v_;
};

class [[nodiscard]] status {
 public:
  status() = default;
  status(error e) : err_(std::move(e)), failed_(true) {}  // NOLINT
  static status ok_status() { return {}; }
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const error& err() const { return err_; }
  const std::string& message() const { return err_.message; }

 private:
  error err_;
  bool failed_ = false;
};

}  // namespace uma

// UMA_TRY(status_expr): return the error if the status failed.
#define UMA_TRY(expr)                        \
  do {                                       \
    auto _uma_st = (expr);                   \
    if (!_uma_st.ok()) return _uma_st.err(); \
  } while (0)

#define UMA_CONCAT_INNER(a, b) a##b
#define UMA_CONCAT(a, b) UMA_CONCAT_INNER(a, b)
// UMA_ASSIGN(lhs, result_expr): `UMA_ASSIGN(auto f, open(path));` returns the error on failure.
#define UMA_ASSIGN(lhs, expr) UMA_ASSIGN_IMPL(UMA_CONCAT(_uma_r, __LINE__), lhs, expr)
#define UMA_ASSIGN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                    \
  if (!tmp.ok()) return tmp.err();      \
  lhs = std::move(tmp).value()
