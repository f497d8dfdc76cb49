#include "torusml/common/check.h"

namespace torusml::detail {

void throw_check_failure(const char* file, int line, const std::string& what) {
  std::ostringstream os;
  os << "TorusML internal error at " << file << ":" << line << ": " << what
     << " (this is a bug in TorusML; please report it)";
  throw InternalError(os.str());
}

}  // namespace torusml::detail
