#pragma once
// Keeps a stage's claims alive: while the stage works, a thread of its own
// renews the run's leases (and its heartbeat and progress) on a catalog
// connection of its own, so that a long batch never lets another process take
// over live work, and a killed process's claims expire on their own.
//
// A run that cannot renew its leases must stop claiming: its claims would lapse
// while the work is live and another process could take it. `lost()` says so.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "catalog/catalog.hpp"

namespace wsp::pipeline {

// A run whose heartbeat is older than two leases (of the default 30 s) is dead
// wherever it ran: what it was writing is abandoned.
inline constexpr std::int64_t k_alive_within_ms = 2 * 30'000;

class LeaseKeeper {
public:
  // Starts renewing every lease_ms / 4; `done` and `total` are read for progress.
  LeaseKeeper(catalog::Catalog& catalog, std::string run_id, std::string stage, std::int64_t lease_ms,
              const std::atomic<std::int64_t>& done, std::int64_t total);
  // Stops and joins the thread however the stage is left.
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // Why the leases can no longer be trusted to hold (no connection for the
  // heartbeats, or no renewal succeeded for half a lease, also while one is
  // stuck waiting on a busy catalog); empty while they hold.
  std::optional<std::string> lost() const;

private:
  using Clock = std::chrono::steady_clock;
  void keep(std::unique_ptr<catalog::Catalog> own);

  const std::string m_run_id;
  const std::string m_stage;
  const std::int64_t m_lease_ms;
  const std::atomic<std::int64_t>& m_done;
  const std::int64_t m_total;
  mutable std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_finished = false;
  std::optional<std::string> m_lost;  // for good: the heartbeats have no connection
  Clock::time_point m_renewed = Clock::now();
  std::string m_last_failure;
  std::thread m_thread;
};

}  // namespace wsp::pipeline
