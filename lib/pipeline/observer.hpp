#pragma once
// How the pipeline tells the outside world what it is doing. The CLI turns these
// calls into a progress bar, human messages or JSON Lines; tests record them.
// Every call comes from one thread at a time.

#include <cstdint>
#include <string_view>

namespace wsp::pipeline {

struct Observer {
  virtual ~Observer() = default;
  // `total` items will be looked at in `stage`.
  virtual void stage_started(std::string_view stage, std::size_t total) { (void)stage, (void)total; }
  // One item finished; `outcome` is a short word ("added", "unchanged", "moved"...).
  virtual void item_done(std::string_view stage, std::string_view file, std::string_view outcome, std::int64_t bytes) {
    (void)stage, (void)file, (void)outcome, (void)bytes;
  }
  // An item could not be processed; said once, when it happens.
  virtual void item_problem(std::string_view stage, std::string_view file, std::string_view reason) {
    (void)stage, (void)file, (void)reason;
  }
  virtual void warning(std::string_view message) { (void)message; }
};

}  // namespace wsp::pipeline
