#include "rules/placeholders.h"

#include <cstdint>
#include <cstring>
#include <string>

#include "parser/utf8.h"

namespace postdesk {
namespace {

constexpr size_t kPlaceholderCount = static_cast<size_t>(Placeholder::kCount);
static_assert(kPlaceholderCount <= 32, "used() is a 32-bit mask");
// Offsets into literals_ are 32-bit: a template has at most 4 bytes per code point.
static_assert(MessageTemplate::kMaxTemplateChars * 4 <= UINT32_MAX);

// Indexed by Placeholder; the array size makes a new enumerator without a name a compile error.
constexpr std::array<std::string_view, kPlaceholderCount> kCanonicalNames = {
    "ticket.id",
    "ticket.title",
    "ticket.description",
    "ticket.latest_comment",
    "ticket.latest_public_comment",
    "ticket.comments_formatted",
    "ticket.status",
    "ticket.priority",
    "ticket.ticket_type",
    "ticket.via",
    "ticket.requester.name",
    "ticket.requester.first_name",
    "ticket.requester.email",
    "ticket.received_at",
    "ticket.brand",
    "ticket.tags",
    "ticket.assignee.name",
    "ticket.group.name",
    "ticket.created_at",
    "ticket.updated_at",
    "ticket.url",
    "ticket.encoded_id",
    "current_user.name",
    "current_user.email",
};

// Other spellings Zendesk accepts, so that triggers copied from a Zendesk account compile.
struct Alias {
  std::string_view name;
  Placeholder placeholder;
};
constexpr std::array<Alias, 4> kAliases = {{
    {"ticket.type", Placeholder::kTicketType},
    {"ticket.recipient", Placeholder::kTicketReceivedAt},
    {"ticket.brand.name", Placeholder::kTicketBrand},
    {"ticket.link", Placeholder::kTicketUrl},
}};

// Error messages quote what the administrator wrote; a runaway "{{" that swallowed a paragraph
// should not make the message a paragraph too.
constexpr size_t kMaxQuotedChars = 64;

bool LookUp(std::string_view name, Placeholder* placeholder) {
  for (size_t i = 0; i < kCanonicalNames.size(); ++i) {
    if (kCanonicalNames[i] == name) {
      *placeholder = static_cast<Placeholder>(i);
      return true;
    }
  }
  for (const Alias& alias : kAliases) {
    if (alias.name == name) {
      *placeholder = alias.placeholder;
      return true;
    }
  }
  return false;
}

// Liquid's whitespace: what it strips inside "{{ }}".
bool IsLiquidSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view TrimLiquidSpace(std::string_view s) {
  while (!s.empty() && IsLiquidSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsLiquidSpace(s.back())) s.remove_suffix(1);
  return s;
}

// 1-based position in code points of byte `offset` of valid UTF-8 `text`, as an editor shows it.
// Only computed for an error, so its linear cost is paid once.
size_t CharacterAt(std::string_view text, size_t offset) {
  return CountCodePoints(text.substr(0, offset)) + 1;
}

std::string Quote(std::string_view inner) {
  std::string quoted = "{{";
  const size_t keep = PrefixBytesForCodePoints(inner, kMaxQuotedChars);
  quoted.append(inner.substr(0, keep));
  if (keep < inner.size()) quoted += "...";
  quoted += "}}";
  return quoted;
}

// Byte offset of the next "{{" or "{%" at or after `from`, or npos. A lone "{" is literal text.
size_t FindMarkup(std::string_view text, size_t from) {
  for (size_t i = text.find('{', from); i != std::string_view::npos; i = text.find('{', i + 1)) {
    if (i + 1 < text.size() && (text[i + 1] == '{' || text[i + 1] == '%')) return i;
  }
  return std::string_view::npos;
}

// Validates UTF-8 and the length in the same pass, stopping at the first code point past the
// limit so that the work is bounded whatever the caller passes in.
Status CheckText(std::string_view text) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++chars) {
    if (chars == MessageTemplate::kMaxTemplateChars) {
      return Status::Error("template is longer than " +
                           std::to_string(MessageTemplate::kMaxTemplateChars) + " characters");
    }
    const size_t length = ValidSequenceLength(text.substr(i));
    if (length == 0) {
      return Status::Error("template is not valid UTF-8 at character " + std::to_string(chars + 1));
    }
    i += length;
  }
  return Status::Ok();
}

}  // namespace

std::string_view PlaceholderName(Placeholder p) {
  const auto index = static_cast<size_t>(p);
  return index < kCanonicalNames.size() ? kCanonicalNames[index] : std::string_view();
}

Result<MessageTemplate> MessageTemplate::Compile(std::string_view text) {
  if (Status status = CheckText(text); !status.ok()) return status;

  MessageTemplate compiled;
  compiled.literals_.reserve(text.size());
  size_t literal_begin = 0;  // in literals_: where the current segment's literal text starts
  auto end_segment = [&compiled, &literal_begin](Placeholder placeholder) {
    compiled.segments_.push_back({static_cast<uint32_t>(literal_begin),
                                  static_cast<uint32_t>(compiled.literals_.size() - literal_begin),
                                  placeholder});
    literal_begin = compiled.literals_.size();
  };

  // Each iteration consumes one literal run and one "{{...}}"; every search starts where the
  // previous one ended, so the whole parse is linear.
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = FindMarkup(text, pos);
    if (open == std::string_view::npos) {
      compiled.literals_.append(text.substr(pos));
      break;
    }
    compiled.literals_.append(text.substr(pos, open - pos));
    // Built only on the way out: counting characters on every placeholder would make the parse
    // quadratic.
    auto at = [text, open] { return " at character " + std::to_string(CharacterAt(text, open)); };
    if (text[open + 1] == '%') {
      // Refused rather than copied through: an "{% if %}" printed verbatim to a requester is a
      // broken notification, and evaluating it is a language we do not want to host.
      return Status::Error("Liquid tags are not supported: {%" + at());
    }
    const size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) return Status::Error("unterminated {{" + at());
    const std::string_view inner = text.substr(open + 2, close - open - 2);
    const std::string_view name = TrimLiquidSpace(inner);
    if (name.find('|') != std::string_view::npos) {
      return Status::Error("filters are not supported: " + Quote(inner) + at());
    }
    if (name.empty()) return Status::Error("empty placeholder " + Quote(inner) + at());
    Placeholder placeholder;
    if (!LookUp(name, &placeholder)) {
      return Status::Error("unknown placeholder " + Quote(name) + at());
    }
    end_segment(placeholder);
    ++compiled.occurrences_[static_cast<size_t>(placeholder)];
    compiled.used_ |= PlaceholderBit(placeholder);
    pos = close + 2;
  }
  if (compiled.literals_.size() > literal_begin) end_segment(Placeholder::kCount);
  return compiled;
}

std::string MessageTemplate::Render(const PlaceholderValues& values) const {
  PlaceholderViews views;
  for (size_t i = 0; i < kPlaceholderCount; ++i) views[i] = values[i];
  return Render(views);
}

std::string MessageTemplate::Render(const PlaceholderViews& values) const {
  size_t size = literals_.size();
  for (size_t i = 0; i < kPlaceholderCount; ++i) size += occurrences_[i] * values[i].size();
  // Sized exactly once, then filled: no capacity check per piece.
  std::string out(size, '\0');
  char* next = out.data();
  for (const Segment& segment : segments_) {
    std::memcpy(next, literals_.data() + segment.literal_begin, segment.literal_size);
    next += segment.literal_size;
    if (segment.placeholder != Placeholder::kCount) {
      std::string_view value = values[static_cast<size_t>(segment.placeholder)];
      if (!value.empty()) std::memcpy(next, value.data(), value.size());
      next += value.size();
    }
  }
  return out;
}

}  // namespace postdesk
