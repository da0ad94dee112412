#pragma once
// The static gallery: plain data about the rendered images in; out, the files of
// a site that works without JavaScript and requests nothing from elsewhere. The page
// markup lives in a template (configs/gallery/default/ unless the config names a
// folder), so a studio can restyle it without touching the tool.

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "util/result.hpp"

namespace wsp::publish {

struct GalleryVariant {
  int width = 0;
  int height = 0;
  std::string format;  // jpeg | webp | avif
  std::string url;     // relative inside the gallery: "renders/first-kiss-960.3f9a1c2b7d4e.webp"
};

struct GalleryImage {
  std::string id;  // stable slug, unique in the gallery: "first-kiss"
  std::string alt;
  std::string scene;  // "ceremony"; empty or not in GalleryInfo::scenes: the fallback section
  int width = 0;      // of the largest variant, for the aspect ratio before the image loads
  int height = 0;
  std::string placeholder;     // "data:image/jpeg;base64,..." or empty
  std::string average_colour;  // "#rrggbb", the background while loading; may be empty
  bool best_pick = false;
  std::vector<GalleryVariant> variants;
  std::string download;  // the original offered for download, relative: "originals/first-kiss.9c1e2f3a4b5d.jpg"; may be empty
};

struct SceneLabel {
  std::string scene;  // "getting_ready"
  std::string label;  // "Getting ready"
};

struct GalleryInfo {
  std::string title;
  std::string couple;  // may be empty
  std::string date;    // as it should read: "13 June 2026"
  std::string credit;  // photographer or studio, for the footer
  std::string lang = "en";
  std::vector<SceneLabel> scenes;               // the timeline order of the sections
  std::string fallback_label = "More moments";  // the last section: images of no listed scene
};

// A gallery template: file name -> text. index.html and picture.html are
// required, scene.html when the gallery is split into scene pages; every other
// file (CSS, scripts, fonts) is published as it is.
//
// The names the templates see (lists in brackets, with their items' names):
//   index.html, scene.html: lang title couple date credit count has_nav
//     nav[href label current]
//   index.html also: empty paged sections[id label count pictures]
//     scene_pages[id label count href cover]
//   scene.html also: id label previous[href label] next[href label] pictures
//   pictures[picture (the HTML of picture.html) href (the full-size image) anchor alt best_pick
//     download (the original, when publish.gallery.downloads offers it)]
//   picture.html: type src srcset width height alt style lazy best_pick sources[type srcset]
struct GalleryTemplate {
  std::string origin;  // where it came from, for messages: "default" or a folder
  std::map<std::string, std::string> files;
};

struct GalleryOptions {
  std::size_t scene_pages_above = 200;  // more images than this: one page per scene, index.html links them
  std::size_t eager_images = 6;         // the first images of a page load at once: they are above the fold
};

struct GalleryFile {
  std::string path;  // relative, '/'-separated
  std::string bytes;
};

// The gallery's pages and the template's assets, sorted by path. Sections follow
// `info.scenes`; images keep their given order within a section. The same input
// gives the same bytes. Fails, naming the image or template file, on an image
// without variants, an unknown format, a URL that could leave the gallery, a
// duplicate id, or a template that does not parse.
util::Result<std::vector<GalleryFile>> build_gallery(const GalleryInfo& info, const std::vector<GalleryImage>& images,
                                                     const GalleryTemplate& gallery_template,
                                                     const GalleryOptions& options = {});

// Reads a template folder (publish.gallery.template: ./my-template): every
// regular file in it and its subfolders, except hidden ones, keyed by its
// '/'-separated relative path. Fails if the folder cannot be read or has no
// index.html or picture.html.
util::Result<GalleryTemplate> load_gallery_template(const std::filesystem::path& folder);

// The template compiled into the binary from configs/gallery/default/
// (publish.gallery.template: default); its origin is "default".
const GalleryTemplate& default_gallery_template();

}  // namespace wsp::publish
