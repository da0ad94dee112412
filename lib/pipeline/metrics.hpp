#pragma once
// What `watch --metrics` tells a monitoring system, in the Prometheus text
// exposition format (version 0.0.4): the watcher's own work per stage (items,
// and each batch's stage durations as histograms) and the catalog's view at
// the time of the scrape (jobs per stage and state, the queue before each
// stage, the webhook backlog, every recorded circuit, the last successful
// publish); and whether the watcher is healthy: its loop turning (or inside a
// batch) and its catalog answering.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "catalog/catalog.hpp"
#include "config/config.hpp"

namespace wsp::pipeline {

// Upper bounds of the stage-duration buckets, in seconds.
inline constexpr std::array<double, 11> k_duration_buckets{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120, 600};
// The watch loop turns at least every tick; silent for longer than this
// outside a batch, it is stuck.
inline constexpr std::chrono::seconds k_loop_stuck_after{30};

// Fed by the watcher's thread, read by the server's: thread-safe.
class WatchMetrics {
public:
  using Clock = std::chrono::steady_clock;

  // One stage of a batch finished.
  void record_stage(std::string_view stage, std::int64_t items, double seconds);
  void loop_turned(Clock::time_point now);
  void batch_running(bool running);
  // Empty while the loop turns or a batch runs; else why not.
  std::string loop_problem(Clock::time_point now) const;

  // This watcher's counters, then what `catalog` says now.
  std::string exposition(catalog::Catalog& catalog, const config::Config& config) const;

private:
  struct StageStats {
    std::int64_t items = 0;
    std::array<std::int64_t, k_duration_buckets.size()> buckets{};  // per bucket, not cumulative
    std::int64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex m_mutex;
  std::map<std::string, StageStats> m_stages;
  std::atomic<Clock::rep> m_last_turn{Clock::now().time_since_epoch().count()};
  std::atomic<bool> m_in_batch{false};
};

struct Health {
  bool ok = false;
  std::string reason;  // why not, when not
};

// Healthy while the loop turns and the catalog at `catalog` can be
// opened and read afresh (a connection already open would go on answering
// from a file since made unreadable or moved away, or a server since gone).
Health watch_health(const WatchMetrics& metrics, const catalog::CatalogLocation& catalog);

// A label value escaped as the exposition format wants it (\\, \", \n).
std::string prometheus_label(std::string_view value);

}  // namespace wsp::pipeline
