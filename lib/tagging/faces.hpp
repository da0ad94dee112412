#pragma once
// Faces and eyes in the analysis image, found on this machine: dlib's HOG
// frontal face detector and its 68-point landmark model (iBUG 300-W, Debian's
// libdlib-data). They feed the culling signals (closed eyes, a sharp face in
// a burst) and the scene heuristics (a portrait, a group, a detail).
//
// dlib stays inside face_detector.cpp: its headers are heavy and nothing else
// needs them.

#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "tagging/scores.hpp"
#include "util/result.hpp"

namespace wsp::tagging {

struct LandmarkPoint {
  double x = 0, y = 0;
};

// The eye aspect ratio of Soukupová and Čech (2016) from the six landmarks of
// one eye in the 68-point order (corner, two upper lid points, corner, two
// lower lid points): (|p2 - p6| + |p3 - p5|) / (2 |p1 - p4|). About 0.25 to
// 0.35 for an open eye, near 0.1 for a closed one; 0 for a degenerate eye
// (corners on top of each other).
double eye_aspect_ratio(const std::array<LandmarkPoint, 6>& eye);

// Under this mean of the two eyes' ratios a face's eyes count as closed: the
// threshold of the paper, and of most blink detectors built on it.
inline constexpr double k_closed_eye_ratio = 0.2;

// Whether the eyes of a face with these two ratios are closed: their mean is
// under k_closed_eye_ratio (a wink, one eye shut, is not).
bool eyes_closed(double left_eye_ratio, double right_eye_ratio);

struct Face {
  int left = 0, top = 0, width = 0, height = 0;  // the detector's box, in the analysis image's pixels
  double size = 0;          // width / the image's long edge
  double left_eye = 0;      // eye aspect ratio of the eye on the image's left (landmarks 36-41)
  double right_eye = 0;     // and on its right (42-47)
  bool eyes_closed = false;
  double sharpness = 0;     // region_sharpness() of the box
};

// One face as the detector and the landmark model see it.
struct FaceLandmarks {
  int left = 0, top = 0, width = 0, height = 0;  // in the image's pixels
  double score = 0;                               // the detector's, at least 0.2 (weaker ones are dropped)
  std::array<LandmarkPoint, 68> points;           // the 68-point order (iBUG 300-W)
};

// Where Debian's libdlib-data puts the landmark model.
std::filesystem::path landmark_model_path();
bool landmark_model_installed();

// Faces in `image`, largest first. The model is read on the first call of the
// process (one at a time; later calls wait for it), never before. Faces down
// to about 40 px wide are found: the image is doubled for the detector when
// its long edge is at most 800 px (the analysis image), as the detector's
// window is 80 px. An error names the model's file when it cannot be read.
// Safe to call from several threads at once.
util::Result<std::vector<Face>> find_faces(const Pixels& image);

// The detector's boxes and their 68 landmarks, as find_faces sees them (for
// find_faces itself, and for tests and diagnostics that need the points).
util::Result<std::vector<FaceLandmarks>> face_landmarks(const Pixels& image);

// How many times this process has read the landmark model: 0 or 1.
int landmark_model_loads();

// Whether tagging.faces asks for faces: `on`, or `auto` with the model installed.
bool use_faces(const config::Config& config);

// tagging.faces as `config show` explains it: "on", "off", "auto (on)" or
// "auto (off: ... not installed ...)".
std::string faces_setting(const config::Config& config);

}  // namespace wsp::tagging
