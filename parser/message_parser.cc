// ParseMessage: the MIME walk that ties the pieces together.
//
// The structure is read by our own bounded code (header_block.h, multipart.h) rather than
// mimetic: mimetic 0.9.8 reads out of bounds on several inputs (design.md, "Parsing"), recurses
// once per nesting level without a bound, and copies every part into std::strings, which alone
// would miss the throughput goal. Here the raw message is never copied: parts are string_views,
// attachments are measured without being decoded, and only the chosen text part is decoded.
//
// The tree is built iteratively, in document order, with an explicit stack whose size is bounded
// by ParseLimits::max_parts; nothing recurses.
#include "parser/message_parser.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "parser/address_list.h"
#include "parser/charset.h"
#include "parser/encoded_words.h"
#include "parser/header_block.h"
#include "parser/html_to_text.h"
#include "parser/mime_parameters.h"
#include "parser/multipart.h"
#include "parser/transfer_decoding.h"
#include "parser/utf8.h"

namespace postdesk {
namespace {

constexpr uint32_t kNoParent = UINT32_MAX;
constexpr size_t kMaxRecipients = 1000;  // per address header; the rest is ignored
constexpr size_t kMaxReferences = 500;   // Message-IDs kept from References
// Text decoded for the description before the final cut at kMaxDescriptionCodePoints: a UTF-8
// code point is at most 4 bytes, and CRLF -> LF can halve the count, so 8 bytes per code point
// is always enough to fill the description.
constexpr size_t kTextBudgetBytes = 8 * kMaxDescriptionCodePoints + 8;

struct Part {
  std::string_view raw;     // headers and body
  std::string_view body;    // encoded body
  std::string media_type;   // lower case type/subtype, defaulted per RFC 2045 5.2
  std::string charset;      // the charset parameter as written
  std::string disposition;  // lower case: "attachment", "inline" or ""
  std::string filename;     // decoded
  std::string content_id;   // without angle brackets
  std::string start;        // multipart/related "start" (RFC 2387 3.2), without brackets
  TransferEncoding encoding = TransferEncoding::kIdentity;
  uint32_t parent = kNoParent;
  uint32_t depth = 0;
  std::vector<uint32_t> children;
  bool container = false;  // a multipart that was split (its children carry the content)
  bool dropped = false;    // a multipart beyond the depth or part limit: neither text nor file

  // Makes a part kept from an earlier message a new one; its strings keep their storage.
  void Reset() {
    raw = body = {};
    media_type.clear();
    charset.clear();
    disposition.clear();
    filename.clear();
    content_id.clear();
    start.clear();
    encoding = TransferEncoding::kIdentity;
    parent = kNoParent;
    depth = 0;
    children.clear();
    container = dropped = false;
  }

  bool IsText(std::string_view subtype) const {
    return media_type.size() == 5 + subtype.size() && media_type.compare(0, 5, "text/") == 0 &&
           media_type.compare(5, std::string::npos, subtype) == 0;
  }
};

class WarningList {
 public:
  explicit WarningList(std::vector<std::string>* warnings) : warnings_(warnings) {}
  void Add(std::string_view text) {
    for (const auto& w : *warnings_) {
      if (w == text) return;
    }
    warnings_->emplace_back(text);
  }

 private:
  std::vector<std::string>* warnings_;
};

std::string_view StripAngles(std::string_view v) {
  v = TrimBlanks(v);
  if (!v.empty() && v.front() == '<') {
    v.remove_prefix(1);
    const size_t close = v.find('>');
    if (close != std::string_view::npos) v = v.substr(0, close);
  }
  return TrimBlanks(v);
}

// Unfolded, trimmed, valid UTF-8 copy of a raw header value, into `out`.
void AssignRawValue(std::string_view value, std::string* out) {
  value = TrimBlanks(value);
  out->clear();
  for (char c : value) {
    if (c != '\r' && c != '\n') out->push_back(c);
  }
  if (IsValidUtf8(*out)) return;
  std::string repaired;
  AppendRepairedUtf8(*out, &repaired);
  out->swap(repaired);
}

void AssignMessageIdValue(std::string_view value, std::string* out) {
  AssignRawValue(StripAngles(value), out);
}

// A vector of strings refilled in place: the first `count` elements are this message's, and the
// rest keep their storage until Finish() trims them.
class StringListWriter {
 public:
  explicit StringListWriter(std::vector<std::string>* list) : list_(list) {}
  size_t size() const { return count_; }
  std::string& Next() {
    if (count_ == list_->size()) list_->emplace_back();
    return (*list_)[count_++];
  }
  void DropLast() { --count_; }
  void Finish() { list_->resize(count_); }

 private:
  std::vector<std::string>* list_;
  size_t count_ = 0;
};

// References and In-Reply-To hold msg-ids "<a@b>" (RFC 5322 3.6.4); old mailers separate bare
// ids with blanks, and some put phrases in between. Angle-bracketed ids win when present.
void MessageIdList(std::string_view value, size_t max_ids, StringListWriter* ids) {
  size_t i = 0;
  const size_t first = ids->size();
  bool angled = value.find('<') != std::string_view::npos;
  while (i < value.size() && ids->size() - first < max_ids) {
    if (angled) {
      const size_t open = value.find('<', i);
      if (open == std::string_view::npos) break;
      const size_t close = value.find('>', open + 1);
      const size_t end = close == std::string_view::npos ? value.size() : close;
      std::string& id = ids->Next();
      AssignRawValue(value.substr(open + 1, end - open - 1), &id);
      if (id.empty()) ids->DropLast();
      i = end + 1;
    } else {
      while (i < value.size() && (value[i] == ' ' || value[i] == '\t' || value[i] == '\r' ||
                                  value[i] == '\n' || value[i] == ',')) {
        ++i;
      }
      const size_t start = i;
      while (i < value.size() && value[i] != ' ' && value[i] != '\t' && value[i] != '\r' &&
             value[i] != '\n' && value[i] != ',') {
        ++i;
      }
      if (i > start) AssignRawValue(value.substr(start, i - start), &ids->Next());
    }
  }
}

// Each thread's mailboxes, reused from one address header to the next.
std::vector<Mailbox>& ScratchMailboxes() {
  thread_local std::vector<Mailbox> mailboxes;
  return mailboxes;
}

void AppendAddresses(std::string_view value, StringListWriter* out) {
  if (out->size() >= kMaxRecipients) return;
  std::vector<Mailbox>& mailboxes = ScratchMailboxes();
  ParseAddressList(value, kMaxRecipients - out->size(), &mailboxes);
  for (Mailbox& mailbox : mailboxes) {
    if (!mailbox.address.empty()) out->Next().swap(mailbox.address);
  }
}

enum class Field {
  kTo,
  kCc,
  kFrom,
  kXLoop,
  kSubject,
  kListId,
  kReceived,
  kReplyTo,
  kMessageId,
  kReferences,
  kPrecedence,
  kInReplyTo,
  kXAutoreply,
  kDeliveredTo,
  kXAutorespond,
  kXOriginalTo,
  kAutoSubmitted,
  kXForwardedTo,
  kXAutoresponder,
  kListUnsubscribe,
  kXFailedRecipients,
  kXAutoResponseSuppress,
  kOther,
};

struct FieldName {
  std::string_view name;
  Field field;
};

constexpr FieldName kTopLevelFields[] = {
    {"To", Field::kTo},
    {"Cc", Field::kCc},
    {"From", Field::kFrom},
    {"X-Loop", Field::kXLoop},
    {"Subject", Field::kSubject},
    {"List-Id", Field::kListId},
    {"Received", Field::kReceived},
    {"Reply-To", Field::kReplyTo},
    {"Message-ID", Field::kMessageId},
    {"References", Field::kReferences},
    {"Precedence", Field::kPrecedence},
    {"In-Reply-To", Field::kInReplyTo},
    {"X-Autoreply", Field::kXAutoreply},
    {"Delivered-To", Field::kDeliveredTo},
    {"X-Autorespond", Field::kXAutorespond},
    {"X-Original-To", Field::kXOriginalTo},
    {"Auto-Submitted", Field::kAutoSubmitted},
    {"X-Forwarded-To", Field::kXForwardedTo},
    {"X-Autoresponder", Field::kXAutoresponder},
    {"List-Unsubscribe", Field::kListUnsubscribe},
    {"X-Failed-Recipients", Field::kXFailedRecipients},
    {"X-Auto-Response-Suppress", Field::kXAutoResponseSuppress},
};

Field Classify(std::string_view name) {
  for (const FieldName& entry : kTopLevelFields) {
    // The size check first: most fields are none of ours and fail it without touching bytes.
    if (entry.name.size() == name.size() && EqualsIgnoreCase(entry.name, name)) {
      return entry.field;
    }
  }
  return Field::kOther;
}

void SetOnce(std::optional<std::string>* slot, std::string_view value) {
  if (!slot->has_value()) AssignRawValue(value, &slot->emplace());
}

// The headers of the message itself (not of its parts) that later stages need. Where a field
// should appear once (RFC 5322 3.6 table) the first occurrence counts.
void ReadTopLevelHeaders(const HeaderBlock& block, ParsedMessage* m) {
  bool have_subject = false, have_from = false, have_message_id = false, have_reply = false;
  bool have_references = false;
  StringListWriter to(&m->to), cc(&m->cc), x_loop(&m->x_loop), reply_to(&m->reply_to);
  StringListWriter references(&m->references), delivered_to(&m->delivered_to);
  StringListWriter x_original_to(&m->x_original_to), x_forwarded_to(&m->x_forwarded_to);
  for (const HeaderField& field : block.fields) {
    const std::string_view value = field.value;
    switch (Classify(field.name)) {
      case Field::kTo:
        AppendAddresses(value, &to);
        break;
      case Field::kCc:
        AppendAddresses(value, &cc);
        break;
      case Field::kFrom: {
        if (have_from) break;
        std::vector<Mailbox>& mailboxes = ScratchMailboxes();
        ParseAddressList(value, 16, &mailboxes);
        for (Mailbox& mailbox : mailboxes) {
          if (mailbox.address.empty()) continue;
          m->from_email.swap(mailbox.address);
          m->from_name.swap(mailbox.name);
          have_from = true;
          break;
        }
        break;
      }
      case Field::kXLoop:
        if (x_loop.size() < kMaxRecipients) AssignRawValue(value, &x_loop.Next());
        break;
      case Field::kSubject:
        if (have_subject) break;
        AssignDecodedHeaderText(value, &m->subject);
        have_subject = true;
        break;
      case Field::kListId:
        SetOnce(&m->list_id, value);
        break;
      case Field::kReceived:
        ++m->received_count;
        break;
      case Field::kReplyTo:
        if (reply_to.size() == 0) AppendAddresses(value, &reply_to);
        break;
      case Field::kMessageId:
        if (have_message_id) break;
        AssignMessageIdValue(value, &m->message_id);
        have_message_id = true;
        break;
      case Field::kReferences:
        if (have_references) break;
        MessageIdList(value, kMaxReferences, &references);
        have_references = true;
        break;
      case Field::kPrecedence:
        if (m->precedence.empty()) AssignRawValue(value, &m->precedence);
        break;
      case Field::kInReplyTo: {
        if (have_reply) break;
        // RFC 5322 3.6.4 allows several ids; the first is the parent.
        thread_local std::vector<std::string> ids;
        StringListWriter first(&ids);
        MessageIdList(value, 1, &first);
        if (first.size() > 0) m->in_reply_to.swap(ids[0]);
        have_reply = true;
        break;
      }
      case Field::kXAutoreply:
        SetOnce(&m->x_autoreply, value);
        break;
      case Field::kDeliveredTo:
        AppendAddresses(value, &delivered_to);
        break;
      case Field::kXAutorespond:
        SetOnce(&m->x_autorespond, value);
        break;
      case Field::kXOriginalTo:
        AppendAddresses(value, &x_original_to);
        break;
      case Field::kAutoSubmitted:
        if (m->auto_submitted.empty()) AssignRawValue(value, &m->auto_submitted);
        break;
      case Field::kXForwardedTo:
        AppendAddresses(value, &x_forwarded_to);
        break;
      case Field::kXAutoresponder:
        SetOnce(&m->x_autoresponder, value);
        break;
      case Field::kListUnsubscribe:
        SetOnce(&m->list_unsubscribe, value);
        break;
      case Field::kXFailedRecipients:
        SetOnce(&m->x_failed_recipients, value);
        break;
      case Field::kXAutoResponseSuppress:
        SetOnce(&m->x_auto_response_suppress, value);
        break;
      case Field::kOther:
        break;
    }
  }
  for (StringListWriter* list : {&to, &cc, &x_loop, &reply_to, &references, &delivered_to,
                                 &x_original_to, &x_forwarded_to}) {
    list->Finish();
  }
}

// What one thread's parses reuse, so that a warm thread parses a small message without
// allocating: the part list (strings kept, count in part_count), the header block, the stacks,
// and the text buffers. Dropped after a large message (kMaxScratchMessageBytes) so that one
// big message does not pin its size in every thread.
struct Pending {
  std::string_view raw;
  uint32_t parent;
  uint32_t depth;
  bool digest_child;
};

struct ParseScratch {
  std::vector<Part> parts;
  HeaderBlock block;
  MultipartBody split;
  std::vector<Pending> stack;
  std::vector<uint32_t> body_stack;
  HeaderParameters content_type, disposition;
  std::string boundary, report_type, name_parameter;
  std::string decoded, text, plain;
};

constexpr size_t kMaxScratchMessageBytes = 256 * 1024;

// Fills a part's MIME attributes from its header block.
void ReadPartHeaders(const HeaderBlock& block, bool digest_child, Part* part,
                     ParseScratch* scratch) {
  const HeaderField* content_type = nullptr;
  const HeaderField* disposition = nullptr;
  for (const HeaderField& field : block.fields) {
    const std::string_view name = field.name;
    if (content_type == nullptr && EqualsIgnoreCase(name, "Content-Type")) {
      content_type = &field;
    } else if (disposition == nullptr && EqualsIgnoreCase(name, "Content-Disposition")) {
      disposition = &field;
    } else if (EqualsIgnoreCase(name, "Content-Transfer-Encoding")) {
      part->encoding = ParseTransferEncoding(field.value);
    } else if (part->content_id.empty() && EqualsIgnoreCase(name, "Content-ID")) {
      AssignMessageIdValue(field.value, &part->content_id);
    }
  }
  // RFC 2045 5.2: no (or a broken) Content-Type means text/plain; in a multipart/digest, RFC 2046
  // 5.1.5 makes it message/rfc822.
  const char* default_type = digest_child ? "message/rfc822" : "text/plain";
  std::string& name_parameter = scratch->name_parameter;
  name_parameter.clear();
  scratch->boundary.clear();
  scratch->report_type.clear();
  if (content_type != nullptr) {
    HeaderParameters& ct = scratch->content_type;
    ParseHeaderParameters(content_type->value, &ct);
    part->media_type.assign(NormalizeMediaType(ct.value));
    if (part->media_type.empty()) {
      part->media_type.assign(default_type);
    } else {
      part->charset.assign(ct.Get("charset"));
      scratch->boundary.assign(ct.Get("boundary"));
      part->start.assign(StripAngles(ct.Get("start")));
      name_parameter.assign(ct.Get("name"));
      std::string& report_type = scratch->report_type;
      report_type.assign(ct.Get("report-type"));
      for (char& c : report_type) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    }
  } else {
    part->media_type.assign(default_type);
  }
  if (disposition != nullptr) {
    HeaderParameters& cd = scratch->disposition;
    ParseHeaderParameters(disposition->value, &cd);
    part->disposition.assign(cd.value);
    part->filename.assign(cd.Get("filename"));
  }
  // RFC 2183 2.3 names the file in Content-Disposition; Content-Type's "name" (RFC 1341, long
  // obsolete) is what many mailers still send alone.
  if (part->filename.empty()) part->filename.swap(name_parameter);
}

class MessageWalker {
 public:
  MessageWalker(const ParseLimits& limits, ParsedMessage* message, ParseScratch* scratch)
      : limits_(limits),
        message_(message),
        warnings_(&message->warnings),
        scratch_(*scratch),
        parts_(scratch->parts) {
    header_limits_.max_bytes = limits.max_header_bytes;
    header_limits_.max_fields = limits.max_header_fields;
    header_limits_.max_field_bytes = limits.max_field_bytes;
  }

  void Walk(std::string_view raw) {
    raw_ = raw;
    // Pending parts in reverse document order; its size plus part_count_ never exceeds
    // max_parts, so it is bounded like everything else.
    std::vector<Pending>& stack = scratch_.stack;
    stack.clear();
    stack.push_back({raw, kNoParent, 0, false});
    const size_t max_parts = std::max<size_t>(limits_.max_parts, 1);
    HeaderBlock& block = scratch_.block;
    while (!stack.empty()) {
      const Pending pending = stack.back();
      stack.pop_back();
      ParseHeaderBlock(pending.raw, header_limits_, &block);
      if (block.truncated)
        warnings_.Add("header block over its size or field limit; rest read as body");
      if (block.field_cut) warnings_.Add("header field over its size limit was cut");
      const uint32_t index = static_cast<uint32_t>(part_count_);
      Part& part = NewPart();
      part.raw = pending.raw;
      part.body = block.body;
      part.parent = pending.parent;
      part.depth = pending.depth;
      ReadPartHeaders(block, pending.digest_child, &part, &scratch_);
      if (pending.parent == kNoParent) {
        ReadTopLevelHeaders(block, message_);
        message_->content_type.assign(part.media_type);
        message_->report_type.swap(scratch_.report_type);
      } else {
        parts_[pending.parent].children.push_back(index);
      }
      if (part.media_type.compare(0, 10, "multipart/") != 0) continue;
      if (pending.depth >= limits_.max_depth) {
        warnings_.Add("MIME nesting depth limit reached; deeper parts ignored");
        part.dropped = true;
        continue;
      }
      const size_t budget = max_parts - std::min(max_parts, part_count_ + stack.size());
      MultipartBody& split = scratch_.split;
      SplitMultipart(part.body, scratch_.boundary, budget, &split);
      if (!split.found_start) {
        // RFC 2046 5.1.1 requires the boundary; without it the body is all we have. Read it
        // as text so the requester's words are not lost.
        warnings_.Add("multipart without its boundary; body read as text");
        part.media_type.assign("text/plain");
        continue;
      }
      if (!split.terminated && !split.parts_capped) {
        warnings_.Add("multipart without closing boundary");
      }
      if (split.parts_capped) warnings_.Add("MIME part count limit reached; later parts ignored");
      part.container = true;
      const bool digest = part.media_type == "multipart/digest";
      for (size_t k = split.parts.size(); k-- > 0;) {
        stack.push_back({split.parts[k], index, pending.depth + 1, digest});
      }
    }
  }

  // Python's email.message.MIMEPart.get_body(("plain", "html")) rule: the first text/plain that
  // is not an attachment, searching multiparts in document order (multipart/related only through
  // its start part), else the first such text/html.
  uint32_t FindBody() {
    uint32_t first_html = kNoParent;
    std::vector<uint32_t>& stack = scratch_.body_stack;
    stack.assign(1, 0);
    while (!stack.empty()) {
      const uint32_t index = stack.back();
      stack.pop_back();
      const Part& part = parts_[index];
      if (part.disposition == "attachment" || part.dropped) continue;
      if (part.IsText("plain")) return index;
      if (part.IsText("html")) {
        if (first_html == kNoParent) first_html = index;
        continue;
      }
      if (!part.container || part.children.empty()) continue;
      if (part.media_type != "multipart/related") {
        for (size_t k = part.children.size(); k-- > 0;) stack.push_back(part.children[k]);
        continue;
      }
      uint32_t start = part.children[0];  // RFC 2387 3.2: without "start", the first part
      if (!part.start.empty()) {
        for (uint32_t child : part.children) {
          if (parts_[child].content_id == part.start) {
            start = child;
            break;
          }
        }
      }
      stack.push_back(start);
    }
    return first_html;
  }

  void ExtractDescription(uint32_t index) {
    const Part& part = parts_[index];
    std::string& decoded = scratch_.decoded;
    decoded.clear();
    std::string_view bytes = part.body;
    if (part.encoding != TransferEncoding::kIdentity) {
      DecodeTransfer(part.encoding, part.body, &decoded);
      bytes = decoded;
    }
    const bool html = part.IsText("html");
    std::string& text = scratch_.text;
    text.clear();
    bool cut = ConvertToUtf8(bytes, part.charset, &text, html ? SIZE_MAX : kTextBudgetBytes);
    if (html) {
      std::string& plain = scratch_.plain;
      plain.clear();
      cut = HtmlToText(text, &plain, kTextBudgetBytes) || cut;
      text.swap(plain);
    }
    // The text is the raw bytes themselves when nothing decoded or converted them: storage can
    // then keep the raw message alone (message.h).
    const bool verbatim =
        part.encoding == TransferEncoding::kIdentity && !html && !cut && text == part.body;
    NormalizeDescriptionText(&text);
    const bool truncated = TruncateToCodePoints(&text, kMaxDescriptionCodePoints);
    message_->truncated = truncated || cut;
    if (verbatim && !truncated && !part.body.empty() && part.body.data() >= raw_.data() &&
        part.body.data() + part.body.size() <= raw_.data() + raw_.size()) {
      message_->description_span =
          TextSpan{static_cast<size_t>(part.body.data() - raw_.data()), part.body.size()};
    }
    // Swapped: the scratch keeps the description's earlier buffer for the next message.
    message_->description.swap(text);
  }

  // Every part that is not the description and not an alternative rendering of it.
  void CollectAttachments(uint32_t body) {
    uint32_t alternative = kNoParent;
    if (body != kNoParent) {
      for (uint32_t p = parts_[body].parent; p != kNoParent; p = parts_[p].parent) {
        if (parts_[p].media_type == "multipart/alternative") {
          alternative = p;
          break;
        }
      }
    }
    for (uint32_t index = 0; index < part_count_; ++index) {
      const Part& part = parts_[index];
      if (part.container || part.dropped || index == body) continue;
      if (TrimBlanks(part.raw).empty()) continue;  // an empty part between two delimiters
      if (alternative != kNoParent && (part.IsText("plain") || part.IsText("html")) &&
          part.disposition != "attachment" && part.filename.empty() &&
          IsInside(index, alternative)) {
        continue;
      }
      Attachment attachment;
      attachment.filename = part.filename;
      attachment.content_type = part.media_type;
      attachment.size = DecodedSize(part.encoding, part.body);
      attachment.content_id = part.content_id;
      message_->attachments.push_back(std::move(attachment));
    }
  }

 private:
  bool IsInside(uint32_t index, uint32_t ancestor) const {
    for (uint32_t p = parts_[index].parent; p != kNoParent; p = parts_[p].parent) {
      if (p == ancestor) return true;
    }
    return false;
  }

  // A part slot, reset: the scratch's next one (its strings keep their storage).
  Part& NewPart() {
    if (part_count_ == parts_.size()) parts_.emplace_back();
    Part& part = parts_[part_count_++];
    part.Reset();
    return part;
  }

  std::string_view raw_;  // the whole message, which every part's bytes lie in
  const ParseLimits& limits_;
  ParsedMessage* message_;
  WarningList warnings_;
  HeaderBlockLimits header_limits_;
  ParseScratch& scratch_;
  std::vector<Part>& parts_;  // the first part_count_ are this message's
  size_t part_count_ = 0;
};

}  // namespace

// CRLF and lone CR to LF; blank lines at the start and blanks at the end removed. Runs between
// CRs move with memmove: this is the one pass over every byte of the description.
void NormalizeDescriptionText(std::string* text) {
  char* data = text->data();
  const size_t n = text->size();
  const void* first_cr = std::memchr(data, '\r', n);
  if (first_cr != nullptr) {
    size_t r = static_cast<size_t>(static_cast<const char*>(first_cr) - data);
    size_t w = r;
    while (r < n) {
      // data[r] == '\r'
      data[w++] = '\n';
      r += (r + 1 < n && data[r + 1] == '\n') ? 2 : 1;
      const void* next = std::memchr(data + r, '\r', n - r);
      const size_t run_end = next ? static_cast<size_t>(static_cast<const char*>(next) - data) : n;
      std::memmove(data + w, data + r, run_end - r);
      w += run_end - r;
      r = run_end;
    }
    text->resize(w);
  }
  size_t end = text->size();
  while (end > 0 &&
         ((*text)[end - 1] == ' ' || (*text)[end - 1] == '\t' || (*text)[end - 1] == '\n')) {
    --end;
  }
  text->resize(end);
  size_t begin = 0;
  for (size_t k = 0; k < text->size(); ++k) {
    const char c = (*text)[k];
    if (c == '\n') {
      begin = k + 1;
    } else if (c != ' ' && c != '\t') {
      break;
    }
  }
  if (begin > 0) text->erase(0, begin);
}

std::string DescriptionFromSpan(std::string_view raw, TextSpan span) {
  if (span.offset > raw.size() || span.length > raw.size() - span.offset) return "";
  std::string text(raw.substr(span.offset, span.length));
  NormalizeDescriptionText(&text);
  return text;
}

ParsedMessage ParseMessage(std::string_view raw, const ParseLimits& limits) {
  ParsedMessage message;
  ParseMessage(raw, limits, &message);
  return message;
}

void ParseMessage(std::string_view raw, const ParseLimits& limits, ParsedMessage* message) {
  // Every field is reset; the strings keep their storage, and the address and id lists are
  // refilled in place by ReadTopLevelHeaders (which every parse reaches: the message's own
  // header block is the first part).
  ParsedMessage& m = *message;
  for (std::string* text :
       {&m.subject, &m.from_email, &m.from_name, &m.description, &m.message_id, &m.in_reply_to,
        &m.auto_submitted, &m.precedence, &m.content_type, &m.report_type}) {
    text->clear();
  }
  m.truncated = false;
  m.description_span.reset();
  m.attachments.clear();
  m.received_count = 0;
  for (std::optional<std::string>* header :
       {&m.list_id, &m.list_unsubscribe, &m.x_autoreply, &m.x_autorespond, &m.x_autoresponder,
        &m.x_auto_response_suppress, &m.x_failed_recipients}) {
    header->reset();
  }
  m.warnings.clear();
  thread_local ParseScratch scratch;
  {
    MessageWalker walker(limits, &m, &scratch);
    walker.Walk(raw);
    const uint32_t body = walker.FindBody();
    if (body != kNoParent) walker.ExtractDescription(body);
    walker.CollectAttachments(body);
  }
  if (raw.size() > kMaxScratchMessageBytes) scratch = ParseScratch();
}

}  // namespace postdesk
