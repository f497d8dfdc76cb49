#include "torusml/tfhe/random.h"

#include <sodium.h>

#include <cmath>
#include <cstring>

#include "torusml/common/check.h"
#include "torusml/common/error.h"

namespace torusml::tfhe {

namespace {
void ensure_sodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw Error("libsodium failed to initialise (no entropy source?)");
}
constexpr std::array<std::uint8_t, 1024> kZeros{};
}  // namespace

Seed random_seed() {
  ensure_sodium();
  Seed s;
  randombytes_buf(s.data(), s.size());
  return s;
}

Seed derive_seed(const Seed& seed, std::uint64_t label) {
  ensure_sodium();
  Seed out;
  std::uint8_t msg[16] = {'t', 'o', 'r', 'u', 's', 'm', 'l', '-'};
  std::memcpy(msg + 8, &label, 8);
  crypto_generichash(out.data(), out.size(), msg, sizeof msg, seed.data(), seed.size());
  return out;
}

Csprng::Csprng(const Seed& seed, std::uint64_t stream, std::uint64_t byte_offset)
    : seed_(seed), stream_(stream), next_block_(byte_offset / 64) {
  ensure_sodium();
  TORUSML_CHECK_EQ(byte_offset % 64, 0u);
  static_assert(crypto_stream_chacha20_KEYBYTES == 32 && crypto_stream_chacha20_NONCEBYTES == 8);
}

void Csprng::refill() {
  std::uint8_t nonce[8];
  std::memcpy(nonce, &stream_, 8);
  crypto_stream_chacha20_xor_ic(buffer_.data(), kZeros.data(), buffer_.size(), nonce, next_block_,
                                seed_.data());
  next_block_ += buffer_.size() / 64;
  used_ = 0;
}

void Csprng::fill_bytes(std::span<std::uint8_t> out) {
  std::size_t done = 0;
  // Whole buffers straight from the cipher when nothing is buffered.
  while (used_ == buffer_.size() && out.size() - done >= buffer_.size()) {
    std::uint8_t nonce[8];
    std::memcpy(nonce, &stream_, 8);
    const std::size_t blocks = (out.size() - done) / buffer_.size() * (buffer_.size() / 64);
    const std::size_t bytes = blocks * 64;
    std::memset(out.data() + done, 0, bytes);
    crypto_stream_chacha20_xor_ic(out.data() + done, out.data() + done, bytes, nonce, next_block_,
                                  seed_.data());
    next_block_ += blocks;
    done += bytes;
  }
  while (done < out.size()) {
    if (used_ == buffer_.size()) refill();
    const std::size_t n = std::min(out.size() - done, buffer_.size() - used_);
    std::memcpy(out.data() + done, buffer_.data() + used_, n);
    used_ += n;
    done += n;
  }
}

std::uint64_t Csprng::next_u64() {
  if (buffer_.size() - used_ < 8) {
    if (used_ != buffer_.size()) used_ = buffer_.size();  // drop the tail: stays deterministic
    refill();
  }
  std::uint64_t v;
  std::memcpy(&v, buffer_.data() + used_, 8);
  used_ += 8;
  return v;
}

void Csprng::fill_uniform(std::span<Torus> out) {
  fill_bytes(
      std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(out.data()), out.size_bytes()));
}

void Csprng::fill_binary(std::span<Torus> out) {
  std::size_t i = 0;
  while (i < out.size()) {
    std::uint64_t bits = next_u64();
    for (int b = 0; b < 64 && i < out.size(); ++b, ++i) {
      out[i] = bits & 1;
      bits >>= 1;
    }
  }
}

double Csprng::next_uniform_open01() {
  // 53 random bits + 1/2 ulp: uniform on (0, 1), never 0 (log(0) in Box-Muller).
  return (static_cast<double>(next_u64() >> 11) + 0.5) * 0x1.0p-53;
}

Torus Csprng::sample_noise(const NoiseDistribution& d) {
  if (d.kind == NoiseDistribution::Kind::TUniform) {
    // r uniform in [0, 2^(b+2)); x = (r >> 1) + (r & 1) - 2^b is TUniform(b).
    const int b = d.bound_log2;
    const std::uint64_t r = next_u64() & ((std::uint64_t{1} << (b + 2)) - 1);
    return (r >> 1) + (r & 1) - (std::uint64_t{1} << b);
  }
  // Box-Muller; the standard deviation is scaled to the 2^64 modulus and rounded.
  const double u1 = next_uniform_open01();
  const double u2 = next_uniform_open01();
  const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  double t = z * d.std_dev;  // torus units, |t| < 2.2 since std_dev < 0.25 and |z| < 8.7
  t -= std::nearbyint(t);    // reduce modulo 1 into [-1/2, 1/2]
  const double x = std::nearbyint(t * 0x1.0p64);
  if (x >= 0x1.0p63) return static_cast<Torus>(std::int64_t{-1} << 63);  // t == 1/2 exactly
  return static_cast<Torus>(static_cast<std::int64_t>(x));
}

void Csprng::add_noise(std::span<Torus> out, const NoiseDistribution& d) {
  for (auto& v : out) v += sample_noise(d);
}

}  // namespace torusml::tfhe
