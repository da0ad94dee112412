// libFuzzer target for the config loader: any text must give a Config or a
// ConfigError, never a crash, a hang or another exception.
#include <cstdint>
#include <string>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto config = wsp::config::parse_config(text, "fuzz.yaml");
    config.project_dir = "/tmp/fuzz-project";
    wsp::config::apply_derived_defaults(config);
  } catch (const wsp::config::ConfigError&) {
  }
  return 0;
}
