#pragma once
// Circuit breakers that outlive the process: a set of breakers (net) is
// started from the state the catalog recorded for its kind, and each change
// is written back as it happens, with the redacted error that made it.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "catalog/catalog.hpp"
#include "net/retry.hpp"

namespace wsp::notify {

// The catalog's record of one kind of circuit ("webhook", "target",
// "provider"), shared by the breakers it restores and the observer that keeps
// it. The catalog must outlive it and be used only from the threads that
// allow and record on those breakers (its writes go through `catalog`).
class CircuitRecorder {
public:
  CircuitRecorder(catalog::Catalog& catalog, std::string kind);

  // Takes up, in `breakers`, every circuit of this kind the catalog holds.
  void restore(net::CircuitBreakers& breakers);
  // For CircuitBreakers' constructor. A catalog that cannot be written at
  // that moment loses only that change: the circuit itself goes on working.
  net::BreakerObserver observer();

private:
  void record(const net::BreakerSnapshot& snapshot, std::string_view error);

  catalog::Catalog& m_catalog;
  std::string m_kind;
  std::mutex m_mutex;
  struct Known {
    std::optional<std::int64_t> opened_ms;
    std::string last_error;  // kept after the circuit closes: the last thing that went wrong
  };
  std::map<std::string, Known> m_known;
};

net::BreakerState breaker_state_from(std::string_view text);

}  // namespace wsp::notify
