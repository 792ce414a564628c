// The normal-quantile table behind fill_row (random.h), built once on first use.
#include <cmath>
#include <mutex>
#include <vector>

#include "synth/random.h"

namespace uma::synth {
namespace {

// Inverse of the standard normal CDF for p in (0, 1): Acklam's rational approximation (relative
// error < 1.2e-9, far below float precision).
double inverse_normal_cdf(double p) {
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  constexpr double p_low = 0.02425;
  auto tail = [&](double q) {
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  };
  if (p < p_low) return tail(std::sqrt(-2 * std::log(p)));
  if (p > 1 - p_low) return -tail(std::sqrt(-2 * std::log(1 - p)));
  const double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

}  // namespace

const float* normal_table() {
  static std::vector<float> table;
  static std::once_flag once;
  std::call_once(once, [] {
    constexpr int n = 65536;
    std::vector<double> q(n);
    double sum_sq = 0;
    for (int i = 0; i < n; ++i) {
      q[i] = inverse_normal_cdf((i + 0.5) / n);
      sum_sq += q[i] * q[i];
    }
    const double scale = 1.0 / std::sqrt(sum_sq / n);  // midpoint quantiles: variance 0.99998
    table.resize(n);
    for (int i = 0; i < n; ++i) table[i] = static_cast<float>(q[i] * scale);
  });
  return table.data();
}

}  // namespace uma::synth
