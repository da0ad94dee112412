#pragma once
// The project's one-at-a-time roles (one publisher, one watcher, one writer
// of the manifest), held by whichever process took them among all the
// processes that share the catalog: on one host a SQLite catalog keeps them as
// flock files beside it; a PostgreSQL catalog, which workers on several hosts
// share, as advisory locks on a connection of their own. Either way the
// holder's death (its process, or its connection) frees the lock.

#include <memory>
#include <string>

namespace wsp::catalog {

enum class LockWait { until_free, no };

class ProjectLock {
public:
  virtual ~ProjectLock() = default;
  virtual bool held() const = 0;
  // When not held: who holds it ("pid 123 on studio-pc"), empty if unknown.
  virtual const std::string& holder() const = 0;
  // Where the lock lives, for messages: its file, or the catalog's label.
  virtual const std::string& where() const = 0;
};

struct LockCatalog {
  virtual ~LockCatalog() = default;

  // Takes the project's lock `name` ("publish", "watch"), waiting for it or
  // not, for as long as the returned object lives; with LockWait::no a lock
  // held elsewhere comes back not held, naming its holder. This process is
  // described to later takers by its pid and host. Throws CatalogError when
  // the lock cannot be reached at all.
  virtual std::unique_ptr<ProjectLock> lock(const std::string& name, LockWait wait) = 0;
};

// "pid 123 on studio-pc": how a lock's holder is named.
std::string this_process();

}  // namespace wsp::catalog
