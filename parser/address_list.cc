#include "parser/address_list.h"

#include "parser/encoded_words.h"
#include "parser/utf8.h"

namespace postdesk {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Reads a quoted string starting at s[*i] == '"', appending its content (quoted pairs resolved)
// to `content` and its exact text to `raw` when given.
void ReadQuoted(std::string_view s, size_t* i, std::string* content, std::string* raw) {
  if (raw) raw->push_back('"');
  ++*i;
  while (*i < s.size() && s[*i] != '"') {
    char c = s[*i];
    if (c == '\\' && *i + 1 < s.size()) {
      if (raw) raw->push_back(c);
      c = s[++*i];
    }
    if (c != '\r' && c != '\n') {
      content->push_back(c);
      if (raw) raw->push_back(c);
    }
    ++*i;
  }
  if (*i < s.size()) ++*i;
  if (raw) raw->push_back('"');
}

// Reads a comment starting at s[*i] == '(' into `content` (nested parentheses kept as text).
void ReadComment(std::string_view s, size_t* i, std::string* content) {
  size_t depth = 0;
  while (*i < s.size()) {
    char c = s[*i];
    if (c == '\\' && *i + 1 < s.size()) {
      content->push_back(s[*i + 1]);
      *i += 2;
      continue;
    }
    ++*i;
    if (c == '(') {
      if (depth++ == 0) continue;
    } else if (c == ')') {
      if (--depth == 0) return;
    }
    if (c != '\r' && c != '\n') content->push_back(c);
  }
}

// Drops blanks outside quoted strings and an RFC 5322 4.4 obs-route ("@a,@b:") prefix; the
// result replaces `out`.
void CleanAddress(std::string_view text, std::string* out_text) {
  std::string& out = *out_text;
  out.clear();
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') quoted = !quoted;
    if (c == '\\' && quoted && i + 1 < text.size()) {
      out.push_back(c);
      out.push_back(text[++i]);
      continue;
    }
    if (!quoted && IsBlank(c)) continue;
    out.push_back(c);
  }
  if (!out.empty() && out[0] == '@') {
    const size_t colon = out.find(':');
    if (colon != std::string::npos) out.erase(0, colon + 1);
  }
  if (!IsValidUtf8(out)) {
    std::string repaired;
    AppendRepairedUtf8(out, &repaired);
    out.swap(repaired);
  }
}

// The mailbox being read. Its strings, and the mailboxes it finishes into, keep their storage
// from one list to the next: one builder per thread.
class MailboxBuilder {
 public:
  void Reset() {
    phrase_.clear();
    phrase_raw_.clear();
    comment_.clear();
    angle_.clear();
    has_angle_ = false;
  }

  // Finishes the current mailbox into slot *count of `out` if it holds anything.
  void Finish(std::vector<Mailbox>* out, size_t* count) {
    if (*count == out->size()) out->emplace_back();
    Mailbox& mailbox = (*out)[*count];
    if (has_angle_) {
      CleanAddress(angle_, &mailbox.address);
      AssignDecodedHeaderText(phrase_, &mailbox.name);
    } else {
      CleanAddress(phrase_raw_, &mailbox.address);
      AssignDecodedHeaderText(comment_, &mailbox.name);
    }
    if (!mailbox.address.empty() || !mailbox.name.empty()) ++*count;
    Reset();
  }

  std::string phrase_;      // display-name text, quotes removed (for decoding)
  std::string phrase_raw_;  // the same text as written (for a bare addr-spec)
  std::string comment_;     // the last comment (legacy "addr (Name)")
  std::string angle_;       // inside <...>
  bool has_angle_ = false;
};

}  // namespace

std::vector<Mailbox> ParseAddressList(std::string_view s, size_t max_mailboxes) {
  std::vector<Mailbox> out;
  ParseAddressList(s, max_mailboxes, &out);
  return out;
}

void ParseAddressList(std::string_view s, size_t max_mailboxes, std::vector<Mailbox>* out) {
  thread_local MailboxBuilder current;
  thread_local std::string ignored;
  current.Reset();
  size_t count = 0;
  size_t i = 0;
  while (i < s.size() && count < max_mailboxes) {
    const char c = s[i];
    switch (c) {
      case '"':
        if (current.has_angle_) {
          ++i;  // text after the angle address is not part of the mailbox
        } else {
          ReadQuoted(s, &i, &current.phrase_, &current.phrase_raw_);
        }
        break;
      case '(':
        current.comment_.clear();
        ReadComment(s, &i, &current.comment_);
        current.phrase_.push_back(' ');  // a comment separates words (RFC 5322 3.2.2)
        break;
      case '<': {
        ++i;
        current.has_angle_ = true;
        current.angle_.clear();
        while (i < s.size() && s[i] != '>') {
          if (s[i] == '"') {
            ignored.clear();
            ReadQuoted(s, &i, &ignored, &current.angle_);
            continue;
          }
          if (s[i] == '(') {
            ignored.clear();
            ReadComment(s, &i, &ignored);
            continue;
          }
          size_t j = i + 1;
          while (j < s.size() && s[j] != '>' && s[j] != '"' && s[j] != '(') ++j;
          current.angle_.append(s.data() + i, j - i);
          i = j;
        }
        if (i < s.size()) ++i;
        break;
      }
      case ':':
        // A group's display name ends here (RFC 5322 3.4): its mailboxes follow.
        if (!current.has_angle_) current.Reset();
        ++i;
        break;
      case ',':
      case ';':
        current.Finish(out, &count);
        ++i;
        break;
      default: {
        // A run of ordinary characters is appended in one piece.
        size_t j = i + 1;
        while (j < s.size() && s[j] != '"' && s[j] != '(' && s[j] != '<' && s[j] != ':' &&
               s[j] != ',' && s[j] != ';') {
          ++j;
        }
        if (!current.has_angle_) {
          current.phrase_.append(s.data() + i, j - i);
          current.phrase_raw_.append(s.data() + i, j - i);
        }
        i = j;
        break;
      }
    }
  }
  if (count < max_mailboxes) current.Finish(out, &count);
  out->resize(count);
}

}  // namespace postdesk
