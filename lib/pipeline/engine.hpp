#pragma once
// The stage engine. A stage is a description: what it claims, what it does
// with one item, what the engine commits for it, and whether its work keeps a
// CPU busy or waits on I/O. The engine owns everything stages share: the
// claims and their leases (renewed by a heartbeat thread, handed back however
// the stage is left: return, exception or signal), the oneTBB graph and its
// in-flight limit, batched commits from one writer, cancellation, and the
// stage's timers. Adding a stage means writing its description and its
// per-item work, nothing else.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "pipeline/names.hpp"
#include "pipeline/observer.hpp"

namespace wsp::pipeline {

// Whether a stage's items keep a CPU busy (decode, encode: one worker thread
// each) or mostly wait (uploads, deliveries, provider calls: many in flight,
// no thread held while they wait).
enum class Work { cpu, io };

// Which jobs are due: an active image whose job for the stage is missing, out
// of date (its fingerprint is the source hash + ':' + `settings`), pending, or
// held under an expired lease, once the image's `after` stage is done.
struct ClaimRule {
  std::string settings = {};
  std::optional<StageName> after = {};
  int at_once = 1;  // jobs claimed per transaction; more waiting in a queue is work other processes cannot do
};

// What became of one item.
enum class Verdict {
  done,           // job done, the stage's done event recorded
  failed,         // job failed with `reason`, until `retry` or a new fingerprint
  waiting,        // job left pending with `reason`: it is due again later (its input was lost)
  not_attempted,  // nothing recorded: the claim is handed back at the end
};

struct Outcome {
  Verdict verdict = Verdict::not_attempted;
  std::string word = {};                // what the observer is told of a done or waiting item ("rendered", a scene)
  std::string reason = {};              // why it failed or waits; with stops_stage, why the stage stops
  std::int64_t bytes = 0;               // written, for the progress and the summary
  nlohmann::json detail = {};           // the done event's detail (an object)
  std::vector<std::string> notes = {};  // what a done item left out, told to the observer as warnings
  bool stops_stage = false;             // no further item can succeed (a full disk): claim nothing more
  // The stage's own writes for the item, inside the batch's transaction; the
  // engine writes the job row and the event itself.
  std::function<void(catalog::Catalog&)> record = {};
};

using Item = catalog::ImageRecord;
// Called exactly once per started item, from any thread.
using Finish = std::function<void(Outcome)>;

struct Stage {
  StageName name = {};
  Work work = Work::cpu;
  ClaimRule claim = {};
  // Work::cpu: one item, on a worker thread.
  std::function<Outcome(const Item&)> run = {};
  // Work::io: starts one item and returns at once; `finish` reports it.
  std::function<void(const Item&, Finish)> start = {};
  // Results are committed in one transaction per `batch` items, or sooner when
  // the oldest has waited `batch_wait`: a kill loses at most one batch.
  std::size_t batch = 1;
  std::chrono::milliseconds batch_wait{0};
  EventKind done_event = {};
  EventKind failed_event = {};
  // Optional: told how many items are due before the first is claimed (only
  // when some are).
  std::function<void(std::int64_t due)> starting = {};
  // Optional: after each batch is committed, by the one writer.
  std::function<void()> committed = {};
};

// Where a stage's time went, in seconds: its whole length, and the time the
// engine spent claiming, the items' own time (summed over items worked on at
// once, so it may exceed the wall time) and committing.
struct StageTimes {
  double wall = 0;
  double claim = 0;
  double work = 0;
  double commit = 0;
};

struct StageReport {
  StageName name;
  std::int64_t due = 0;  // when the stage started
  std::size_t done = 0;
  std::size_t failed = 0;
  std::size_t waiting = 0;
  std::int64_t bytes = 0;
  StageTimes seconds;
  std::string stopped_because;  // non-empty: the stage stopped claiming early (not for a signal)
};

struct EngineSettings {
  std::string run_id;
  const std::atomic<bool>* stop = nullptr;  // set by a signal: claim nothing more
  int jobs = 1;                             // CPU items worked on at once
  int max_inflight = 2;                     // CPU items between claim and commit, at most `jobs` of them used
  int io_inflight = 64;                     // I/O items in flight
  std::int64_t lease_ms = 30'000;
  // Only work at least this urgent is claimed (catalog::k_priority_*): a hot
  // folder's batch leaves a backlog to the run working on it. With a floor,
  // the stage ends only once the work at that floor is done, whoever does it:
  // what another run claimed first is waited for, so that the next stage
  // finds it done.
  int min_priority = catalog::k_any_priority;
};

// Where a command's work goes in the queue (catalog::k_priority_*): the
// priority of the photos it queues, and the least urgent work it claims.
struct QueueOrder {
  int queue_at = catalog::k_priority_normal;
  int at_least = catalog::k_any_priority;
};

class Engine {
 public:
  Engine(catalog::Catalog& catalog, EngineSettings settings, Observer& observer);

  // Claims, works and commits every item of `stage` that is due, until none is
  // left, a signal stops it or an outcome stops the stage. The claims it has
  // not finished are handed back before it returns or throws.
  StageReport run(const Stage& stage);

  // The connection the engine claims and commits on, for a stage's reads
  // while it runs (one at a time).
  template <typename F>
  auto with_catalog(F&& work) {
    std::lock_guard lock(m_catalog_mutex);
    return work(m_catalog);
  }

  const EngineSettings& settings() const { return m_settings; }
  bool stopping() const { return m_settings.stop && m_settings.stop->load(); }

 private:
  friend class StageRun;
  catalog::Catalog& m_catalog;
  const EngineSettings m_settings;
  Observer& m_observer;
  std::mutex m_catalog_mutex;
};

}  // namespace wsp::pipeline
