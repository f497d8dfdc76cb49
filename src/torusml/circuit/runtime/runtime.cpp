#include "torusml/circuit/runtime/runtime.h"

#include <algorithm>
#include <bit>
#include <map>
#include <sstream>

#include "torusml/circuit/compile/exact_rounding.h"
#include "torusml/circuit/compile/small_key_inputs.h"
#include "torusml/circuit/evaluate/evaluate.h"
#include "torusml/circuit/runtime/interpreter.h"
#include "torusml/common/check.h"
#include "torusml/common/error.h"
#include "torusml/common/multiversion.h"
#include "torusml/common/thread_pool.h"
#include "torusml/tfhe/bootstrap.h"
#include "torusml/tfhe/lookup_table.h"
#include "torusml/tfhe/many_lut.h"

namespace torusml::circuit {

using tfhe::LweCiphertextList;
using tfhe::Torus;

namespace {

void require_parameters(const CircuitParameters& a, const CircuitParameters& b, const char* what) {
  if (a.fingerprint() != b.fingerprint()) {
    std::ostringstream os;
    os << what
       << ": the keys were generated for other parameters than this circuit's; generate keys for "
          "this "
       << "compiled circuit (its parameters change when it is recompiled)";
    throw ParameterMismatch(os.str());
  }
}

// Throws ParameterMismatch unless packed ciphertexts are GLWEs of partition p's big key.
void require_packing(const tfhe::PackedLweCiphertextList& packed, const CircuitParameters& cp,
                     std::uint32_t p) {
  const bool ok =
      cp.uses_pbs && packed.glwes.glwe_dimension() == cp.input_glwe_dimension(p) &&
      packed.glwes.polynomial_size() == cp.input_polynomial_size(p) &&
      packed.offset < packed.glwes.polynomial_size().value() &&
      packed.glwes.size() * packed.glwes.polynomial_size().value() >= packed.offset + packed.size();
  if (!ok)
    throw ParameterMismatch(
        "run: packed input ciphertexts do not have the GLWE shape of the circuit's key (or do not "
        "hold their elements); encrypt them with this circuit's client keys");
}

// acc += c * ct over n + 1 elements: the linear kernel.
TORUSML_MULTIVERSION
void add_scaled(Torus* __restrict acc, const Torus* __restrict ct, Torus c, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) acc[i] += c * ct[i];
}

// Per-sample clear values of the clear nodes (computed by the server from clear inputs).
using ClearValues = std::vector<std::vector<Tensor>>;  // [node][sample]

// One many-LUT bootstrap per element of `input` (the leader's offset input) for the group `nodes`
// (a Bootstrap lookup, then its FusedLookup members; compile/many_lut.h): output j encrypts
// nodes[j]'s value. Each element packs the tables its members select for it.
// A copy of `src` (same dimension and count) with `offset` added to every body, in parallel.
LweCiphertextList copy_with_body_offset(const LweCiphertextList& src, Torus offset) {
  const std::size_t body = src.dimension().value();
  LweCiphertextList out(src.dimension(), src.size());
  parallel_for(
      src.size(),
      [&](std::size_t k) {
        auto s = src[k].data();
        auto d = out[k].data();
        std::copy(s.begin(), s.end(), d.begin());
        d[body] += offset;
      },
      64);
  return out;
}

std::vector<LweCiphertextList> run_many_lut(const ServerProgram& sp, std::span<const NodeId> nodes,
                                            const LweCiphertextList& input, std::size_t elements,
                                            const tfhe::ServerKey& key) {
  if (input.size() == 0)
    return std::vector<LweCiphertextList>(nodes.size(), LweCiphertextList(input.dimension(), 0));
  const BootstrapInstruction& lead = sp.instructions[static_cast<std::size_t>(nodes[0])].bootstrap;
  const unsigned bits = lead.input_width - lead.lsbs_removed;
  std::vector<std::vector<std::vector<Torus>>> encoded(nodes.size());  // [member][table][index]
  for (std::size_t j = 0; j < nodes.size(); ++j) {
    const auto u = static_cast<std::size_t>(nodes[j]);
    for (const auto& values : sp.instructions[u].bootstrap.tables) {
      std::vector<Torus> e(values.size());
      for (std::size_t k = 0; k < values.size(); ++k)
        e[k] = encode_value(values[k], sp.encodings[u].width);
      encoded[j].push_back(std::move(e));
    }
  }
  std::map<std::vector<std::int32_t>, std::size_t> packed_index;
  std::vector<tfhe::ManyLookupTable> luts;
  std::vector<std::size_t> of_element(elements);
  for (std::size_t e = 0; e < elements; ++e) {
    std::vector<std::int32_t> choice(nodes.size());
    for (std::size_t j = 0; j < nodes.size(); ++j) {
      const auto& et = sp.instructions[static_cast<std::size_t>(nodes[j])].bootstrap.element_table;
      choice[j] = et.empty() ? 0 : et[e];
    }
    const auto [it, added] = packed_index.try_emplace(choice, luts.size());
    if (added) {
      std::vector<std::vector<Torus>> outputs;
      for (std::size_t j = 0; j < nodes.size(); ++j)
        outputs.push_back(encoded[j][static_cast<std::size_t>(choice[j])]);
      luts.push_back(tfhe::make_many_lookup_table(key.parameters.polynomial_size, bits, outputs));
    }
    of_element[e] = it->second;
  }
  std::vector<const tfhe::ManyLookupTable*> tables(luts.size() == 1 ? 1 : input.size());
  for (std::size_t k = 0; k < tables.size(); ++k) tables[k] = &luts[of_element[k % elements]];
  std::vector<LweCiphertextList> out;
  tfhe::keyswitch_many_lut_bootstrap_batch(key, input, tables, out);
  return out;
}

}  // namespace

tfhe::Torus encode_value(std::int64_t v, unsigned width) {
  return static_cast<Torus>(v) << (63 - width);
}

std::int64_t decode_value(tfhe::Torus phase, unsigned width) {
  const unsigned shift = 63 - width;
  const Torus rounded =
      (phase >> shift) + ((phase >> (shift - 1)) & 1);  // nearest, mod 2^(width+1)
  const unsigned bits = width + 1;
  const Torus m = rounded & ((Torus{1} << bits) - 1);
  const Torus sign = Torus{1} << (bits - 1);
  return static_cast<std::int64_t>(m ^ sign) - static_cast<std::int64_t>(sign);
}

void EvaluationKeySet::expand() {
  if (!parameters.uses_pbs) return;
  if (!server_key) {
    if (!compressed)
      throw InvalidArgument("evaluation keys: nothing to expand (no compressed server key)");
    server_key = tfhe::decompress_server_key(*compressed);
  }
  if (extra_server_keys.size() != parameters.extra_partitions.size()) {
    if (extra_compressed.size() != parameters.extra_partitions.size())
      throw InvalidArgument(
          "evaluation keys: the server keys of the circuit's partitions are missing; generate "
          "them with generate_evaluation_keys()");
    extra_server_keys.clear();
    for (const tfhe::CompressedServerKey& c : extra_compressed)
      extra_server_keys.push_back(tfhe::decompress_server_key(c));
  }
  if (cross_keys.size() != parameters.cross_keyswitches.size()) {
    if (cross_compressed.size() != parameters.cross_keyswitches.size())
      throw InvalidArgument(
          "evaluation keys: the keyswitching keys between the circuit's partitions are missing; "
          "generate them with generate_evaluation_keys()");
    cross_keys.clear();
    for (const tfhe::SeededLweKeyswitchKey& c : cross_compressed)
      cross_keys.push_back(tfhe::decompress_keyswitch_key(c));
  }
}

bool EvaluationKeySet::is_expanded() const {
  return !parameters.uses_pbs ||
         (server_key && extra_server_keys.size() == parameters.extra_partitions.size() &&
          cross_keys.size() == parameters.cross_keyswitches.size());
}

void require_encodable(const ClientSpecification::Argument& input, const Tensor& values) {
  const Encoding e = input.encoding;
  for (std::int64_t v : values.values()) {
    const bool ok = e.is_signed ? (v >= -(std::int64_t{1} << (e.width - 1)) &&
                                   v < (std::int64_t{1} << (e.width - 1)))
                                : (v >= 0 && v < (std::int64_t{1} << e.width));
    if (!ok) {
      std::ostringstream os;
      os << "input '" << input.name << "' holds " << v << ", outside the " << e.width
         << "-bit range measured at compile time; clip it, or compile with an input set that "
            "covers it";
      throw InvalidArgument(os.str());
    }
  }
}

tfhe::GlweSecretKey ClientKeySet::input_encryption_key(std::size_t p) const {
  if (parameters.small_key_inputs)
    return tfhe::lwe_key_as_glwe_key(pbs_key.small_key, parameters.input_polynomial_size());
  return glwe_encryption_key(p);
}

ClientKeySet generate_client_keys(const CircuitParameters& parameters, const tfhe::Seed& seed) {
  parameters.validate();
  ClientKeySet keys;
  keys.parameters = parameters;
  if (parameters.uses_pbs) {
    keys.pbs_key = tfhe::generate_client_key(parameters.pbs, seed);
    // Partitions 1.. (multi-parameter circuits) from seeds derived per partition.
    for (std::size_t p = 1; p < parameters.partition_count(); ++p)
      keys.extra_pbs_keys.push_back(
          tfhe::generate_client_key(parameters.partition(p), tfhe::derive_seed(seed, 1000 + p)));
  } else {
    tfhe::Csprng rng(tfhe::derive_seed(seed, 7));
    keys.leveled_key = tfhe::generate_lwe_secret_key(parameters.leveled_dimension, rng);
  }
  return keys;
}

EvaluationKeySet generate_evaluation_keys(const ClientKeySet& client, const tfhe::Seed& seed) {
  EvaluationKeySet keys;
  keys.parameters = client.parameters;
  const CircuitParameters& cp = client.parameters;
  if (!cp.uses_pbs) return keys;
  keys.compressed = tfhe::generate_compressed_server_key(client.pbs_key, seed);
  if (client.extra_pbs_keys.size() != cp.extra_partitions.size())
    throw InvalidArgument(
        "generate_evaluation_keys: the client keys lack the keys of the circuit's partitions; "
        "generate them with generate_client_keys()");
  for (std::size_t p = 1; p < cp.partition_count(); ++p)
    keys.extra_compressed.push_back(tfhe::generate_compressed_server_key(
        client.partition_key(p), tfhe::derive_seed(seed, 1000 + p)));
  for (std::size_t i = 0; i < cp.cross_keyswitches.size(); ++i) {
    const CrossKeyswitchParameters& c = cp.cross_keyswitches[i];
    const tfhe::ClientKey& to = client.partition_key(c.to);
    keys.cross_compressed.push_back(tfhe::generate_seeded_keyswitch_key(
        client.encryption_key(c.from), to.small_key, c.ks, to.parameters.lwe_noise,
        tfhe::derive_seed(seed, 2000 + 2 * i), tfhe::derive_seed(seed, 2001 + 2 * i)));
  }
  return keys;
}

RunArguments encrypt_inputs(const ClientKeySet& keys, const ClientSpecification& spec,
                            std::span<const Tensor> batched_inputs) {
  require_parameters(keys.parameters, spec.parameters, "encrypt_inputs");
  const std::size_t batch = batch_size_of(batched_inputs, spec);
  RunArguments args;
  const tfhe::Seed mask_seed = tfhe::random_seed(), noise_seed = tfhe::random_seed();
  std::uint64_t stream = 0;
  for (std::size_t i = 0; i < spec.inputs.size(); ++i) {
    const auto& in = spec.inputs[i];
    const Tensor& t = batched_inputs[i];
    split_batch(t, in.shape, in.name);  // shape check
    if (!in.encrypted) {
      args.clear.push_back(t);
      continue;
    }
    const Encoding e = in.encoding;
    require_encodable(in, t);
    const tfhe::NoiseDistribution noise = spec.parameters.input_noise(e.partition);
    EncryptedTensor et;
    et.shape = t.shape();
    if (spec.parameters.uses_pbs) {
      // Packed under the partition's GLWE key (one mask per N values), or under the small key
      // read as a GLWE key (small-key inputs: one mask per kSmallKeyPackingSize values).
      std::vector<Torus> plaintexts(t.size());
      for (std::size_t k = 0; k < t.size(); ++k) plaintexts[k] = encode_value(t[k], e.width);
      tfhe::Csprng noise_rng(tfhe::derive_seed(noise_seed, i));
      et.packed = tfhe::encrypt_lwe_list_packed(keys.input_encryption_key(e.partition), plaintexts,
                                                noise, tfhe::derive_seed(mask_seed, i), noise_rng);
      args.encrypted.push_back(std::move(et));
      continue;
    }
    const tfhe::LweSecretKey& key = keys.encryption_key(e.partition);
    et.ciphertexts = LweCiphertextList(key.dimension(), t.size());
    const std::uint64_t base = stream;
    stream += t.size();
    parallel_for(
        t.size(),
        [&](std::size_t k) {
          tfhe::EncryptionGenerator gen(mask_seed, noise_seed, base + k + 1);
          tfhe::encrypt_lwe(key, encode_value(t[k], e.width), noise, gen, et.ciphertexts[k]);
        },
        16);
    args.encrypted.push_back(std::move(et));
  }
  (void)batch;
  return args;
}

std::vector<EncryptedTensor> run(const ServerProgram& sp, const RunArguments& arguments,
                                 const EvaluationKeySet& keys) {
  require_parameters(keys.parameters, sp.parameters, "run");
  const Program& p = sp.program;
  // The dimension of a node's ciphertexts: its partition's big key (multi-parameter circuits), or
  // the small key (small-key inputs, compile/small_key_inputs.h).
  const std::vector<char> small_region =
      sp.parameters.small_key_inputs ? small_key_region(p) : std::vector<char>(p.nodes.size(), 0);
  const auto dim_of = [&](std::size_t node) {
    return small_region[node] ? sp.parameters.pbs.lwe_dimension
                              : sp.parameters.encryption_dimension(sp.encodings[node].partition);
  };
  if (!keys.is_expanded())
    throw InvalidArgument("run: the evaluation keys are not expanded; call expand() on them first");

  // Batch size and argument checks.
  std::size_t n_enc = 0, n_clear = 0;
  for (NodeId id : p.inputs) (p.node(id).encrypted ? n_enc : n_clear)++;
  if (arguments.encrypted.size() != n_enc || arguments.clear.size() != n_clear) {
    std::ostringstream os;
    os << "run: the circuit takes " << n_enc << " encrypted and " << n_clear
       << " clear inputs, got " << arguments.encrypted.size() << " and " << arguments.clear.size();
    throw InvalidArgument(os.str());
  }
  std::size_t batch = 0;
  bool have_batch = false;
  auto set_batch = [&](const Shape& s, const Node& input) {
    const Shape& expect = input.shape;
    if (s.size() != expect.size() + 1 || !std::equal(expect.begin(), expect.end(), s.begin() + 1))
      throw InvalidArgument("run: input '" + std::get<InputAttr>(input.attributes).name +
                            "' has shape " + shape_to_string(s) + ", expected (batch, " +
                            shape_to_string(expect) + ")");
    if (have_batch && static_cast<std::size_t>(s[0]) != batch)
      throw InvalidArgument("run: inputs have different batch sizes");
    batch = static_cast<std::size_t>(s[0]);
    have_batch = true;
  };
  {
    std::size_t e = 0, c = 0;
    for (NodeId id : p.inputs) {
      const Node& n = p.node(id);
      if (n.encrypted) {
        const EncryptedTensor& t = arguments.encrypted[e++];
        set_batch(t.shape, n);
        tfhe::require_same_dimension(t.dimension(), dim_of(static_cast<std::size_t>(id)),
                                     "run: encrypted input");
        if (t.packed) require_packing(*t.packed, sp.parameters, sp.encodings[id].partition);
        if (t.size() != static_cast<std::size_t>(element_count(t.shape)))
          throw InvalidArgument(
              "run: encrypted input holds a wrong number of ciphertexts for its shape");
      } else {
        set_batch(arguments.clear[c++].shape(), n);
      }
    }
  }

  // Last use of every node, to free ciphertexts early.
  std::vector<std::size_t> last_use(p.nodes.size(), 0);
  for (std::size_t i = 0; i < p.nodes.size(); ++i)
    for (NodeId in : p.nodes[i].inputs) last_use[static_cast<std::size_t>(in)] = i;
  for (const auto& ins : sp.instructions)
    if (ins.kind == InstructionKind::Bootstrap)
      last_use[static_cast<std::size_t>(ins.bootstrap.source)] =
          std::max(last_use[static_cast<std::size_t>(ins.bootstrap.source)],
                   static_cast<std::size_t>(ins.node));
  for (NodeId out : p.outputs) last_use[static_cast<std::size_t>(out)] = p.nodes.size();
  // Many-LUT groups: the FusedLookup nodes each Bootstrap node computes too, in node order.
  std::vector<std::vector<NodeId>> fused_members(p.nodes.size());
  for (const auto& ins : sp.instructions)
    if (ins.kind == InstructionKind::FusedLookup)
      fused_members[static_cast<std::size_t>(ins.bootstrap.fused_into)].push_back(ins.node);

  // Ciphertexts computed here live in `enc`; encrypted inputs are read in place from `arguments`.
  // Packed inputs are read by extraction where linear maps read them, and unpacked into `enc`
  // (once) before anything else reads them.
  std::vector<LweCiphertextList> enc(p.nodes.size());
  std::vector<const LweCiphertextList*> input_ct(p.nodes.size(), nullptr);
  std::vector<const tfhe::PackedLweCiphertextList*> packed_ct(p.nodes.size(), nullptr);
  std::vector<NodeId> alias(p.nodes.size(), -1);
  ClearValues clear(p.nodes.size());
  auto root_of = [&](NodeId id) {
    while (alias[static_cast<std::size_t>(id)] >= 0) id = alias[static_cast<std::size_t>(id)];
    return static_cast<std::size_t>(id);
  };
  auto ct_of = [&](NodeId id) -> const LweCiphertextList& {
    const std::size_t u = root_of(id);
    TORUSML_CHECK(packed_ct[u] == nullptr, "run: node " << u << " is read before it is unpacked");
    return input_ct[u] ? *input_ct[u] : enc[u];
  };
  // Serial code only: unpacks a packed input before a non-linear reader.
  auto unpack = [&](NodeId id) {
    const std::size_t u = root_of(id);
    if (packed_ct[u] == nullptr) return;
    enc[u] = tfhe::unpack_lwe_list(*packed_ct[u]);
    packed_ct[u] = nullptr;
  };

  std::size_t next_enc = 0, next_clear = 0;
  for (std::size_t i = 0; i < p.nodes.size(); ++i) {
    const Node& n = p.nodes[i];
    const Instruction& ins = sp.instructions[i];
    const std::size_t elements = static_cast<std::size_t>(element_count(n.shape));
    if (n.op == OpKind::Input) {
      if (n.encrypted) {
        const EncryptedTensor& t = arguments.encrypted[next_enc++];
        if (t.packed)
          packed_ct[i] = &*t.packed;
        else
          input_ct[i] = &t.ciphertexts;
      } else {
        clear[i] = split_batch(arguments.clear[next_clear++], n.shape,
                               std::get<InputAttr>(n.attributes).name);
      }
      continue;
    }
    switch (ins.kind) {
      case InstructionKind::Input:
        break;
      case InstructionKind::Clear: {
        clear[i].resize(batch);
        for (std::size_t b = 0; b < batch; ++b) {
          std::vector<const Tensor*> ops;
          for (NodeId in : n.inputs) ops.push_back(&clear[static_cast<std::size_t>(in)][b]);
          if (n.op == OpKind::TableLookup) {
            // Reuse the interpreter's materialized clear tables through a one-node evaluation.
            const Tensor& x = *ops[0];
            const auto& attr = std::get<TableAttr>(n.attributes);
            std::vector<std::int64_t> out(x.size());
            for (std::size_t k = 0; k < x.size(); ++k) {
              const auto& table =
                  ins.clear_tables[attr.element_table.empty()
                                       ? 0
                                       : static_cast<std::size_t>(attr.element_table[k])];
              std::int64_t idx = 0;
              if (__builtin_sub_overflow(x[k], ins.clear_table_min, &idx) || idx < 0 ||
                  idx >= static_cast<std::int64_t>(table.size()))
                throw InvalidArgument("run: a clear value entering '" + n.label +
                                      "' is outside the range measured at compile time");
              out[k] = table[static_cast<std::size_t>(idx)];
            }
            clear[i][b] = Tensor(n.shape, std::move(out));
          } else {
            clear[i][b] = evaluate_node(n, ops);
          }
        }
        break;
      }
      case InstructionKind::Alias:
        alias[i] = n.inputs[0];
        break;
      case InstructionKind::Linear: {
        const unsigned width = sp.encodings[i].width;
        const tfhe::LweDimension dim = dim_of(i);
        const std::size_t stride = dim.value() + 1;
        LweCiphertextList out(dim, batch * elements);
        auto apply = [&](const LinearMap& map, std::size_t b, std::size_t r) {
          Torus* acc = out[b * elements + r].data().data();
          if (!map.constant.empty()) acc[dim.value()] += encode_value(map.constant[r], width);
          for (auto t = map.row_start[r]; t < map.row_start[r + 1]; ++t) {
            const auto u = static_cast<std::size_t>(t);
            const NodeId src = n.inputs[static_cast<std::size_t>(map.slot[u])];
            const std::size_t src_elements =
                static_cast<std::size_t>(element_count(p.node(src).shape));
            const std::size_t element = b * src_elements + static_cast<std::size_t>(map.index[u]);
            if (const tfhe::PackedLweCiphertextList* packed = packed_ct[root_of(src)]) {
              tfhe::add_scaled_extracted(std::span(acc, stride), *packed, element,
                                         static_cast<Torus>(map.coeff[u]));
              continue;
            }
            const Torus* ct = ct_of(src)[element].data().data();
            add_scaled(acc, ct, static_cast<Torus>(map.coeff[u]), stride);
          }
        };
        if (ins.map_is_static) {
          parallel_for(
              batch * elements, [&](std::size_t k) { apply(ins.map, k / elements, k % elements); },
              4);
        } else {
          for (std::size_t b = 0; b < batch; ++b) {
            std::vector<const Tensor*> ops;
            for (NodeId in : n.inputs)
              ops.push_back(p.node(in).encrypted ? nullptr
                                                 : &clear[static_cast<std::size_t>(in)][b]);
            const LinearMap map = build_linear_map(p, n, ops);
            parallel_for(
                elements, [&](std::size_t r) { apply(map, b, r); }, 4);
          }
        }
        enc[i] = std::move(out);
        break;
      }
      case InstructionKind::Bootstrap: {
        const BootstrapInstruction& bi = ins.bootstrap;
        // Partition q's bootstrap; an input of another partition s is keyswitched with the
        // cross keyswitching key s -> q (multi-parameter circuits).
        const std::uint32_t q = sp.encodings[i].partition;
        const std::uint32_t from = sp.encodings[static_cast<std::size_t>(bi.source)].partition;
        const tfhe::ServerKey& server = keys.partition_server_key(q);
        const tfhe::LweKeyswitchKey* cross = nullptr;
        if (from != q) {
          const std::ptrdiff_t c = sp.parameters.cross_keyswitch_index(from, q);
          TORUSML_CHECK(c >= 0 && fused_members[i].empty(),
                        "run: no cross keyswitch " << from << " -> " << q);
          cross = &keys.cross_keys[static_cast<std::size_t>(c)];
        }
        const tfhe::PolynomialSize big_n = server.parameters.polynomial_size;
        const unsigned out_width = sp.encodings[i].width;
        std::vector<tfhe::LookupTable> luts;
        for (const auto& values : bi.tables) {
          std::vector<Torus> encoded(values.size());
          for (std::size_t k = 0; k < values.size(); ++k)
            encoded[k] = encode_value(values[k], out_width);
          luts.push_back(tfhe::make_lookup_table(big_n, bi.input_width - bi.lsbs_removed, encoded));
        }
        unpack(bi.source);
        const LweCiphertextList input =
            copy_with_body_offset(ct_of(bi.source), encode_value(bi.offset, bi.input_width));
        if (!fused_members[i].empty()) {
          // A many-LUT group: this lookup and its FusedLookup members from one bootstrap.
          std::vector<NodeId> group{static_cast<NodeId>(i)};
          group.insert(group.end(), fused_members[i].begin(), fused_members[i].end());
          std::vector<LweCiphertextList> outs = run_many_lut(sp, group, input, elements, server);
          for (std::size_t j = 0; j < group.size(); ++j)
            enc[static_cast<std::size_t>(group[j])] = std::move(outs[j]);
          break;
        }
        std::vector<const tfhe::LookupTable*> tables(batch * elements);
        for (std::size_t k = 0; k < tables.size(); ++k)
          tables[k] = &luts[bi.element_table.empty()
                                ? 0
                                : static_cast<std::size_t>(bi.element_table[k % elements])];
        LweCiphertextList out;
        if (small_region[static_cast<std::size_t>(bi.source)])
          tfhe::bootstrap_batch(server, input, tables, out);  // under the small key already
        else
          tfhe::keyswitch_bootstrap_batch(server, input, tables, out, cross);
        enc[i] = std::move(out);
        break;
      }
      case InstructionKind::FusedLookup:
        break;  // computed with its group's Bootstrap node (above)
      case InstructionKind::ExactRound: {
        // Exact rounding by digits (exact_rounding.h): acc = x + initial, then per step
        // acc += PBS(2^shift acc + offset) + constant, every element of the batch at once.
        const ExactRoundInstruction& er = ins.rounding;
        // In the source's partition: the bootstrap outputs are added to the source's ciphertexts.
        const tfhe::ServerKey& server = keys.partition_server_key(sp.encodings[i].partition);
        const tfhe::PolynomialSize big_n = server.parameters.polynomial_size;
        const tfhe::LweDimension dim = dim_of(i);
        const std::size_t stride = dim.value() + 1;
        const unsigned width = er.input_width;
        const std::size_t total = batch * elements;
        unpack(er.source);
        LweCiphertextList acc =
            copy_with_body_offset(ct_of(er.source), encode_half_lsb(er.initial, width));
        LweCiphertextList input(dim, total), out;
        for (const RoundingStep& step : er.steps) {
          std::vector<Torus> encoded(step.table.size());
          for (std::size_t k = 0; k < encoded.size(); ++k)
            encoded[k] = encode_half_lsb(step.table[k], width);
          const auto bits = static_cast<unsigned>(std::countr_zero(step.table.size()));
          const tfhe::LookupTable lut = tfhe::make_lookup_table(big_n, bits, encoded);
          parallel_for(
              total,
              [&](std::size_t k) {
                auto a = acc[k].data();
                auto d = input[k].data();
                for (std::size_t j = 0; j < stride; ++j) d[j] = a[j] << step.shift;
                d[dim.value()] += step.offset;
              },
              64);
          const tfhe::LookupTable* table[] = {&lut};
          tfhe::keyswitch_bootstrap_batch(server, input, table, out);
          const Torus constant = encode_half_lsb(step.constant, width);
          parallel_for(
              total,
              [&](std::size_t k) {
                auto a = acc[k].data();
                auto o = out[k].data();
                for (std::size_t j = 0; j < stride; ++j) a[j] += o[j];
                a[dim.value()] += constant;
              },
              64);
        }
        enc[i] = std::move(acc);
        break;
      }
    }
    // Free what is no longer needed.
    for (NodeId in : n.inputs) {
      const auto u = static_cast<std::size_t>(in);
      if (last_use[u] == i && alias[u] < 0) enc[u] = LweCiphertextList();
    }
  }

  std::vector<std::size_t> output_refs(p.nodes.size(), 0);
  for (NodeId id : p.outputs) ++output_refs[root_of(id)];
  std::vector<EncryptedTensor> outputs;
  for (NodeId id : p.outputs) {
    const Node& n = p.node(id);
    EncryptedTensor t;
    t.shape = {static_cast<std::int64_t>(batch)};
    t.shape.insert(t.shape.end(), n.shape.begin(), n.shape.end());
    if (n.encrypted) {
      unpack(id);
      const std::size_t u = root_of(id);
      // Move a computed result out on its last reference; copy inputs and shared results.
      if (!input_ct[u] && --output_refs[u] == 0)
        t.ciphertexts = std::move(enc[u]);
      else
        t.ciphertexts = ct_of(id);
    } else {  // a clear output travels as trivial encryptions at width 62
      const std::size_t elements = static_cast<std::size_t>(element_count(n.shape));
      t.ciphertexts = LweCiphertextList(sp.parameters.encryption_dimension(), batch * elements);
      for (std::size_t b = 0; b < batch; ++b)
        for (std::size_t k = 0; k < elements; ++k)
          t.ciphertexts[b * elements + k].body() =
              encode_value(clear[static_cast<std::size_t>(id)][b][k], 62);
    }
    outputs.push_back(std::move(t));
  }
  return outputs;
}

std::vector<Tensor> decrypt_outputs(const ClientKeySet& keys, const ClientSpecification& spec,
                                    std::span<const EncryptedTensor> outputs) {
  require_parameters(keys.parameters, spec.parameters, "decrypt_outputs");
  if (outputs.size() != spec.outputs.size()) {
    std::ostringstream os;
    os << "decrypt_outputs: the circuit has " << spec.outputs.size() << " outputs, got "
       << outputs.size();
    throw InvalidArgument(os.str());
  }
  std::vector<Tensor> result;
  for (std::size_t o = 0; o < outputs.size(); ++o) {
    const EncryptedTensor& t = outputs[o];
    const tfhe::LweSecretKey& key =
        keys.encryption_key(spec.outputs[o].encrypted ? spec.outputs[o].encoding.partition : 0);
    tfhe::require_same_dimension(t.ciphertexts.dimension(), key.dimension(), "decrypt_outputs");
    if (t.ciphertexts.size() != static_cast<std::size_t>(element_count(t.shape)))
      throw InvalidArgument(
          "decrypt_outputs: an output holds a wrong number of ciphertexts for its shape");
    const unsigned width = spec.outputs[o].encrypted ? spec.outputs[o].encoding.width : 62;
    std::vector<std::int64_t> values(t.ciphertexts.size());
    parallel_for(
        values.size(),
        [&](std::size_t k) {
          values[k] = decode_value(tfhe::decrypt_lwe(key, t.ciphertexts[k]), width);
        },
        64);
    result.emplace_back(t.shape, std::move(values));
  }
  return result;
}

}  // namespace torusml::circuit
