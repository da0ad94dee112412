// The stage engine, and the render stage run by it on real JPEGs in a real
// SQLite catalog: leases that cannot be renewed stop the claiming, and the
// clean-up of files nothing refers to never races a run that starts beside it.

#include "temp_dir.hpp"
#include "faulty_catalog.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>
#include <vips/vips8>

#include "catalog/catalog.hpp"
#include "config/config.hpp"
#include "imaging/probe.hpp"
#include "pipeline/ingest.hpp"
#include "pipeline/observer.hpp"
#include "pipeline/render.hpp"

namespace {

namespace fs = std::filesystem;
using wsp::testing::CatalogFaults;
using wsp::testing::FaultyCatalog;
using wsp::testing::TempDir;

std::string make_jpeg(int width, int height, double mean) {
  wsp::imaging::start_imaging();
  auto image = vips::VImage::gaussnoise(width, height, vips::VImage::option()->set("mean", mean)->set("sigma", 30.0))
                   .cast(VIPS_FORMAT_UCHAR);
  VipsBlob* blob = image.jpegsave_buffer(vips::VImage::option()->set("Q", 85));
  std::size_t length = 0;
  const void* data = vips_area_get_data(VIPS_AREA(blob), &length, nullptr, nullptr, nullptr);
  std::string bytes(static_cast<const char*>(data), length);
  vips_area_unref(VIPS_AREA(blob));
  return bytes;
}

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
  constexpr int k_photos = 40;
  RenderProject project(k_photos, 1000);
  auto faults = std::make_shared<CatalogFaults>();
  faults->renewal_fails = true;
  FaultyCatalog catalog(wsp::catalog::open_sqlite_catalog(project.file()), faults);
  Recorder observer;
  // Leases of 40 ms: renewals are due every 10 ms, and claiming must stop well
  // before 40 photos are rendered one at a time.
  auto summary = wsp::pipeline::render(project.config(), catalog, request_for("run-a", 40), observer);
  EXPECT_GT(faults->renewals.load(), 0);
  EXPECT_LT(summary.rendered, static_cast<std::size_t>(k_photos));
  EXPECT_NE(summary.stopped_because.find("claims alive"), std::string::npos) << summary.stopped_because;
  EXPECT_NE(summary.stopped_because.find("database is locked"), std::string::npos);
  EXPECT_EQ(project.count("running", "render"), 0) << "claims not rendered are handed back";
  EXPECT_EQ(project.count("done", "render"), static_cast<std::int64_t>(summary.rendered));
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

}  // namespace
