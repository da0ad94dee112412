#include "imaging/exiv2_toolkit.hpp"

#include <exiv2/exiv2.hpp>

namespace wsp::imaging {

std::unique_lock<std::mutex> hold_exiv2() {
  static std::mutex mutex;
  static bool initialised = false;
  std::unique_lock lock(mutex);
  if (!initialised) {
    Exiv2::XmpParser::initialize();
    initialised = true;
  }
  return lock;
}

}  // namespace wsp::imaging
