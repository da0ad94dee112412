#include "notify/circuits.hpp"

#include <algorithm>
#include <chrono>

namespace wsp::notify {

net::BreakerState breaker_state_from(std::string_view text) {
  if (text == net::to_string(net::BreakerState::open)) return net::BreakerState::open;
  if (text == net::to_string(net::BreakerState::half_open)) return net::BreakerState::half_open;
  return net::BreakerState::closed;
}

CircuitRecorder::CircuitRecorder(catalog::Catalog& catalog, std::string kind)
    : m_catalog(catalog), m_kind(std::move(kind)) {}

void CircuitRecorder::restore(net::CircuitBreakers& breakers) {
  const auto now = catalog::now_ms();
  for (const auto& circuit : m_catalog.circuits()) {
    if (circuit.kind != m_kind) continue;
    const auto state = breaker_state_from(circuit.state);
    const auto age = std::chrono::milliseconds(std::max<std::int64_t>(0, now - circuit.opened_ms.value_or(now)));
    breakers.restore(circuit.name, state, circuit.consecutive_failures, age);
    std::lock_guard lock(m_mutex);
    m_known[circuit.name] = {circuit.opened_ms, circuit.last_error};
  }
}

net::BreakerObserver CircuitRecorder::observer() {
  return [this](const net::BreakerSnapshot& snapshot, std::string_view error) { record(snapshot, error); };
}

void CircuitRecorder::record(const net::BreakerSnapshot& snapshot, std::string_view error) {
  catalog::CircuitRecord circuit{m_kind, snapshot.host, std::string(net::to_string(snapshot.state)),
                                 snapshot.consecutive_failures, std::nullopt, {}, 0};
  {
    std::lock_guard lock(m_mutex);
    auto& known = m_known[snapshot.host];
    if (snapshot.state == net::BreakerState::closed) known.opened_ms.reset();
    else if (snapshot.state == net::BreakerState::open || !known.opened_ms) known.opened_ms = catalog::now_ms();
    if (!error.empty()) known.last_error = std::string(error);
    circuit.opened_ms = known.opened_ms;
    circuit.last_error = known.last_error;
  }
  try {
    m_catalog.record_circuit(circuit);
  } catch (const catalog::CatalogError&) {
    // A busy catalog: the next change writes the state whole again.
  }
}

}  // namespace wsp::notify
