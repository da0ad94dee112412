// Sidecars as the culling and raw tools write them, read for the photographer's
// selection and merged into; exiftool, a reader that shares no code with exiv2,
// reads each one before and after as the independent check.

#include "tagging/xmp.hpp"
#include "require_tool.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using wsp::tagging::merge_xmp;
using wsp::tagging::read_selection;
using wsp::tagging::read_xmp;
using wsp::tagging::Selection;
using wsp::tagging::XmpFields;
using wsp::testing::TempDir;

std::string padding(int lines) {
  std::string text;
  for (int i = 0; i < lines; ++i) text += std::string(100, ' ') + "\n";
  return text;
}

std::string with_crlf(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

// Lightroom Classic 13 beside a raw file: attribute form, the BOM inside the
// xpacket header, keywords with their hierarchy, padding before the trailer.
std::string lightroom_classic() {
  return "<?xpacket begin=\"\xEF\xBB\xBF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
         "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\" x:xmptk=\"Adobe XMP Core 7.0-c000 1.000000, 0000/00/00-00:00:00        \">\n"
         " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
         "  <rdf:Description rdf:about=\"\"\n"
         "    xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\"\n"
         "    xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n"
         "    xmlns:lr=\"http://ns.adobe.com/lightroom/1.0/\"\n"
         "    xmlns:crs=\"http://ns.adobe.com/camera-raw-settings/1.0/\"\n"
         "   xmp:ModifyDate=\"2024-06-15T16:42:10+02:00\"\n"
         "   xmp:Rating=\"3\"\n"
         "   xmp:Label=\"Green\"\n"
         "   crs:Version=\"16.4\"\n"
         "   crs:WhiteBalance=\"Custom\"\n"
         "   crs:Temperature=\"5650\"\n"
         "   crs:Exposure2012=\"+0.35\"\n"
         "   crs:HasSettings=\"True\">\n"
         "   <dc:subject>\n"
         "    <rdf:Bag>\n"
         "     <rdf:li>Anna</rdf:li>\n"
         "     <rdf:li>first look</rdf:li>\n"
         "    </rdf:Bag>\n"
         "   </dc:subject>\n"
         "   <lr:hierarchicalSubject>\n"
         "    <rdf:Bag>\n"
         "     <rdf:li>People|Anna</rdf:li>\n"
         "     <rdf:li>Moments|first look</rdf:li>\n"
         "     <rdf:li>Places|Orangerie</rdf:li>\n"
         "    </rdf:Bag>\n"
         "   </lr:hierarchicalSubject>\n"
         "  </rdf:Description>\n"
         " </rdf:RDF>\n"
         "</x:xmpmeta>\n" +
         padding(20) + "<?xpacket end=\"w\"?>";
}

// Photo Mechanic 6: its own namespace with the tag, the colour class and the
// preferences string (tagged:class:rating:frame), IPTC Core beside it.
std::string photo_mechanic() {
  return "<?xpacket begin=\"\xEF\xBB\xBF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
         "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\" x:xmptk=\"XMP Core 5.5.0\">\n"
         " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
         "  <rdf:Description rdf:about=\"\"\n"
         "    xmlns:photomechanic=\"http://ns.camerabits.com/photomechanic/1.0/\"\n"
         "    xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\"\n"
         "    xmlns:photoshop=\"http://ns.adobe.com/photoshop/1.0/\"\n"
         "    xmlns:Iptc4xmpCore=\"http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/\"\n"
         "    xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n"
         "   photomechanic:PMVersion=\"PM6\"\n"
         "   photomechanic:Prefs=\"1:4:5:000012\"\n"
         "   photomechanic:Tagged=\"True\"\n"
         "   photomechanic:ColorClass=\"4\"\n"
         "   xmp:Rating=\"5\"\n"
         "   photoshop:DateCreated=\"2024-06-15T15:12:03.41+02:00\"\n"
         "   photoshop:City=\"Potsdam\"\n"
         "   Iptc4xmpCore:Location=\"Orangerie\">\n"
         "   <dc:subject>\n"
         "    <rdf:Bag>\n"
         "     <rdf:li>ceremony</rdf:li>\n"
         "     <rdf:li>rings</rdf:li>\n"
         "    </rdf:Bag>\n"
         "   </dc:subject>\n"
         "   <dc:creator>\n"
         "    <rdf:Seq>\n"
         "     <rdf:li>Example Studio</rdf:li>\n"
         "    </rdf:Seq>\n"
         "   </dc:creator>\n"
         "  </rdf:Description>\n"
         " </rdf:RDF>\n"
         "</x:xmpmeta>\n" +
         padding(10) + "<?xpacket end=\"w\"?>";
}

// Capture One on Windows: a byte order mark before the XML declaration, CRLF
// line breaks, every property as an element, keywords as an ordered list.
std::string capture_one() {
  return "\xEF\xBB\xBF" + with_crlf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                    "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\" x:xmptk=\"Adobe XMP Core 5.6-c140 79.160451\">\n"
                                    " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
                                    "  <rdf:Description rdf:about=\"\"\n"
                                    "    xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\"\n"
                                    "    xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n"
                                    "    xmlns:lr=\"http://ns.adobe.com/lightroom/1.0/\"\n"
                                    "    xmlns:tiff=\"http://ns.adobe.com/tiff/1.0/\">\n"
                                    "   <xmp:Rating>4</xmp:Rating>\n"
                                    "   <xmp:Label>Red</xmp:Label>\n"
                                    "   <tiff:Orientation>1</tiff:Orientation>\n"
                                    "   <dc:subject>\n"
                                    "    <rdf:Seq>\n"
                                    "     <rdf:li>speeches</rdf:li>\n"
                                    "    </rdf:Seq>\n"
                                    "   </dc:subject>\n"
                                    "   <lr:hierarchicalSubject>\n"
                                    "    <rdf:Seq>\n"
                                    "     <rdf:li>Reception|speeches</rdf:li>\n"
                                    "    </rdf:Seq>\n"
                                    "   </lr:hierarchicalSubject>\n"
                                    "   <dc:title>\n"
                                    "    <rdf:Alt>\n"
                                    "     <rdf:li xml:lang=\"x-default\">Best man</rdf:li>\n"
                                    "    </rdf:Alt>\n"
                                    "   </dc:title>\n"
                                    "  </rdf:Description>\n"
                                    " </rdf:RDF>\n"
                                    "</x:xmpmeta>\n");
}

// darktable 4: an XML declaration, no packet wrapper, a rejected photo
// (rating -1), two colour labels by index, the history stack as a list of
// structures, hierarchical tags.
std::string darktable() {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\" x:xmptk=\"XMP Core 4.4.0-Exiv2\">\n"
         " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
         "  <rdf:Description rdf:about=\"\"\n"
         "    xmlns:exif=\"http://ns.adobe.com/exif/1.0/\"\n"
         "    xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\"\n"
         "    xmlns:xmpMM=\"http://ns.adobe.com/xap/1.0/mm/\"\n"
         "    xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n"
         "    xmlns:lr=\"http://ns.adobe.com/lightroom/1.0/\"\n"
         "    xmlns:darktable=\"http://darktable.sf.net/\"\n"
         "   exif:DateTimeOriginal=\"2024:06:15 17:01:44.120\"\n"
         "   xmp:Rating=\"-1\"\n"
         "   xmpMM:DerivedFrom=\"DSC_0412.NEF\"\n"
         "   darktable:import_timestamp=\"63854291234000000\"\n"
         "   darktable:xmp_version=\"5\"\n"
         "   darktable:raw_params=\"0\"\n"
         "   darktable:auto_presets_applied=\"1\"\n"
         "   darktable:history_end=\"2\"\n"
         "   darktable:iop_order_version=\"4\">\n"
         "   <darktable:colorlabels>\n"
         "    <rdf:Seq>\n"
         "     <rdf:li>0</rdf:li>\n"
         "     <rdf:li>2</rdf:li>\n"
         "    </rdf:Seq>\n"
         "   </darktable:colorlabels>\n"
         "   <darktable:history>\n"
         "    <rdf:Seq>\n"
         "     <rdf:li\n"
         "      darktable:num=\"0\"\n"
         "      darktable:operation=\"exposure\"\n"
         "      darktable:enabled=\"1\"\n"
         "      darktable:modversion=\"6\"\n"
         "      darktable:params=\"00000000000080b9cdcc4c3f\"\n"
         "      darktable:multi_name=\"\"\n"
         "      darktable:multi_priority=\"0\"/>\n"
         "     <rdf:li\n"
         "      darktable:num=\"1\"\n"
         "      darktable:operation=\"filmicrgb\"\n"
         "      darktable:enabled=\"1\"\n"
         "      darktable:modversion=\"6\"\n"
         "      darktable:params=\"gz11eJxjYGBgYGBgYGBgYGBg\"\n"
         "      darktable:multi_name=\"\"\n"
         "      darktable:multi_priority=\"0\"/>\n"
         "    </rdf:Seq>\n"
         "   </darktable:history>\n"
         "   <dc:subject>\n"
         "    <rdf:Bag>\n"
         "     <rdf:li>church</rdf:li>\n"
         "    </rdf:Bag>\n"
         "   </dc:subject>\n"
         "   <lr:hierarchicalSubject>\n"
         "    <rdf:Bag>\n"
         "     <rdf:li>places|church</rdf:li>\n"
         "     <rdf:li>darktable|format|nef</rdf:li>\n"
         "    </rdf:Bag>\n"
         "   </lr:hierarchicalSubject>\n"
         "  </rdf:Description>\n"
         " </rdf:RDF>\n"
         "</x:xmpmeta>\n";
}

// What exiftool reads from the file: XMP tags by group, numbers as numbers.
json exiftool_read(const fs::path& file) {
  const std::string command = "exiftool -j -n -G1 -struct -XMP:all '" + file.string() + "' 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  std::string output;
  std::array<char, 4096> buffer{};
  while (auto n = std::fread(buffer.data(), 1, buffer.size(), pipe.get())) output.append(buffer.data(), n);
  auto parsed = json::parse(output, nullptr, false);
  if (!parsed.is_array() || parsed.empty()) return json::object({{"error", output}});
  return parsed[0];
}

json exiftool_read_text(const fs::path& folder, const std::string& name, const std::string& text) {
  const fs::path file = folder / name;
  std::ofstream(file, std::ios::binary) << text;
  return exiftool_read(file);
}

std::vector<std::string> strings(const json& value) {
  std::vector<std::string> out;
  if (value.is_array()) {
    for (const auto& item : value) out.push_back(item.is_string() ? item.get<std::string>() : item.dump());
  } else if (!value.is_null()) {
    out.push_back(value.is_string() ? value.get<std::string>() : value.dump());
  }
  return out;
}

struct ToolCase {
  std::string tool;
  std::string text;
  Selection expected;
};

std::vector<ToolCase> tool_cases() {
  Selection lightroom;
  lightroom.rating = 3;
  lightroom.labels = {"Green"};
  lightroom.keywords = {"Anna", "first look", "Orangerie"};
  Selection mechanic;
  mechanic.rating = 5;
  mechanic.labels = {"Green"};
  mechanic.tagged = true;
  mechanic.keywords = {"ceremony", "rings"};
  Selection capture;
  capture.rating = 4;
  capture.labels = {"Red"};
  capture.keywords = {"speeches"};
  Selection dark;
  dark.rating = -1;
  dark.labels = {"Red", "Green"};
  dark.keywords = {"church", "nef"};
  return {{"Lightroom Classic", lightroom_classic(), lightroom},
          {"Photo Mechanic", photo_mechanic(), mechanic},
          {"Capture One", capture_one(), capture},
          {"darktable", darktable(), dark}};
}

TEST(ToolSidecars, SelectionReadAsEachToolWroteIt) {
  for (const auto& tool : tool_cases()) {
    SCOPED_TRACE(tool.tool);
    auto read = read_selection(tool.text);
    ASSERT_TRUE(read.ok()) << read.message();
    EXPECT_EQ(read->rating, tool.expected.rating);
    EXPECT_EQ(read->labels, tool.expected.labels);
    EXPECT_EQ(read->tagged, tool.expected.tagged);
    EXPECT_EQ(read->keywords, tool.expected.keywords);
  }
}

TEST(ToolSidecars, ExiftoolReadsTheSameRatingsLabelsAndKeywords) {
  WSP_REQUIRE_TOOL(std::system("command -v exiftool >/dev/null 2>&1") == 0, "exiftool is not installed");
  TempDir dir;
  for (const auto& tool : tool_cases()) {
    SCOPED_TRACE(tool.tool);
    auto theirs = exiftool_read_text(dir.path(), "original.xmp", tool.text);
    ASSERT_FALSE(theirs.contains("error")) << theirs.dump();
    auto ours = read_selection(tool.text);
    ASSERT_TRUE(ours.ok()) << ours.message();
    ASSERT_TRUE(theirs.contains("XMP-xmp:Rating")) << theirs.dump();
    EXPECT_EQ(theirs["XMP-xmp:Rating"].get<int>(), ours->rating.value_or(99));
    auto subject = strings(theirs.value("XMP-dc:Subject", json()));
    for (const auto& keyword : subject) EXPECT_NE(std::find(ours->keywords.begin(), ours->keywords.end(), keyword), ours->keywords.end()) << keyword;
    if (theirs.contains("XMP-xmp:Label")) {
      EXPECT_EQ(ours->labels.at(0), theirs["XMP-xmp:Label"].get<std::string>());
    }
    if (theirs.contains("XMP-photomech:ColorClass")) {
      EXPECT_EQ(theirs["XMP-photomech:ColorClass"].get<int>(), 4);
      EXPECT_EQ(theirs["XMP-photomech:Tagged"], json(true)) << theirs.dump();
    }
    if (theirs.contains("XMP-darktable:Colorlabels")) {
      EXPECT_EQ(strings(theirs["XMP-darktable:Colorlabels"]), (std::vector<std::string>{"0", "2"}));
    }
  }
}

// The rules of a merge, seen by a reader that is not exiv2: the tool's keywords and
// alt text are there, the photographer's keywords it removes only when asked, and
// every other property (develop settings, history stacks, labels, ratings, IPTC)
// reads exactly as before.
TEST(ToolSidecars, AMergeChangesOnlyWhatItWritesAsExiftoolSeesIt) {
  WSP_REQUIRE_TOOL(std::system("command -v exiftool >/dev/null 2>&1") == 0, "exiftool is not installed");
  TempDir dir;
  XmpFields fields;
  fields.keywords = {"ceremony", "Zoë & Léa"};
  fields.description = "Vows under the oak";
  fields.best_pick = true;
  for (const auto& tool : tool_cases()) {
    SCOPED_TRACE(tool.tool);
    auto merged = merge_xmp(tool.text, fields);
    ASSERT_TRUE(merged.ok()) << merged.message();
    auto before = exiftool_read_text(dir.path(), "before.xmp", tool.text);
    auto after = exiftool_read_text(dir.path(), "after.xmp", *merged);
    ASSERT_FALSE(after.contains("error")) << after.dump() << "\n" << *merged;
    for (const auto& [key, value] : before.items()) {
      if (key == "SourceFile" || key.starts_with("System:") || key.starts_with("ExifTool:") || key.starts_with("File:") ||
          key == "XMP-x:XMPToolkit" || key == "XMP-dc:Subject" || key == "XMP-dc:Description" ||
          key == "XMP-photomech:Tagged") {
        continue;
      }
      ASSERT_TRUE(after.contains(key)) << key << " lost:\n" << *merged;
      EXPECT_EQ(after[key], value) << key;
    }
    auto subject = strings(after["XMP-dc:Subject"]);
    for (const auto& keyword : strings(before.value("XMP-dc:Subject", json()))) {
      EXPECT_NE(std::find(subject.begin(), subject.end(), keyword), subject.end()) << keyword << " was removed";
    }
    EXPECT_NE(std::find(subject.begin(), subject.end(), "Zoë & Léa"), subject.end());
    EXPECT_EQ(after.value("XMP-dc:Description", json()).dump(), "\"Vows under the oak\"");
    EXPECT_EQ(after["XMP-photomech:Tagged"], json(true));
  }
}

// The photographer's tag in Photo Mechanic stays set, whatever the tool thinks of the photo.
TEST(ToolSidecars, PhotoMechanicsTagIsNeverCleared) {
  XmpFields fields;
  fields.keywords = {"ceremony"};
  auto merged = merge_xmp(photo_mechanic(), fields);
  ASSERT_TRUE(merged.ok()) << merged.message();
  EXPECT_EQ(read_xmp(*merged)->best_pick, true);
  auto selection = read_selection(*merged);
  ASSERT_TRUE(selection.ok()) << selection.message();
  EXPECT_EQ(selection->tagged, true);
  EXPECT_EQ(selection->labels, std::vector<std::string>{"Green"});
}

TEST(ToolSidecars, CaptureOneKeepsItsWindowsLineBreaksAndOrderedKeywords) {
  XmpFields fields;
  fields.keywords = {"toast"};
  auto merged = merge_xmp(capture_one(), fields);
  ASSERT_TRUE(merged.ok()) << merged.message();
  std::size_t bare = 0;
  for (std::size_t i = 0; i < merged->size(); ++i)
    if ((*merged)[i] == '\n' && (i == 0 || (*merged)[i - 1] != '\r')) ++bare;
  EXPECT_EQ(bare, 0u) << "a bare line feed in a CRLF file";
  EXPECT_NE(merged->find("<rdf:Seq>"), std::string::npos);
  EXPECT_EQ(read_xmp(*merged)->keywords, (std::vector<std::string>{"speeches", "toast"}));
}

}  // namespace
