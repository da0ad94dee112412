#pragma once
// Circuit breakers that outlive a process: the circuit of each remote party
// (a publishing target's host, a webhook endpoint, a tagging provider) as the
// last process left it, so that the next one starts from it (a `webhooks
// deliver` from cron does not go back to an endpoint known to be down before
// its time) and `status` and the metrics can show it.
//
// Contract for every implementation: one row per (kind, name), replaced
// whole by record_circuit, which stamps updated_ms itself; last_error is
// stored as given, and callers give it redacted (no secret ever reaches
// this table); circuits() lists every row ordered by kind, then name.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wsp::catalog {

struct CircuitRecord {
  std::string kind;   // "target", "webhook", "provider"
  std::string name;   // the host, the endpoint's URL, the provider
  std::string state;  // "closed", "open", "half-open"
  int consecutive_failures = 0;
  std::optional<std::int64_t> opened_ms;  // when it last opened, while not closed
  std::string last_error;
  std::int64_t updated_ms = 0;
};

struct CircuitCatalog {
  virtual ~CircuitCatalog() = default;

  virtual void record_circuit(const CircuitRecord& circuit) = 0;
  virtual std::vector<CircuitRecord> circuits() = 0;
};

}  // namespace wsp::catalog
