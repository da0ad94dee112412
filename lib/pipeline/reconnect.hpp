#pragma once
// What a long-running command (`work --forever`, `watch`) does when its
// catalog connection fails: a PostgreSQL server restarted, a network blip, an
// idle connection cut. It opens the catalog again, waiting 1 s, 2, 4... up to
// a cap between attempts, and on the new connection hands back at once the
// claims its run held, which died with the old connection's work, rather than
// leave them to expire by the database's clock (which they do anyway if no
// new connection ever comes).

#include <chrono>
#include <functional>
#include <string>

#include "catalog/catalog.hpp"

namespace wsp::pipeline {

class CatalogReconnection {
public:
  // Opens the catalog again, for the command's use from then on (the old
  // connection may be closed by it); throws CatalogError while it cannot.
  // Empty: the command does not reconnect.
  using Reopen = std::function<catalog::Catalog&()>;

  CatalogReconnection(catalog::Catalog& catalog, Reopen reopen, std::string run_id, std::chrono::milliseconds first,
                      std::chrono::milliseconds longest);

  // The catalog to use: the first one, or the last one `reopen` gave, even
  // when taking it up failed (the command's stages use it already).
  catalog::Catalog& catalog() const { return *m_catalog; }

  bool possible() const { return static_cast<bool>(m_reopen); }
  // How long to wait before the next attempt: `first` after a success, twice
  // the last wait after each failed attempt, up to `longest`.
  std::chrono::milliseconds wait() const { return m_wait; }
  // One attempt: a new connection, on which the run's claims are handed back
  // and `take_up` (listening for work, say) is done before it counts as made.
  // Throws CatalogError when any of that fails.
  void attempt(const std::function<void(catalog::Catalog&)>& take_up = {});

private:
  catalog::Catalog* m_catalog;
  Reopen m_reopen;
  std::string m_run_id;
  std::chrono::milliseconds m_first;
  std::chrono::milliseconds m_longest;
  std::chrono::milliseconds m_wait;
};

}  // namespace wsp::pipeline
