#pragma once
// The events studios can subscribe to, their payloads and the Standard
// Webhooks envelope around them. Payloads are documented, with their version,
// in docs/webhooks.md. An event is appended to the catalog's audit trail, and
// the catalog writes its deliveries in the same transaction: an event recorded
// inside the write that commits the work it reports is never lost, and never
// sent for work that rolled back.

#include "catalog/catalog.hpp"
#include "config/config.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>
#include <string_view>

namespace wsp::notify {

// The version every payload carries as data.version; raised when a field changes meaning or goes.
inline constexpr int k_payload_version = 1;

enum class EventType {
  run_started,
  run_completed,
  run_failed,
  images_rejected,
  images_failed,
  review_needed,
  publish_completed,
  publish_failed,
  verify_failed,
  test_ping,
};

std::string_view name_of(EventType type);

// Appends the event with `data` (data.version is added); call it inside the
// catalog write that commits what it reports.
void record_event(catalog::Catalog& catalog, EventType type, nlohmann::json data, const std::string& run_id);

// {"type", "timestamp" (RFC 3339, UTC), "data"}: the body that is signed and sent.
std::string envelope(const catalog::Delivery& delivery);

// Makes the catalog's subscriptions those of the config; events appended from
// then on get deliveries for them.
void subscribe(catalog::Catalog& catalog, const config::Config& config);

// What `run` (or `watch`'s batch) reports at its end.
struct RunSummary {
  std::string command;
  std::int64_t started_ms = 0;  // images rejected since then are this run's
  int exit_code = 0;
  double seconds = 0;
  std::vector<std::pair<std::string, std::int64_t>> stage_items;  // stage, items worked on
};

void record_run_started(catalog::Catalog& catalog, const std::string& run_id, const std::string& command);
// run.completed (exit 0 or 1: done, some items may have failed) or run.failed,
// with images.rejected and images.failed (one event each, listing the files)
// when the run left any, in one write.
void record_run_end(catalog::Catalog& catalog, const std::string& run_id, const RunSummary& summary);

// review.needed listing the photos under tagging.min_confidence (nothing when
// there are none).
void record_review_needed(catalog::Catalog& catalog, const std::string& run_id, const std::vector<std::string>& paths);
// publish.failed for a publish that ended with `exit_code` (an empty target: every target).
void record_publish_failed(catalog::Catalog& catalog, const std::string& run_id, const std::string& target,
                           int exit_code);

}  // namespace wsp::notify
