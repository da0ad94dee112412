#include "pipeline/leases.hpp"

#include <chrono>

namespace wsp::pipeline {

LeaseKeeper::LeaseKeeper(catalog::Catalog& catalog, std::string run_id, std::string stage, std::int64_t lease_ms,
                         const std::atomic<std::int64_t>& done, std::int64_t total)
    : m_run_id(std::move(run_id)), m_stage(std::move(stage)), m_lease_ms(lease_ms), m_done(done), m_total(total) {
  std::unique_ptr<catalog::Catalog> own;
  try {
    own = catalog.reopen();
  } catch (const std::exception&) {
    return;  // leases then expire on their own; the work is still correct
  }
  m_thread = std::thread([this, own = std::move(own)]() mutable { keep(std::move(own)); });
}

LeaseKeeper::~LeaseKeeper() {
  {
    std::lock_guard lock(m_mutex);
    m_finished = true;
  }
  m_wake.notify_all();
  if (m_thread.joinable()) m_thread.join();
}

void LeaseKeeper::keep(std::unique_ptr<catalog::Catalog> own) {
  std::unique_lock lock(m_mutex);
  while (!m_finished) {
    m_wake.wait_for(lock, std::chrono::milliseconds(m_lease_ms / 4));
    if (m_finished) break;
    try {
      own->renew_leases(m_run_id, m_lease_ms, {m_stage, m_done.load(), m_total});
    } catch (const std::exception&) {
      // A busy catalog delays one heartbeat; the next one catches up.
    }
  }
}

}  // namespace wsp::pipeline
