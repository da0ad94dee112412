#pragma once
// Categorising one photo: what a provider sees in the analysis image
// (`Observation`), and what the tool concludes from it together with the
// camera's facts and the wedding timeline (`Conclusion`: scene, keywords, alt
// text, confidence). The local provider measures pixels only; remote
// providers (OpenAI, Google Vision) are further implementations of `Provider`
// that add scene guesses, labels and people counts.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "imaging/probe.hpp"
#include "tagging/faces.hpp"
#include "tagging/scores.hpp"
#include "tagging/timeline.hpp"
#include "util/result.hpp"

namespace wsp::tagging {

struct SceneGuess {
  std::string scene;
  double confidence = 0;
};

// What one provider saw in one analysis image. A pure function of the pixels
// and the provider's model, so it is cached by content hash + provider + model.
struct Observation {
  TechnicalScores scores;
  std::vector<PaletteColour> palette;
  std::uint64_t phash = 0;
  std::vector<SceneGuess> scenes;   // best first; empty from the local provider
  std::vector<std::string> labels;  // content keywords ("bouquet", "rings")
  std::optional<int> people;
  std::string description;          // a provider's own alt text, if it writes one
  // Whether any visible eyes are closed: from the local face finder (any of
  // its faces) or a provider's answer; unset when neither looked.
  std::optional<bool> eyes_closed;
  // The local face finder's faces, largest first; unset when it did not look.
  std::optional<std::vector<Face>> faces;
};

// Tokens a remote call consumed, as the provider reported them.
struct Usage {
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  std::int64_t images = 0;  // photos billed per image (Google Vision)
};

// What came of asking one provider about one photo: an observation, or why
// not. A transient failure (outage, rate limit, timeout) is worth asking again
// in a later run; a permanent one (a refusal, an answer outside the schema)
// is a verdict on that photo that asking again would repeat.
struct Answer {
  std::optional<Observation> observation = {};
  std::string failure = {};
  bool transient = false;
  int calls = 0;  // requests that reached the provider
  Usage usage = {};

  // A provider's failure for one photo: transient ones leave it due for that provider.
  static Answer failed(std::string reason, bool transient);
};

struct Provider {
  virtual ~Provider() = default;
  virtual std::string name() const = 0;
  // Part of the cache key: the model and everything that shapes the answer
  // (prompt, schema, label table), so changing any of them re-asks.
  virtual std::string model() const = 0;
  // Whether it sends the photo somewhere (and may cost money).
  virtual bool remote() const { return false; }
  virtual Answer ask(const Pixels& analysis) = 0;
  // Asks without holding the caller's thread while the answer is on its way;
  // `done` runs exactly once, on any thread, and must be short. The default
  // asks on the caller's thread.
  virtual void ask_async(const Pixels& analysis, std::function<void(Answer)> done) { done(ask(analysis)); }

protected:
  // For a provider whose ask_async is its real work: ask() waits for it.
  Answer wait_for_answer(const Pixels& analysis);
};

// Measures sharpness, exposure, palette and the perceptual hash, and with
// `faces` finds faces and their eyes (find_faces); needs no network and never
// fails on valid pixels, unless the face model cannot be read.
std::unique_ptr<Provider> make_local_provider(bool faces = false);

// What the local face finder's faces say for culling: the sharpness of the
// sharpest face (0 with none).
double face_sharpness(const Observation& observation);

// The provider named in `tagging.providers`, or nullptr for one this build
// does not include. Remote providers read their key here (never logged).
std::unique_ptr<Provider> make_provider(const std::string& name, const config::Config& config);

// Round trip for the results cache. from_json fails on text it cannot read
// (a cache row from another version is then simply recomputed).
std::string to_json(const Observation& observation);
util::Result<Observation> observation_from_json(std::string_view json);

// What the tagger concludes about one photo.
struct Conclusion {
  std::string scene;  // empty when nothing points anywhere
  double scene_confidence = 0;
  std::string scene_basis;  // "timeline", "heuristic" or a provider name
  std::vector<std::string> keywords;
  std::string alt_text;
  double confidence = 0;
};

// A face at least this share of the long edge is large (a head-and-shoulders
// portrait, a couple close up); smaller ones are guests in a scene. Three or
// more faces make a group.
inline constexpr double k_large_face = 0.10;
inline constexpr int k_group_faces = 3;

// A provider's scene this sure, against the timeline's, sends the photo to review.
inline constexpr double k_confident_disagreement = 0.8;
inline constexpr double k_heuristic_confidence = 0.45;  // below the default review threshold on purpose

// Everything besides the observation that the conclusion depends on.
struct PhotoContext {
  imaging::PhotoHeader header;
  std::optional<std::int64_t> capture_utc_ms;  // clock-corrected
  std::int64_t local_offset_seconds = 0;       // of the project's zone at that instant
};

// The scene: from the timeline when the capture time falls in an entry; else
// the provider's best guess among tagging.scenes; else heuristics from the
// time of day and the exposure and lens (honestly below the review threshold).
Conclusion conclude(const Observation& observation, const PhotoContext& photo, const config::Config& config);

// The alt text from the template in tagging.alt_text, worded in
// tagging.vocabulary. `orientation` is the upright shape ("vertical"...).
std::string alt_text(const config::Config& config, const std::string& scene, const std::string& orientation,
                     const std::vector<std::string>& colours, std::optional<int> people);

// A word in the gallery's language: its tagging.vocabulary text, else the word
// itself with underscores as spaces ("getting_ready" -> "getting ready").
std::string word(const config::Config& config, const std::string& key);

// "vertical", "horizontal" or "square" for the upright size of the photo.
std::string orientation_word(const imaging::PhotoHeader& header);

// Colour names worth saying, largest share first: every name over 15% of the
// picture, at most three, always at least the dominant one.
std::vector<std::string> notable_colours(const std::vector<PaletteColour>& palette);

// The palette as one line of text for the catalog: "#rrggbb:share:name"
// entries separated by spaces, and back.
std::string palette_text(const std::vector<PaletteColour>& palette);
std::vector<PaletteColour> palette_from_text(std::string_view text);

}  // namespace wsp::tagging
