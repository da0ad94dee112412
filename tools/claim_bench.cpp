// claim-bench: how fast workers claim and commit work on a catalog. N workers
// (threads, each with its own catalog connection, as separate processes or
// hosts would have) claim a trivial stage over M queued photos and commit each
// claim as the stage engine does (the job done and one event, in one write),
// until nothing is left. Prints one JSON object: claims per second, claim and
// commit latencies, and the two figures that must be 0: photos claimed twice
// (duplicates) and photos never done (lost). Exits 1 when either is not 0.
// Also counted: claims that came back empty while photos were still
// claimable, which would end a stage engine's stage early.
// Uses only the catalog's public interface.
//
//   claim-bench --catalog FILE.db|postgresql://... --workers N --items M [--batch B]
//
// The catalog must hold no photos yet: a new SQLite file, or an empty
// PostgreSQL database.

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "catalog/catalog.hpp"

namespace {

using Clock = std::chrono::steady_clock;
namespace catalog = wsp::catalog;

constexpr const char* k_stage = "bench";
constexpr const char* k_settings = "claim-bench";
// Far longer than one claim's transaction takes, even on a loaded machine.
constexpr std::chrono::milliseconds k_claim_settles{200};

struct WorkerLog {
  std::vector<std::int64_t> claimed;       // photo ids, in claim order
  std::vector<double> claim_ms;            // each claim that returned work
  std::vector<double> empty_claim_ms;      // each claim that found nothing
  std::vector<double> commit_ms;
  std::int64_t empty_with_work_left = 0;
  std::string error;
};

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto rank = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(rank, values.size() - 1)];
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::unique_ptr<catalog::Catalog> open(const std::string& where) {
  if (where.starts_with("postgresql://") || where.starts_with("postgres://") || where.find('=') != std::string::npos)
    return catalog::open_postgres_catalog(where);
  return catalog::open_sqlite_catalog(where);
}

void work(catalog::Catalog& c, const std::string& worker, int batch, WorkerLog& log) {
  for (;;) {
    auto started = Clock::now();
    auto claimed = c.claim(k_stage, k_settings, "", worker, 600'000, batch);
    const double took = ms_since(started);
    if (claimed.empty()) {
      log.empty_claim_ms.push_back(took);
      // Nothing claimed while photos are still claimable: the stage engine
      // takes an empty claim for the end of its stage, so a worker would stop
      // here with work left. Counted, and the worker goes on. Photos another
      // worker is claiming at this moment are rightly skipped, yet count as
      // claimable until that claim commits: they are looked at again once
      // such a claim is surely over.
      auto left = c.count_claimable(k_stage, k_settings, "");
      if (left > 0) {
        std::this_thread::sleep_for(k_claim_settles);
        left = c.count_claimable(k_stage, k_settings, "");
      }
      if (left > 0) {
        ++log.empty_with_work_left;
        continue;
      }
      return;  // every photo is done or claimed by another worker, whose lease outlives the run
    }
    log.claim_ms.push_back(took);
    started = Clock::now();
    c.write([&] {
      for (const auto& image : claimed) {
        auto job = c.job(image.id, k_stage).value_or(catalog::Job{image.id, k_stage, catalog::JobState::Pending, 1, {}, {}});
        job.fingerprint = image.sha256 + ":" + k_settings;
        job.state = catalog::JobState::Done;
        c.add_event({"bench.done", image.id, "{}"}, worker);
        c.put_job(job);
      }
    });
    log.commit_ms.push_back(ms_since(started));
    for (const auto& image : claimed) log.claimed.push_back(image.id);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string where;
  int workers = 4;
  int items = 1000;
  int batch = 1;
  CLI::App app{"claim-bench: claim-and-commit throughput of N workers over M queued photos on one catalog"};
  app.add_option("--catalog", where, "A new SQLite file, or a PostgreSQL URL of an empty database")->required();
  app.add_option("--workers", workers, "Concurrent workers, each with its own connection")->check(CLI::Range(1, 256));
  app.add_option("--items", items, "Photos queued")->check(CLI::Range(1, 10'000'000));
  app.add_option("--batch", batch, "Photos per claim")->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);

  try {
    auto setup = open(where);
    if (!setup->images().empty()) {
      std::cerr << "claim-bench: the catalog already holds photos; give it a new file or an empty database\n";
      return 2;
    }
    const auto queued_at = Clock::now();
    setup->write([&] {
      for (int n = 0; n < items; ++n) {
        catalog::ImageRecord image;
        image.path = fmt::format("bench/IMG_{:07}.JPG", n);
        image.size = 1;
        image.inode = n + 1;
        image.sha256 = fmt::format("{:064x}", n);
        image.first_seen_ms = image.updated_ms = catalog::now_ms();
        setup->add_image(image);
      }
    });
    const double queue_ms = ms_since(queued_at);

    std::vector<std::unique_ptr<catalog::Catalog>> connections;
    for (int w = 0; w < workers; ++w) connections.push_back(setup->reopen());
    std::vector<WorkerLog> logs(static_cast<std::size_t>(workers));
    std::vector<std::thread> threads;
    const auto started = Clock::now();
    for (int w = 0; w < workers; ++w)
      threads.emplace_back([&, w] {
        try {
          work(*connections[static_cast<std::size_t>(w)], fmt::format("bench-worker-{:03}", w), batch,
               logs[static_cast<std::size_t>(w)]);
        } catch (const std::exception& e) {
          logs[static_cast<std::size_t>(w)].error = e.what();
        }
      });
    for (auto& thread : threads) thread.join();
    const double seconds = ms_since(started) / 1000;

    std::map<std::int64_t, int> times_claimed;
    std::vector<double> claim_ms, commit_ms, empty_ms;
    std::vector<std::string> errors;
    std::vector<std::size_t> per_worker;
    std::int64_t empty_with_work_left = 0;
    for (const auto& log : logs) {
      empty_with_work_left += log.empty_with_work_left;
      for (auto id : log.claimed) ++times_claimed[id];
      claim_ms.insert(claim_ms.end(), log.claim_ms.begin(), log.claim_ms.end());
      commit_ms.insert(commit_ms.end(), log.commit_ms.begin(), log.commit_ms.end());
      empty_ms.insert(empty_ms.end(), log.empty_claim_ms.begin(), log.empty_claim_ms.end());
      if (!log.error.empty()) errors.push_back(log.error);
      per_worker.push_back(log.claimed.size());
    }
    std::int64_t claims = 0, duplicates = 0;
    for (const auto& [id, times] : times_claimed) {
      claims += times;
      duplicates += times - 1;
    }
    // What the catalog says, beside what the workers saw: every photo's job
    // done, claimed once.
    std::int64_t done = 0, claimed_again = 0;
    for (const auto& image : setup->images()) {
      auto job = setup->job(image.id, k_stage);
      if (job && job->state == catalog::JobState::Done) ++done;
      if (job && job->attempts > 1) claimed_again += job->attempts - 1;
    }
    duplicates = std::max(duplicates, claimed_again);
    const std::int64_t lost = items - done;

    nlohmann::json report = {
        {"backend", where.find("://") != std::string::npos || where.find('=') != std::string::npos ? "postgresql" : "sqlite"},
        {"workers", workers},
        {"items", items},
        {"batch", batch},
        {"seconds", seconds},
        {"queue_seconds", queue_ms / 1000},
        {"claims_per_second", seconds > 0 ? static_cast<double>(claims) / seconds : 0},
        {"claim_calls", claim_ms.size()},
        {"claim_ms_p50", percentile(claim_ms, 0.50)},
        {"claim_ms_p99", percentile(claim_ms, 0.99)},
        {"claim_ms_max", percentile(claim_ms, 1.0)},
        {"empty_claim_ms_p50", percentile(empty_ms, 0.50)},
        {"commit_ms_p50", percentile(commit_ms, 0.50)},
        {"commit_ms_p99", percentile(commit_ms, 0.99)},
        {"claimed_per_worker", per_worker},
        {"empty_claims_with_work_left", empty_with_work_left},
        {"duplicates", duplicates},
        {"lost", lost},
        {"errors", errors},
    };
    std::cout << report.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return duplicates == 0 && lost == 0 && errors.empty() ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "claim-bench: " << e.what() << "\n";
    return 2;
  }
}
