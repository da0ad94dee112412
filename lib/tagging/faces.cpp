#include "tagging/faces.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <system_error>

#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>
#include <fmt/format.h>

namespace wsp::tagging {
namespace {

// The detector's window is 80x80 px; doubling a small image finds faces of
// about 40 px, a guest's face in a group of a dozen on the 512 px analysis image.
constexpr int k_doubled_up_to = 800;

// The detector answers with a score above 0 for anything face-like; a round
// badge, a clock or a flower can score just above it once the image is
// doubled (the mission patch on the astronaut's suit: 0.03, her face: 1.09).
constexpr double k_min_score = 0.2;

// Parts of the 68-point model: the eyes as the image shows them.
constexpr int k_left_eye = 36;
constexpr int k_right_eye = 42;
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

std::array<LandmarkPoint, 6> eye_of(const FaceLandmarks& face, int first) {
  std::array<LandmarkPoint, 6> eye;
  for (int i = 0; i < 6; ++i) eye[i] = face.points[static_cast<std::size_t>(first + i)];
  return eye;
}

bool is_valid(const Pixels& image) {
  return image.width > 0 && image.height > 0 &&
         image.rgb.size() == std::size_t(image.width) * std::size_t(image.height) * 3;
}

}  // namespace

namespace {
double distance(const LandmarkPoint& a, const LandmarkPoint& b) { return std::hypot(a.x - b.x, a.y - b.y); }
}  // namespace

double eye_aspect_ratio(const std::array<LandmarkPoint, 6>& eye) {
  const double across = distance(eye[0], eye[3]);
  if (across <= 1e-9) return 0;
  return (distance(eye[1], eye[5]) + distance(eye[2], eye[4])) / (2 * across);
}

bool eyes_closed(double left_eye_ratio, double right_eye_ratio) {
  return (left_eye_ratio + right_eye_ratio) / 2 < k_closed_eye_ratio;
}

std::filesystem::path landmark_model_path() { return "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"; }

bool landmark_model_installed() {
  std::error_code missing;
  return std::filesystem::is_regular_file(landmark_model_path(), missing);
}

int landmark_model_loads() { return g_loads.load(); }

util::Result<std::vector<FaceLandmarks>> face_landmarks(const Pixels& image) {
  if (!is_valid(image)) return std::vector<FaceLandmarks>{};
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

util::Result<std::vector<Face>> find_faces(const Pixels& image) {
  auto found = face_landmarks(image);
  if (!found.ok()) return util::Error{found.message()};
  std::vector<Face> faces;
  const double long_edge = std::max(image.width, image.height);
  for (const auto& f : *found) {
    Face face{.left = f.left, .top = f.top, .width = f.width, .height = f.height};
    face.size = face.width / long_edge;
    face.left_eye = eye_aspect_ratio(eye_of(f, k_left_eye));
    face.right_eye = eye_aspect_ratio(eye_of(f, k_right_eye));
    face.eyes_closed = eyes_closed(face.left_eye, face.right_eye);
    face.sharpness = region_sharpness(image, face.left, face.top, face.width, face.height);
    faces.push_back(face);
  }
  std::stable_sort(faces.begin(), faces.end(), [](const Face& a, const Face& b) { return a.width > b.width; });
  return faces;
}

bool use_faces(const config::Config& config) {
  if (config.tagging.faces == "on") return true;
  if (config.tagging.faces == "off") return false;
  return landmark_model_installed();
}

std::string faces_setting(const config::Config& config) {
  if (config.tagging.faces != "auto") return config.tagging.faces;
  if (landmark_model_installed()) return "auto (on: " + landmark_model_path().string() + ")";
  return fmt::format("auto (off: the landmark model {} is not installed; Debian package libdlib-data)",
                     landmark_model_path().string());
}

}  // namespace wsp::tagging
