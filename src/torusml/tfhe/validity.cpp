#include "torusml/tfhe/validity.h"

#include <optional>
#include <sstream>
#include <string>

#include "torusml/common/error.h"

namespace torusml::tfhe {

namespace {

template <class T, class U>
void require_equal(const T& found, const U& wanted, const std::string& field) {
  if (found == wanted) return;
  std::ostringstream os;
  os << "invalid key: " << field << " = " << found << " (required: " << wanted << ")";
  throw InvalidArgument(os.str());
}

std::string describe(const KeyswitchKeyShape& s) {
  std::ostringstream os;
  os << "input dimension " << s.input_lwe_dimension.value() << ", output dimension "
     << s.output_lwe_dimension.value() << ", decomposition 2^" << s.decomposition.base_log.value()
     << " x " << s.decomposition.level_count.value();
  return os.str();
}

std::string describe(const BootstrapKeyShape& s) {
  std::ostringstream os;
  os << "n = " << s.input_lwe_dimension.value() << ", k = " << s.ggsw.glwe_dimension.value()
     << ", N = " << s.ggsw.polynomial_size.value() << ", decomposition 2^"
     << s.ggsw.decomposition.base_log.value() << " x " << s.ggsw.decomposition.level_count.value();
  return os.str();
}

std::string describe(const MultiBitBootstrapKeyShape& s) {
  std::ostringstream os;
  os << "n = " << s.input_lwe_dimension.value() << ", g = " << s.grouping_factor.value()
     << ", k = " << s.ggsw.glwe_dimension.value() << ", N = " << s.ggsw.polynomial_size.value()
     << ", decomposition 2^" << s.ggsw.decomposition.base_log.value() << " x "
     << s.ggsw.decomposition.level_count.value();
  return os.str();
}

// The classic key of a multi-bit set: empty.
void require_empty_classic_key(const BootstrapKeyShape& shape, std::size_t size,
                               const char* field) {
  if (shape == BootstrapKeyShape{} && size == 0) return;
  std::ostringstream os;
  os << "invalid key: the classic bootstrapping key (" << field << ") of a multi-bit parameter "
     << "set holds " << size << " values of shape " << describe(shape)
     << " (required: empty, the multi-bit key replaces it)";
  throw InvalidArgument(os.str());
}

// The multi-bit key of a classic set: absent.
template <class Key>
void require_no_multi_bit_key(const std::optional<Key>& key) {
  if (!key) return;
  throw InvalidArgument(
      "invalid key: a multi-bit bootstrapping key in a server key of a classic parameter set "
      "(grouping_factor 1; required: none)");
}

template <class Key>
const Key& require_multi_bit_key(const std::optional<Key>& key, const PbsParameters& p) {
  if (key) return *key;
  std::ostringstream os;
  os << "invalid key: no multi-bit bootstrapping key in a server key of a multi-bit parameter "
        "set (grouping_factor "
     << p.grouping_factor.value() << ")";
  throw InvalidArgument(os.str());
}

// The Drift kinds' encryptions of zero: zeros_count of them, of dimension n; none otherwise.
void validate_noise_reduction_zeros(const SeededLweCiphertextList& zeros, const PbsParameters& p) {
  if (!uses_noise_reduction(p.modulus_switch)) {
    require_equal(zeros.size(), 0u,
                  "modulus switch encryptions of zero count (only the Drift kinds have them)");
    return;
  }
  require_equal(zeros.dimension.value(), p.lwe_dimension.value(),
                "modulus switch encryptions of zero dimension");
  require_equal(zeros.size(), p.ms_noise_reduction.zeros_count,
                "modulus switch encryptions of zero count");
}

}  // namespace

KeyswitchKeyShape keyswitch_key_shape(const PbsParameters& p) {
  return {p.big_lwe_dimension(), p.lwe_dimension, p.ks};
}

BootstrapKeyShape bootstrap_key_shape(const PbsParameters& p) {
  return {p.lwe_dimension, GgswShape{p.glwe_dimension, p.polynomial_size, p.pbs}};
}

MultiBitBootstrapKeyShape multi_bit_bootstrap_key_shape(const PbsParameters& p) {
  return make_multi_bit_bootstrap_key_shape(p.lwe_dimension, p.grouping_factor,
                                            GgswShape{p.glwe_dimension, p.polynomial_size, p.pbs});
}

void validate_lwe_secret_key(const LweSecretKey& key, LweDimension n, const char* field) {
  require_equal(key.bits.size(), n.value(), std::string(field) + " dimension");
  for (std::size_t i = 0; i < key.bits.size(); ++i) {
    if (key.bits[i] > 1) {
      throw InvalidArgument("invalid key: " + std::string(field) + " coefficient " +
                            std::to_string(i) + " = " + std::to_string(key.bits[i]) +
                            " (required: 0 or 1)");
    }
  }
}

void validate_client_key(const ClientKey& key) {
  const PbsParameters& p = key.parameters;
  p.validate();
  validate_lwe_secret_key(key.small_key, p.lwe_dimension, "client key small_key");
  require_equal(key.big_key.glwe_dimension.value(), p.glwe_dimension.value(),
                "client key big_key glwe_dimension");
  require_equal(key.big_key.polynomial_size.value(), p.polynomial_size.value(),
                "client key big_key polynomial_size");
  validate_lwe_secret_key(key.big_key.flat, p.big_lwe_dimension(), "client key big_key");
}

void validate_compressed_server_key(const CompressedServerKey& key) {
  const PbsParameters& p = key.parameters;
  p.validate();
  const KeyswitchKeyShape ks = keyswitch_key_shape(p);
  if (key.keyswitch_key.shape != ks)
    require_equal(describe(key.keyswitch_key.shape), describe(ks), "keyswitching key shape");
  require_equal(key.keyswitch_key.bodies.size(), ks.ciphertexts(), "keyswitching key body count");
  if (p.is_multi_bit()) {
    require_empty_classic_key(key.bootstrap_key.shape, key.bootstrap_key.bodies.size(),
                              "bootstrap_key");
    const SeededLweMultiBitBootstrapKey& mb = require_multi_bit_key(key.multi_bit_bootstrap_key, p);
    const MultiBitBootstrapKeyShape ms = multi_bit_bootstrap_key_shape(p);
    if (mb.shape != ms)
      require_equal(describe(mb.shape), describe(ms), "multi-bit bootstrapping key shape");
    require_equal(mb.bodies.size(),
                  ms.ggsw_count() * ms.ggsw.rows() * ms.ggsw.polynomial_size.value(),
                  "multi-bit bootstrapping key body count");
  } else {
    require_no_multi_bit_key(key.multi_bit_bootstrap_key);
    const BootstrapKeyShape bs = bootstrap_key_shape(p);
    if (key.bootstrap_key.shape != bs)
      require_equal(describe(key.bootstrap_key.shape), describe(bs), "bootstrapping key shape");
    require_equal(key.bootstrap_key.bodies.size(),
                  bs.input_lwe_dimension.value() * bs.ggsw.rows() * bs.ggsw.polynomial_size.value(),
                  "bootstrapping key body count");
  }
  validate_noise_reduction_zeros(key.ms_noise_reduction_zeros, p);
}

void validate_server_key(const ServerKey& key) {
  const PbsParameters& p = key.parameters;
  p.validate();
  const KeyswitchKeyShape ks = keyswitch_key_shape(p);
  if (key.keyswitch_key.shape != ks)
    require_equal(describe(key.keyswitch_key.shape), describe(ks), "keyswitching key shape");
  require_equal(key.keyswitch_key.data.size(),
                ks.ciphertexts() * (ks.output_lwe_dimension.value() + 1),
                "keyswitching key data size");
  if (p.is_multi_bit()) {
    require_empty_classic_key(key.bootstrap_key.shape, key.bootstrap_key.data.size(),
                              "bootstrap_key");
    const FourierMultiBitBootstrapKey& mb = require_multi_bit_key(key.multi_bit_bootstrap_key, p);
    const MultiBitBootstrapKeyShape ms = multi_bit_bootstrap_key_shape(p);
    if (mb.shape != ms)
      require_equal(describe(mb.shape), describe(ms), "multi-bit bootstrapping key shape");
    require_equal(mb.data.size(), ms.ggsw_count() * ms.ggsw.fourier_doubles(),
                  "multi-bit bootstrapping key data size");
  } else {
    require_no_multi_bit_key(key.multi_bit_bootstrap_key);
    const BootstrapKeyShape bs = bootstrap_key_shape(p);
    if (key.bootstrap_key.shape != bs)
      require_equal(describe(key.bootstrap_key.shape), describe(bs), "bootstrapping key shape");
    require_equal(key.bootstrap_key.data.size(),
                  bs.input_lwe_dimension.value() * bs.ggsw.fourier_doubles(),
                  "bootstrapping key data size");
  }
  const ModulusSwitchNoiseReductionKey& r = key.ms_noise_reduction_key;
  validate_noise_reduction_zeros(r.zeros, p);
  if (uses_noise_reduction(p.modulus_switch)) {
    require_equal(r.polynomial_size.value(), p.polynomial_size.value(),
                  "noise reduction key polynomial_size");
    require_equal(r.max_rounds, p.ms_noise_reduction.max_rounds, "noise reduction key max_rounds");
    require_equal(r.windows.size(), r.zeros.size() * p.lwe_dimension.value(),
                  "noise reduction key window count");
  } else {
    require_equal(r.windows.size(), 0u, "noise reduction key window count");
  }
}

}  // namespace torusml::tfhe
