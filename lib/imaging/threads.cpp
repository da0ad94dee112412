#include "imaging/threads.hpp"

#include <algorithm>

#include <vips/vips.h>

#include "imaging/probe.hpp"

namespace wsp::imaging {

void set_threads_per_image(int threads) {
  start_imaging();
  vips_concurrency_set(std::max(1, threads));
}

}  // namespace wsp::imaging
