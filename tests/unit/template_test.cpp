#include "publish/template.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using wsp::publish::Template;
using wsp::publish::TemplateData;

// The output of `text` rendered with `data`, or "PARSE ERROR: ..." so that a failure shows why.
std::string render(const std::string& text, const TemplateData& data) {
  auto parsed = Template::parse("page.html", text);
  if (!parsed) return "PARSE ERROR: " + parsed.message();
  return parsed->render(data);
}

// The parse error for `text`, or "" (and a failure) when it parses.
std::string parse_error(const std::string& text, const std::string& file = "page.html") {
  auto parsed = Template::parse(file, text);
  if (parsed) {
    ADD_FAILURE() << "parsed:\n" << text;
    return {};
  }
  return parsed.message();
}

TemplateData item(const std::string& name, const std::string& value) {
  TemplateData data;
  data.text[name] = value;
  return data;
}

TEST(Template, PlainTextPassesThrough) {
  EXPECT_EQ(render("<p>no tags } { here</p>\n", {}), "<p>no tags } { here</p>\n");
  EXPECT_EQ(render("", {}), "");
}

TEST(Template, VariablesAreHtmlEscaped) {
  auto data = item("title", R"(Anna & Ben <script>alert("x")</script> 'n')");
  EXPECT_EQ(render("<h1>{{title}}</h1>", data),
            "<h1>Anna &amp; Ben &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &#39;n&#39;</h1>");
  EXPECT_EQ(render("<h1>{{ title }}</h1>", item("title", "a<b")), "<h1>a&lt;b</h1>");
}

TEST(Template, TripleBracesAndAmpersandAreRaw) {
  auto data = item("html", "<b>&amp;</b>");
  EXPECT_EQ(render("{{{html}}}|{{& html}}|{{html}}", data), "<b>&amp;</b>|<b>&amp;</b>|&lt;b&gt;&amp;amp;&lt;/b&gt;");
}

TEST(Template, MissingNamesRenderNothing) { EXPECT_EQ(render("[{{nothing}}][{{{nothing}}}]", {}), "[][]"); }

TEST(Template, SectionRepeatsOverAList) {
  TemplateData data;
  data.lists["people"] = {item("name", "Anna"), item("name", "Ben"), item("name", "<Cleo>")};
  EXPECT_EQ(render("{{#people}}<li>{{name}}</li>{{/people}}", data),
            "<li>Anna</li><li>Ben</li><li>&lt;Cleo&gt;</li>");
}

TEST(Template, SectionOnAFlagOrTextShowsOnceWhenTrue) {
  TemplateData data;
  data.flags["yes"] = true;
  data.flags["no"] = false;
  data.text["couple"] = "Anna & Ben";
  data.text["empty"] = "";
  EXPECT_EQ(render("{{#yes}}Y{{/yes}}{{#no}}N{{/no}}{{#missing}}M{{/missing}}", data), "Y");
  EXPECT_EQ(render("{{#couple}}<p>{{couple}}</p>{{/couple}}{{#empty}}E{{/empty}}", data), "<p>Anna &amp; Ben</p>");
}

TEST(Template, EmptyListRendersNothingAndInvertedRendersOnce) {
  TemplateData data;
  data.lists["photos"] = {};
  EXPECT_EQ(render("{{#photos}}x{{/photos}}{{^photos}}No photos yet.{{/photos}}", data), "No photos yet.");
  data.lists["photos"] = {item("a", "1"), item("a", "2")};
  EXPECT_EQ(render("{{#photos}}x{{/photos}}{{^photos}}No photos yet.{{/photos}}", data), "xx");
}

TEST(Template, InvertedSectionOnFlagsTextAndMissing) {
  TemplateData data;
  data.flags["on"] = true;
  data.flags["off"] = false;
  data.text["empty"] = "";
  data.text["full"] = "x";
  EXPECT_EQ(render("{{^on}}1{{/on}}{{^off}}2{{/off}}{{^empty}}3{{/empty}}{{^full}}4{{/full}}{{^missing}}5{{/missing}}",
                   data),
            "235");
}

TEST(Template, NestedSectionsSeeOuterNames) {
  TemplateData section_a = item("label", "Ceremony");
  section_a.lists["photos"] = {item("alt", "Rings"), item("alt", "Kiss")};
  TemplateData section_b = item("label", "Party");
  section_b.lists["photos"] = {item("alt", "Cake")};
  TemplateData data = item("title", "T");
  data.lists["sections"] = {section_a, section_b};
  EXPECT_EQ(render("{{#sections}}<h2>{{label}}</h2>{{#photos}}[{{alt}}/{{label}}/{{title}}]{{/photos}}{{/sections}}",
                   data),
            "<h2>Ceremony</h2>[Rings/Ceremony/T][Kiss/Ceremony/T]<h2>Party</h2>[Cake/Party/T]");
}

TEST(Template, InnerItemHidesOuterName) {
  TemplateData data = item("name", "outer");
  data.lists["items"] = {item("name", "inner"), TemplateData{}};
  EXPECT_EQ(render("{{#items}}{{name}},{{/items}}", data), "inner,outer,");
}

TEST(Template, SameNameNestedTwice) {
  TemplateData inner;
  inner.lists["a"] = {item("v", "2")};
  TemplateData data;
  data.lists["a"] = {inner};
  EXPECT_EQ(render("{{#a}}<{{#a}}{{v}}{{/a}}>{{/a}}", data), "<2>");
}

TEST(Template, StandaloneSectionLinesLeaveNoBlankLines) {
  TemplateData data;
  data.lists["items"] = {item("x", "1"), item("x", "2")};
  data.flags["hidden"] = false;
  std::string text =
      "<ul>\n"
      "  {{#items}}\n"
      "  <li>{{x}}</li>\n"
      "  {{/items}}\n"
      "  {{! a comment on its own line }}\n"
      "  {{#hidden}}\n"
      "  <li>hidden</li>\n"
      "  {{/hidden}}\n"
      "</ul>\n";
  EXPECT_EQ(render(text, data), "<ul>\n  <li>1</li>\n  <li>2</li>\n</ul>\n");
  // A tag sharing its line with other content keeps the line as it is.
  EXPECT_EQ(render("a {{#items}}{{x}}{{/items}} b\n", data), "a 12 b\n");
}

TEST(Template, CommentsRenderNothing) {
  EXPECT_EQ(render("a{{! anything {{ at all\n over lines }}b", {}), "ab");
}

TEST(Template, UnclosedSectionNamesFileAndOpeningLine) {
  auto error = parse_error("<html>\n<body>\n{{#photos}}\n<p>x</p>\n</body>\n", "my-template/index.html");
  EXPECT_EQ(error, "my-template/index.html:3: section 'photos' is never closed");
}

TEST(Template, MismatchedCloseNamesBothLines) {
  auto error = parse_error("{{#a}}\n{{#b}}\n{{/a}}\n{{/b}}\n");
  EXPECT_EQ(error, "page.html:3: '{{/a}}' does not close section 'b' opened on line 2");
}

TEST(Template, CloseWithoutOpen) {
  EXPECT_EQ(parse_error("one\ntwo {{/photos}}\n"), "page.html:2: '{{/photos}}' closes no open section");
}

TEST(Template, UnterminatedTagNamesItsLine) {
  auto error = parse_error("line 1\nline 2\n<p>{{title</p>\n");
  EXPECT_TRUE(error.starts_with("page.html:3: tag '{{title</p>...' is never closed")) << error;
  EXPECT_TRUE(parse_error("{{{raw}}").starts_with("page.html:1: tag '{{{raw}}' is never closed"))
      << parse_error("{{{raw}}");
}

TEST(Template, UnsupportedTagSyntaxIsAnError) {
  for (const char* text : {"{{>partial}}", "{{=<% %>=}}", "{{a.b}}", "{{.}}", "{{}}", "{{#}}x{{/}}", "{{two words}}",
                           "{{{a b}}}"}) {
    auto error = parse_error(std::string("ok\n") + text);
    EXPECT_TRUE(error.starts_with("page.html:2: unsupported tag")) << text << " -> " << error;
  }
}

TEST(Template, LineNumbersCountNewlinesInsideComments) {
  auto error = parse_error("{{! one\ntwo\nthree }}\n{{#x}}\n");
  EXPECT_EQ(error, "page.html:4: section 'x' is never closed");
}

}  // namespace
