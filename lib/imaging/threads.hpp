#pragma once
// How many threads libvips gives each image it works on. Only imaging talks
// to libvips; the pipeline decides the number, from how many photos it
// renders side by side.

namespace wsp::imaging {

// Starts libvips (see start_imaging) and lets each of its operations use up
// to `threads` threads from now on (at least 1).
void set_threads_per_image(int threads);

}  // namespace wsp::imaging
