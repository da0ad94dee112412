#pragma once
// A second machine's share of a project: `wsportfolio work` claims the
// queued render and tag work of a project whose folder and catalog it shares
// with the machine that ingests (`run`, `watch`), publishes what it finished
// when it holds the publisher lock, and sends the webhooks that are due; until
// nothing is left, or, kept on, waiting for more: woken by the catalog where it
// can (PostgreSQL's LISTEN/NOTIFY, with a long fallback look), else polling at
// a capped interval. It never scans or ingests the sources. The stages come in
// through an interface, as the command runs them, so that the policy here is
// the same whoever reports it.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "catalog/catalog.hpp"
#include "config/config.hpp"
#include "pipeline/reconnect.hpp"

namespace wsp::pipeline {

// One round of the queued stages (render, then tag, as `run` chains them).
struct WorkerRound {
  std::int64_t committed = 0;  // items done or failed
  int code = 0;                // the exit code the stages gave
};

// What the worker tells its user.
enum class WorkerNote {
  waiting,          // nothing is due: waiting for work (only when kept on)
  woken_by_notice,  // another process queued work
  publish_deferred, // another process holds the publisher lock: published later
  catalog_lost,     // the catalog's connection failed (detail: why); connecting again
  reconnected,      // connected again; the work goes on
};

struct WorkerStages {
  virtual ~WorkerStages() = default;
  // Renders and tags what is due now.
  virtual WorkerRound work(const config::Config& config) = 0;
  // Publishes to every target; the caller holds the publisher lock.
  virtual int publish(const config::Config& config, const catalog::ProjectLock& publisher) = 0;
  // Sends the webhooks that are due now.
  virtual void deliver(const config::Config& config) = 0;
  // `detail`: for publish_deferred, the lock's holder.
  virtual void note(WorkerNote note, const std::string& detail) = 0;
};

struct WorkerSettings {
  bool forever = false;  // wait for more work instead of ending when none is left
  // Kept on, a look at the queue at least this often even without a notice
  // (a notice lost with a dropped connection must not idle a worker for good).
  std::chrono::milliseconds fallback{30'000};
  // Where the catalog cannot wake the worker: polls, from the first interval
  // doubling up to the cap while nothing comes.
  std::chrono::milliseconds first_poll{250};
  std::chrono::milliseconds longest_poll{2'000};
  // While waiting, the run's heartbeat is renewed this often, for `status`.
  std::chrono::milliseconds heartbeat{10'000};
  // Kept on, a catalog that fails (a server restart, a network blip) is
  // opened again through this, after 1 s, 2, 4... up to `longest_reconnect`,
  // and the work goes on (see CatalogReconnection). Empty: a catalog error
  // ends the worker.
  CatalogReconnection::Reopen reopen = {};
  std::chrono::milliseconds first_reconnect{1'000};
  std::chrono::milliseconds longest_reconnect{30'000};
};

class Worker {
public:
  Worker(const config::Config& config, catalog::Catalog& catalog, std::string run_id, WorkerStages& stages,
         const std::atomic<bool>& stop, WorkerSettings settings = {});

  // Works until nothing is due (or, kept on, until `stop`); the exit code:
  // the worst of the rounds', 130 once stopped by a signal.
  int run();

  // The render and tag jobs another worker could claim now (a tag only once
  // its photo's render is done).
  std::int64_t due();

private:
  bool deliveries_due();
  // Publishes what this worker finished, if the publisher lock is free (or,
  // when it is ending, once it is); false when it must try again later.
  bool try_publish(int& code);
  // Waits for work or for the next look; returns when it is time to look again.
  void wait(bool publish_owed);
  // After a catalog error: connects again, waiting longer between attempts,
  // until it works or a signal stops the worker.
  void reconnect(const std::string& reason);
  // Sleeps up to `span`, cut short by a signal.
  void nap(std::chrono::milliseconds span);
  // The catalog's connection: the first, or the one made after it failed.
  catalog::Catalog& catalog() { return m_reconnection.catalog(); }

  const config::Config& m_config;
  const std::string m_run_id;
  WorkerStages& m_stages;
  const std::atomic<bool>& m_stop;
  const WorkerSettings m_settings;
  CatalogReconnection m_reconnection;
  bool m_notified = false;  // the catalog wakes this worker
  std::chrono::milliseconds m_poll;
  bool m_told_waiting = false;
};

}  // namespace wsp::pipeline
