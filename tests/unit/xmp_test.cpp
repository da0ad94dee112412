#include "tagging/xmp.hpp"
#include "catalog/catalog.hpp"
#include "pipeline/tag.hpp"
#include "require_tool.hpp"
#include "temp_dir.hpp"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Fault injection at the system-call boundary: a sidecar is replaced through a
// temporary that takes the old file's mode (fchmod) after the old file was
// read and before the rename. While armed, the first such call first runs
// another program's save of the sidecar, as Lightroom saving at that moment.
std::function<void()> g_save_meanwhile;

extern "C" int fchmod(int fd, mode_t mode) {
  using Fchmod = int (*)(int, mode_t);
  static const auto real = reinterpret_cast<Fchmod>(::dlsym(RTLD_NEXT, "fchmod"));
  if (auto save = std::exchange(g_save_meanwhile, nullptr)) save();
  return real(fd, mode);
}

namespace {

namespace fs = std::filesystem;
using wsp::tagging::merge_xmp;
using wsp::tagging::read_xmp;
using wsp::tagging::sidecar_path;
using wsp::tagging::XmpFields;
using wsp::testing::TempDir;

std::string padding() {
  std::string text;
  for (int i = 0; i < 4; ++i) text += std::string(100, ' ') + "\n";
  return text;
}

// What Lightroom Classic writes beside a raw file: every simple property an
// attribute of one rdf:Description, the develop settings among them.
std::string lightroom_sidecar() {
  return "<?xpacket begin=\"\xEF\xBB\xBF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
         "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\" x:xmptk=\"Adobe XMP Core 7.0-c000 1.000000, "
         "0000/00/00-00:00:00        \">\n"
         " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
         "  <rdf:Description rdf:about=\"\"\n"
         "    xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\"\n"
         "    xmlns:tiff=\"http://ns.adobe.com/tiff/1.0/\"\n"
         "    xmlns:exif=\"http://ns.adobe.com/exif/1.0/\"\n"
         "    xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n"
         "    xmlns:lr=\"http://ns.adobe.com/lightroom/1.0/\"\n"
         "    xmlns:xmpMM=\"http://ns.adobe.com/xap/1.0/mm/\"\n"
         "    xmlns:stEvt=\"http://ns.adobe.com/xap/1.0/sType/ResourceEvent#\"\n"
         "    xmlns:crs=\"http://ns.adobe.com/camera-raw-settings/1.0/\"\n"
         "   xmp:ModifyDate=\"2024-06-15T16:42:10+02:00\"\n"
         "   xmp:CreateDate=\"2024-06-15T14:03:27.41\"\n"
         "   xmp:MetadataDate=\"2024-06-20T09:12:55+02:00\"\n"
         "   xmp:Rating=\"2\"\n"
         "   xmp:Label=\"Red\"\n"
         "   tiff:Make=\"Canon\"\n"
         "   tiff:Model=\"Canon EOS R5\"\n"
         "   exif:ExposureTime=\"1/250\"\n"
         "   exif:FNumber=\"28/10\"\n"
         "   xmpMM:DocumentID=\"xmp.did:6f1c2a4e-8b3d-4c5e-9f7a-1b2c3d4e5f60\"\n"
         "   xmpMM:OriginalDocumentID=\"7A1B2C3D4E5F60718293A4B5C6D7E8F9\"\n"
         "   xmpMM:InstanceID=\"xmp.iid:6f1c2a4e-8b3d-4c5e-9f7a-1b2c3d4e5f60\"\n"
         "   crs:Version=\"16.4\"\n"
         "   crs:ProcessVersion=\"15.4\"\n"
         "   crs:WhiteBalance=\"Custom\"\n"
         "   crs:Temperature=\"5650\"\n"
         "   crs:Tint=\"+12\"\n"
         "   crs:Exposure2012=\"+0.35\"\n"
         "   crs:Contrast2012=\"+8\"\n"
         "   crs:Highlights2012=\"-42\"\n"
         "   crs:Shadows2012=\"+27\"\n"
         "   crs:Whites2012=\"+5\"\n"
         "   crs:Blacks2012=\"-11\"\n"
         "   crs:Texture=\"+6\"\n"
         "   crs:Clarity2012=\"-4\"\n"
         "   crs:Vibrance=\"+9\"\n"
         "   crs:Saturation=\"0\"\n"
         "   crs:ToneCurveName2012=\"Custom\"\n"
         "   crs:CameraProfile=\"Adobe Color\"\n"
         "   crs:HasSettings=\"True\"\n"
         "   crs:HasCrop=\"False\"\n"
         "   crs:AlreadyApplied=\"False\">\n"
         "   <crs:ToneCurvePV2012>\n"
         "    <rdf:Seq>\n"
         "     <rdf:li>0, 0</rdf:li>\n"
         "     <rdf:li>64, 58</rdf:li>\n"
         "     <rdf:li>192, 200</rdf:li>\n"
         "     <rdf:li>255, 255</rdf:li>\n"
         "    </rdf:Seq>\n"
         "   </crs:ToneCurvePV2012>\n"
         "   <xmpMM:History>\n"
         "    <rdf:Seq>\n"
         "     <rdf:li\n"
         "      stEvt:action=\"derived\"\n"
         "      stEvt:parameters=\"converted from image/x-canon-cr3 to image/dng, saving as DNG\"/>\n"
         "     <rdf:li\n"
         "      stEvt:action=\"saved\"\n"
         "      stEvt:instanceID=\"xmp.iid:6f1c2a4e-8b3d-4c5e-9f7a-1b2c3d4e5f60\"\n"
         "      stEvt:when=\"2024-06-15T16:42:10+02:00\"\n"
         "      stEvt:softwareAgent=\"Adobe Photoshop Lightroom Classic 13.4 (Macintosh)\"\n"
         "      stEvt:changed=\"/metadata\"/>\n"
         "    </rdf:Seq>\n"
         "   </xmpMM:History>\n"
         "   <dc:subject>\n"
         "    <rdf:Bag>\n"
         "     <rdf:li>Hochzeit</rdf:li>\n"
         "     <rdf:li>getting ready</rdf:li>\n"
         "    </rdf:Bag>\n"
         "   </dc:subject>\n"
         "   <lr:hierarchicalSubject>\n"
         "    <rdf:Bag>\n"
         "     <rdf:li>Hochzeit|getting ready</rdf:li>\n"
         "    </rdf:Bag>\n"
         "   </lr:hierarchicalSubject>\n"
         "  </rdf:Description>\n"
         " </rdf:RDF>\n"
         "</x:xmpmeta>\n" +
         padding() + "<?xpacket end=\"w\"?>";
}

// Another tool's style: properties as elements, other prefixes for the XMP and
// Dublin Core namespaces, declared on rdf:RDF, comments, a CDATA section.
constexpr std::string_view k_element_sidecar =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!-- written by a tagging tool -->\n"
    "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n"
    "  <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"\n"
    "           xmlns:xap=\"http://ns.adobe.com/xap/1.0/\"\n"
    "           xmlns:purl=\"http://purl.org/dc/elements/1.1/\">\n"
    "    <rdf:Description rdf:about=\"\">\n"
    "      <xap:Rating>1</xap:Rating>\n"
    "      <xap:Label><![CDATA[Getting ready]]></xap:Label>\n"
    "      <!-- the photographer's note -->\n"
    "      <purl:subject>\n"
    "        <rdf:Seq>\n"
    "          <rdf:li>detail</rdf:li>\n"
    "        </rdf:Seq>\n"
    "      </purl:subject>\n"
    "      <purl:description>\n"
    "        <rdf:Alt>\n"
    "          <rdf:li xml:lang=\"x-default\">Old caption</rdf:li>\n"
    "          <rdf:li xml:lang=\"de-DE\">Alte Bildunterschrift</rdf:li>\n"
    "        </rdf:Alt>\n"
    "      </purl:description>\n"
    "    </rdf:Description>\n"
    "  </rdf:RDF>\n"
    "</x:xmpmeta>\n";

// Older toolkits wrote one rdf:Description per namespace.
constexpr std::string_view k_split_sidecar =
    "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n"
    " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
    "  <rdf:Description rdf:about=\"\" xmlns:crs=\"http://ns.adobe.com/camera-raw-settings/1.0/\" "
    "crs:Exposure2012=\"-0.50\"/>\n"
    "  <rdf:Description rdf:about=\"\"\n"
    "    xmlns:photomechanic=\"http://ns.camerabits.com/photomechanic/1.0/\"\n"
    "    xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n"
    "   <photomechanic:Tagged>False</photomechanic:Tagged>\n"
    "  </rdf:Description>\n"
    "  <rdf:Description rdf:about=\"\" xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\" xmp:Rating=\"3\"/>\n"
    " </rdf:RDF>\n"
    "</x:xmpmeta>\n";

std::size_t count(std::string_view text, std::string_view part) {
  std::size_t found = 0;
  for (auto pos = text.find(part); pos != std::string_view::npos; pos = text.find(part, pos + 1)) ++found;
  return found;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

XmpFields wedding_fields() {
  XmpFields fields;
  fields.keywords = {"getting ready", "ceremony", "Zoë & Léa"};
  fields.remove_keywords = {"Hochzeit"};
  fields.label = "Ceremony";
  fields.rating = 4;
  fields.best_pick = true;
  fields.description = "Léa's vows under the oak <3";
  return fields;
}

TEST(SidecarPath, SameFolderSameStemXmp) {
  EXPECT_EQ(sidecar_path("IMG_1234.JPG"), fs::path("IMG_1234.xmp"));
  EXPECT_EQ(sidecar_path("/shoots/2024-06-15/day1/IMG_1234.CR3"), fs::path("/shoots/2024-06-15/day1/IMG_1234.xmp"));
  EXPECT_EQ(sidecar_path("DSC_0001.tiff"), fs::path("DSC_0001.xmp"));
  EXPECT_EQ(sidecar_path("party.final.jpg"), fs::path("party.final.xmp"));  // only the last extension goes
  EXPECT_EQ(sidecar_path("scan"), fs::path("scan.xmp"));
  EXPECT_EQ(sidecar_path("Zoë und Léa/Tanz.jpeg"), fs::path("Zoë und Léa/Tanz.xmp"));
}

TEST(NewSidecar, IsACompletePacket) {
  XmpFields fields;
  fields.keywords = {"bride"};
  fields.label = "Ceremony";
  fields.rating = 5;
  auto packet = merge_xmp("", fields);
  ASSERT_TRUE(packet.ok()) << packet.message();
  EXPECT_TRUE(packet->starts_with("<?xpacket begin=\"\xEF\xBB\xBF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n")) << *packet;
  EXPECT_TRUE(packet->ends_with("<?xpacket end=\"w\"?>")) << *packet;
  EXPECT_NE(packet->find("<x:xmpmeta xmlns:x=\"adobe:ns:meta/\""), std::string::npos);
  EXPECT_NE(packet->find(std::string(100, ' ') + "\n"), std::string::npos) << "padding for in-place edits";
  EXPECT_NE(packet->find("xmp:Rating=\"5\""), std::string::npos) << *packet;
  EXPECT_NE(packet->find("<rdf:li>bride</rdf:li>"), std::string::npos) << *packet;
}

TEST(NewSidecar, RoundTripsEveryField) {
  XmpFields fields;
  fields.keywords = {"Zoë & Léa", "<first dance>", "\"quoted\" and 'single'", "日本の結婚式", "a\tb"};
  fields.label = "Trauung & \"Ringe\" <1>";
  fields.rating = -1;
  fields.best_pick = false;
  fields.description = "Line one\nLine two\r\nwith CR, tab\t and ]]> and émoji 💍";
  auto packet = merge_xmp("", fields);
  ASSERT_TRUE(packet.ok()) << packet.message();
  auto read = read_xmp(*packet);
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_EQ(read->keywords, fields.keywords);
  EXPECT_EQ(read->label, fields.label);
  EXPECT_EQ(read->rating, fields.rating);
  EXPECT_EQ(read->best_pick, fields.best_pick);
  EXPECT_EQ(read->description, fields.description);
  EXPECT_TRUE(read->remove_keywords.empty());
  EXPECT_NE(packet->find("<rdf:li>Zoë &amp; Léa</rdf:li>"), std::string::npos) << *packet;
  EXPECT_NE(packet->find("photomechanic:Tagged=\"False\""), std::string::npos) << *packet;
}

TEST(NewSidecar, NoFieldsStillMakeAPacketThatReadsEmpty) {
  auto packet = merge_xmp("", XmpFields{});
  ASSERT_TRUE(packet.ok()) << packet.message();
  EXPECT_NE(packet->find("<?xpacket end=\"w\"?>"), std::string::npos);
  auto read = read_xmp(*packet);
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_EQ(*read, XmpFields{});
}

TEST(LightroomSidecar, ReadsWhatLightroomWrote) {
  auto read = read_xmp(lightroom_sidecar());
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_EQ(read->rating, 2);
  EXPECT_EQ(read->label, "Red");
  EXPECT_EQ(read->keywords, (std::vector<std::string>{"Hochzeit", "getting ready"}));
  EXPECT_FALSE(read->best_pick.has_value());
  EXPECT_FALSE(read->description.has_value());
}

TEST(LightroomSidecar, KeepsTheDevelopSettingsHistoryAndHierarchy) {
  auto merged = merge_xmp(lightroom_sidecar(), wedding_fields());
  ASSERT_TRUE(merged.ok()) << merged.message();
  for (std::string_view kept :
       {"crs:Exposure2012=\"+0.35\"", "crs:Temperature=\"5650\"", "crs:Tint=\"+12\"", "crs:CameraProfile=\"Adobe Color\"",
        "<rdf:li>64, 58</rdf:li>", "stEvt:softwareAgent=\"Adobe Photoshop Lightroom Classic 13.4 (Macintosh)\"",
        "xmpMM:DocumentID=\"xmp.did:6f1c2a4e-8b3d-4c5e-9f7a-1b2c3d4e5f60\"", "tiff:Model=\"Canon EOS R5\"",
        "<rdf:li>Hochzeit|getting ready</rdf:li>"}) {
    EXPECT_NE(merged->find(kept), std::string::npos) << kept << " lost:\n" << *merged;
  }
  EXPECT_TRUE(merged->starts_with("<?xpacket begin=")) << "the packet wrapper";
  EXPECT_TRUE(merged->ends_with("<?xpacket end=\"w\"?>"));
}

TEST(LightroomSidecar, UpdatesRatingAndLabel) {
  auto merged = merge_xmp(lightroom_sidecar(), wedding_fields());
  ASSERT_TRUE(merged.ok()) << merged.message();
  EXPECT_EQ(count(*merged, "Rating"), 1u) << *merged;
  EXPECT_EQ(count(*merged, "xmp:Label"), 1u);
  auto read = read_xmp(*merged);
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_EQ(read->rating, 4);
  EXPECT_EQ(read->label, "Ceremony");
  EXPECT_EQ(read->best_pick, true);
  EXPECT_EQ(read->description, "Léa's vows under the oak <3");
}

TEST(LightroomSidecar, UnionsKeywordsAndRemovesTheRemovedOnes) {
  auto merged = merge_xmp(lightroom_sidecar(), wedding_fields());
  ASSERT_TRUE(merged.ok()) << merged.message();
  auto read = read_xmp(*merged);
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_EQ(read->keywords, (std::vector<std::string>{"getting ready", "ceremony", "Zoë & Léa"}));
  EXPECT_NE(merged->find("<rdf:Bag>"), std::string::npos) << "still a bag";
}

TEST(LightroomSidecar, FieldsThatChangeNothingChangeNoByte) {
  auto original = lightroom_sidecar();
  auto untouched = merge_xmp(original, XmpFields{});
  ASSERT_TRUE(untouched.ok()) << untouched.message();
  EXPECT_EQ(*untouched, original);
  XmpFields same;
  same.rating = 2;
  same.label = "Red";
  same.keywords = {"getting ready"};
  same.remove_keywords = {"not there"};
  auto unchanged = merge_xmp(original, same);
  ASSERT_TRUE(unchanged.ok()) << unchanged.message();
  EXPECT_EQ(*unchanged, original);
}

TEST(ElementForm, ReadWithTheFilesOwnPrefixesAndUpdated) {
  auto before = read_xmp(k_element_sidecar);
  ASSERT_TRUE(before.ok()) << before.message();
  EXPECT_EQ(before->rating, 1);
  EXPECT_EQ(before->label, "Getting ready");
  EXPECT_EQ(before->keywords, std::vector<std::string>{"detail"});
  EXPECT_EQ(before->description, "Old caption");
  XmpFields fields;
  fields.rating = 5;
  fields.label = "Details";
  fields.keywords = {"rings"};
  fields.description = "Rings on the invitation";
  fields.best_pick = false;
  auto merged = merge_xmp(k_element_sidecar, fields);
  ASSERT_TRUE(merged.ok()) << merged.message();
  EXPECT_NE(merged->find("<rdf:Seq>"), std::string::npos) << "an ordered list stays ordered:\n" << *merged;
  EXPECT_NE(merged->find("Alte Bildunterschrift"), std::string::npos) << "the other language is kept";
  auto read = read_xmp(*merged);
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_EQ(read->rating, 5);
  EXPECT_EQ(read->label, "Details");
  EXPECT_EQ(read->keywords, (std::vector<std::string>{"detail", "rings"}));
  EXPECT_EQ(read->description, "Rings on the invitation");
  EXPECT_EQ(read->best_pick, false);
}

TEST(SeveralDescriptions, EachPropertyReadAndUpdated) {
  auto before = read_xmp(k_split_sidecar);
  ASSERT_TRUE(before.ok()) << before.message();
  EXPECT_EQ(before->rating, 3);
  EXPECT_EQ(before->best_pick, false);
  XmpFields fields;
  fields.best_pick = true;
  fields.rating = 1;
  fields.label = "Party";
  fields.keywords = {"first dance"};
  auto merged = merge_xmp(k_split_sidecar, fields);
  ASSERT_TRUE(merged.ok()) << merged.message();
  EXPECT_NE(merged->find("crs:Exposure2012=\"-0.50\""), std::string::npos) << *merged;
  EXPECT_EQ(count(*merged, "xmlns:xmp="), 1u);
  EXPECT_EQ(count(*merged, "xmlns:dc="), 1u);
  auto read = read_xmp(*merged);
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_EQ(read->best_pick, true);
  EXPECT_EQ(read->rating, 1);
  EXPECT_EQ(read->label, "Party");
  EXPECT_EQ(read->keywords, std::vector<std::string>{"first dance"});
}

TEST(Merge, TwiceWithTheSameFieldsGivesTheSameBytes) {
  for (std::string existing :
       {std::string{}, std::string{k_element_sidecar}, std::string{k_split_sidecar}, lightroom_sidecar()}) {
    auto once = merge_xmp(existing, wedding_fields());
    ASSERT_TRUE(once.ok()) << once.message();
    auto twice = merge_xmp(*once, wedding_fields());
    ASSERT_TRUE(twice.ok()) << twice.message();
    EXPECT_EQ(*twice, *once);
  }
}

TEST(Merge, RemovalWinsOverAddition) {
  XmpFields fields;
  fields.keywords = {"bride", "groom"};
  fields.remove_keywords = {"groom"};
  auto packet = merge_xmp("", fields);
  ASSERT_TRUE(packet.ok()) << packet.message();
  auto read = read_xmp(*packet);
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_EQ(read->keywords, std::vector<std::string>{"bride"});
}

TEST(Merge, AddsNoDuplicateKeywords) {
  XmpFields fields;
  fields.keywords = {"bride", "bride", "getting ready"};
  auto merged = merge_xmp(lightroom_sidecar(), fields);
  ASSERT_TRUE(merged.ok()) << merged.message();
  auto read = read_xmp(*merged);
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_EQ(read->keywords, (std::vector<std::string>{"Hochzeit", "getting ready", "bride"}));
}

TEST(Merge, RemovingEveryKeywordThenAddingOne) {
  XmpFields fields;
  fields.remove_keywords = {"Hochzeit", "getting ready"};
  auto merged = merge_xmp(lightroom_sidecar(), fields);
  ASSERT_TRUE(merged.ok()) << merged.message();
  auto read = read_xmp(*merged);
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_TRUE(read->keywords.empty()) << *merged;
  XmpFields again;
  again.keywords = {"reception"};
  auto refilled = merge_xmp(*merged, again);
  ASSERT_TRUE(refilled.ok()) << refilled.message();
  EXPECT_EQ(read_xmp(*refilled)->keywords, std::vector<std::string>{"reception"});
}

TEST(Merge, DescriptionWithoutDefaultLanguageGetsOne) {
  constexpr std::string_view k_sidecar =
      "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n"
      " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
      "  <rdf:Description rdf:about=\"\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n"
      "   <dc:description>\n"
      "    <rdf:Alt>\n"
      "     <rdf:li xml:lang=\"fr-FR\">Premi\xC3\xA8re danse</rdf:li>\n"
      "    </rdf:Alt>\n"
      "   </dc:description>\n"
      "  </rdf:Description>\n"
      " </rdf:RDF>\n"
      "</x:xmpmeta>\n";
  EXPECT_EQ(read_xmp(k_sidecar)->description, "Première danse") << "without x-default, the first item";
  XmpFields fields;
  fields.description = "First dance";
  auto merged = merge_xmp(k_sidecar, fields);
  ASSERT_TRUE(merged.ok()) << merged.message();
  EXPECT_NE(merged->find("<rdf:li xml:lang=\"x-default\">First dance</rdf:li>"), std::string::npos) << *merged;
  EXPECT_NE(merged->find("<rdf:li xml:lang=\"fr-FR\">Première danse</rdf:li>"), std::string::npos) << *merged;
  EXPECT_EQ(read_xmp(*merged)->description, "First dance");
}

TEST(Merge, SingleQuotedAttributes) {
  constexpr std::string_view k_sidecar =
      "<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>"
      "<rdf:Description rdf:about='' xmlns:xmp='http://ns.adobe.com/xap/1.0/' xmp:Label='Bride&apos;s'/>"
      "</rdf:RDF></x:xmpmeta>";
  EXPECT_EQ(read_xmp(k_sidecar)->label, "Bride's");
  XmpFields fields;
  fields.label = "Groom's \"best\" man";
  auto merged = merge_xmp(k_sidecar, fields);
  ASSERT_TRUE(merged.ok()) << merged.message();
  EXPECT_EQ(read_xmp(*merged)->label, fields.label);
}

TEST(Merge, EmptyRdfGetsADescription) {
  constexpr std::string_view k_sidecar =
      "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n"
      " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"/>\n"
      "</x:xmpmeta>\n";
  auto merged = merge_xmp(k_sidecar, wedding_fields());
  ASSERT_TRUE(merged.ok()) << merged.message();
  auto read = read_xmp(*merged);
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_EQ(read->rating, 4);
  EXPECT_EQ(read->keywords, (std::vector<std::string>{"getting ready", "ceremony", "Zoë & Léa"}));
}

TEST(Merge, KeepsWindowsLineBreaks) {
  std::string crlf;
  for (char c : k_split_sidecar) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  auto merged = merge_xmp(crlf, wedding_fields());
  ASSERT_TRUE(merged.ok()) << merged.message();
  EXPECT_EQ(count(*merged, "\n"), count(*merged, "\r\n")) << "no bare line feed";
  EXPECT_GT(count(*merged, "\r\n"), count(crlf, "\r\n"));
  EXPECT_EQ(read_xmp(*merged)->rating, 4);
}

TEST(Merge, RefusesFieldsXmlCannotCarry) {
  auto refused = [](XmpFields fields, std::string_view reason) {
    auto result = merge_xmp("", fields);
    ASSERT_FALSE(result.ok());
    EXPECT_NE(result.message().find(reason), std::string::npos) << result.message();
  };
  XmpFields fields;
  fields.rating = 6;
  refused(fields, "rating 6");
  fields.rating = -2;
  refused(fields, "rating -2");
  fields = {};
  fields.keywords = {"bell\x07"};
  refused(fields, "keyword");
  fields.keywords = {""};
  refused(fields, "empty keyword");
  fields = {};
  fields.label = "caf\xE9";  // Latin-1, not UTF-8
  refused(fields, "label");
  fields = {};
  fields.description = std::string("nul\0here", 8);
  refused(fields, "description");
}

struct MalformedCase {
  std::string name;
  std::string text;
  std::string reason;  // a part of the error message
};

std::vector<MalformedCase> malformed_cases() {
  auto lightroom = lightroom_sidecar();
  const std::string rdf_open =
      "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">";
  const std::string rdf_close = "</rdf:RDF></x:xmpmeta>";
  return {
      {"truncated", lightroom.substr(0, lightroom.size() / 2), "not well-formed"},
      {"truncated in a tag", lightroom.substr(0, lightroom.find("crs:Tint") + 3), "not well-formed"},
      {"unbalanced", rdf_open + "<rdf:Description rdf:about=\"\"></rdf:Bag>" + rdf_close, "mismatch"},
      {"end tag without start", "<a></a></b>", "not well-formed"},
      {"billion laughs",
       "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]>\n"
       "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">&lol2;</x:xmpmeta>",
       "DOCTYPE"},
      {"external entity", "<!DOCTYPE x SYSTEM \"file:///etc/passwd\"><x/>", "DOCTYPE"},
      {"undefined entity", rdf_open + "<rdf:Description rdf:about=\"&lol;\"/>" + rdf_close, "not valid XMP"},
      {"bare ampersand", rdf_open + "<rdf:Description rdf:about=\"Bride & Groom\"/>" + rdf_close, "not valid XMP"},
      {"forbidden character", rdf_open + "<rdf:Description rdf:about=\"\x01\"/>" + rdf_close, "not UTF-8 text"},
      {"undeclared prefix", rdf_open + "<rdf:Description rdf:about=\"\" xmp:Rating=\"3\"/>" + rdf_close,
       "not valid XMP"},
      {"unquoted attribute", rdf_open + "<rdf:Description rdf:about=x/>" + rdf_close, "not well-formed"},
      {"latin-1 declared", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>" + rdf_open + rdf_close, "only UTF-8"},
      {"two roots", "<a/><b/>", "not XMP"},
      {"not XMP", "<html><body>hello</body></html>", "no rdf:RDF"},
      {"not UTF-8", "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">caf\xE9</x:xmpmeta>", "not UTF-8"},
      {"rating stated twice",
       rdf_open + "<rdf:Description rdf:about=\"\" xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\" xmp:Rating=\"1\">" +
           "<xmp:Rating>2</xmp:Rating></rdf:Description>" + rdf_close,
       "not valid XMP"},
      {"structured label",
       rdf_open + "<rdf:Description rdf:about=\"\" xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\">" +
           "<xmp:Label><rdf:Bag><rdf:li>a</rdf:li></rdf:Bag></xmp:Label></rdf:Description>" + rdf_close,
       "holds a structure"},
  };
}

TEST(Malformed, IsAnErrorThatSaysWhy) {
  for (const auto& bad : malformed_cases()) {
    SCOPED_TRACE(bad.name);
    auto read = read_xmp(bad.text);
    ASSERT_FALSE(read.ok());
    EXPECT_NE(read.message().find(bad.reason), std::string::npos) << read.message();
    if (bad.name == "structured label") continue;  // a property the merge leaves alone
    auto merged = merge_xmp(bad.text, wedding_fields());
    ASSERT_FALSE(merged.ok()) << *merged;
    EXPECT_NE(merged.message().find(bad.reason), std::string::npos) << merged.message();
  }
}

TEST(Malformed, ErrorsNameTheLine) {
  auto text = lightroom_sidecar();
  text.replace(text.find("</rdf:Seq>"), 10, "</rdf:Bag>");
  auto merged = merge_xmp(text, wedding_fields());
  ASSERT_FALSE(merged.ok());
  EXPECT_NE(merged.message().find("line 51: "), std::string::npos) << merged.message();
}

TEST(ReadXmp, ResolvesReferencesCdataAndCommentsInValues) {
  constexpr std::string_view k_sidecar =
      "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">"
      "<rdf:Description rdf:about=\"\" xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\" "
      "xmlns:pm=\"http://ns.camerabits.com/photomechanic/1.0/\" xmlns:d=\"http://purl.org/dc/elements/1.1/\" "
      "xmp:Label=\"Bride &amp; Groom &#x2764;&#65;&lt;&gt;&quot;&apos;\">"
      "<pm:Tagged>true</pm:Tagged>"
      "<xmp:Rating> 3.0 </xmp:Rating>"
      "<d:subject><rdf:Bag><rdf:li><![CDATA[<cake & cutting>]]></rdf:li><rdf:li>toast<!-- c --> speech</rdf:li>"
      "</rdf:Bag></d:subject>"
      "</rdf:Description></rdf:RDF></x:xmpmeta>";
  auto read = read_xmp(k_sidecar);
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_EQ(read->label, "Bride & Groom \u2764A<>\"'");
  EXPECT_EQ(read->best_pick, true) << "any prefix bound to Photo Mechanic's namespace";
  EXPECT_EQ(read->rating, 3);
  EXPECT_EQ(read->keywords, (std::vector<std::string>{"<cake & cutting>", "toast speech"}));
}

TEST(ReadXmp, RefusesRatingsOutsideTheScaleAndFlagsThatAreNotBooleans) {
  auto sidecar = [](std::string_view attribute) {
    return "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">"
           "<rdf:Description rdf:about=\"\" xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\" "
           "xmlns:photomechanic=\"http://ns.camerabits.com/photomechanic/1.0/\" " +
           std::string(attribute) + "/></rdf:RDF></x:xmpmeta>";
  };
  EXPECT_EQ(read_xmp(sidecar("xmp:Rating=\"-1\""))->rating, -1);
  EXPECT_EQ(read_xmp(sidecar("xmp:Rating=\"0\""))->rating, 0);
  EXPECT_FALSE(read_xmp(sidecar("xmp:Rating=\"6\"")).ok());
  EXPECT_FALSE(read_xmp(sidecar("xmp:Rating=\"2.5\"")).ok());
  EXPECT_FALSE(read_xmp(sidecar("xmp:Rating=\"three\"")).ok());
  EXPECT_EQ(read_xmp(sidecar("photomechanic:Tagged=\"False\""))->best_pick, false);
  EXPECT_FALSE(read_xmp(sidecar("photomechanic:Tagged=\"maybe\"")).ok());
  // A value this tool does not write does not stop it writing the others.
  XmpFields fields;
  fields.label = "Reception";
  auto merged = merge_xmp(sidecar("xmp:Rating=\"2.5\""), fields);
  ASSERT_TRUE(merged.ok()) << merged.message();
  EXPECT_NE(merged->find("xmp:Rating=\"2.5\""), std::string::npos) << *merged;
}

// Our reader reading the output proves little about other readers: when one is
// on the machine, it reads every kind of output too.
TEST(ExternalParser, AcceptsEveryKindOfOutput) {
  std::string command;
  if (std::system("command -v xmllint >/dev/null 2>&1") == 0) {
    command = "xmllint --noout ";
  } else if (std::system("command -v python3 >/dev/null 2>&1") == 0) {
    command = "python3 -c 'import sys, xml.etree.ElementTree as e; e.parse(sys.argv[1])' ";
  } else {
    WSP_REQUIRE_TOOL(false, "neither xmllint nor python3 is installed");
  }
  TempDir dir;
  std::vector<std::string> inputs = {"", lightroom_sidecar(), std::string(k_element_sidecar),
                                     std::string(k_split_sidecar)};
  XmpFields fields = wedding_fields();
  fields.description = "quotes \" ' and ]]> and \r\n and \t and 💍";
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    auto merged = merge_xmp(inputs[i], fields);
    ASSERT_TRUE(merged.ok()) << merged.message();
    auto path = dir.path() / ("IMG_" + std::to_string(i) + ".xmp");
    std::ofstream(path, std::ios::binary) << *merged;
    ASSERT_EQ(slurp(path), *merged);
    EXPECT_EQ(std::system((command + "'" + path.string() + "'").c_str()), 0) << *merged;
  }
}

TEST(WriteSidecars, ASaveMadeMeanwhileIsMergedNotLost) {
  TempDir dir;
  auto catalog = wsp::catalog::open_sqlite_catalog(dir.path() / "catalog.db");
  wsp::config::Config config;
  config.project_dir = dir.path();
  config.project.timezone = "UTC";
  wsp::catalog::ImageRecord image;
  image.path = "IMG_0001.CR3";
  image.sha256 = std::string(64, 'a');
  image.header.width = 6000;
  image.header.height = 4000;
  std::int64_t id = 0;
  catalog->write([&] { id = catalog->add_image(image); });
  wsp::catalog::TagRecord tags;
  tags.image_id = id;
  tags.fingerprint = "f";
  tags.provider = "local";
  tags.model = "local-1";
  tags.scene = "ceremony";
  tags.scene_confidence = tags.confidence = 0.9;
  tags.scene_basis = "timeline";
  tags.keywords = {"ceremony", "first kiss"};
  tags.alt_text = "The first kiss";
  catalog->write([&] { catalog->put_tags(tags); });

  const fs::path sidecar = dir.path() / "IMG_0001.xmp";
  {
    std::ofstream out(sidecar, std::ios::binary);
    out << lightroom_sidecar();
  }
  ASSERT_EQ(::chmod(sidecar.c_str(), 0600), 0);
  const bool root = ::geteuid() == 0;
  if (root) {
    ASSERT_EQ(::chown(sidecar.c_str(), 4321, 4322), 0);
  }

  // Lightroom saves meanwhile: a new rating and a keyword of the photographer's.
  auto lightroom_save = lightroom_sidecar();
  const auto rating = lightroom_save.find("xmp:Rating=\"2\"");
  ASSERT_NE(rating, std::string::npos);
  lightroom_save.replace(rating, 14, "xmp:Rating=\"5\"");
  XmpFields favourite;
  favourite.keywords = {"client favourite"};
  auto saved = merge_xmp(lightroom_save, favourite);
  ASSERT_TRUE(saved.ok()) << saved.message();
  bool saved_meanwhile = false;
  g_save_meanwhile = [&] {
    const fs::path lightroom_temp = dir.path() / "IMG_0001.xmp.lrtmp";
    std::ofstream(lightroom_temp, std::ios::binary) << *saved;
    ASSERT_EQ(::chmod(lightroom_temp.c_str(), 0600), 0);
    if (root) {
      ASSERT_EQ(::chown(lightroom_temp.c_str(), 4321, 4322), 0);
    }
    fs::rename(lightroom_temp, sidecar);
    saved_meanwhile = true;
  };

  wsp::pipeline::Observer quiet;
  auto summary = wsp::pipeline::write_sidecars(config, *catalog, quiet);
  g_save_meanwhile = nullptr;
  ASSERT_TRUE(saved_meanwhile) << "the save never happened between the read and the rename";
  EXPECT_EQ(summary.failed, 0u);
  EXPECT_EQ(summary.written, 1u);

  std::ifstream in(sidecar, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  auto read = read_xmp(text.str());
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_EQ(read->rating, 5) << "Lightroom's new rating was lost";
  auto has = [&](const std::string& keyword) {
    return std::find(read->keywords.begin(), read->keywords.end(), keyword) != read->keywords.end();
  };
  EXPECT_TRUE(has("client favourite")) << "Lightroom's keyword was lost";
  EXPECT_TRUE(has("first kiss")) << "the tool's keywords were not merged";
  EXPECT_EQ(read->description, "The first kiss");
  EXPECT_NE(text.str().find("crs:Temperature=\"5650\""), std::string::npos) << "develop settings lost";

  struct stat st {};
  ASSERT_EQ(::stat(sidecar.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u) << "the photographer's private sidecar became readable by all";
  if (root) {
    EXPECT_EQ(st.st_uid, 4321u);
  }
  if (root) {
    EXPECT_EQ(st.st_gid, 4322u);
  }
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir.path())) names.push_back(entry.path().filename().string());
  EXPECT_EQ(std::count_if(names.begin(), names.end(), [](const auto& n) { return n.find(".tmp-") != n.npos; }), 0);
}

}  // namespace
