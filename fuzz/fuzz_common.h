// Shared by the libFuzzer targets of fuzz/ and their seed-corpus generator.
//
// Input layout of every target: one control byte, then the bytes handed to a loader.
//
//   bit 0-2  which loader of the target's family reads the bytes (modulo the family's size)
//   bit 3-4  0: the bytes as they are; 1: the BLAKE2b checksum of every embedded TorusML record
//            recomputed (so that mutations reach the payload parsers); 2, 3: that, and the outer
//            record's payload length set to what the input holds (after inserted or erased bytes)
//   bit 5    pass the expected parameters to the loaders that take them optionally (for those
//            that need them: which fixture's parameters)
//   bit 6    "deep": also the costly steps after a successful load (expansion of server keys,
//            bootstraps, encrypted runs)
//   bit 7    target-specific choice (documented in each target)
//
// After a successful load every target goes on: expansion of seeded objects, decryption with a
// matching key (fixtures below, generated once per process from fixed seeds), clear and simulated
// runs of programs, and re-serialization (check_canonical). Typed TorusML errors (error.h) are the
// expected outcome of bad bytes and are swallowed; InternalError, any other exception type, a
// failed canonical-encoding check, a sanitizer report or a crash is a finding (abort).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "torusml/circuit/compile/compiled_circuit.h"
#include "torusml/circuit/ir/program.h"
#include "torusml/circuit/runtime/runtime.h"
#include "torusml/common/error.h"
#include "torusml/tfhe/keys.h"
#include "torusml/tfhe/parameters.h"

namespace torusml::fuzz {

using Bytes = std::vector<std::uint8_t>;

// ---- Input layout ----------------------------------------------------------------------------

struct Input {
  unsigned loader = 0;
  unsigned repair = 0;  // 0 none, 1 checksums, 2 checksums and outer length
  bool expected = false;
  bool deep = false;
  bool alt = false;
  Bytes bytes;  // the object, repaired as asked
};

Input parse_input(const std::uint8_t* data, std::size_t size, unsigned loaders);

/// The control byte of a seed: checksums repaired (they are right anyway).
std::uint8_t control_byte(unsigned loader, bool expected, bool deep, bool alt);

/// Recomputes the checksum of every embedded record (innermost first) whose header announces a
/// payload that fits; with fix_outer_length, the first record's payload length is first set to
/// what the bytes hold.
void repair_records(Bytes& bytes, bool fix_outer_length);

// ---- Findings and expected errors -------------------------------------------------------------

/// Names the target in finding messages.
void set_target(const char* name);

/// Prints "TorusML fuzz finding" with the message and aborts (libFuzzer keeps the input).
[[noreturn]] void finding(const std::string& message);

/// Runs one step: typed TorusML errors are expected (swallowed, returns false); InternalError or
/// any other exception is a finding.
bool attempt(const char* step, const std::function<void()>& fn);

/// The whole body of LLVMFuzzerTestOneInput: parses the control byte and calls body.
int run_one(const std::uint8_t* data, std::size_t size, unsigned loaders,
            const std::function<void(const Input&)>& body);

// ---- Canonical encoding ---------------------------------------------------------------------

/// The header fields of the record at the start of `bytes` (nullopt if it has no header).
struct Header {
  std::uint16_t version = 0;
  std::uint16_t kind = 0;
  std::uint64_t fingerprint = 0;
};
std::optional<Header> read_header(std::span<const std::uint8_t> bytes);

/// After a successful load of `input` into `loaded`: serialize(loaded) must succeed, load again,
/// and serialize again to the same bytes. With `strict` (and TORUSML_FUZZ_STRICT unset or not
/// "0"), the re-serialization must also equal the input itself (format versions and checksums
/// normalized; with `outer_fingerprint`, the outer header's fingerprint too, for components
/// loaded without their parameters). Any failure is a finding.
template <class T>
void check_canonical(const char* what, std::span<const std::uint8_t> input, const T& loaded,
                     const std::function<Bytes(const T&)>& serialize,
                     const std::function<T(std::span<const std::uint8_t>)>& deserialize,
                     bool strict = true, std::optional<std::uint64_t> outer_fingerprint = {});

/// Counts a successful load of `what` (printed at exit with TORUSML_FUZZ_STATS=1).
void count_load(const char* what);

/// The byte comparison of check_canonical (exposed for the template).
void compare_canonical(const char* what, std::span<const std::uint8_t> input, const Bytes& first,
                       const Bytes& second, bool strict,
                       std::optional<std::uint64_t> outer_fingerprint);

template <class T>
void check_canonical(const char* what, std::span<const std::uint8_t> input, const T& loaded,
                     const std::function<Bytes(const T&)>& serialize,
                     const std::function<T(std::span<const std::uint8_t>)>& deserialize,
                     bool strict, std::optional<std::uint64_t> outer_fingerprint) {
  count_load(what);
  Bytes first, second;
  try {
    first = serialize(loaded);
  } catch (const std::exception& e) {
    finding(std::string(what) +
            ": a successfully loaded object cannot be serialized again: " + e.what());
  }
  try {
    const T again = deserialize(first);
    second = serialize(again);
  } catch (const std::exception& e) {
    finding(std::string(what) +
            ": the re-serialization of a loaded object does not load: " + e.what());
  }
  compare_canonical(what, input, first, second, strict, outer_fingerprint);
}

// ---- TFHE fixtures ----------------------------------------------------------------------------

/// The smallest parameter set the security curve accepts at 128 bits that keeps keys tiny
/// (n = 450, k = 2, N = 256; a compressed server key of 2.8 MB): real keys of a secure set, but
/// too noisy for correct bootstraps. Every fixture of the targets uses it.
const tfhe::PbsParameters& fuzz_parameters();
const tfhe::ClientKey& fuzz_client_key();
const tfhe::CompressedServerKey& fuzz_compressed_server_key();
const tfhe::ServerKey& fuzz_server_key();

// ---- Circuit fixtures -------------------------------------------------------------------------

struct CircuitFixture {
  std::string name;
  circuit::ServerProgram program;
  circuit::ClientSpecification spec;
  std::vector<circuit::Tensor> batch;  // one sample per input, batched (batch axis of 1)
};

/// Real compiled circuits: a rich program (every instruction kind), a leveled linear model and a
/// small table lookup; and the rich and table programs retargeted to the PBS parameters
/// CircuitParameters{fuzz_parameters()} (for which keys exist).
const std::vector<CircuitFixture>& circuit_fixtures();
const CircuitFixture& leveled_fixture();
const CircuitFixture& small_pbs_fixture();  // the table program, retargeted

/// Keys (client, evaluation keys compressed and expanded) for the leveled fixture's parameters
/// and for the retargeted PBS parameters; nullptr for other parameters.
const circuit::KeySet* keys_for(const circuit::CircuitParameters& parameters);

/// The client specification of a server program, as the compiler derives it (noise 1 lsb).
circuit::ClientSpecification specification_of(const circuit::ServerProgram& program);

/// A batch of one sample for `spec`: the fixture's sample when the shapes match, else small
/// values that fit the encodings. nullopt if the inputs would exceed max_elements.
std::optional<std::vector<circuit::Tensor>> batch_for(const circuit::ClientSpecification& spec,
                                                      std::int64_t max_elements);

/// Sum of the element counts of every node (work bound for runs of loaded programs).
std::int64_t total_elements(const circuit::Program& program);
/// Elements bootstrapped by one sample (PBS count).
std::int64_t bootstrapped_elements(const circuit::ServerProgram& program);

/// Element bound under which loaded programs are run (clear, simulate, encrypted).
inline constexpr std::int64_t kMaxRunElements = std::int64_t{1} << 16;
/// PBS bound under which loaded programs are run encrypted (deep inputs).
inline constexpr std::int64_t kMaxEncryptedPbs = 64;

}  // namespace torusml::fuzz
