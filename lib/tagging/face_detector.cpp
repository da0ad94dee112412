// The part of faces.hpp that runs dlib: the model, the detector and the
// landmarks. Its templates are instantiated here, so this file is built
// optimised and, in sanitizer builds, without instrumentation (see
// CMakeLists.txt): instrumented, dlib's detector takes over a second per
// analysis image, which is dlib's code being checked, not this project's.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <system_error>

#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>
#include <fmt/format.h>

#include "tagging/faces.hpp"

namespace wsp::tagging {
namespace {

// The detector's window is 80x80 px; doubling a small image finds faces of
// about 40 px, a guest's face in a group of a dozen on the 512 px analysis image.
constexpr int k_doubled_up_to = 800;

// The detector answers with a score above 0 for anything face-like; a round
// badge, a clock or a flower can score just above it once the image is
// doubled (the mission patch on the astronaut's suit: 0.03, her face: 1.09).
constexpr double k_min_score = 0.2;

constexpr unsigned long k_landmarks = 68;

std::atomic<int> g_loads{0};

struct Models {
  dlib::frontal_face_detector detector;
  dlib::shape_predictor landmarks;
};

util::Result<std::shared_ptr<const Models>> load_models() {
  const auto path = landmark_model_path();
  std::error_code missing;
  if (!std::filesystem::is_regular_file(path, missing))
    return util::Error{fmt::format("faces: the landmark model {} is not installed (Debian package libdlib-data); "
                                   "set tagging.faces: off or install it",
                                   path.string())};
  auto models = std::make_shared<Models>();
  try {
    models->detector = dlib::get_frontal_face_detector();
    dlib::deserialize(path.string()) >> models->landmarks;
  } catch (const std::exception& e) {
    return util::Error{fmt::format("faces: {}: cannot read the landmark model: {}", path.string(), e.what())};
  }
  if (models->landmarks.num_parts() != k_landmarks)
    return util::Error{fmt::format("faces: {}: a model of {} landmarks, not the 68-point one", path.string(),
                                   models->landmarks.num_parts())};
  ++g_loads;
  return std::shared_ptr<const Models>(std::move(models));
}

// Read by the first photo that needs it, once per process (a static local's
// initialisation is serialised by the language); a failure is remembered too,
// so that a broken file is named once per photo without being read again.
const util::Result<std::shared_ptr<const Models>>& models() {
  static const util::Result<std::shared_ptr<const Models>> loaded = load_models();
  return loaded;
}

// dlib's shape_predictor is safe to share (its operator() is const), but an
// object_detector keeps scratch space in itself: one copy per thread.
dlib::frontal_face_detector& detector_of_this_thread(const Models& shared) {
  thread_local std::unique_ptr<dlib::frontal_face_detector> mine;
  if (!mine) mine = std::make_unique<dlib::frontal_face_detector>(shared.detector);
  return *mine;
}

}  // namespace

int landmark_model_loads() { return g_loads.load(); }

util::Result<std::vector<FaceLandmarks>> face_landmarks(const Pixels& image) {
  if (image.width <= 0 || image.height <= 0 ||
      image.rgb.size() != std::size_t(image.width) * std::size_t(image.height) * 3)
    return std::vector<FaceLandmarks>{};
  const auto& loaded = models();
  if (!loaded.ok()) return util::Error{loaded.message()};
  const Models& shared = **loaded;

  dlib::array2d<unsigned char> gray(image.height, image.width);
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x) {
      const std::uint8_t* p = &image.rgb[(std::size_t(y) * image.width + x) * 3];
      gray[y][x] = static_cast<unsigned char>((2126 * p[0] + 7152 * p[1] + 722 * p[2] + 5000) / 10000);
    }
  double scale = 1;
  if (std::max(image.width, image.height) <= k_doubled_up_to) {
    dlib::pyramid_up(gray);
    scale = 2;
  }

  std::vector<dlib::rect_detection> detections;
  detector_of_this_thread(shared)(gray, detections);
  std::vector<FaceLandmarks> found;
  for (const auto& detection : detections) {
    if (detection.detection_confidence < k_min_score) continue;
    const auto& box = detection.rect;
    const auto shape = shared.landmarks(gray, box);
    FaceLandmarks face;
    face.left = static_cast<int>(std::lround(box.left() / scale));
    face.top = static_cast<int>(std::lround(box.top() / scale));
    face.width = static_cast<int>(std::lround(box.width() / scale));
    face.height = static_cast<int>(std::lround(box.height() / scale));
    face.score = detection.detection_confidence;
    for (unsigned long i = 0; i < k_landmarks; ++i) face.points[i] = {shape.part(i).x() / scale, shape.part(i).y() / scale};
    found.push_back(face);
  }
  return found;
}

}  // namespace wsp::tagging
