#include "rules/placeholders.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>

#include "parser/utf8.h"

namespace postdesk {
namespace {

// Every placeholder's value names it, so a mix-up between two placeholders shows in the output.
PlaceholderValues NamedValues() {
  PlaceholderValues values;
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = "<" + std::string(PlaceholderName(static_cast<Placeholder>(i))) + ">";
  }
  return values;
}

std::string Value(Placeholder p) { return NamedValues()[static_cast<size_t>(p)]; }

std::string Render(std::string_view text, const PlaceholderValues& values = NamedValues()) {
  Result<MessageTemplate> compiled = MessageTemplate::Compile(text);
  EXPECT_TRUE(compiled.ok()) << compiled.status().message();
  return compiled.ok() ? compiled->Render(values) : std::string();
}

std::string CompileError(std::string_view text) {
  Result<MessageTemplate> compiled = MessageTemplate::Compile(text);
  EXPECT_FALSE(compiled.ok()) << "compiled: " << text;
  return compiled.ok() ? std::string() : compiled.status().message();
}

std::string Repeat(std::string_view piece, size_t times) {
  std::string out;
  for (size_t i = 0; i < times; ++i) out.append(piece);
  return out;
}

TEST(MessageTemplate, EveryPlaceholderNameAndAliasRendersItsValue) {
  const std::pair<std::string_view, Placeholder> kNames[] = {
      {"ticket.id", Placeholder::kTicketId},
      {"ticket.title", Placeholder::kTicketTitle},
      {"ticket.description", Placeholder::kTicketDescription},
      {"ticket.latest_comment", Placeholder::kTicketLatestComment},
      {"ticket.latest_public_comment", Placeholder::kTicketLatestPublicComment},
      {"ticket.comments_formatted", Placeholder::kTicketCommentsFormatted},
      {"ticket.status", Placeholder::kTicketStatus},
      {"ticket.priority", Placeholder::kTicketPriority},
      {"ticket.ticket_type", Placeholder::kTicketType},
      {"ticket.type", Placeholder::kTicketType},
      {"ticket.via", Placeholder::kTicketVia},
      {"ticket.requester.name", Placeholder::kTicketRequesterName},
      {"ticket.requester.first_name", Placeholder::kTicketRequesterFirstName},
      {"ticket.requester.email", Placeholder::kTicketRequesterEmail},
      {"ticket.received_at", Placeholder::kTicketReceivedAt},
      {"ticket.recipient", Placeholder::kTicketReceivedAt},
      {"ticket.brand", Placeholder::kTicketBrand},
      {"ticket.brand.name", Placeholder::kTicketBrand},
      {"ticket.tags", Placeholder::kTicketTags},
      {"ticket.assignee.name", Placeholder::kTicketAssigneeName},
      {"ticket.group.name", Placeholder::kTicketGroupName},
      {"ticket.created_at", Placeholder::kTicketCreatedAt},
      {"ticket.updated_at", Placeholder::kTicketUpdatedAt},
      {"ticket.url", Placeholder::kTicketUrl},
      {"ticket.link", Placeholder::kTicketUrl},
      {"ticket.encoded_id", Placeholder::kTicketEncodedId},
      {"current_user.name", Placeholder::kCurrentUserName},
      {"current_user.email", Placeholder::kCurrentUserEmail},
  };
  std::set<Placeholder> covered;
  for (const auto& [name, placeholder] : kNames) {
    SCOPED_TRACE(name);
    const std::string text = "before {{" + std::string(name) + "}} after";
    Result<MessageTemplate> compiled = MessageTemplate::Compile(text);
    ASSERT_TRUE(compiled.ok()) << compiled.status().message();
    EXPECT_EQ(compiled->Render(NamedValues()), "before " + Value(placeholder) + " after");
    EXPECT_EQ(compiled->used(), PlaceholderBit(placeholder));
    covered.insert(placeholder);
  }
  // The table above names every placeholder, so a new one cannot be added without a test.
  EXPECT_EQ(covered.size(), static_cast<size_t>(Placeholder::kCount));
}

TEST(MessageTemplate, CanonicalNameOfEveryPlaceholderCompilesBackToIt) {
  for (size_t i = 0; i < static_cast<size_t>(Placeholder::kCount); ++i) {
    const auto placeholder = static_cast<Placeholder>(i);
    SCOPED_TRACE(PlaceholderName(placeholder));
    ASSERT_FALSE(PlaceholderName(placeholder).empty());
    EXPECT_EQ(Render("{{" + std::string(PlaceholderName(placeholder)) + "}}"), Value(placeholder));
  }
  EXPECT_EQ(PlaceholderName(Placeholder::kTicketId), "ticket.id");
  EXPECT_EQ(PlaceholderName(Placeholder::kCount), "");
}

TEST(MessageTemplate, WhitespaceInsideBracesIsAllowed) {
  EXPECT_EQ(Render("#{{ ticket.id }}#"), "#<ticket.id>#");
  EXPECT_EQ(Render("#{{ticket.id   }}#"), "#<ticket.id>#");
  EXPECT_EQ(Render("#{{\tticket.status\r\n}}#"), "#<ticket.status>#");
}

TEST(MessageTemplate, SingleBracesAreLiteralText) {
  const std::string text = "a { b } c {ticket.id} }} { {x} ends with {";
  EXPECT_EQ(Render(text), text);
}

TEST(MessageTemplate, UnterminatedDoubleBraceIsRefused) {
  EXPECT_EQ(CompileError("Hello {{ticket.id"), "unterminated {{ at character 7");
  EXPECT_EQ(CompileError("{{"), "unterminated {{ at character 1");
  EXPECT_EQ(CompileError("{{ticket.id}} and {{ticket.status }"), "unterminated {{ at character 19");
}

TEST(MessageTemplate, UnknownPlaceholderIsRefusedWithItsNameAndPosition) {
  EXPECT_EQ(CompileError("Hello, see {{ticket.foo}}"),
            "unknown placeholder {{ticket.foo}} at character 12");
  // Positions count characters, not bytes: "Grüße " is 6 characters and 8 bytes.
  EXPECT_EQ(CompileError("Grüße {{ ticket.foo }}"),
            "unknown placeholder {{ticket.foo}} at character 7");
  // Liquid names are case-sensitive.
  EXPECT_EQ(CompileError("{{Ticket.Id}}"), "unknown placeholder {{Ticket.Id}} at character 1");
  EXPECT_EQ(CompileError("{{ticket}}"), "unknown placeholder {{ticket}} at character 1");
  EXPECT_EQ(CompileError("x {{  }}"), "empty placeholder {{  }} at character 3");
  // A runaway name is quoted, but not in full.
  const std::string message = CompileError("{{" + Repeat("x", 1000) + "}}");
  EXPECT_LT(message.size(), 120u) << message;
}

TEST(MessageTemplate, LiquidFiltersAreRefused) {
  EXPECT_EQ(CompileError("Re: {{ticket.title | upcase}}"),
            "filters are not supported: {{ticket.title | upcase}} at character 5");
  EXPECT_NE(CompileError("{{ticket.title|truncate: 20}}").find("filters are not supported"),
            std::string::npos);
}

TEST(MessageTemplate, LiquidTagsAreRefused) {
  EXPECT_EQ(CompileError("ok {% if ticket.status == 'solved' %}Solved{% endif %}"),
            "Liquid tags are not supported: {% at character 4");
  EXPECT_NE(CompileError("{%- comment -%}").find("Liquid tags are not supported"),
            std::string::npos);
  EXPECT_NE(CompileError("100{%").find("Liquid tags are not supported"), std::string::npos);
}

// "{{ticket.id}}" (13 characters) then 3-, 2- and 4-byte characters, padded with ASCII to
// exactly `chars` code points: several times as many bytes as characters.
std::string MultiByteTemplate(size_t chars) {
  const size_t triples = (chars - 13) / 3;
  std::string text =
      "{{ticket.id}}" + Repeat("€é😀", triples) + Repeat("a", chars - 13 - 3 * triples);
  EXPECT_EQ(CountCodePoints(text), chars);
  EXPECT_GT(text.size(), 2 * chars);
  return text;
}

TEST(MessageTemplate, ExactlyMaxCharactersOfMultiByteTextAreAccepted) {
  const std::string text = MultiByteTemplate(MessageTemplate::kMaxTemplateChars);
  PlaceholderValues values;
  values[static_cast<size_t>(Placeholder::kTicketId)] = "42";
  EXPECT_EQ(Render(text, values), "42" + text.substr(13));
  EXPECT_TRUE(MessageTemplate::Compile(Repeat("a", MessageTemplate::kMaxTemplateChars)).ok());
}

TEST(MessageTemplate, OneCharacterOverTheMaximumIsRefused) {
  EXPECT_EQ(CompileError(MultiByteTemplate(MessageTemplate::kMaxTemplateChars + 1)),
            "template is longer than 8192 characters");
  EXPECT_EQ(CompileError(Repeat("a", MessageTemplate::kMaxTemplateChars + 1)),
            "template is longer than 8192 characters");
}

TEST(MessageTemplate, InvalidUtf8IsRefused) {
  EXPECT_EQ(CompileError("abc\xff"), "template is not valid UTF-8 at character 4");
  EXPECT_EQ(CompileError("é\xC0\xAF"), "template is not valid UTF-8 at character 2");  // overlong
  EXPECT_FALSE(MessageTemplate::Compile("\xE2\x82").ok());                             // truncated
  EXPECT_FALSE(MessageTemplate::Compile("\xED\xA0\x80").ok());                         // surrogate
  EXPECT_FALSE(MessageTemplate::Compile("{{ticket.id\xff}}").ok());
}

TEST(MessageTemplate, UsedMaskHasOneBitPerPlaceholderThatOccurs) {
  Result<MessageTemplate> compiled = MessageTemplate::Compile(
      "{{ticket.id}} {{ticket.link}} {{ ticket.url }} {{current_user.email}} {{ticket.id}}");
  ASSERT_TRUE(compiled.ok()) << compiled.status().message();
  EXPECT_EQ(compiled->used(), PlaceholderBit(Placeholder::kTicketId) |
                                  PlaceholderBit(Placeholder::kTicketUrl) |
                                  PlaceholderBit(Placeholder::kCurrentUserEmail));
  EXPECT_EQ(MessageTemplate::Compile("no placeholders")->used(), 0u);
}

TEST(MessageTemplate, TemplateWithoutPlaceholdersRendersVerbatim) {
  const std::string text = "Dear customer,\r\n\r\nwe received your request. Grüße, 😀\n";
  EXPECT_EQ(Render(text), text);
  EXPECT_EQ(Render(""), "");
}

TEST(MessageTemplate, AdjacentPlaceholdersRenderBackToBack) {
  PlaceholderValues values;
  values[static_cast<size_t>(Placeholder::kTicketId)] = "42";
  values[static_cast<size_t>(Placeholder::kTicketStatus)] = "open";
  EXPECT_EQ(Render("{{ticket.id}}{{ticket.status}}", values), "42open");
}

TEST(MessageTemplate, RepeatedPlaceholderRendersEveryTime) {
  EXPECT_EQ(Render("{{ticket.id}}-{{ticket.id}}-{{ticket.id}}"),
            "<ticket.id>-<ticket.id>-<ticket.id>");
}

TEST(MessageTemplate, ValuesAreCopiedVerbatimAndNotExpandedAgain) {
  PlaceholderValues values;
  values[static_cast<size_t>(Placeholder::kTicketTitle)] = "{{ticket.id}} {% if %} <b>";
  values[static_cast<size_t>(Placeholder::kTicketId)] = "42";
  EXPECT_EQ(Render("Re: {{ticket.title}}", values), "Re: {{ticket.id}} {% if %} <b>");
}

TEST(MessageTemplate, CopiedAndMovedTemplatesStillRender) {
  // Short enough for the small-string buffer, where views into a moved string would dangle.
  Result<MessageTemplate> compiled = MessageTemplate::Compile("a{{ticket.id}}b");
  ASSERT_TRUE(compiled.ok());
  MessageTemplate copy = compiled.value();
  MessageTemplate moved = std::move(compiled).value();
  PlaceholderValues values;
  values[static_cast<size_t>(Placeholder::kTicketId)] = "7";
  EXPECT_EQ(copy.Render(values), "a7b");
  EXPECT_EQ(moved.Render(values), "a7b");
}

}  // namespace
}  // namespace postdesk
