#include "torusml/tfhe/lookup_table.h"

#include <sstream>

#include "torusml/common/error.h"
#include "torusml/tfhe/encoding.h"

namespace torusml::tfhe {

LookupTable make_lookup_table(PolynomialSize n, unsigned input_bits,
                              std::span<const Torus> outputs) {
  const std::size_t size = n.value();
  if (input_bits < 1 || input_bits > 20 || (std::size_t{1} << (input_bits + 1)) > size) {
    std::ostringstream os;
    os << "lookup table: " << input_bits << "-bit inputs need a polynomial size of at least 2^"
       << (input_bits + 1) << " (got " << n << ")";
    throw InvalidArgument(os.str());
  }
  if (outputs.size() != (std::size_t{1} << input_bits)) {
    std::ostringstream os;
    os << "lookup table: " << input_bits << "-bit inputs need " << (std::size_t{1} << input_bits)
       << " output values, got " << outputs.size();
    throw InvalidArgument(os.str());
  }
  LookupTable table{input_bits, std::vector<Torus>(size)};
  const std::size_t box = size >> input_bits, half = box / 2;
  for (std::size_t j = 0; j < size; ++j) {
    const std::size_t m = (j + half) / box;  // box m covers [m*box - half, m*box + half)
    table.accumulator[j] = m < outputs.size() ? outputs[m] : Torus{0} - outputs[0];
  }
  return table;
}

LookupTable make_lookup_table(const PbsParameters& params,
                              const std::function<std::int64_t(std::uint64_t)>& f) {
  const unsigned p = params.message_bits;
  std::vector<Torus> outputs(std::size_t{1} << p);
  for (std::uint64_t m = 0; m < outputs.size(); ++m) outputs[m] = encode_message(f(m), p);
  return make_lookup_table(params.polynomial_size, p, outputs);
}

LookupTable make_identity_table(const PbsParameters& params) {
  return make_lookup_table(params, [](std::uint64_t m) { return static_cast<std::int64_t>(m); });
}

}  // namespace torusml::tfhe
