// The project's locks (catalog/locks.hpp) on both backends: one holder at a
// time across every connection to the catalog, the holder named to the
// refused, and the lock free again once the holder is gone.

#include <chrono>
#include <future>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "catalog_backends.hpp"
#include "catalog/catalog.hpp"
#include "temp_dir.hpp"

namespace {

using namespace wsp::catalog;
using wsp::testing::Backend;
using wsp::testing::backend_name;
using wsp::testing::new_place;
using wsp::testing::TempDir;

std::string this_host() {
  char name[256] = {};
  ::gethostname(name, sizeof(name) - 1);
  return name;
}

class ProjectLockTest : public ::testing::TestWithParam<Backend> {
protected:
  void SetUp() override {
    WSP_REQUIRE_BACKEND(GetParam());
    m_place = new_place(GetParam(), m_dir.path());
    m_first = m_place.open();
    m_second = m_place.open();
  }
  TempDir m_dir;
  wsp::testing::CatalogPlace m_place;
  std::unique_ptr<Catalog> m_first;
  std::unique_ptr<Catalog> m_second;
};

INSTANTIATE_TEST_SUITE_P(Backends, ProjectLockTest, wsp::testing::all_backends(), backend_name);

TEST_P(ProjectLockTest, ASecondTakerIsRefusedNamingTheHolderUntilItLetsGo) {
  auto watcher = m_first->lock("watch", LockWait::no);
  ASSERT_TRUE(watcher->held());
  auto refused = m_second->lock("watch", LockWait::no);
  EXPECT_FALSE(refused->held());
  EXPECT_EQ(refused->holder(), fmt::format("pid {} on {}", ::getpid(), this_host()));
  EXPECT_FALSE(refused->where().empty());
  EXPECT_TRUE(m_second->lock("publish", LockWait::no)->held()) << "another lock's name is another lock";
  watcher.reset();
  EXPECT_TRUE(m_second->lock("watch", LockWait::no)->held());
}

TEST_P(ProjectLockTest, AWaitingTakerGetsTheLockWhenTheHolderLetsGo) {
  auto publisher = m_first->lock("publish", LockWait::until_free);
  ASSERT_TRUE(publisher->held());
  auto waiting = std::async(std::launch::async, [&] { return m_second->lock("publish", LockWait::until_free); });
  EXPECT_EQ(waiting.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout)
      << "taken while the first publisher holds it";
  publisher.reset();
  ASSERT_EQ(waiting.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(waiting.get()->held());
}

// A host that dies takes its connection with it: the server ends the session
// (here it is ended from outside, as the server does when the keepalives go
// unanswered), and the lock is free for the next taker.
TEST(ProjectLockPostgres, ALockIsFreeAgainWhenItsHoldersConnectionIsGone) {
  WSP_REQUIRE_BACKEND(Backend::postgres);
  TempDir dir;
  const auto place = new_place(Backend::postgres, dir.path());
  auto holder_catalog = place.open();
  auto other = place.open();
  auto held = holder_catalog->lock("watch", LockWait::no);
  ASSERT_TRUE(held->held());
  ASSERT_FALSE(other->lock("watch", LockWait::no)->held());
  const auto ended = wsp::testing::postgres_exec(
      place.url, "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
                 "database = (SELECT oid FROM pg_database WHERE datname = current_database())");
  ASSERT_EQ(ended, "1") << "one connection holds the lock";
  bool taken = false;
  for (int i = 0; i < 100 && !taken; ++i) {
    taken = other->lock("watch", LockWait::no)->held();
    if (!taken) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(taken) << "the lock of a connection that is gone is still held";
}

}  // namespace
