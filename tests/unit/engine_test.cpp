// The stage engine on a real SQLite catalog: claims handed back after an
// exception or a stop, batched commits, timers, and an I/O stage that keeps
// many items in flight without threads; and the render stage run by it on
// real JPEGs: leases that cannot be renewed stop the claiming, and the
// clean-up of files nothing refers to never races a run that starts beside it.

#include "temp_dir.hpp"
#include "test_images.hpp"
#include "faulty_catalog.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <queue>
#include <thread>
#include <tbb/global_control.h>
#include <vips/vips8>

#include "catalog/catalog.hpp"
#include "config/config.hpp"
#include "imaging/probe.hpp"
#include "pipeline/engine.hpp"
#include "pipeline/ingest.hpp"
#include "pipeline/observer.hpp"
#include "pipeline/render.hpp"

namespace {

namespace fs = std::filesystem;
using wsp::testing::CatalogFaults;
using wsp::testing::FaultyCatalog;
using wsp::testing::make_jpeg;
using wsp::testing::TempDir;

struct Recorder : wsp::pipeline::Observer {
  std::vector<std::string> warnings;
  void warning(std::string_view message) override { warnings.emplace_back(message); }
};

// A project folder of `count` small photos, ingested, with a quick render recipe.
class RenderProject {
public:
  explicit RenderProject(int count, int width = 640) {
    fs::create_directories(m_dir.path() / "shoot");
    for (int i = 0; i < count; ++i) {
      std::ofstream(m_dir.path() / "shoot" / ("IMG_" + std::to_string(1000 + i) + ".jpg"), std::ios::binary)
          << make_jpeg(width, width * 3 / 4, 60.0 + i * 3);
    }
    m_config.project_dir = m_dir.path();
    wsp::config::apply_derived_defaults(m_config);
    m_config.render.widths = {320};
    m_config.render.webp.enabled = false;
    m_config.render.sharpen = false;
    m_config.render.placeholder = "none";
    fs::create_directories(m_config.state_dir());
    auto catalog = wsp::catalog::open_sqlite_catalog(file());
    Recorder quiet;
    wsp::pipeline::ingest(m_config, *catalog, {}, quiet);
  }

  fs::path file() const { return m_config.state_dir() / "catalog.db"; }
  const wsp::config::Config& config() const { return m_config; }

  std::int64_t count(const std::string& sql_state, const std::string& stage) {
    auto catalog = wsp::catalog::open_sqlite_catalog(file());
    std::int64_t n = 0;
    for (const auto& row : catalog->stage_counts())
      if (row.stage == stage && row.state == sql_state) n = row.count;
    return n;
  }

private:
  TempDir m_dir;
  wsp::config::Config m_config;
};

wsp::pipeline::RenderRequest request_for(const std::string& run_id, std::int64_t lease_ms = 30'000) {
  wsp::pipeline::RenderRequest request;
  request.run_id = run_id;
  request.jobs = 1;
  request.max_inflight = 1;
  request.lease_ms = lease_ms;
  return request;
}

TEST(RenderLeases, ARunThatCannotOpenItsHeartbeatConnectionClaimsNothingAndSaysWhy) {
  RenderProject project(3);
  auto faults = std::make_shared<CatalogFaults>();
  faults->reopen_fails = true;
  FaultyCatalog catalog(wsp::catalog::open_sqlite_catalog(project.file()), faults);
  Recorder observer;
  auto summary = wsp::pipeline::render(project.config(), catalog, request_for("run-a"), observer);
  EXPECT_EQ(summary.rendered, 0u);
  EXPECT_NE(summary.stopped_because.find("claims alive"), std::string::npos) << summary.stopped_because;
  EXPECT_NE(summary.stopped_because.find("unable to open database file"), std::string::npos);
  EXPECT_EQ(project.count("running", "render"), 0);
  EXPECT_EQ(project.count("done", "render"), 0);
}

TEST(RenderLeases, ARunWhoseRenewalsFailStopsClaimingBeforeItsLeasesLapse) {
  constexpr int k_photos = 80;
  RenderProject project(k_photos, 1000);
  auto faults = std::make_shared<CatalogFaults>();
  faults->renewal_fails = true;
  FaultyCatalog catalog(wsp::catalog::open_sqlite_catalog(project.file()), faults);
  Recorder observer;
  // Leases of 1 s: renewals are due every 250 ms, retried every 62 ms once
  // they fail, and claiming must stop at half a lease, well before 80 photos
  // are rendered one at a time (a development machine renders 15 to 45 by then).
  // Half a lease is counted from before the heartbeat connection opens: with
  // shorter leases, a loaded machine under a sanitizer let it pass before the
  // renewal thread's first attempt, and the stop could not say why.
  auto summary = wsp::pipeline::render(project.config(), catalog, request_for("run-a", 1'000), observer);
  EXPECT_GT(faults->renewals.load(), 0);
  EXPECT_LT(summary.rendered, static_cast<std::size_t>(k_photos));
  EXPECT_NE(summary.stopped_because.find("claims alive"), std::string::npos) << summary.stopped_because;
  EXPECT_NE(summary.stopped_because.find("database is locked"), std::string::npos) << summary.stopped_because;
  EXPECT_EQ(project.count("running", "render"), 0) << "claims not rendered are handed back";
  EXPECT_EQ(project.count("done", "render"), static_cast<std::int64_t>(summary.rendered));
}

TEST(RenderLeases, ARenewalStuckOnABusyCatalogStopsTheClaimingToo) {
  constexpr int k_photos = 40;
  RenderProject project(k_photos, 1000);
  auto faults = std::make_shared<CatalogFaults>();
  faults->renewal_stalls_ms = 2'000;
  FaultyCatalog catalog(wsp::catalog::open_sqlite_catalog(project.file()), faults);
  Recorder observer;
  auto summary = wsp::pipeline::render(project.config(), catalog, request_for("run-a", 40), observer);
  EXPECT_LT(summary.rendered, static_cast<std::size_t>(k_photos));
  EXPECT_NE(summary.stopped_because.find("no lease renewal for"), std::string::npos) << summary.stopped_because;
  EXPECT_EQ(project.count("running", "render"), 0);
}

// A run that starts while another cleans up writes files it has not committed
// yet: they must survive the clean-up.
TEST(RenderCleanUp, FilesOfARunStartingDuringTheCleanUpSurvive) {
  RenderProject project(2);
  {
    auto catalog = wsp::catalog::open_sqlite_catalog(project.file());
    Recorder quiet;
    auto first = wsp::pipeline::render(project.config(), *catalog, request_for("run-0"), quiet);
    ASSERT_EQ(first.rendered, 2u);
  }
  const fs::path uncommitted = project.config().state_dir() / "renders" / "img-2000-320.0123456789ab.jpg";
  std::mutex mutex;
  std::condition_variable changed;
  bool written = false;
  std::thread other;
  auto faults = std::make_shared<CatalogFaults>();
  // Between the clean-up's look at the living runs and its deletions, run B
  // registers and writes a render it has not committed yet.
  faults->on_referenced_files = [&] {
    if (other.joinable()) return;
    other = std::thread([&] {
      auto own = wsp::catalog::open_sqlite_catalog(project.file());
      const auto now = wsp::catalog::now_ms();
      own->begin_run({"run-b", "render", ::getpid(), "localhost", now, now, std::nullopt, std::nullopt});
      std::ofstream(uncommitted) << "a variant run-b has written and not committed yet";
      std::lock_guard lock(mutex);
      written = true;
      changed.notify_all();
    });
    // Run B cannot register while the clean-up holds the catalog; it is given
    // a moment, as a scheduler could, and the clean-up goes on either way.
    std::unique_lock lock(mutex);
    changed.wait_for(lock, std::chrono::seconds(2), [&] { return written; });
  };
  FaultyCatalog catalog(wsp::catalog::open_sqlite_catalog(project.file()), faults);
  Recorder quiet;
  wsp::pipeline::render(project.config(), catalog, request_for("run-a"), quiet);
  ASSERT_TRUE(other.joinable()) << "the clean-up looked at the referenced files";
  other.join();
  EXPECT_TRUE(fs::exists(uncommitted)) << "the clean-up deleted a file of a run that started beside it";
}

using wsp::pipeline::Engine;
using wsp::pipeline::EventKind;
using wsp::pipeline::Outcome;
using wsp::pipeline::Stage;
using wsp::pipeline::StageName;
using wsp::pipeline::Verdict;
using wsp::pipeline::Work;
using Clock = std::chrono::steady_clock;

// A catalog of `count` active images and nothing on disk: the engine only
// claims and commits, the stages under test do the work.
class EngineTest : public ::testing::Test {
protected:
  void add_images(int count) {
    m_catalog->write([&] {
      for (int i = 0; i < count; ++i) {
        wsp::catalog::ImageRecord image;
        image.path = "shoot/IMG_" + std::to_string(1000 + i) + ".jpg";
        image.sha256 = std::string(60, 'a') + std::to_string(1000 + i);
        m_catalog->add_image(image);
      }
    });
  }

  Stage stage_doing(std::function<Outcome(const wsp::pipeline::Item&)> run) {
    Stage stage{.name = StageName::tag, .work = Work::cpu, .claim = {.settings = "s1"}};
    stage.run = std::move(run);
    stage.done_event = EventKind::image_tagged;
    stage.failed_event = EventKind::image_tag_failed;
    return stage;
  }

  wsp::pipeline::EngineSettings settings(int jobs = 2) {
    return {.run_id = "run-a", .stop = &m_stop, .jobs = jobs, .max_inflight = 2 * jobs, .lease_ms = 30'000};
  }

  std::int64_t jobs_in(const std::string& state) {
    for (const auto& row : m_catalog->stage_counts())
      if (row.stage == "tag" && row.state == state) return row.count;
    return 0;
  }

  std::int64_t due() { return m_catalog->count_claimable("tag", "s1", ""); }

  static Outcome done() { return {.verdict = Verdict::done, .word = "tagged"}; }

  TempDir m_dir;
  std::unique_ptr<wsp::catalog::Catalog> m_catalog = wsp::catalog::open_sqlite_catalog(m_dir.path() / "catalog.db");
  std::atomic<bool> m_stop{false};
  Recorder m_observer;
};

TEST_F(EngineTest, EveryDueItemIsWorkedOnOnceAndCommittedWithItsEvent) {
  add_images(7);
  std::atomic<int> calls{0};
  Engine engine(*m_catalog, settings(), m_observer);
  auto report = engine.run(stage_doing([&](const wsp::pipeline::Item&) {
    ++calls;
    return done();
  }));
  EXPECT_EQ(calls.load(), 7);
  EXPECT_EQ(report.due, 7);
  EXPECT_EQ(report.done, 7u);
  EXPECT_EQ(jobs_in("done"), 7);
  EXPECT_EQ(due(), 0);
  EXPECT_EQ(m_catalog->event_count(), 7);
}

TEST_F(EngineTest, AnExceptionInAStageHandsItsClaimsBackAndKeepsWhatWasCommitted) {
  add_images(10);
  std::atomic<int> calls{0};
  Engine engine(*m_catalog, settings(1), m_observer);
  auto stage = stage_doing([&](const wsp::pipeline::Item&) {
    if (++calls == 4) throw std::runtime_error("the stage broke");
    return done();
  });
  EXPECT_THROW(engine.run(stage), std::runtime_error);
  EXPECT_EQ(jobs_in("running"), 0) << "no claim is left stuck";
  EXPECT_EQ(jobs_in("done"), 3);
  EXPECT_EQ(due(), 7) << "the rest is due again at once, not after its leases expire";
}

TEST_F(EngineTest, AStopClaimsNothingMoreAndHandsBackWhatWasNotStarted) {
  add_images(20);
  std::atomic<int> calls{0};
  Engine engine(*m_catalog, settings(1), m_observer);
  auto report = engine.run(stage_doing([&](const wsp::pipeline::Item&) {
    if (++calls == 3) m_stop = true;  // as the first SIGINT does
    return done();
  }));
  EXPECT_EQ(jobs_in("running"), 0);
  EXPECT_EQ(report.done, static_cast<std::size_t>(calls.load()));
  EXPECT_LT(calls.load(), 20);
  EXPECT_EQ(due(), 20 - calls.load());
}

TEST_F(EngineTest, AnOutcomeThatStopsTheStageSaysWhyAndItsItemStaysDue) {
  add_images(8);
  std::atomic<int> calls{0};
  Engine engine(*m_catalog, settings(1), m_observer);
  auto report = engine.run(stage_doing([&](const wsp::pipeline::Item&) {
    if (++calls == 2) return Outcome{.reason = "disk full", .stops_stage = true};
    return done();
  }));
  EXPECT_EQ(report.stopped_because, "disk full");
  EXPECT_EQ(jobs_in("running"), 0);
  EXPECT_EQ(jobs_in("failed"), 0) << "a full disk is no fault of the photo";
  EXPECT_EQ(due(), 8 - static_cast<std::int64_t>(report.done));
}

TEST_F(EngineTest, ResultsAreCommittedInBatches) {
  add_images(12);
  Engine engine(*m_catalog, settings(1), m_observer);
  auto stage = stage_doing([](const wsp::pipeline::Item&) { return done(); });
  stage.batch = 5;
  stage.batch_wait = std::chrono::hours(1);
  int commits = 0;
  std::vector<std::int64_t> done_at_commit;
  // Counted through a connection of its own: the engine's is in use by the
  // claiming thread meanwhile, and another process sees only what is committed.
  auto observer = m_catalog->reopen();
  stage.committed = [&] {
    ++commits;
    std::int64_t done_jobs = 0;
    for (const auto& row : observer->stage_counts())
      if (row.stage == "tag" && row.state == "done") done_jobs = row.count;
    done_at_commit.push_back(done_jobs);
  };
  engine.run(stage);
  EXPECT_EQ(commits, 3);
  EXPECT_EQ(done_at_commit, (std::vector<std::int64_t>{5, 10, 12}));
}

TEST_F(EngineTest, FailedAndWaitingItemsAreRecordedWithTheirReason) {
  add_images(3);
  Engine engine(*m_catalog, settings(1), m_observer);
  auto report = engine.run(stage_doing([](const wsp::pipeline::Item& item) {
    if (item.path.ends_with("1000.jpg")) return Outcome{.verdict = Verdict::failed, .reason = "unreadable"};
    if (item.path.ends_with("1001.jpg"))
      return Outcome{.verdict = Verdict::waiting, .word = "waiting", .reason = "input lost"};
    return done();
  }));
  EXPECT_EQ(report.failed, 1u);
  EXPECT_EQ(report.waiting, 1u);
  EXPECT_EQ(report.done, 1u);
  auto failed = m_catalog->job(1, "tag");
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->state, wsp::catalog::JobState::Failed);
  EXPECT_EQ(failed->last_error, "unreadable");
  EXPECT_EQ(m_catalog->job(2, "tag")->state, wsp::catalog::JobState::Pending);
  EXPECT_EQ(due(), 1) << "only the waiting item is due again";
  ASSERT_EQ(m_observer.warnings.size(), 1u);
  EXPECT_NE(m_observer.warnings[0].find("input lost"), std::string::npos);
}

TEST_F(EngineTest, TimersAccountForClaimWorkAndCommit) {
  add_images(5);
  Engine engine(*m_catalog, settings(1), m_observer);
  auto report = engine.run(stage_doing([](const wsp::pipeline::Item&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return done();
  }));
  EXPECT_GE(report.seconds.work, 5 * 0.020);
  EXPECT_GT(report.seconds.claim, 0);
  EXPECT_GT(report.seconds.commit, 0);
  // One slot: an item's work starts once the one before it is committed. The
  // next claim runs beside that work and commit (and may wait for the commit's
  // turn on the connection), so it is bounded by the wall time on its own.
  EXPECT_GE(report.seconds.wall, report.seconds.work + report.seconds.commit) << "one item at a time";
  EXPECT_GE(report.seconds.wall, report.seconds.claim);
}

int threads_of_this_process() {
  int count = 0;
  for ([[maybe_unused]] const auto& task : fs::directory_iterator("/proc/self/task")) ++count;
  return count;
}

// Completes each scheduled item after its delay, on one thread: what an event
// loop (curl's multi interface) does for uploads and provider calls.
class Timer {
public:
  Timer() : m_thread([this] { loop(); }) {}
  ~Timer() {
    {
      std::lock_guard lock(m_mutex);
      m_finished = true;
    }
    m_wake.notify_all();
    m_thread.join();
  }
  void after(std::chrono::milliseconds delay, std::function<void()> work) {
    std::lock_guard lock(m_mutex);
    m_due.push({Clock::now() + delay, m_sequence++, std::move(work)});
    m_wake.notify_all();
  }

private:
  struct Entry {
    Clock::time_point at;
    std::uint64_t sequence;
    std::function<void()> work;
    bool operator>(const Entry& other) const { return std::tie(at, sequence) > std::tie(other.at, other.sequence); }
  };
  void loop() {
    std::unique_lock lock(m_mutex);
    while (!m_finished) {
      if (m_due.empty()) {
        m_wake.wait(lock);
        continue;
      }
      // A copy: while this waits, a push may move the queue's elements.
      if (const auto at = m_due.top().at; Clock::now() < at) {
        m_wake.wait_until(lock, at);
        continue;
      }
      auto work = m_due.top().work;
      m_due.pop();
      lock.unlock();
      work();
      lock.lock();
    }
  }
  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> m_due;
  std::uint64_t m_sequence = 0;
  bool m_finished = false;
  std::thread m_thread;
};

TEST_F(EngineTest, AnIoStageKeepsManyItemsInFlightWithoutHoldingThreads) {
  constexpr int k_items = 64;
  add_images(k_items);
  tbb::global_control two_workers(tbb::global_control::max_allowed_parallelism, 2);
  // No item finishes before every one has started: an engine that held a
  // thread (or a slot short of io_inflight) per waiting item would never get
  // there, and the items are let go after a generous wait so that it fails
  // instead of hanging.
  constexpr auto k_give_up = std::chrono::seconds(60);
  std::mutex waiting_mutex;
  std::vector<wsp::pipeline::Finish> waiting;
  bool let_go = false;
  auto finish_all = [&] {
    std::vector<wsp::pipeline::Finish> now;
    {
      std::lock_guard lock(waiting_mutex);
      let_go = true;
      now.swap(waiting);
    }
    for (auto& finish : now) finish(done());
  };
  Timer timer;
  const int threads_before = threads_of_this_process();
  std::atomic<int> in_flight{0}, most_in_flight{0}, most_threads{0};
  Stage stage{.name = StageName::tag, .work = Work::io, .claim = {.settings = "s1"}};
  stage.done_event = EventKind::image_tagged;
  stage.failed_event = EventKind::image_tag_failed;
  stage.start = [&](const wsp::pipeline::Item&, wsp::pipeline::Finish finish) {
    const int now = ++in_flight;
    for (int seen = most_in_flight; now > seen && !most_in_flight.compare_exchange_weak(seen, now);) {
    }
    const int threads = threads_of_this_process();
    for (int seen = most_threads; threads > seen && !most_threads.compare_exchange_weak(seen, threads);) {
    }
    auto counted = [&, finish = std::move(finish)](Outcome outcome) {
      --in_flight;
      finish(std::move(outcome));
    };
    std::unique_lock lock(waiting_mutex);
    if (let_go) {
      lock.unlock();
      timer.after(std::chrono::milliseconds(0), [counted = std::move(counted)] { counted(done()); });
      return;
    }
    waiting.push_back(std::move(counted));
    if (now == 1) timer.after(k_give_up, finish_all);
    if (now == k_items) timer.after(std::chrono::milliseconds(0), finish_all);
  };
  auto settings = this->settings(2);
  settings.io_inflight = k_items;
  Engine engine(*m_catalog, settings, m_observer);
  auto report = engine.run(stage);
  EXPECT_EQ(report.done, static_cast<std::size_t>(k_items));
  EXPECT_EQ(jobs_in("done"), k_items);
  EXPECT_EQ(most_in_flight.load(), k_items) << "items waited one after another";
  // Two workers, the heartbeat thread and what oneTBB keeps beside them: not one thread per item.
  EXPECT_LE(most_threads.load() - threads_before, 6);
}

}  // namespace
