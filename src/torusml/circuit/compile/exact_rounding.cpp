#include "torusml/circuit/compile/exact_rounding.h"

#include <algorithm>

#include "torusml/common/check.h"

namespace torusml::circuit {

std::vector<unsigned> exact_rounding_chunks(unsigned width, unsigned lsbs,
                                            unsigned max_table_bits) {
  TORUSML_CHECK(lsbs >= 1 && lsbs < width,
                "exact rounding of " << lsbs << " of " << width << " bits");
  const unsigned largest = std::max(2u, std::min(width - lsbs, max_table_bits) + 1);
  std::vector<unsigned> chunks;
  for (unsigned left = lsbs; left > 0;) {
    const unsigned c = std::min(largest, left);
    chunks.push_back(c);
    left -= c;
  }
  return chunks;
}

ExactRoundingPlan plan_exact_rounding(unsigned width, unsigned lsbs, bool is_signed,
                                      std::span<const unsigned> chunks) {
  TORUSML_CHECK(lsbs >= 1 && lsbs < width && width <= 62,
                "exact rounding of " << lsbs << " of " << width << " bits");
  unsigned total = 0;
  for (unsigned c : chunks) {
    TORUSML_CHECK(c >= 1, "an empty chunk");
    total += c;
  }
  TORUSML_CHECK_EQ(total, lsbs);
  using tfhe::Torus;
  const Torus eighth = Torus{1} << 61;  // q/8: half a box of a 1-bit table
  ExactRoundingPlan plan;
  unsigned outputs = 0;
  const std::int64_t two_h = std::int64_t{1} << lsbs;  // h = 2^(r-1) in units of D/2
  if (is_signed) {
    // acc = x + h - [x < 0]: the sign read of x (boundary at x = 0), table +D/2.
    ExactRoundingStep s;
    s.shift = 0;
    s.offset = Torus{0} - eighth;
    s.table = {1, 1};
    s.constant = two_h - 1;
    s.precision_bits = width - lsbs;
    s.outputs_before = outputs++;
    plan.steps.push_back(std::move(s));
  } else {
    plan.initial = two_h;
  }
  unsigned low = 0;  // s_j: the chunk's first bit
  for (unsigned c : chunks) {
    const unsigned shift = width + 1 - low - c;
    // (a) the digit's top bit: acc -= b 2^(s+c-1) (units of x) = b 2^(s+c) (units of D/2).
    const std::int64_t half_top = std::int64_t{1} << (low + c - 1);  // 2^(s+c-1) D/2
    ExactRoundingStep a;
    a.shift = shift;
    a.offset = (Torus{1} << (63 - c)) - eighth;  // q/2^(c+1) - q/8
    a.table = {half_top, half_top};
    a.constant = -half_top;
    a.precision_bits = std::max(1u, c - 1);
    a.outputs_before = outputs++;
    plan.steps.push_back(std::move(a));
    if (c >= 2) {
      // (b) the rest of the digit, d' in [0, 2^(c-1)): acc -= d' 2^s (units of x).
      ExactRoundingStep b;
      b.shift = shift;
      b.offset = 0;
      b.table.resize(std::size_t{1} << (c - 1));
      for (std::size_t d = 0; d < b.table.size(); ++d)
        b.table[d] = -static_cast<std::int64_t>(d) * (std::int64_t{2} << low);
      b.constant = 0;
      b.precision_bits = c - 1;
      b.outputs_before = outputs++;
      plan.steps.push_back(std::move(b));
    }
    low += c;
  }
  return plan;
}

}  // namespace torusml::circuit
