#include "torusml/tfhe/multi_bit_bootstrap.h"

#include <algorithm>
#include <array>
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
#include "torusml/common/thread_pool.h"
#include "torusml/tfhe/bootstrap.h"
#include "torusml/tfhe/bootstrap_detail.h"
#include "torusml/tfhe/fft.h"
#include "torusml/tfhe/ggsw_detail.h"
#include "torusml/tfhe/keyswitch_key.h"
#include "torusml/tfhe/modulus_switch.h"
#include "torusml/tfhe/polynomial.h"

namespace torusml::tfhe {

namespace {

// The Fourier transform of monomials for one N: FFT(X^a)[m] = w_m^a with w_m = exp(i pi e_m / N),
// so it is roots[(e_m a) mod 2N]. The exponents e_m (in the plan's order of frequencies) are read
// from the transform of X itself and checked on X^3. Every backend orders a chunk of kPackedChunk
// frequencies the same way relative to its first one: e_(q, lane) = e_(q, 0) + o_lane (mod 2N),
// with the same offsets o in every chunk (checked here). So w^(a e_(q, lane)) =
// w^(a e_(q, 0)) w^(a o_lane): one table value per chunk times a vector of lane twiddles that
// depends only on a (lane_twiddles), instead of one table value per frequency.
struct MonomialTable {
  std::vector<std::uint32_t> chunk_exponents;       // N/2 / kPackedChunk: e_(q, 0)
  std::array<std::uint32_t, kPackedChunk> offsets;  // o_lane
  AlignedVector<double> roots;                      // 2N (cos, sin) pairs of pi t / N
};

const MonomialTable& monomial_table(PolynomialSize size) {
  static std::mutex mutex;
  static std::map<std::size_t, std::unique_ptr<MonomialTable>> cache;
  std::lock_guard lock(mutex);
  auto& slot = cache[size.value()];
  if (slot) return *slot;
  const std::size_t n = size.value(), m = n / 2, two_n = 2 * n;
  auto table = std::make_unique<MonomialTable>();
  table->roots.resize(4 * n);
  for (std::size_t t = 0; t < two_n; ++t) {
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
  std::vector<std::uint32_t> exponents(m);
  for (std::size_t j = 0; j < m; ++j) {
    const double turns = std::atan2(fx[m + j], fx[j]) / (2.0 * M_PI);  // in (-1/2, 1/2]
    const auto e = static_cast<std::uint32_t>(
        static_cast<std::int64_t>(std::lround(turns * static_cast<double>(two_n)) +
                                  static_cast<long>(two_n)) %
        static_cast<std::int64_t>(two_n));
    exponents[j] = e;
    const std::size_t e3 = (3 * std::size_t{e}) % two_n;
    TORUSML_CHECK(std::abs(fx[j] - table->roots[2 * e]) < 1e-9 &&
                      std::abs(fx[m + j] - table->roots[2 * e + 1]) < 1e-9 &&
                      std::abs(fx3[j] - table->roots[2 * e3]) < 1e-9 &&
                      std::abs(fx3[m + j] - table->roots[2 * e3 + 1]) < 1e-9,
                  "the FFT of X^a is not w^a at slot " << j);
  }
  const auto offset = [&](std::size_t q, std::size_t lane) {
    return static_cast<std::uint32_t>(
        (exponents[q * kPackedChunk + lane] + two_n - exponents[q * kPackedChunk]) % two_n);
  };
  table->chunk_exponents.resize(m / kPackedChunk);
  for (std::size_t lane = 0; lane < kPackedChunk; ++lane) table->offsets[lane] = offset(0, lane);
  for (std::size_t q = 0; q < m / kPackedChunk; ++q) {
    table->chunk_exponents[q] = exponents[q * kPackedChunk];
    for (std::size_t lane = 0; lane < kPackedChunk; ++lane)
      TORUSML_CHECK_EQ(offset(q, lane), table->offsets[lane]);
  }
  slot = std::move(table);
  return *slot;
}

// The lane twiddles of exponent a: w^(a o_lane), kPackedChunk real parts then kPackedChunk
// imaginary parts.
void lane_twiddles(const MonomialTable& table, std::uint32_t a, std::uint32_t mask_2n,
                   double* out) {
  for (std::size_t lane = 0; lane < kPackedChunk; ++lane) {
    const std::uint32_t idx = (table.offsets[lane] * a) & mask_2n;
    out[lane] = table.roots[2 * idx];
    out[kPackedChunk + lane] = table.roots[2 * idx + 1];
  }
}

// kPackedChunk doubles as one GCC vector (one zmm, two ymm or four xmm registers by target),
// read and written in place: the Fourier buffers and the key are 64-byte aligned, chunks start at
// multiples of 8 doubles, and GCC's vector types alias their element type.
using Lanes = double __attribute__((vector_size(kPackedChunk * sizeof(double))));
static_assert(kPackedChunk == 8);
#define TORUSML_LANES(p) (*reinterpret_cast<const Lanes*>(p))

// The fused combination and multiply-accumulate of one group for one ciphertext, on the chunks
// [q_begin, q_end) of kPackedChunk frequencies:
//   acc_c = sum_r f_r * C_(r,c),   C_(r,c) = sum_S (w^(a_S) - 1) * key_S(r,c),
// with C computed per chunk in registers, never stored. The twiddles w^(a_t) of the h single bits
// are one table value per chunk (roots at chunk_exponents[q] a_t) times the lanes' twiddles
// (lanes: per bit, lane_twiddles of a_t); those of larger subsets are products
// (w^(a_S) = w^(a_(S - t)) w^(a_t)).
// f: rows Fourier polynomials, acc: cols (split layout, n doubles each); key: the group's
// per-group layout (multi_bit_bootstrap_key.h). prefetch_ahead (0: none): with chunk q, the key
// chunk q + prefetch_ahead is asked into the cache.
template <std::size_t H>
[[gnu::always_inline]] inline void multi_bit_mac_h(
    double* __restrict acc, const double* __restrict f, const double* __restrict key,
    const std::uint32_t* __restrict chunk_exponents, const double* __restrict roots,
    const std::uint32_t* __restrict singles, const double* __restrict lanes, std::size_t rows,
    std::size_t cols, std::size_t n, std::size_t q_begin, std::size_t q_end, std::uint32_t mask_2n,
    std::size_t prefetch_ahead) {
  constexpr std::size_t c8 = kPackedChunk;
  constexpr std::size_t subsets = (std::size_t{1} << H) - 1;
  const std::size_t m = n / 2, polys = rows * cols;
  const Lanes one = {1, 1, 1, 1, 1, 1, 1, 1};
  Lanes twr[subsets + 1], twi[subsets + 1];
  for (std::size_t q = q_begin; q < q_end; ++q) {
    for (std::size_t t = 0; t < H; ++t) {
      // Multiplication mod 2^32 keeps the product mod 2N (a power of two below 2^32).
      const std::uint32_t idx = (chunk_exponents[q] * singles[t]) & mask_2n;
      const double br = roots[2 * idx], bi = roots[2 * idx + 1];
      const Lanes lr = TORUSML_LANES(lanes + t * 2 * c8),
                  li = TORUSML_LANES(lanes + t * 2 * c8 + c8);
      twr[std::size_t{1} << t] = br * lr - bi * li;
      twi[std::size_t{1} << t] = br * li + bi * lr;
    }
    for (std::size_t s = 3; s <= subsets; ++s) {
      const std::size_t low = s & (~s + 1), rest = s ^ low;
      if (rest == 0) continue;
      twr[s] = twr[rest] * twr[low] - twi[rest] * twi[low];
      twi[s] = twr[rest] * twi[low] + twi[rest] * twr[low];
    }
    // The factors X^(a_S) - 1 (after all products are formed from the powers themselves).
    Lanes fr_[subsets + 1];
    for (std::size_t s = 1; s <= subsets; ++s) fr_[s] = twr[s] - one;
    const double* kq = key + q * subsets * polys * 2 * c8;
    if (prefetch_ahead != 0) {
      const char* p = reinterpret_cast<const char*>(kq + prefetch_ahead * subsets * polys * 2 * c8);
      for (std::size_t b = 0; b < subsets * polys * 2 * c8 * sizeof(double); b += 64)
        __builtin_prefetch(p + b, 0, 2);
    }
    for (std::size_t c = 0; c < cols; ++c) {
      Lanes re = {}, im = {};
      for (std::size_t r = 0; r < rows; ++r) {
        Lanes cr = {}, ci = {}, cr2 = {}, ci2 = {};  // two chains per part: FMA latency
        for (std::size_t s = 1; s <= subsets; ++s) {
          const double* kp = kq + ((s - 1) * polys + r * cols + c) * 2 * c8;
          const Lanes kr = TORUSML_LANES(kp), ki = TORUSML_LANES(kp + c8);
          cr += fr_[s] * kr;  // one fused multiply-add per line
          cr2 -= twi[s] * ki;
          ci += fr_[s] * ki;
          ci2 += twi[s] * kr;
        }
        cr += cr2;
        ci += ci2;
        const Lanes xr = TORUSML_LANES(f + r * n + q * c8);
        const Lanes xi = TORUSML_LANES(f + r * n + m + q * c8);
        re += xr * cr;
        re -= xi * ci;
        im += xr * ci;
        im += xi * cr;
      }
      *reinterpret_cast<Lanes*>(acc + c * n + q * c8) = re;
      *reinterpret_cast<Lanes*>(acc + c * n + m + q * c8) = im;
    }
  }
}

// multi_bit_mac_h for the group size h (1 to kMaxGroupingFactor): with h known, the twiddles
// and the combination stay in registers.
TORUSML_MULTIVERSION void multi_bit_mac(
    double* __restrict acc, const double* __restrict f, const double* __restrict key,
    const std::uint32_t* __restrict chunk_exponents, const double* __restrict roots,
    const std::uint32_t* __restrict singles, const double* __restrict lanes, std::size_t h,
    std::size_t rows, std::size_t cols, std::size_t n, std::size_t q_begin, std::size_t q_end,
    std::uint32_t mask_2n, std::size_t prefetch_ahead) {
  static_assert(kMaxGroupingFactor == 4);
  switch (h) {
#define TORUSML_MAC_CASE(H)                                                                       \
  case H:                                                                                         \
    return multi_bit_mac_h<H>(acc, f, key, chunk_exponents, roots, singles, lanes, rows, cols, n, \
                              q_begin, q_end, mask_2n, prefetch_ahead);
    TORUSML_MAC_CASE(1)
    TORUSML_MAC_CASE(2)
    TORUSML_MAC_CASE(3)
    TORUSML_MAC_CASE(4)
#undef TORUSML_MAC_CASE
  }
  TORUSML_CHECK(false, "multi-bit group of " << h << " bits");
}

#undef TORUSML_LANES

// A barrier for the threads of one rotation (a few microseconds of work between two waits).
class SpinBarrier {
 public:
  explicit SpinBarrier(std::size_t threads) : threads_(threads) {}
  void arrive_and_wait() {
    const std::size_t phase = phase_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == threads_) {
      arrived_.store(0, std::memory_order_relaxed);
      phase_.fetch_add(1, std::memory_order_release);
      return;
    }
    while (phase_.load(std::memory_order_acquire) == phase) std::this_thread::yield();
  }

 private:
  std::size_t threads_;
  std::atomic<std::size_t> arrived_{0};
  std::atomic<std::size_t> phase_{0};
};

// One accumulator of a lockstep rotation and its modulus-switched input.
struct Rotation {
  std::span<const std::uint32_t> switched;
  std::span<Torus> acc;
};

// Fourier buffers of the rotations of one lockstep walk, shared by its threads.
struct LockstepBuffers {
  FourierBuffer digits;  // per rotation: (k+1) l Fourier polynomials
  FourierBuffer acc;     // per rotation: k+1 Fourier polynomials
  void resize(const GgswShape& g, std::size_t count) {
    digits.resize(count * g.rows() * g.polynomial_size.value());
    acc.resize(count * g.glwe_size());
  }
};

struct LockstepWalk {
  const FourierMultiBitBootstrapKey& bsk;
  std::span<const Rotation> rotations;
  const MonomialTable& table;
  const FftPlan& plan;
  std::size_t tile_bytes;
  LockstepBuffers& buffers;
  SpinBarrier* barrier;  // null when threads == 1
  std::size_t threads;
};

// Thread `thread` of walk.threads: every rotation of the walk goes through the key group by group,
// so that a group's GGSWs are read from memory once for all of them. Per group, the (k+1) l
// forward FFTs of each accumulator's digits are split over the threads by polynomial, the fused
// multiply-accumulate by chunk (in tiles of about tile_bytes of key, each applied to every
// rotation while it is in cache), the k+1 inverse FFTs by polynomial, as the forward ones (so the
// thread that writes an accumulator polynomial is the one that reads it next). The arithmetic of
// each frequency does not depend on the split: every split gives the same bits.
void walk_lockstep(const LockstepWalk& w, std::size_t thread) {
  const MultiBitBootstrapKeyShape& shape = w.bsk.shape;
  const GgswShape& g = shape.ggsw;
  const std::size_t k = g.glwe_dimension.value(), n = g.polynomial_size.value();
  const std::size_t levels = g.decomposition.level_count.value(), rows = g.rows();
  const auto beta = static_cast<unsigned>(g.decomposition.base_log.value());
  const auto mask_2n = static_cast<std::uint32_t>(2 * n - 1);
  const std::size_t count = w.rotations.size(), gf = shape.grouping_factor.value();
  const std::size_t chunks = n / 2 / kPackedChunk;
  const std::size_t q_begin = thread * chunks / w.threads,
                    q_end = (thread + 1) * chunks / w.threads;
  thread_local std::vector<std::int64_t> digits;
  digits.resize(levels * n);
  std::vector<std::uint32_t> singles(count * kMaxGroupingFactor);
  AlignedVector<double> lanes(count * kMaxGroupingFactor * 2 * kPackedChunk);
  std::vector<unsigned char> active(count);
  for (std::size_t group = 0; group < shape.groups(); ++group) {
    const std::size_t h = shape.group_size(group), subsets = (std::size_t{1} << h) - 1;
    bool any_active = false;
    for (std::size_t t = 0; t < count; ++t) {
      bool any = false;
      for (std::size_t b = 0; b < h; ++b) {
        singles[t * kMaxGroupingFactor + b] = w.rotations[t].switched[group * gf + b];
        any = any || singles[t * kMaxGroupingFactor + b] != 0;
      }
      active[t] = any ? 1 : 0;  // all a_i = 0: X^0 - 1 = 0, the accumulator is unchanged
      any_active = any_active || any;
      for (std::size_t b = 0; any && b < h; ++b)
        lane_twiddles(w.table, singles[t * kMaxGroupingFactor + b], mask_2n,
                      lanes.data() + (t * kMaxGroupingFactor + b) * 2 * kPackedChunk);
    }
    if (!any_active) continue;
    for (std::size_t u = thread; u < count * (k + 1); u += w.threads) {
      const std::size_t t = u / (k + 1), i = u % (k + 1);
      if (!active[t]) continue;
      detail::decompose_difference(w.rotations[t].acc.data() + i * n, nullptr, n, false, beta,
                                   static_cast<unsigned>(levels), digits.data(), n);
      for (std::size_t j = 0; j < levels; ++j)
        w.plan.forward_i64(digits.data() + j * n,
                           w.buffers.digits.data() + (t * rows + i * levels + j) * n);
    }
    if (w.barrier) w.barrier->arrive_and_wait();
    const std::size_t chunk_bytes = subsets * rows * (k + 1) * 2 * kPackedChunk * sizeof(double);
    const std::size_t tile = std::max<std::size_t>(1, w.tile_bytes / chunk_bytes);
    const double* key = w.bsk.group(group);
    for (std::size_t q = q_begin; q < q_end; q += tile) {
      bool first = true;  // the first rotation of a tile fetches the next one (possibly of the
                          // next group: groups are contiguous, with the same chunk layout)
      for (std::size_t t = 0; t < count; ++t) {
        if (!active[t]) continue;
        multi_bit_mac(w.buffers.acc.data() + t * g.glwe_size(),
                      w.buffers.digits.data() + t * rows * n, key, w.table.chunk_exponents.data(),
                      w.table.roots.data(), singles.data() + t * kMaxGroupingFactor,
                      lanes.data() + t * kMaxGroupingFactor * 2 * kPackedChunk, h, rows, k + 1, n,
                      q, std::min(q_end, q + tile), mask_2n, first ? tile : 0);
        first = false;
      }
    }
    if (w.barrier) w.barrier->arrive_and_wait();
    for (std::size_t u = thread; u < count * (k + 1); u += w.threads) {
      const std::size_t t = u / (k + 1), i = u % (k + 1);
      if (active[t])
        w.plan.backward_add_torus(w.buffers.acc.data() + t * g.glwe_size() + i * n,
                                  w.rotations[t].acc.data() + i * n);
    }
  }
}

// acc = (0, ..., 0, X^(-body) v).
void init_accumulator(const LookupTable& lut, std::uint32_t body, const GgswShape& g,
                      std::span<Torus> acc) {
  const std::size_t k = g.glwe_dimension.value(), n = g.polynomial_size.value();
  if (lut.polynomial_size() != g.polynomial_size) {
    std::ostringstream os;
    os << "multi-bit bootstrap: the lookup table was built for " << lut.polynomial_size()
       << " but the bootstrapping key has " << g.polynomial_size
       << "; build the table with the key's parameters";
    throw ParameterMismatch(os.str());
  }
  std::fill(acc.begin(), acc.begin() + static_cast<std::ptrdiff_t>(k * n), 0);
  polynomial_mul_monomial(acc.subspan(k * n, n), lut.accumulator, (2 * n - body) % (2 * n));
}

// Runs the walk of `rotations` on `threads` threads (the caller and threads - 1 helpers).
void run_walk(const FourierMultiBitBootstrapKey& bsk, std::span<const Rotation> rotations,
              std::size_t tile_bytes, std::size_t threads) {
  const GgswShape& g = bsk.shape.ggsw;
  threads = std::clamp<std::size_t>(threads, 1, g.polynomial_size.value() / 2 / kPackedChunk);
  thread_local LockstepBuffers buffers;
  buffers.resize(g, rotations.size());
  SpinBarrier barrier(threads);
  const LockstepWalk walk{
      bsk,        rotations, monomial_table(g.polynomial_size), fft_plan(g.polynomial_size),
      tile_bytes, buffers,   threads > 1 ? &barrier : nullptr,  threads};
  std::vector<std::jthread> helpers;
  for (std::size_t h = 1; h < threads; ++h)
    helpers.emplace_back([&walk, h] { walk_lockstep(walk, h); });
  walk_lockstep(walk, 0);
}

// Per-thread buffers of the single-ciphertext entry points.
struct MultiBitScratch {
  std::vector<std::uint32_t> switched;
  std::vector<Torus> accumulator;
  LweCiphertext small;
};
MultiBitScratch& multi_bit_scratch() {
  thread_local MultiBitScratch scratch;
  return scratch;
}

void check_tables(std::span<const LookupTable* const> tables, std::size_t count, const char* what) {
  if (tables.size() != 1 && tables.size() != count) {
    std::ostringstream os;
    os << what << ": " << tables.size() << " tables for " << count
       << " ciphertexts; pass one table, or one per ciphertext";
    throw InvalidArgument(os.str());
  }
}

// The batch on the default thread pool: lockstep groups of about options.lockstep ciphertexts,
// sized so that the threads get equal shares (as keyswitch_bootstrap_batch). `small_input(i,
// out)` writes input i under the small key.
template <class SmallInput>
void run_batch(const FourierMultiBitBootstrapKey& bsk, ModulusSwitchKind kind, std::size_t count,
               std::span<const LookupTable* const> tables, LweCiphertextList& out,
               const MultiBitBatchOptions& options, const SmallInput& small_input) {
  const GgswShape& g = bsk.shape.ggsw;
  const LweDimension big(g.glwe_dimension.value() * g.polynomial_size.value());
  if (out.size() != count || out.dimension() != big) out = LweCiphertextList(big, count);
  for (const LookupTable* t : tables) TORUSML_CHECK(t != nullptr, "null lookup table");
  const std::size_t group = detail::lockstep_walk_size(count, options.lockstep);
  const std::size_t n_small = bsk.shape.input_lwe_dimension.value();
  parallel_for((count + group - 1) / group, [&](std::size_t gi) {
    const std::size_t begin = gi * group, size = std::min(count, begin + group) - begin;
    LweCiphertextList small(bsk.shape.input_lwe_dimension, size);
    small_input(begin, size, small);
    std::vector<std::uint32_t> switched(size * (n_small + 1));
    std::vector<Torus> accs(size * g.glwe_size());
    std::vector<Rotation> rotations;
    for (std::size_t t = 0; t < size; ++t) {
      const std::span<std::uint32_t> sw(switched.data() + t * (n_small + 1), n_small + 1);
      modulus_switch(small[t], g.polynomial_size, kind, sw);
      const std::span<Torus> acc(accs.data() + t * g.glwe_size(), g.glwe_size());
      init_accumulator(*tables[tables.size() == 1 ? 0 : begin + t], sw[n_small], g, acc);
      rotations.push_back({sw, acc});
    }
    run_walk(bsk, rotations, options.tile_bytes, 1);
    for (std::size_t t = 0; t < size; ++t)
      sample_extract(rotations[t].acc, g.glwe_dimension, g.polynomial_size, out[begin + t]);
  });
}

}  // namespace

void multi_bit_blind_rotate(const FourierMultiBitBootstrapKey& bsk,
                            std::span<const std::uint32_t> switched, const LookupTable& lut,
                            std::span<Torus> acc, std::size_t threads) {
  const GgswShape& g = bsk.shape.ggsw;
  const std::size_t count = bsk.shape.input_lwe_dimension.value();
  TORUSML_CHECK_EQ(switched.size(), count + 1);
  TORUSML_CHECK_EQ(acc.size(), g.glwe_size());
  TORUSML_CHECK_EQ(bsk.data.size(), bsk.shape.ggsw_count() * g.fourier_doubles());
  init_accumulator(lut, switched[count], g, acc);
  const Rotation rotation{switched, acc};
  run_walk(bsk, std::span(&rotation, 1), MultiBitBatchOptions{}.tile_bytes, threads);
}

void multi_bit_blind_rotate_lockstep(const FourierMultiBitBootstrapKey& bsk,
                                     std::span<const std::span<const std::uint32_t>> switched,
                                     std::span<const LookupTable* const> tables,
                                     std::span<const std::span<Torus>> accs,
                                     std::size_t tile_bytes) {
  const GgswShape& g = bsk.shape.ggsw;
  const std::size_t count = bsk.shape.input_lwe_dimension.value();
  TORUSML_CHECK_EQ(tables.size(), switched.size());
  TORUSML_CHECK_EQ(accs.size(), switched.size());
  TORUSML_CHECK_EQ(bsk.data.size(), bsk.shape.ggsw_count() * g.fourier_doubles());
  std::vector<Rotation> rotations;
  rotations.reserve(switched.size());
  for (std::size_t t = 0; t < switched.size(); ++t) {
    TORUSML_CHECK_EQ(switched[t].size(), count + 1);
    TORUSML_CHECK_EQ(accs[t].size(), g.glwe_size());
    TORUSML_CHECK(tables[t] != nullptr, "null lookup table");
    init_accumulator(*tables[t], switched[t][count], g, accs[t]);
    rotations.push_back({switched[t], accs[t]});
  }
  if (!rotations.empty()) run_walk(bsk, rotations, tile_bytes, 1);
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

void multi_bit_bootstrap_batch(const FourierMultiBitBootstrapKey& bsk, ModulusSwitchKind kind,
                               const LweCiphertextList& in,
                               std::span<const LookupTable* const> tables, LweCiphertextList& out,
                               const MultiBitBatchOptions& options) {
  check_tables(tables, in.size(), "multi_bit_bootstrap_batch");
  require_same_dimension(in.dimension(), bsk.shape.input_lwe_dimension, "multi-bit batch input");
  run_batch(bsk, kind, in.size(), tables, out, options,
            [&](std::size_t begin, std::size_t size, LweCiphertextList& small) {
              for (std::size_t t = 0; t < size; ++t) {
                const auto src = in[begin + t].data();
                std::copy(src.begin(), src.end(), small[t].data().begin());
              }
            });
}

void keyswitch_multi_bit_bootstrap_batch(const LweKeyswitchKey& ksk,
                                         const FourierMultiBitBootstrapKey& bsk,
                                         ModulusSwitchKind kind, const LweCiphertextList& in,
                                         std::span<const LookupTable* const> tables,
                                         LweCiphertextList& out,
                                         const MultiBitBatchOptions& options) {
  check_tables(tables, in.size(), "keyswitch_multi_bit_bootstrap_batch");
  require_same_dimension(in.dimension(), ksk.shape.input_lwe_dimension, "multi-bit batch input");
  run_batch(bsk, kind, in.size(), tables, out, options,
            [&](std::size_t begin, std::size_t, LweCiphertextList& small) {
              keyswitch_range(ksk, in, begin, small);
            });
}

}  // namespace torusml::tfhe
