#include "transport/stats.hpp"

namespace nexios::transport::stats {

namespace {
thread_local WorkerStats* this_thread_block = nullptr;
}  // namespace

WorkerStats& shared_block() noexcept {
  // Never destroyed: threads may still count while the process exits.
  static WorkerStats* block = new WorkerStats();
  return *block;
}

WorkerStats* thread_block() noexcept {
  return this_thread_block;
}

void set_thread_block(WorkerStats* block) noexcept {
  this_thread_block = block;
}

}  // namespace nexios::transport::stats
