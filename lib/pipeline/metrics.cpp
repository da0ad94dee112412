#include "pipeline/metrics.hpp"

#include <fmt/format.h>

#include "pipeline/names.hpp"
#include "pipeline/pending.hpp"

namespace wsp::pipeline {

namespace {

// Seconds as Prometheus reads a float: Go's ParseFloat accepts this form.
std::string number(double value) { return fmt::format("{}", value); }

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

std::string prometheus_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void WatchMetrics::record_stage(std::string_view stage, std::int64_t items, double seconds) {
  std::lock_guard lock(m_mutex);
  auto& stats = m_stages[std::string(stage)];
  stats.items += items;
  stats.count += 1;
  stats.sum += seconds;
  for (std::size_t i = 0; i < k_duration_buckets.size(); ++i)
    if (seconds <= k_duration_buckets[i]) {
      ++stats.buckets[i];
      break;
    }
}

void WatchMetrics::loop_turned(Clock::time_point now) { m_last_turn = now.time_since_epoch().count(); }

void WatchMetrics::batch_running(bool running) { m_in_batch = running; }

std::string WatchMetrics::loop_problem(Clock::time_point now) const {
  if (m_in_batch) return {};
  const auto last = Clock::time_point(Clock::duration(m_last_turn.load()));
  if (now - last <= k_loop_stuck_after) return {};
  return fmt::format("the watch loop has not turned for {} s",
                     std::chrono::duration_cast<std::chrono::seconds>(now - last).count());
}

std::string WatchMetrics::exposition(catalog::Catalog& catalog, const config::Config& config) const {
  std::string out;
  {
    std::lock_guard lock(m_mutex);
    family(out, "wsportfolio_stage_items_total", "counter", "Items the watcher's batches took through each stage.");
    for (const auto& [stage, stats] : m_stages)
      out += fmt::format("wsportfolio_stage_items_total{{stage=\"{}\"}} {}\n", prometheus_label(stage), stats.items);
    family(out, "wsportfolio_stage_duration_seconds", "histogram", "Wall time of each stage of each batch.");
    for (const auto& [stage, stats] : m_stages) {
      const auto label = prometheus_label(stage);
      std::int64_t cumulative = 0;
      for (std::size_t i = 0; i < k_duration_buckets.size(); ++i) {
        cumulative += stats.buckets[i];
        out += fmt::format("wsportfolio_stage_duration_seconds_bucket{{stage=\"{}\",le=\"{}\"}} {}\n", label,
                           number(k_duration_buckets[i]), cumulative);
      }
      out += fmt::format("wsportfolio_stage_duration_seconds_bucket{{stage=\"{}\",le=\"+Inf\"}} {}\n", label, stats.count);
      out += fmt::format("wsportfolio_stage_duration_seconds_sum{{stage=\"{}\"}} {}\n", label, number(stats.sum));
      out += fmt::format("wsportfolio_stage_duration_seconds_count{{stage=\"{}\"}} {}\n", label, stats.count);
    }
  }

  family(out, "wsportfolio_jobs", "gauge", "Jobs in the catalog per stage and state (done and failed as in status).");
  for (const auto& row : catalog.stage_counts())
    out += fmt::format("wsportfolio_jobs{{stage=\"{}\",state=\"{}\"}} {}\n", prometheus_label(row.stage),
                       prometheus_label(row.state), row.count);
  family(out, "wsportfolio_queue_depth", "gauge", "Images due before each stage that claims its work.");
  for (const auto& [stage, due] : pending_work(config, catalog))
    out += fmt::format("wsportfolio_queue_depth{{stage=\"{}\"}} {}\n", name_of(stage), due);

  family(out, "wsportfolio_webhook_deliveries", "gauge", "Webhook deliveries pending or dead-lettered, per endpoint.");
  for (const auto& endpoint : catalog.webhook_backlog()) {
    const auto label = prometheus_label(endpoint.endpoint);
    out += fmt::format("wsportfolio_webhook_deliveries{{endpoint=\"{}\",state=\"pending\"}} {}\n", label, endpoint.pending);
    out += fmt::format("wsportfolio_webhook_deliveries{{endpoint=\"{}\",state=\"dead\"}} {}\n", label, endpoint.dead);
  }

  family(out, "wsportfolio_circuit_state", "gauge",
         "1 for the state each remote party's circuit is in (closed, open, half-open), 0 for the others.");
  for (const auto& circuit : catalog.circuits())
    for (const char* state : {"closed", "open", "half-open"})
      out += fmt::format("wsportfolio_circuit_state{{kind=\"{}\",name=\"{}\",state=\"{}\"}} {}\n",
                         prometheus_label(circuit.kind), prometheus_label(circuit.name), state,
                         circuit.state == state ? 1 : 0);

  family(out, "wsportfolio_last_publish_success_timestamp_seconds", "gauge",
         "When a publish last completed, in seconds since the epoch.");
  if (auto at = catalog.last_event_ms(std::string(name_of(EventKind::publish_completed))))
    out += fmt::format("wsportfolio_last_publish_success_timestamp_seconds {}\n", number(static_cast<double>(*at) / 1000.0));
  return out;
}

Health watch_health(const WatchMetrics& metrics, const catalog::CatalogLocation& location) {
  if (auto problem = metrics.loop_problem(WatchMetrics::Clock::now()); !problem.empty()) return {false, problem};
  try {
    auto catalog = catalog::open_catalog(location, catalog::Access::read_only);
    catalog->schema_version();
    catalog->next_delivery_ms();
  } catch (const std::exception& e) {
    return {false, e.what()};
  }
  return {true, {}};
}

}  // namespace wsp::pipeline
