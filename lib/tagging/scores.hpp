#pragma once
// What the local tagger measures on the analysis image: technical scores for
// culling (sharpness, exposure), the colour palette, and the perceptual hash
// that, with the capture time, groups bursts and near-duplicates.
//
// Everything here is a pure function of its arguments (no I/O, no clock, no
// seed from outside), so results can be cached by content hash; across
// platforms they agree up to last-bit differences of the maths library.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wsp::tagging {

// 8-bit sRGB, interleaved RGB, row-major, no padding: the analysis image
// (about 512 px on the long edge). Valid when width, height > 0 and
// rgb.size() == 3 * width * height; functions below treat anything else as empty.
struct Pixels {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;
};

// "Luminance" below is Rec. 709 luma of the encoded values, 0..255:
// 0.2126 R + 0.7152 G + 0.0722 B.
struct TechnicalScores {
  // Variance of the 3x3 Laplacian (4-neighbour) of luma, in 8-bit units,
  // times long_edge / 512. Detail in photographs is mostly edges, whose share
  // of the pixels doubles when the same scene is stored at half the size; the
  // factor cancels that, so a 256 px copy scores within a factor of 1.5 of the
  // 512 px original (within 3% on the test scenes). Fine noise-like texture
  // does not follow that rule and scores lower on smaller copies. Higher is
  // sharper; a one-pixel box blur divides it by about 8. 0 below 3x3 pixels.
  double sharpness = 0;
  double clipped_highlights = 0;  // share of pixels with luminance >= 250
  double clipped_shadows = 0;     // share of pixels with luminance <= 5
  double mean_luminance = 0;      // 0..1
  // mean_luminance > 0.70 or clipped_highlights > 0.10.
  bool overexposed = false;
  // mean_luminance < 0.20 or clipped_shadows > 0.30.
  bool underexposed = false;
  // 0 when the mean lies in the mid-tones [0.30, 0.62] and at most 1% of the
  // pixels clip white and 2% black; otherwise the distance of the mean from
  // that band plus the clipped shares beyond those allowances. Lower is better.
  double exposure_error = 0;
};

// Sharpness and exposure of `image`; all zero for an empty or invalid image.
TechnicalScores technical_scores(const Pixels& image);

struct PaletteColour {
  std::uint8_t r = 0, g = 0, b = 0;  // sRGB of the cluster's mean colour
  double share = 0;                  // of the image's pixels, 0..1
  std::string name;                  // one of colour_names(): that of the nearest reference swatch
};

// Up to `colours` dominant colours of `image`, largest share first, shares
// summing to 1: k-means in CIE Lab (D65) on a stratified sample of at most
// 4096 pixels, seeded by k-means++ with a fixed seed, so the same pixels
// always give the same palette. Clusters closer than 10 Lab units (CIE76) are
// merged, so a navy suit with fabric noise is one entry, not five. Each is
// named after the nearest of a few reference swatches per name. Empty for an
// empty or invalid image or colours <= 0.
std::vector<PaletteColour> palette(const Pixels& image, int colours = 5);

// The name with the largest total share in `palette` (several clusters may
// share a name); the first such name on a tie; "" for an empty palette.
std::string dominant_colour_name(const std::vector<PaletteColour>& palette);

// The names palette() chooses from, in a fixed order: white, ivory, black,
// grey, red, burgundy, pink, blush, orange, gold, yellow, green, sage, teal,
// blue, navy, purple, lavender, brown, beige.
const std::vector<std::string>& colour_names();

// DCT-based perceptual hash: luma area-averaged to 32x32, unscaled 2D DCT-II,
// the 8x8 lowest frequencies; bit 8*v+u is set when coefficient (u, v) is above
// the median of the 63 non-DC ones, and bit 0 (the DC term) is always 0.
// Robust to brightness changes and small shifts; 0 for an empty or a flat image.
std::uint64_t perceptual_hash(const Pixels& image);

// Variance of the 3x3 Laplacian of luma inside the box (clipped to the
// image), unscaled: comparable between boxes of about the same size, such as
// one face in the frames of a burst. 0 for a box under 3x3 pixels.
double region_sharpness(const Pixels& image, int left, int top, int width, int height);

// Number of differing bits, 0..64.
int hamming_distance(std::uint64_t a, std::uint64_t b);

// What grouping needs to know about one frame.
struct FrameFacts {
  std::int64_t image_id = 0;
  std::optional<std::int64_t> capture_utc_ms;
  std::uint64_t phash = 0;
  double sharpness = 0;
  double exposure_error = 0;
  // Someone's eyes are closed (the local face finder's or a provider's word).
  bool eyes_closed = false;
  // region_sharpness() of the sharpest face found; 0 when none was.
  double face_sharpness = 0;
};

// A burst or set of near-duplicates and the frame to keep.
struct Group {
  std::vector<std::int64_t> members;  // by capture time, then id
  // Eyes open before eyes closed, then the sharpest face (a frame with a face
  // found before one without), then the sharpest frame, then lowest
  // exposure_error, then lowest id: in a burst of people the frame to keep is
  // the one where nobody blinked and the face is in focus.
  std::int64_t best = 0;
};

// Groups frames by single linkage: two timed frames are linked when their
// capture times differ by at most `window_ms` and their hashes by at most
// `max_distance` bits, so a long burst chains through neighbouring frames.
// Frames without a capture time are linked only to other untimed frames, by
// hash alone, at the stricter distance max_distance / 2. Returns the groups of
// two or more frames, timed groups by first capture time, then untimed groups
// by lowest id. The result does not depend on the order of `frames`.
std::vector<Group> group_near_duplicates(std::vector<FrameFacts> frames, std::int64_t window_ms = 3000,
                                         int max_distance = 10);

}  // namespace wsp::tagging
