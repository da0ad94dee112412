#include "catalog/catalog.hpp"
#include "config/config.hpp"
#include "notify/circuits.hpp"
#include "pipeline/metrics.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace {

using namespace std::chrono_literals;
using namespace wsp;
using wsp::testing::TempDir;

TEST(OperatorView, CircuitsOutliveTheirBreakers) {
  TempDir dir;
  auto catalog = catalog::open_sqlite_catalog(dir.path() / "catalog.db");
  {
    notify::CircuitRecorder recorder(*catalog, "webhook");
    net::CircuitBreakers breakers({2, 30s}, net::real_steady_clock(), recorder.observer());
    recorder.restore(breakers);
    breakers.record("https://a.example/hook", false, "HTTP 500");
    breakers.record("https://a.example/hook", false, "timed out");
  }
  auto circuits = catalog->circuits();
  ASSERT_EQ(circuits.size(), 1u);
  EXPECT_EQ(circuits[0].kind, "webhook");
  EXPECT_EQ(circuits[0].state, "open");
  EXPECT_EQ(circuits[0].consecutive_failures, 2);
  EXPECT_EQ(circuits[0].last_error, "timed out");
  ASSERT_TRUE(circuits[0].opened_ms);
  EXPECT_LE(catalog::now_ms() - *circuits[0].opened_ms, 10'000);

  // The next process: still open, and only the other kind's breakers untouched.
  notify::CircuitRecorder recorder(*catalog, "webhook");
  net::CircuitBreakers breakers({2, 30s}, net::real_steady_clock(), recorder.observer());
  recorder.restore(breakers);
  EXPECT_FALSE(breakers.allow("https://a.example/hook"));
  notify::CircuitRecorder targets(*catalog, "target");
  net::CircuitBreakers hosts({2, 30s}, net::real_steady_clock(), targets.observer());
  targets.restore(hosts);
  EXPECT_TRUE(hosts.allow("https://a.example/hook"));
}

TEST(OperatorView, TheExpositionCountsBatchesAndReadsTheCatalog) {
  TempDir dir;
  auto catalog = catalog::open_sqlite_catalog(dir.path() / "catalog.db");
  catalog->record_circuit({"webhook", "https://a.example/h\"ook", "open", 5, catalog::now_ms(), "HTTP 500", 0});
  pipeline::WatchMetrics metrics;
  metrics.record_stage("render", 3, 0.3);
  metrics.record_stage("render", 1, 4.0);
  config::Config config;
  config.project_dir = dir.path();
  const auto text = metrics.exposition(*catalog, config);
  EXPECT_NE(text.find("wsportfolio_stage_items_total{stage=\"render\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("wsportfolio_stage_duration_seconds_bucket{stage=\"render\",le=\"0.25\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("wsportfolio_stage_duration_seconds_bucket{stage=\"render\",le=\"0.5\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("wsportfolio_stage_duration_seconds_bucket{stage=\"render\",le=\"5\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("wsportfolio_stage_duration_seconds_bucket{stage=\"render\",le=\"+Inf\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("wsportfolio_stage_duration_seconds_sum{stage=\"render\"} 4.3\n"), std::string::npos);
  EXPECT_NE(text.find("wsportfolio_circuit_state{kind=\"webhook\",name=\"https://a.example/h\\\"ook\",state=\"open\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("\nwsportfolio_last_publish_success_timestamp_seconds "), std::string::npos) << "nothing published";
}

TEST(OperatorView, HealthNeedsTheLoopAndTheCatalog) {
  TempDir dir;
  const auto file = dir.path() / "catalog.db";
  catalog::open_sqlite_catalog(file);
  pipeline::WatchMetrics metrics;
  const auto now = pipeline::WatchMetrics::Clock::now();
  metrics.loop_turned(now);
  EXPECT_TRUE(pipeline::watch_health(metrics, catalog::CatalogLocation{{}, file}).ok);
  EXPECT_FALSE(pipeline::watch_health(metrics, catalog::CatalogLocation{{}, dir.path() / "elsewhere.db"}).ok);
  metrics.loop_turned(now - pipeline::k_loop_stuck_after - 1s);
  auto stuck = pipeline::watch_health(metrics, catalog::CatalogLocation{{}, file});
  EXPECT_FALSE(stuck.ok);
  EXPECT_NE(stuck.reason.find("has not turned"), std::string::npos) << stuck.reason;
  metrics.batch_running(true);  // a long batch is not a stuck loop
  EXPECT_TRUE(pipeline::watch_health(metrics, catalog::CatalogLocation{{}, file}).ok);
}

}  // namespace
