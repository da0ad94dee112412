#include "tagging/tagger.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <future>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tagging/google_vision.hpp"
#include "tagging/openai.hpp"
#include "util/text.hpp"

namespace wsp::tagging {
namespace {

class LocalProvider final : public Provider {
public:
  explicit LocalProvider(bool faces) : m_faces(faces) {}
  std::string name() const override { return "local"; }
  // Bumped whenever the measurements change, so cached observations are redone.
  std::string model() const override { return m_faces ? "local-1 faces-dlib68-1" : "local-1"; }
  Answer ask(const Pixels& analysis) override {
    Observation seen;
    seen.scores = technical_scores(analysis);
    seen.palette = palette(analysis);
    seen.phash = perceptual_hash(analysis);
    if (m_faces) {
      auto faces = find_faces(analysis);
      if (!faces.ok()) return Answer::failed(faces.message(), false);
      seen.eyes_closed = std::any_of(faces->begin(), faces->end(), [](const Face& f) { return f.eyes_closed; });
      seen.faces = std::move(*faces);
    }
    return {.observation = std::move(seen)};
  }

private:
  const bool m_faces;
};

bool in_scenes(const config::Config& config, const std::string& scene) {
  const auto& scenes = config.tagging.scenes;
  return std::find(scenes.begin(), scenes.end(), scene) != scenes.end();
}

bool contains(const std::vector<std::string>& words, const std::string& word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

// Something small photographed close: a macro lens, or a long lens wide open.
bool close_subject(const imaging::CameraFacts& camera) {
  if (util::ascii_lower(camera.lens).find("macro") != std::string::npos) return true;
  return camera.focal_length_mm && *camera.focal_length_mm >= 70 && camera.aperture && *camera.aperture <= 2.8;
}

// A wedding day has a shape even without a timeline: preparations in the
// morning, the ceremony early in the afternoon, portraits later, the reception
// in the evening. Faces, when they were looked for, say more than the hour:
// one or two large faces make a portrait, a crowd of faces a group or candid,
// no face on a close subject a detail (rings, shoes, the dress). Right often
// enough to help, never sure enough to skip review.
std::optional<SceneGuess> scene_by_heuristics(const PhotoContext& photo, const Observation& seen,
                                              const config::Config& config) {
  std::vector<SceneGuess> guesses;
  const auto& camera = photo.header.camera;
  if (seen.faces) {
    const auto& faces = *seen.faces;
    const auto large = std::count_if(faces.begin(), faces.end(), [](const Face& f) { return f.size >= k_large_face; });
    if (faces.size() >= static_cast<std::size_t>(k_group_faces)) {
      guesses.push_back({"group", k_heuristic_confidence});
      guesses.push_back({"candid", k_heuristic_confidence});
    } else if (large > 0) {
      guesses.push_back({"portrait", k_heuristic_confidence});
    } else if (faces.empty() && close_subject(camera)) {
      guesses.push_back({"detail", k_heuristic_confidence});
    }
  }
  if (photo.capture_utc_ms) {
    std::int64_t local_seconds = *photo.capture_utc_ms / 1000 + photo.local_offset_seconds;
    int hour = static_cast<int>(((local_seconds % 86400) + 86400) % 86400 / 3600);
    if (hour >= 6 && hour < 13) guesses.push_back({"getting_ready", k_heuristic_confidence});
    else if (hour >= 13 && hour < 15) guesses.push_back({"ceremony", k_heuristic_confidence - 0.05});
    else if (hour >= 18 || hour < 4) guesses.push_back({"reception", k_heuristic_confidence});
  }
  if (seen.scores.mean_luminance < 0.3 && camera.iso && *camera.iso >= 1600)
    guesses.push_back({"reception", k_heuristic_confidence - 0.1});
  // Without faces to go on, long lenses wide open make portraits.
  const bool faceless = seen.faces && seen.faces->empty();
  if (!faceless && camera.focal_length_mm && *camera.focal_length_mm >= 70 && camera.aperture &&
      *camera.aperture <= 2.8)
    guesses.push_back({"portrait", k_heuristic_confidence - 0.1});
  guesses.push_back({"candid", k_heuristic_confidence - 0.15});
  for (const auto& guess : guesses)
    if (in_scenes(config, guess.scene)) return guess;
  return std::nullopt;
}

}  // namespace

std::string word(const config::Config& config, const std::string& key) {
  for (const auto& entry : config.tagging.vocabulary)
    if (entry.word == key) return entry.text;
  std::string plain = key;
  std::replace(plain.begin(), plain.end(), '_', ' ');
  return plain;
}

std::unique_ptr<Provider> make_local_provider(bool faces) { return std::make_unique<LocalProvider>(faces); }

double face_sharpness(const Observation& seen) {
  double sharpest = 0;
  if (seen.faces)
    for (const auto& face : *seen.faces) sharpest = std::max(sharpest, face.sharpness);
  return sharpest;
}

Answer Answer::failed(std::string reason, bool transient) {
  Answer answer;
  answer.failure = std::move(reason);
  answer.transient = transient;
  return answer;
}

Answer Provider::wait_for_answer(const Pixels& analysis) {
  auto answered = std::make_shared<std::promise<Answer>>();
  auto answer = answered->get_future();
  ask_async(analysis, [answered](Answer a) { answered->set_value(std::move(a)); });
  return answer.get();
}

std::unique_ptr<Provider> make_provider(const std::string& name, const config::Config& config) {
  if (name == "local") return make_local_provider();
  if (name == "openai") return make_openai_provider(config);
  if (name == "google_vision") return make_google_vision_provider(config);
  return nullptr;
}

std::string to_json(const Observation& seen) {
  const auto& s = seen.scores;
  nlohmann::json json = {{"sharpness", s.sharpness},
                         {"clipped_highlights", s.clipped_highlights},
                         {"clipped_shadows", s.clipped_shadows},
                         {"mean_luminance", s.mean_luminance},
                         {"overexposed", s.overexposed},
                         {"underexposed", s.underexposed},
                         {"exposure_error", s.exposure_error},
                         {"phash", fmt::format("{:016x}", seen.phash)},
                         {"palette", nlohmann::json::array()},
                         {"scenes", nlohmann::json::array()},
                         {"labels", seen.labels},
                         {"description", seen.description}};
  for (const auto& c : seen.palette)
    json["palette"].push_back({{"r", c.r}, {"g", c.g}, {"b", c.b}, {"share", c.share}, {"name", c.name}});
  for (const auto& g : seen.scenes) json["scenes"].push_back({{"scene", g.scene}, {"confidence", g.confidence}});
  if (seen.people) json["people"] = *seen.people;
  if (seen.eyes_closed) json["eyes_closed"] = *seen.eyes_closed;
  if (seen.faces) {
    json["faces"] = nlohmann::json::array();
    for (const auto& f : *seen.faces)
      json["faces"].push_back({{"box", {f.left, f.top, f.width, f.height}},
                               {"size", f.size},
                               {"eyes", {f.left_eye, f.right_eye}},
                               {"eyes_closed", f.eyes_closed},
                               {"sharpness", f.sharpness}});
  }
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

util::Result<Observation> observation_from_json(std::string_view text) {
  try {
    auto root = nlohmann::json::parse(text);
    if (!root.is_object()) return util::Error{"not a JSON object"};
    Observation seen;
    auto& s = seen.scores;
    s.sharpness = root.at("sharpness").get<double>();
    s.clipped_highlights = root.at("clipped_highlights").get<double>();
    s.clipped_shadows = root.at("clipped_shadows").get<double>();
    s.mean_luminance = root.at("mean_luminance").get<double>();
    s.overexposed = root.at("overexposed").get<bool>();
    s.underexposed = root.at("underexposed").get<bool>();
    s.exposure_error = root.at("exposure_error").get<double>();
    seen.phash = std::stoull(root.at("phash").get<std::string>(), nullptr, 16);
    for (const auto& c : root.at("palette"))
      seen.palette.push_back({c.at("r").get<std::uint8_t>(), c.at("g").get<std::uint8_t>(),
                              c.at("b").get<std::uint8_t>(), c.at("share").get<double>(),
                              c.at("name").get<std::string>()});
    for (const auto& g : root.at("scenes"))
      seen.scenes.push_back({g.at("scene").get<std::string>(), g.at("confidence").get<double>()});
    seen.labels = root.at("labels").get<std::vector<std::string>>();
    if (root.contains("people")) seen.people = root["people"].get<int>();
    if (root.contains("eyes_closed")) seen.eyes_closed = root["eyes_closed"].get<bool>();
    if (root.contains("faces")) {
      seen.faces.emplace();
      for (const auto& f : root["faces"]) {
        const auto& box = f.at("box");
        seen.faces->push_back({.left = box.at(0).get<int>(),
                               .top = box.at(1).get<int>(),
                               .width = box.at(2).get<int>(),
                               .height = box.at(3).get<int>(),
                               .size = f.at("size").get<double>(),
                               .left_eye = f.at("eyes").at(0).get<double>(),
                               .right_eye = f.at("eyes").at(1).get<double>(),
                               .eyes_closed = f.at("eyes_closed").get<bool>(),
                               .sharpness = f.at("sharpness").get<double>()});
      }
    }
    seen.description = root.at("description").get<std::string>();
    return seen;
  } catch (const std::exception& e) {
    return util::Error{fmt::format("unreadable observation: {}", e.what())};
  }
}

std::string orientation_word(const imaging::PhotoHeader& header) {
  int width = header.width, height = header.height;
  // EXIF orientations 5 to 8 turn the stored pixels by a quarter.
  if (header.camera.orientation >= 5) std::swap(width, height);
  if (width * 20 > height * 21) return "horizontal";
  if (height * 20 > width * 21) return "vertical";
  return "square";
}

std::vector<std::string> notable_colours(const std::vector<PaletteColour>& palette) {
  std::vector<std::pair<std::string, double>> shares;
  for (const auto& colour : palette) {
    auto it = std::find_if(shares.begin(), shares.end(), [&](const auto& s) { return s.first == colour.name; });
    if (it == shares.end()) shares.emplace_back(colour.name, colour.share);
    else it->second += colour.share;
  }
  std::stable_sort(shares.begin(), shares.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<std::string> names;
  for (const auto& [name, share] : shares)
    if (names.size() < 3 && (names.empty() || share >= 0.15)) names.push_back(name);
  return names;
}

std::string alt_text(const config::Config& config, const std::string& scene, const std::string& orientation,
                     const std::vector<std::string>& colours, std::optional<int> people) {
  std::string colour_list;
  for (std::size_t i = 0; i < colours.size(); ++i) {
    if (i > 0) colour_list += i + 1 == colours.size() ? " " + word(config, "and") + " " : ", ";
    colour_list += word(config, colours[i]);
  }
  std::string people_text;
  if (people && *people > 0)
    people_text = fmt::format(", {} {}", *people, word(config, *people == 1 ? "person" : "people"));
  const std::pair<std::string_view, std::string> fills[] = {
      {"{scene}", scene.empty() ? std::string() : word(config, scene)},
      {"{orientation}", word(config, orientation)},
      {"{colours}", colour_list},
      {"{people}", people_text},
      {"{title}", config.project.title},
      {"{credit}", config.project.credit},
  };
  std::string text;
  const std::string& pattern = config.tagging.alt_text;
  for (std::size_t i = 0; i < pattern.size();) {
    bool filled = false;
    for (const auto& [placeholder, value] : fills)
      if (std::string_view(pattern).substr(i).starts_with(placeholder)) {
        text += value;
        i += placeholder.size();
        filled = true;
        break;
      }
    if (!filled) text.push_back(pattern[i++]);
  }
  // An empty placeholder at the start ("{scene} photo" without a scene) leaves a space.
  text.erase(0, text.find_first_not_of(' '));
  return util::capitalised(text);
}

Conclusion conclude(const Observation& seen, const PhotoContext& photo, const config::Config& config) {
  Conclusion out;
  std::optional<SceneMatch> timed;
  if (photo.capture_utc_ms && !config.timeline.empty()) {
    static const TimeZone k_utc = TimeZone::utc();
    auto zone = TimeZone::load(config.project.timezone);
    timed = scene_from_timeline(config.timeline, *photo.capture_utc_ms, zone ? *zone : k_utc);
  }
  auto provided = std::find_if(seen.scenes.begin(), seen.scenes.end(),
                               [&](const SceneGuess& guess) { return in_scenes(config, guess.scene); });
  if (timed) {
    out.scene = timed->scene;
    out.scene_confidence = timed->confidence;
    out.scene_basis = "timeline";
    // The photographer's schedule stays the basis, but a provider sure of
    // something else is worth a look: the photo goes to review.
    if (provided != seen.scenes.end() && provided->scene != timed->scene &&
        provided->confidence >= k_confident_disagreement)
      out.scene_confidence = std::min(out.scene_confidence, config.tagging.min_confidence * 0.9);
  } else if (provided != seen.scenes.end()) {
    out.scene = provided->scene;
    out.scene_confidence = provided->confidence;
    out.scene_basis = "provider";
  } else if (auto guess = scene_by_heuristics(photo, seen, config)) {
    out.scene = guess->scene;
    out.scene_confidence = guess->confidence;
    out.scene_basis = "heuristic";
  }

  const std::string orientation = orientation_word(photo.header);
  const auto colours = notable_colours(seen.palette);
  auto add = [&](const std::string& keyword) {
    if (!keyword.empty() && !contains(out.keywords, keyword)) out.keywords.push_back(keyword);
  };
  if (!out.scene.empty()) add(word(config, out.scene));
  add(word(config, orientation));
  for (const auto& colour : colours) add(word(config, colour));
  for (const auto& label : seen.labels) add(label);
  if (seen.scores.overexposed) add(word(config, "overexposed"));
  if (seen.scores.underexposed) add(word(config, "underexposed"));
  if (seen.eyes_closed.value_or(false)) add(word(config, "eyes_closed"));

  // The faces found here count the people when no provider did.
  auto people = seen.people;
  if (!people && seen.faces && !seen.faces->empty()) people = static_cast<int>(seen.faces->size());
  out.alt_text = seen.description.empty() ? alt_text(config, out.scene, orientation, colours, people)
                                          : seen.description;
  out.confidence = out.scene.empty() ? 0.0 : out.scene_confidence;
  return out;
}

std::string palette_text(const std::vector<PaletteColour>& palette) {
  std::string text;
  for (const auto& c : palette)
    text += fmt::format("{}#{:02x}{:02x}{:02x}:{:.4f}:{}", text.empty() ? "" : " ", c.r, c.g, c.b, c.share, c.name);
  return text;
}

std::vector<PaletteColour> palette_from_text(std::string_view text) {
  std::vector<PaletteColour> palette;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find(' ', start);
    if (end == std::string_view::npos) end = text.size();
    std::string entry(text.substr(start, end - start));
    unsigned r = 0, g = 0, b = 0;
    double share = 0;
    char name[32] = {};
    if (std::sscanf(entry.c_str(), "#%2x%2x%2x:%lf:%31s", &r, &g, &b, &share, name) == 5)
      palette.push_back({static_cast<std::uint8_t>(r), static_cast<std::uint8_t>(g), static_cast<std::uint8_t>(b),
                         share, name});
    start = end + 1;
  }
  return palette;
}

}  // namespace wsp::tagging
