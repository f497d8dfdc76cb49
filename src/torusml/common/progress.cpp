#include "torusml/common/progress.h"

namespace torusml {

namespace {
thread_local Progress* current = nullptr;
}  // namespace

Progress* current_progress() {
  return current;
}

ProgressScope::ProgressScope(Progress* progress) : previous_(current) {
  current = progress;
}

ProgressScope::~ProgressScope() {
  current = previous_;
}

}  // namespace torusml
