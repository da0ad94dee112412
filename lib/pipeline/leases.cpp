#include "pipeline/leases.hpp"

#include <fmt/format.h>

namespace wsp::pipeline {

LeaseKeeper::LeaseKeeper(catalog::Catalog& catalog, std::string run_id, std::string stage, std::int64_t lease_ms,
                         const std::atomic<std::int64_t>& done, std::int64_t total)
    : m_run_id(std::move(run_id)), m_stage(std::move(stage)), m_lease_ms(lease_ms), m_done(done), m_total(total) {
  std::unique_ptr<catalog::Catalog> own;
  try {
    own = catalog.reopen();
  } catch (const std::exception& e) {
    m_lost = fmt::format("no catalog connection for the heartbeats: {}", e.what());
    return;
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

std::optional<std::string> LeaseKeeper::lost() const {
  std::lock_guard lock(m_mutex);
  if (m_lost) return m_lost;
  // Half a lease without a renewal leaves too little margin before another
  // process may take the claims over.
  const auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - m_renewed).count();
  if (silent * 2 < m_lease_ms) return std::nullopt;
  return m_last_failure.empty() ? fmt::format("no lease renewal for {} ms", silent)
                                : fmt::format("no lease renewal for {} ms: {}", silent, m_last_failure);
}

void LeaseKeeper::keep(std::unique_ptr<catalog::Catalog> own) {
  const auto interval = std::chrono::milliseconds(std::max<std::int64_t>(1, m_lease_ms / 4));
  // A failed renewal is tried again sooner: a busy catalog usually frees up in
  // moments, and the lease must not run out meanwhile.
  const auto retry = std::chrono::milliseconds(std::max<std::int64_t>(1, m_lease_ms / 16));
  auto wait = interval;
  std::unique_lock lock(m_mutex);
  while (!m_finished) {
    m_wake.wait_for(lock, wait);
    if (m_finished) break;
    lock.unlock();
    std::string failure;
    try {
      own->renew_leases(m_run_id, m_lease_ms, {m_stage, m_done.load(), m_total});
    } catch (const std::exception& e) {
      failure = e.what();
    }
    lock.lock();
    if (failure.empty()) {
      m_renewed = Clock::now();
      m_last_failure.clear();
      wait = interval;
    } else {
      m_last_failure = std::move(failure);
      wait = retry;
    }
  }
}

}  // namespace wsp::pipeline
