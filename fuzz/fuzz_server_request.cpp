// libFuzzer target: the inference server's request handlers (deploy/server/handlers.h), without
// sockets.
//
// Input (after the control byte of fuzz_common.h; bits 3-4 repair the checksums of TorusML
// records inside the request, so that mutations reach the payload parsers): a request as text,
//   "<METHOD> <target>\n" then header lines "<name>: <value>\n", an empty line, then the body.
// The service holds the small PBS fixture's program (fuzz parameters), a key store in a temporary
// directory holding the fixture's evaluation keys (expanded once), a body limit of 1 MiB and a
// batch limit of 4. Every response must carry a status in [200, 600) and, for errors, a JSON
// {"error": ...} body; a 500 (an unexpected exception inside a handler) is a finding. DELETE of
// the fixture's keys is read as GET (expanding them again would dominate the run time).
#include <stdlib.h>

#include <cctype>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "fuzz_common.h"
#include "torusml/circuit/serialization/serialization.h"
#include "torusml/common/byte_io.h"
#include "torusml/deploy/server/handlers.h"
#include "torusml/deploy/server/json.h"

using namespace torusml;
using namespace torusml::fuzz;
namespace ds = torusml::deploy::server;
namespace fs = std::filesystem;

namespace {

struct State {
  std::string root;
  ds::ModelArtifacts model;
  std::unique_ptr<ds::KeyStore> keys;
  ds::Metrics metrics;
  ds::ServiceLimits limits;
  std::string fixture_key_id;
  ~State() {
    std::error_code ec;
    if (!root.empty()) fs::remove_all(root, ec);
  }
};

State& state() {
  static const std::unique_ptr<State> s = [] {
    auto owned = std::make_unique<State>();
    State& st = *owned;
    std::string pattern = (fs::temp_directory_path() / "torusml_fuzz_server_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) finding("mkdtemp failed");
    st.root = pattern;
    const CircuitFixture& f = small_pbs_fixture();
    fs::create_directories(st.root + "/model");
    write_file_bytes(st.root + "/model/server.bin", circuit::serialize_server_program(f.program));
    write_file_bytes(st.root + "/model/client.bin",
                     circuit::serialize_client_specification(f.spec));
    st.model = ds::load_model_directory(st.root + "/model");
    ds::KeyStoreLimits kl;
    kl.max_keys = 4;
    kl.cache_capacity = 2;
    st.keys = std::make_unique<ds::KeyStore>(st.root + "/keys", f.program.parameters, kl);
    const circuit::KeySet* keys = keys_for(f.program.parameters);
    st.fixture_key_id = st.keys->put(circuit::serialize_evaluation_keys(keys->evaluation)).key_id;
    (void)st.keys->get(st.fixture_key_id);  // expanded once
    st.limits.max_body_bytes = std::size_t{1} << 20;
    st.limits.max_batch = 4;
    return owned;
  }();
  return *s;
}

std::string_view next_line(std::string_view& text) {
  const std::size_t nl = text.find('\n');
  const std::string_view line = text.substr(0, nl);
  text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  set_target("fuzz_server_request");
  state();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return run_one(data, size, 1, [](const Input& in) {
    State& s = state();
    std::string_view text(reinterpret_cast<const char*>(in.bytes.data()), in.bytes.size());
    ds::Request request;
    const std::string_view first = next_line(text);
    const std::size_t space = first.find(' ');
    request.method = std::string(first.substr(0, space));
    ds::parse_target(space == std::string_view::npos ? "" : first.substr(space + 1), request.path,
                     request.query);
    for (std::string_view line = next_line(text); !line.empty(); line = next_line(text)) {
      const std::size_t colon = line.find(':');
      std::string name(line.substr(0, colon));
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      request.headers.emplace(std::move(name), std::string(value));
    }
    request.body = text;
    // The fixture's keys stay (expanding them again would dominate the run time).
    if (request.method == "DELETE" && request.path == "/keys/" + s.fixture_key_id)
      request.method = "GET";
    const ds::Service service{s.model, *s.keys, s.metrics, s.limits};
    const ds::Response r = ds::handle_request(service, request);
    if (r.status < 200 || r.status >= 600)
      finding("status out of range: " + std::to_string(r.status));
    if (r.status >= 400 && !ds::json_string_field(r.body, "error"))
      finding("error response without a JSON error message: " + r.body.substr(0, 200));
    if (r.status == 500) finding("internal server error: " + r.body.substr(0, 300));
  });
}
