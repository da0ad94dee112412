#pragma once
// The webhook outbox: which endpoints hear which kinds of event, and the
// delivery of each event to each subscribed endpoint. A delivery row is made
// by the catalog itself, in the transaction that appends the event, so that an
// event is never lost and never sent for work that rolled back; the events
// table stays the audit trail and delivery state lives beside it.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wsp::catalog {

struct WebhookSubscription {
  std::string endpoint;  // the URL
  std::vector<std::string> events;
};

enum class DeliveryState { pending, delivered, dead };
std::string_view to_string(DeliveryState state);
DeliveryState delivery_state_from(std::string_view text);

struct Delivery {
  std::int64_t id = 0;
  std::string message_id;  // webhook-id: the same on every attempt
  std::string endpoint;
  std::int64_t event_id = 0;
  std::string event_type;
  std::int64_t event_ms = 0;
  std::string data;  // the event's JSON object
  DeliveryState state = DeliveryState::pending;
  int attempts = 0;
  std::int64_t created_ms = 0;
  std::int64_t next_attempt_ms = 0;
  std::optional<int> last_status;
  std::string last_error;
  std::string last_response;  // truncated
  std::optional<std::int64_t> delivered_ms;
};

// What one attempt came to, written back by the claim's holder.
struct DeliveryOutcome {
  std::int64_t id = 0;
  DeliveryState state = DeliveryState::pending;
  std::int64_t next_attempt_ms = 0;  // when pending
  std::optional<int> status;
  std::string error;
  std::string response;
  // A 410 Gone: no more deliveries to this endpoint until it is enabled again.
  std::optional<std::string> disable_endpoint_reason;
};

struct EndpointBacklog {
  std::string endpoint;
  std::int64_t pending = 0;
  std::int64_t dead = 0;
  std::string last_error;
  std::optional<std::int64_t> disabled_ms;
  std::string disabled_reason;
};

struct WebhookCatalog {
  virtual ~WebhookCatalog() = default;

  // Replaces who hears what; the events appended from then on get deliveries.
  virtual void subscribe(const std::vector<WebhookSubscription>& subscriptions) = 0;

  // Takes up to `limit` due deliveries (pending, next attempt reached, no live
  // claim, endpoint enabled; of `endpoint` only when not empty) under a lease
  // held by `owner`, so that no other process sends the same attempt.
  virtual std::vector<Delivery> claim_deliveries(const std::string& owner, std::int64_t lease_ms, int limit,
                                                 const std::string& endpoint = {}) = 0;
  // Records an attempt and hands the claim back; false (and nothing written)
  // when `owner` no longer holds it.
  virtual bool record_delivery(const std::string& owner, const DeliveryOutcome& outcome) = 0;
  // Hands claims back unused, so that the next process may send them at once.
  virtual void release_deliveries(const std::string& owner) = 0;

  // Newest first; every state when none is given.
  virtual std::vector<Delivery> deliveries(std::optional<DeliveryState> state, int limit = 1000) = 0;
  virtual std::optional<Delivery> delivery(std::int64_t id) = 0;
  // The earliest next attempt of a pending delivery to an enabled endpoint.
  virtual std::optional<std::int64_t> next_delivery_ms() = 0;

  // A dead (or pending) delivery due again now with fresh attempts; the count changed.
  virtual std::int64_t retry_delivery(std::int64_t id) = 0;
  virtual std::int64_t retry_dead_deliveries() = 0;
  // Every delivery of an event appended since `since_ms` sent again, with its webhook-id.
  virtual std::int64_t replay_deliveries(std::int64_t since_ms) = 0;
  // True when the endpoint was disabled.
  virtual bool enable_endpoint(const std::string& endpoint) = 0;
  // Delivered rows older than `before_ms` deleted; the events stay.
  virtual std::int64_t prune_deliveries(std::int64_t before_ms) = 0;

  virtual std::vector<EndpointBacklog> webhook_backlog() = 0;
};

}  // namespace wsp::catalog
