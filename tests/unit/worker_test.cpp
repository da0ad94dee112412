// The worker's policy (pipeline/worker.hpp) on a real SQLite catalog, with
// stages that only record what they were asked and mark the due jobs done.

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "catalog/catalog.hpp"
#include "pipeline/render.hpp"
#include "pipeline/tag.hpp"
#include "pipeline/worker.hpp"
#include "temp_dir.hpp"

namespace wsp::pipeline {
namespace {

using namespace std::chrono_literals;

struct RecordedStages final : WorkerStages {
  RecordedStages(catalog::Catalog& catalog, const config::Config& config) : m_catalog(catalog), m_config(config) {}

  WorkerRound work(const config::Config&) override {
    ++rounds;
    std::int64_t committed = 0;
    m_catalog.write([&] {
      for (const auto& image : m_catalog.images()) {
        const auto render = m_catalog.job(image.id, "render");
        if (render && render->state == catalog::JobState::Done) continue;
        m_catalog.put_job({image.id, "render", catalog::JobState::Done, 1, {},
                           image.sha256 + ":" + render_settings(m_config.render)});
        m_catalog.put_job({image.id, "tag", catalog::JobState::Done, 1, {}, image.sha256 + ":" + tag_settings(m_config)});
        ++committed;
      }
    });
    return {committed, 0};
  }
  int publish(const config::Config&, const catalog::ProjectLock& publisher) override {
    EXPECT_TRUE(publisher.held()) << "published without the publisher lock";
    ++publishes;
    return 0;
  }
  void deliver(const config::Config&) override {}
  void note(WorkerNote note, const std::string& detail) override {
    std::lock_guard lock(m_mutex);
    if (note == WorkerNote::waiting) ++waits;
    if (note == WorkerNote::publish_deferred) deferred_by = detail;
  }
  std::string deferred() {
    std::lock_guard lock(m_mutex);
    return deferred_by;
  }

  std::atomic<int> rounds{0};
  std::atomic<int> publishes{0};
  std::atomic<int> waits{0};

private:
  catalog::Catalog& m_catalog;
  const config::Config& m_config;
  std::mutex m_mutex;
  std::string deferred_by;
};

// Waits up to 10 s for `condition`.
template <typename F>
bool eventually(F condition) {
  for (int i = 0; i < 200; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return condition();
}

class WorkerTest : public ::testing::Test {
protected:
  void SetUp() override {
    m_config.project_dir = m_dir.path();
    config::PublishTarget web;
    web.name = "web";
    web.type = "local";
    web.path = "public";
    m_config.publish.targets.push_back(web);
    m_catalog = catalog::open_sqlite_catalog(m_dir.path() / "catalog.db");
  }
  void add_photo(const std::string& path) {
    catalog::ImageRecord image;
    image.path = path;
    image.sha256 = std::string(64, path[0]);
    m_catalog->write([&] { m_catalog->add_image(image); });
  }

  wsp::testing::TempDir m_dir;
  config::Config m_config;
  std::unique_ptr<catalog::Catalog> m_catalog;
  std::atomic<bool> m_stop{false};
};

TEST_F(WorkerTest, EndsWhenNothingIsLeftAndPublishesWhatItFinished) {
  add_photo("a.jpg");
  add_photo("b.jpg");
  RecordedStages stages(*m_catalog, m_config);
  Worker worker(m_config, *m_catalog, "run-1", stages, m_stop);
  EXPECT_EQ(worker.due(), 2);
  EXPECT_EQ(worker.run(), 0);
  EXPECT_EQ(stages.rounds, 1);
  EXPECT_EQ(stages.publishes, 1);
  EXPECT_EQ(stages.waits, 0) << "a worker that is not kept on never waits";
  EXPECT_EQ(worker.due(), 0);
}

TEST_F(WorkerTest, WithNothingQueuedItNeitherWorksNorPublishes) {
  RecordedStages stages(*m_catalog, m_config);
  Worker worker(m_config, *m_catalog, "run-1", stages, m_stop);
  EXPECT_EQ(worker.run(), 0);
  EXPECT_EQ(stages.rounds, 0);
  EXPECT_EQ(stages.publishes, 0) << "published with nothing new";
}

// Kept on, on a catalog that cannot wake it (SQLite), the worker polls: a
// photo queued while it waits is worked on; another process's publisher
// makes it put its publish off until that one is done; a signal ends it.
TEST_F(WorkerTest, KeptOnItPollsForWorkAndPublishesOnceThePublisherIsFree) {
  auto elsewhere = catalog::open_sqlite_catalog(m_dir.path() / "catalog.db");
  auto publisher = elsewhere->lock("publish", catalog::LockWait::no);
  ASSERT_TRUE(publisher->held());
  // The worker's thread has a connection of its own: this one queues photos
  // meanwhile, and a catalog connection is used by one thread at a time.
  auto own = m_catalog->reopen();
  RecordedStages stages(*own, m_config);
  Worker worker(m_config, *own, "run-1", stages, m_stop, {.forever = true});
  auto running = std::async(std::launch::async, [&] { return worker.run(); });
  ASSERT_TRUE(eventually([&] { return stages.waits > 0; })) << "never waited for work";
  EXPECT_EQ(stages.rounds, 0);

  add_photo("c.jpg");
  ASSERT_TRUE(eventually([&] { return stages.rounds == 1; })) << "the photo queued meanwhile was not worked on";
  ASSERT_TRUE(eventually([&] { return !stages.deferred().empty(); }));
  EXPECT_NE(stages.deferred().find("pid "), std::string::npos) << stages.deferred();
  EXPECT_EQ(stages.publishes, 0) << "published while another process held the publisher lock";

  publisher.reset();
  EXPECT_TRUE(eventually([&] { return stages.publishes == 1; })) << "the publish put off never happened";
  m_stop = true;
  ASSERT_EQ(running.wait_for(5s), std::future_status::ready) << "a signal did not end the wait";
  EXPECT_EQ(running.get(), 130);
  EXPECT_EQ(stages.publishes, 1) << "published again with nothing new";
}

}  // namespace
}  // namespace wsp::pipeline
