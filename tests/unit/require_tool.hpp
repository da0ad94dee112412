#pragma once
// A test that needs a tool from outside the project (exiftool, s3rver, a
// colour profile) skips where it is missing, except in CI (CI=true), where
// scripts/install-deps installs every tool and a missing one is a failure: a
// test that can run there must not skip there.

#include <cstdlib>
#include <string_view>

#include <gtest/gtest.h>

namespace wsp::testing {

inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string_view(ci) == "true";
}

}  // namespace wsp::testing

// Ends the test (skipped, or failed in CI) unless `available`.
#define WSP_REQUIRE_TOOL(available, why)                                        \
  do {                                                                          \
    if (!(available)) {                                                         \
      if (wsp::testing::in_ci()) FAIL() << why << " (in CI: scripts/install-deps installs it)"; \
      GTEST_SKIP() << why;                                                      \
    }                                                                           \
  } while (0)
