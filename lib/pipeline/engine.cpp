#include "pipeline/engine.hpp"

#include <deque>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <tbb/flow_graph.h>

#include "pipeline/leases.hpp"

namespace wsp::pipeline {

namespace {

using Clock = std::chrono::steady_clock;

// How often a stage with a floor looks again at work another run holds.
constexpr std::chrono::milliseconds k_held_poll{50};

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// One item on its way from the worker to the writer.
struct Finished {
  Item item;
  Outcome outcome;
  double seconds = 0;  // the item's own time
};

using IoNode = tbb::flow::async_node<Item, Finished>;

// The run's claims go back to the queue however the stage is left, instead of
// waiting for their leases to expire: the stage's work is done, a signal
// stopped it, or an exception is on its way up.
class HandBack {
public:
  explicit HandBack(Engine& engine) : m_engine(engine) {}
  ~HandBack() {
    try {
      m_engine.with_catalog([&](catalog::Catalog& c) { c.release_leases(m_engine.settings().run_id); });
    } catch (const std::exception&) {
      // The leases expire on their own; the next run on this host releases them sooner.
    }
  }
  HandBack(const HandBack&) = delete;
  HandBack& operator=(const HandBack&) = delete;

private:
  Engine& m_engine;
};

}  // namespace

// One run of one stage: the graph and the state its nodes share.
class StageRun {
public:
  StageRun(Engine& engine, const Stage& stage) : m_engine(engine), m_stage(stage), m_settings(engine.settings()) {
    m_report.name = stage.name;
  }

  StageReport go() {
    const auto started = Clock::now();
    const std::string after = m_stage.claim.after ? to_string(*m_stage.claim.after) : std::string();
    m_report.due = m_engine.with_catalog(
        [&](catalog::Catalog& c) {
          return c.count_claimable(to_string(m_stage.name), m_stage.claim.settings, after, m_settings.min_priority);
        });
    m_engine.m_observer.stage_started(name_of(m_stage.name), static_cast<std::size_t>(m_report.due));
    // With nothing due there is no graph and no heartbeat connection: work
    // queued after this count is the next run's.
    if (m_report.due > 0 || held_by_others()) {
      if (m_stage.starting) m_stage.starting(m_report.due);
      LeaseKeeper leases(m_engine.m_catalog, m_settings.run_id, to_string(m_stage.name), m_settings.lease_ms, m_done,
                         m_report.due);
      m_leases = &leases;
      HandBack hand_back(m_engine);
      run_graph();
      flush();
      m_leases = nullptr;
    }
    m_report.seconds.wall = seconds_since(started);
    return m_report;
  }

private:
  // The graph, top to bottom: claim due jobs from the catalog, hold at most
  // `slots` items between claim and commit, work on each (a CPU stage on a
  // worker thread; an I/O stage started and finished by the stage without a
  // thread held meanwhile), commit from one writer, which frees the slot.
  // Claiming no more than can be worked on keeps other processes' work free.
  void run_graph() {
    const bool cpu = m_stage.work == Work::cpu;
    const auto slots = static_cast<std::size_t>(
        cpu ? std::max(1, std::min(m_settings.max_inflight, m_settings.jobs)) : std::max(1, m_settings.io_inflight));
    tbb::flow::graph graph;
    tbb::flow::input_node<Item> claim_work(graph, [this](tbb::flow_control& control) { return next(control); });
    tbb::flow::limiter_node<Item> in_flight(graph, slots);
    tbb::flow::function_node<Item, Finished> cpu_work(graph, slots, [this](const Item& item) { return work_on(item); });
    IoNode io_work(graph, tbb::flow::unlimited,
                   [this](const Item& item, IoNode::gateway_type& gateway) { start_on(item, gateway); });
    tbb::flow::function_node<Finished, tbb::flow::continue_msg> commit(graph, tbb::flow::serial, [this](Finished f) {
      take(std::move(f));
      return tbb::flow::continue_msg();
    });
    tbb::flow::make_edge(claim_work, in_flight);
    if (cpu) {
      tbb::flow::make_edge(in_flight, cpu_work);
      tbb::flow::make_edge(cpu_work, commit);
    } else {
      tbb::flow::make_edge(in_flight, io_work);
      tbb::flow::make_edge(io_work, commit);
    }
    tbb::flow::make_edge(commit, in_flight.decrementer());
    claim_work.activate();
    graph.wait_for_all();
  }

  bool stopping() const { return m_engine.stopping() || m_stopped.load(); }

  // Work at the stage's floor that another run is doing now (none without a floor).
  bool held_by_others() {
    if (m_settings.min_priority == catalog::k_any_priority) return false;
    return m_engine.with_catalog([&](catalog::Catalog& c) {
      return c.count_held(to_string(m_stage.name), m_settings.run_id, m_settings.min_priority) > 0;
    });
  }

  void stop_because(const std::string& reason) {
    std::lock_guard lock(m_report_mutex);
    if (m_report.stopped_because.empty()) m_report.stopped_because = reason;
    m_stopped = true;
  }

  // The input node: one claim transaction per `at_once` items, handed on one by one.
  Item next(tbb::flow_control& control) {
    if (auto lost = m_leases->lost(); lost && !m_stopped) {
      stop_because(fmt::format("cannot keep this run's claims alive ({}); no more work is claimed, so that no other "
                               "process takes over work this run still does",
                               *lost));
    }
    while (!stopping()) {
      if (m_claimed.empty()) {
        const auto started = Clock::now();
        auto claimed = m_engine.with_catalog([&](catalog::Catalog& c) {
          return c.claim(to_string(m_stage.name), m_stage.claim.settings,
                         m_stage.claim.after ? to_string(*m_stage.claim.after) : std::string(), m_settings.run_id,
                         m_settings.lease_ms, std::max(1, m_stage.claim.at_once), m_settings.min_priority);
        });
        m_report.seconds.claim += seconds_since(started);
        if (claimed.empty() && held_by_others()) {
          // Finished by its holder, or claimable again once its lease expires.
          std::this_thread::sleep_for(k_held_poll);
          continue;
        }
        if (claimed.empty()) break;
        m_claimed.assign(std::make_move_iterator(claimed.begin()), std::make_move_iterator(claimed.end()));
      }
      Item item = std::move(m_claimed.front());
      m_claimed.pop_front();
      // An item is worked on once per run: one left waiting is due again, but
      // for a later run; claimed again, it stays held until the hand-back.
      if (m_dispatched.insert(item.id).second) return item;
    }
    control.stop();
    return {};
  }

  Finished work_on(const Item& item) {
    if (stopping()) return {item, {}, 0};  // not attempted: handed back with the run's claims
    const auto started = Clock::now();
    Outcome outcome = m_stage.run(item);
    return {item, std::move(outcome), seconds_since(started)};
  }

  void start_on(const Item& item, IoNode::gateway_type& gateway) {
    if (stopping()) {
      gateway.try_put({item, {}, 0});
      return;
    }
    // The graph waits for every started item, however long it waits on I/O.
    gateway.reserve_wait();
    const auto started = Clock::now();
    try {
      m_stage.start(item, [&gateway, item, started](Outcome outcome) {
        gateway.try_put({item, std::move(outcome), seconds_since(started)});
        gateway.release_wait();
      });
    } catch (...) {
      gateway.release_wait();
      throw;
    }
  }

  // The writer node: results join the batch, committed when it is full or old.
  void take(Finished finished) {
    if (finished.outcome.stops_stage) stop_because(finished.outcome.reason);
    if (finished.outcome.verdict == Verdict::not_attempted) return;
    m_report.seconds.work += finished.seconds;
    if (m_batch.empty()) m_batch_started = Clock::now();
    m_batch.push_back(std::move(finished));
    if (m_batch.size() >= std::max<std::size_t>(1, m_stage.batch) || Clock::now() - m_batch_started >= m_stage.batch_wait)
      flush();
  }

  // Commits the batch in one transaction, then tells the observer: nothing
  // reported can be lost.
  void flush() {
    if (m_batch.empty()) return;
    const auto started = Clock::now();
    m_engine.with_catalog([&](catalog::Catalog& c) {
      c.write([&] {
        for (const auto& finished : m_batch) commit_one(c, finished);
      });
    });
    if (m_stage.committed) m_stage.committed();
    m_report.seconds.commit += seconds_since(started);
    for (const auto& finished : m_batch) tell(finished);
    m_batch.clear();
  }

  void commit_one(catalog::Catalog& c, const Finished& finished) {
    const auto& [item, outcome, seconds] = finished;
    const std::string stage = to_string(m_stage.name);
    auto job = c.job(item.id, stage).value_or(catalog::Job{item.id, stage, catalog::JobState::Pending, 1, {}, {}});
    job.fingerprint = item.sha256 + ":" + m_stage.claim.settings;
    if (outcome.record) outcome.record(c);
    auto detail = [](const nlohmann::json& json) {
      return json.is_object() ? json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) : "{}";
    };
    switch (outcome.verdict) {
      case Verdict::done:
        job.state = catalog::JobState::Done;
        job.last_error.clear();
        c.add_event({to_string(m_stage.done_event), item.id, detail(outcome.detail)}, m_settings.run_id);
        break;
      case Verdict::failed:
        job.state = catalog::JobState::Failed;
        job.last_error = outcome.reason;
        c.add_event({to_string(m_stage.failed_event), item.id, detail({{"reason", outcome.reason}})}, m_settings.run_id);
        break;
      case Verdict::waiting:
        job.state = catalog::JobState::Pending;
        job.last_error = outcome.reason;
        break;
      case Verdict::not_attempted:
        return;
    }
    c.put_job(job);
  }

  void tell(const Finished& finished) {
    const auto& [item, outcome, seconds] = finished;
    auto& observer = m_engine.m_observer;
    const auto stage = name_of(m_stage.name);
    switch (outcome.verdict) {
      case Verdict::done:
        ++m_report.done;
        m_report.bytes += outcome.bytes;
        for (const auto& note : outcome.notes) observer.warning(fmt::format("{}: {}", item.path, note));
        observer.item_done(stage, item.path, outcome.word, outcome.bytes);
        break;
      case Verdict::failed:
        ++m_report.failed;
        observer.item_problem(stage, item.path, outcome.reason);
        observer.item_done(stage, item.path, "failed", 0);
        break;
      case Verdict::waiting:
        ++m_report.waiting;
        observer.warning(fmt::format("{}: {}", item.path, outcome.reason));
        observer.item_done(stage, item.path, outcome.word, 0);
        break;
      case Verdict::not_attempted:
        return;
    }
    ++m_done;
  }

  Engine& m_engine;
  const Stage& m_stage;
  const EngineSettings& m_settings;
  StageReport m_report;
  std::mutex m_report_mutex;
  std::atomic<bool> m_stopped{false};
  std::atomic<std::int64_t> m_done{0};
  LeaseKeeper* m_leases = nullptr;
  std::deque<Item> m_claimed;
  std::set<std::int64_t> m_dispatched;  // ids handed to the workers in this run
  std::vector<Finished> m_batch;
  Clock::time_point m_batch_started;
};

Engine::Engine(catalog::Catalog& catalog, EngineSettings settings, Observer& observer)
    : m_catalog(catalog), m_settings(std::move(settings)), m_observer(observer) {}

StageReport Engine::run(const Stage& stage) { return StageRun(*this, stage).go(); }

}  // namespace wsp::pipeline
