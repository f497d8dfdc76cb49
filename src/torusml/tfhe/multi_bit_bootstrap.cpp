#include "torusml/tfhe/multi_bit_bootstrap.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "torusml/common/check.h"
#include "torusml/common/error.h"
#include "torusml/common/multiversion.h"
#include "torusml/tfhe/bootstrap.h"
#include "torusml/tfhe/fft.h"
#include "torusml/tfhe/modulus_switch.h"
#include "torusml/tfhe/polynomial.h"

namespace torusml::tfhe {

namespace {

// The Fourier transform of monomials for one N: FFT(X^a)[m] = w_m^a with w_m = exp(i pi e_m / N),
// so it is roots[(e_m a) mod 2N]. The exponents e_m (in the plan's order of frequencies) are read
// from the transform of X itself and checked on X^3.
struct MonomialTable {
  std::vector<std::uint32_t> exponents;  // N/2, slot order of the plan
  AlignedVector<double> roots;           // 2N (cos, sin) pairs of pi t / N
};

const MonomialTable& monomial_table(PolynomialSize size) {
  static std::mutex mutex;
  static std::map<std::size_t, std::unique_ptr<MonomialTable>> cache;
  std::lock_guard lock(mutex);
  auto& slot = cache[size.value()];
  if (slot) return *slot;
  const std::size_t n = size.value(), m = n / 2;
  auto table = std::make_unique<MonomialTable>();
  table->roots.resize(4 * n);
  for (std::size_t t = 0; t < 2 * n; ++t) {
    const long double angle = 3.141592653589793238462643383279502884L *
                              static_cast<long double>(t) / static_cast<long double>(n);
    table->roots[2 * t] = static_cast<double>(std::cos(angle));
    table->roots[2 * t + 1] = static_cast<double>(std::sin(angle));
  }
  const FftPlan& plan = fft_plan(size);
  std::vector<std::int64_t> x(n, 0), x3(n, 0);
  x[1] = 1;
  x3[3] = 1;
  FourierBuffer fx(n), fx3(n);
  plan.forward_i64(x.data(), fx.data());
  plan.forward_i64(x3.data(), fx3.data());
  table->exponents.resize(m);
  const double two_n = static_cast<double>(2 * n);
  for (std::size_t j = 0; j < m; ++j) {
    const double turns = std::atan2(fx[m + j], fx[j]) / (2.0 * M_PI);  // in (-1/2, 1/2]
    const auto e = static_cast<std::uint32_t>(
        static_cast<std::int64_t>(std::lround(turns * two_n) + static_cast<long>(2 * n)) %
        static_cast<std::int64_t>(2 * n));
    table->exponents[j] = e;
    const std::size_t e3 = (3 * std::size_t{e}) % (2 * n);
    TORUSML_CHECK(std::abs(fx[j] - table->roots[2 * e]) < 1e-9 &&
                      std::abs(fx[m + j] - table->roots[2 * e + 1]) < 1e-9 &&
                      std::abs(fx3[j] - table->roots[2 * e3]) < 1e-9 &&
                      std::abs(fx3[m + j] - table->roots[2 * e3 + 1]) < 1e-9,
                  "the FFT of X^a is not w^a at slot " << j);
  }
  slot = std::move(table);
  return *slot;
}

// Combined GGSW of one group, in the packed GGSW layout that ggsw_mac reads:
//   out[q][p] = sum_s (w^(powers[s]) - 1) * key[q][s][p]   (chunk q, polynomial p, subset s),
// the monomial factors taken from the table for the chunk's kPackedChunk slots.
TORUSML_MULTIVERSION void combine_group(const double* __restrict key,
                                        const std::uint32_t* __restrict exponents,
                                        const double* __restrict roots,
                                        const std::uint32_t* __restrict powers, std::size_t subsets,
                                        std::size_t polys, std::size_t chunks,
                                        std::uint32_t mask_2n, double* __restrict out) {
  constexpr std::size_t c8 = kPackedChunk;
  for (std::size_t q = 0; q < chunks; ++q) {
    double* o = out + q * polys * 2 * c8;
    const double* kq = key + q * subsets * polys * 2 * c8;
    for (std::size_t s = 0; s < subsets; ++s) {
      double mr[c8], mi[c8];
      for (std::size_t lane = 0; lane < c8; ++lane) {
        // Multiplication mod 2^32 keeps the product mod 2N (a power of two below 2^32).
        const std::uint32_t idx = (exponents[q * c8 + lane] * powers[s]) & mask_2n;
        mr[lane] = roots[2 * idx] - 1.0;
        mi[lane] = roots[2 * idx + 1];
      }
      const double* ks = kq + s * polys * 2 * c8;
      for (std::size_t p = 0; p < polys; ++p) {
        const double* kr = ks + p * 2 * c8;
        const double* ki = kr + c8;
        double* orr = o + p * 2 * c8;
        double* oi = orr + c8;
        if (s == 0) {
          for (std::size_t lane = 0; lane < c8; ++lane) {
            orr[lane] = mr[lane] * kr[lane] - mi[lane] * ki[lane];
            oi[lane] = mr[lane] * ki[lane] + mi[lane] * kr[lane];
          }
        } else {
          for (std::size_t lane = 0; lane < c8; ++lane) {
            orr[lane] += mr[lane] * kr[lane] - mi[lane] * ki[lane];
            oi[lane] += mr[lane] * ki[lane] + mi[lane] * kr[lane];
          }
        }
      }
    }
  }
}

// Balanced digits of the n coefficients of src into `levels` planes (digits[j * n + x], j = 0
// the most significant): decomposition.h's arithmetic, branch-free for vectorization.
TORUSML_MULTIVERSION void decompose_polynomial(const Torus* __restrict src, std::size_t n,
                                               unsigned beta, unsigned levels,
                                               std::int64_t* __restrict digits) {
  const unsigned shift = 64 - beta * levels;
  const Torus mask = (Torus{1} << beta) - 1;
  if (levels == 1) {  // the usual case, as its own loop
    for (std::size_t x = 0; x < n; ++x) {
      const Torus d = ((src[x] >> shift) + ((src[x] >> (shift - 1)) & 1)) & mask;
      digits[x] = static_cast<std::int64_t>(d - ((d >> (beta - 1)) << beta));
    }
    return;
  }
  for (std::size_t x = 0; x < n; ++x) {
    Torus closest = (src[x] >> shift) + ((src[x] >> (shift - 1)) & 1);
    for (unsigned j = levels; j-- > 0;) {
      const Torus d = closest & mask;
      closest >>= beta;
      const Torus carry = d >> (beta - 1);
      digits[j * n + x] = static_cast<std::int64_t>(d - (carry << beta));
      closest += carry;
    }
  }
}

// Buffers of one multi-bit bootstrap on the calling thread.
struct MultiBitScratch {
  std::vector<std::uint32_t> switched;
  std::vector<Torus> accumulator;
  LweCiphertext small;
  std::vector<std::int64_t> digits;  // l * N
  FourierBuffer fourier_digits;      // (k+1) l N
  FourierBuffer fourier_acc;         // (k+1) N
  FourierBuffer combined;            // one GGSW
};
MultiBitScratch& multi_bit_scratch() {
  thread_local MultiBitScratch scratch;
  return scratch;
}

// acc <- acc + combined [x] acc (combined: a packed Fourier GGSW).
void add_external_product_assign(std::span<Torus> acc, const double* combined, const GgswShape& g,
                                 const FftPlan& plan, MultiBitScratch& s) {
  const std::size_t k = g.glwe_dimension.value(), n = g.polynomial_size.value();
  const auto beta = static_cast<unsigned>(g.decomposition.base_log.value());
  const auto levels = static_cast<unsigned>(g.decomposition.level_count.value());
  for (std::size_t i = 0; i <= k; ++i) {
    decompose_polynomial(acc.data() + i * n, n, beta, levels, s.digits.data());
    for (std::size_t j = 0; j < levels; ++j)
      plan.forward_i64(s.digits.data() + j * n, s.fourier_digits.data() + (i * levels + j) * n);
  }
  // Every polynomial of acc is decomposed before any is updated.
  plan.ggsw_mac(s.fourier_acc.data(), s.fourier_digits.data(), combined, g.rows(), k + 1, nullptr);
  for (std::size_t c = 0; c <= k; ++c)
    plan.backward_add_torus(s.fourier_acc.data() + c * n, acc.data() + c * n);
}

// The rotation amounts a_S (mod 2N) of every non-empty subset of a group; returns whether any is
// non-zero (a group whose a_i are all 0 leaves the accumulator unchanged).
bool subset_powers(std::span<const std::uint32_t> a, std::uint32_t mask_2n, std::uint32_t* powers) {
  std::uint32_t all[std::size_t{1} << kMaxGroupingFactor];
  all[0] = 0;
  bool any = false;
  for (std::size_t s = 1; s < (std::size_t{1} << a.size()); ++s) {
    const auto t = static_cast<std::size_t>(std::countr_zero(s));
    all[s] = (all[s & (s - 1)] + a[t]) & mask_2n;
    powers[s - 1] = all[s];
    any = any || a[t] != 0;
  }
  return any;
}

struct GroupInput {
  const FourierMultiBitBootstrapKey& bsk;
  std::span<const std::uint32_t> switched;
  const MonomialTable& table;
};

// Computes the combined GGSW of `group` into out; returns false (out untouched) for an identity.
bool combine(const GroupInput& in, std::size_t group, double* out) {
  const MultiBitBootstrapKeyShape& shape = in.bsk.shape;
  const GgswShape& g = shape.ggsw;
  const std::size_t n = g.polynomial_size.value();
  const auto mask_2n = static_cast<std::uint32_t>(2 * n - 1);
  const std::size_t size = shape.group_size(group);
  std::uint32_t powers[(std::size_t{1} << kMaxGroupingFactor) - 1];
  if (!subset_powers(in.switched.subspan(group * shape.grouping_factor.value(), size), mask_2n,
                     powers))
    return false;
  combine_group(in.bsk.group(group), in.table.exponents.data(), in.table.roots.data(), powers,
                (std::size_t{1} << size) - 1, g.rows() * (g.glwe_dimension.value() + 1),
                n / 2 / kPackedChunk, mask_2n, out);
  return true;
}

// The threaded pipeline: helper h combines groups h, h + helpers, ... into a ring of slots, the
// calling thread runs the external products in group order.
void rotate_pipelined(const GroupInput& in, std::span<Torus> acc, std::size_t threads,
                      const FftPlan& plan, MultiBitScratch& s) {
  const std::size_t groups = in.bsk.shape.groups();
  const std::size_t helpers = std::min(threads - 1, groups);
  const std::size_t ring = 2 * helpers;
  const std::size_t doubles = in.bsk.shape.ggsw.fourier_doubles();
  AlignedVector<double> slots(ring * doubles);
  // ready[r] = 2 * group + 1 (+1 more if the group is not an identity) once slot r holds it.
  std::vector<std::atomic<std::size_t>> ready(ring);
  for (auto& r : ready) r.store(0, std::memory_order_relaxed);
  std::atomic<std::size_t> consumed{0};
  std::vector<std::jthread> workers;
  for (std::size_t h = 0; h < helpers; ++h) {
    workers.emplace_back([&, h] {
      for (std::size_t group = h; group < groups; group += helpers) {
        while (consumed.load(std::memory_order_acquire) + ring <= group) std::this_thread::yield();
        const bool any = combine(in, group, slots.data() + (group % ring) * doubles);
        ready[group % ring].store(2 * group + 1 + (any ? 1 : 0), std::memory_order_release);
      }
    });
  }
  for (std::size_t group = 0; group < groups; ++group) {
    std::size_t state;
    while ((state = ready[group % ring].load(std::memory_order_acquire)) < 2 * group + 1)
      std::this_thread::yield();
    if (state == 2 * group + 2)
      add_external_product_assign(acc, slots.data() + (group % ring) * doubles, in.bsk.shape.ggsw,
                                  plan, s);
    consumed.store(group + 1, std::memory_order_release);
  }
}

}  // namespace

void multi_bit_blind_rotate(const FourierMultiBitBootstrapKey& bsk,
                            std::span<const std::uint32_t> switched, const LookupTable& lut,
                            std::span<Torus> acc, std::size_t threads) {
  const GgswShape& g = bsk.shape.ggsw;
  const std::size_t k = g.glwe_dimension.value(), n = g.polynomial_size.value();
  const std::size_t count = bsk.shape.input_lwe_dimension.value();
  TORUSML_CHECK_EQ(switched.size(), count + 1);
  TORUSML_CHECK_EQ(acc.size(), g.glwe_size());
  TORUSML_CHECK_EQ(bsk.data.size(), bsk.shape.ggsw_count() * g.fourier_doubles());
  if (lut.polynomial_size() != g.polynomial_size) {
    std::ostringstream os;
    os << "multi-bit bootstrap: the lookup table was built for " << lut.polynomial_size()
       << " but the bootstrapping key has " << g.polynomial_size
       << "; build the table with the key's parameters";
    throw ParameterMismatch(os.str());
  }
  // acc = (0, ..., 0, X^(-b) v).
  std::fill(acc.begin(), acc.begin() + static_cast<std::ptrdiff_t>(k * n), 0);
  polynomial_mul_monomial(acc.subspan(k * n, n), lut.accumulator,
                          (2 * n - switched[count]) % (2 * n));
  const FftPlan& plan = fft_plan(g.polynomial_size);
  MultiBitScratch& s = multi_bit_scratch();
  s.digits.resize(g.decomposition.level_count.value() * n);
  s.fourier_digits.resize(g.rows() * n);
  s.fourier_acc.resize(g.glwe_size());
  const GroupInput in{bsk, switched, monomial_table(g.polynomial_size)};
  if (threads > 1 && bsk.shape.groups() > 1) {
    rotate_pipelined(in, acc, threads, plan, s);
    return;
  }
  s.combined.resize(g.fourier_doubles());
  for (std::size_t group = 0; group < bsk.shape.groups(); ++group)
    if (combine(in, group, s.combined.data()))
      add_external_product_assign(acc, s.combined.data(), g, plan, s);
}

void multi_bit_bootstrap(const FourierMultiBitBootstrapKey& bsk, ModulusSwitchKind kind, LweView in,
                         const LookupTable& lut, LweMutView out, std::size_t threads) {
  const GgswShape& g = bsk.shape.ggsw;
  require_same_dimension(in.dimension(), bsk.shape.input_lwe_dimension,
                         "multi-bit bootstrap input");
  MultiBitScratch& s = multi_bit_scratch();
  s.switched.resize(in.dimension().value() + 1);
  s.accumulator.resize(g.glwe_size());
  modulus_switch(in, g.polynomial_size, kind, s.switched);
  multi_bit_blind_rotate(bsk, s.switched, lut, s.accumulator, threads);
  sample_extract(s.accumulator, g.glwe_dimension, g.polynomial_size, out);
}

void keyswitch_multi_bit_bootstrap(const LweKeyswitchKey& ksk,
                                   const FourierMultiBitBootstrapKey& bsk, ModulusSwitchKind kind,
                                   LweView in, const LookupTable& lut, LweMutView out,
                                   std::size_t threads) {
  MultiBitScratch& s = multi_bit_scratch();
  const LweDimension small = bsk.shape.input_lwe_dimension;
  if (s.small.dimension() != small || s.small.data().empty()) s.small = LweCiphertext(small);
  keyswitch(ksk, in, s.small);
  multi_bit_bootstrap(bsk, kind, s.small, lut, out, threads);
}

}  // namespace torusml::tfhe
