#include "tools/blast/message_source.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <system_error>

#include "parser/smtp_data_reader.h"

namespace postdesk::blast {
namespace {

// Generated body lines: 78 characters and CRLF, RFC 5322 2.1.1's recommended maximum. The text
// has no '.' (a line cut anywhere never needs dot-stuffing) and no '[' (the gateway reads
// "[token]" in a body as a reply to a ticket).
constexpr size_t kBodyLineLength = 78;
constexpr std::string_view kFillerText =
    "the quick brown fox jumps over the lazy dog 0123456789 pack my box with five dozen liquor "
    "jugs ";

// RFC 5322 3.3 date-time in UTC, independent of the locale ("Mon, 01 Dec 2025 20:51:00 +0000").
std::string Rfc5322Date() {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[64];
  std::snprintf(text, sizeof(text), "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday % 7],
                tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return text;
}

std::string_view DomainOf(std::string_view address) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos || at + 1 == address.size()) return "load.test";
  return address.substr(at + 1);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Every line end (CRLF, bare LF, bare CR) as CRLF, nothing else changed.
std::string NormalizeLineEnds(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      out.append("\r\n");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

OutgoingMessage ToWireFormat(std::string_view message) {
  OutgoingMessage out;
  std::string& wire = out.wire;
  wire.reserve(message.size() + message.size() / 32 + 8);
  bool line_start = true;
  uint64_t stuffed = 0;
  for (size_t i = 0; i < message.size(); ++i) {
    char c = message[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < message.size() && message[i + 1] == '\n') ++i;
      wire.append("\r\n");
      line_start = true;
      continue;
    }
    // RFC 5321 4.5.2: the receiver drops the first '.' of a line, so one is added; without it,
    // a line of a single '.' would end the message early.
    if (line_start && c == '.') {
      wire.push_back('.');
      ++stuffed;
    }
    line_start = false;
    if (static_cast<unsigned char>(c) >= 0x80) out.eight_bit = true;
    wire.push_back(c);
  }
  if (!line_start) wire.append("\r\n");
  out.size = wire.size() - stuffed;
  wire.append(".\r\n");
  return out;
}

std::string ChunkOctets(std::string_view wire) {
  // What a server makes of the DATA form is the message itself: the gateway's own reader.
  SmtpDataReader reader(wire.size());
  reader.Consume(wire);
  return std::move(reader.message());
}

std::string UniqueSender(std::string_view from, uint64_t sequence) {
  std::string tag = "+" + std::to_string(sequence);
  size_t at = from.rfind('@');
  if (at == std::string_view::npos) return std::string(from) + tag;
  return std::string(from.substr(0, at)) + tag + std::string(from.substr(at));
}

std::string NewRunId() {
  std::random_device device;
  uint64_t bits = (static_cast<uint64_t>(device()) << 32) ^ device();
  bits ^= static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  bits ^= static_cast<uint64_t>(std::time(nullptr)) << 20;
  bits ^= static_cast<uint64_t>(getpid());
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(bits));
  return text;
}

std::string RemoveMessageIdFields(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  bool in_header = true;
  bool skipping = false;  // inside a Message-ID field, continuation lines included
  while (!message.empty()) {
    size_t eol = message.find("\r\n");
    size_t length = eol == std::string_view::npos ? message.size() : eol + 2;
    std::string_view line = message.substr(0, length);
    message.remove_prefix(length);
    if (in_header) {
      std::string_view content = line.substr(0, eol == std::string_view::npos ? line.size() : eol);
      if (content.empty()) {
        in_header = false;  // the blank line that ends the header section (RFC 5322 2.1)
        skipping = false;
      } else if (content.front() == ' ' || content.front() == '\t') {
        // A folded continuation line (RFC 5322 2.2.3) belongs to the field before it.
      } else {
        size_t colon = content.find(':');
        std::string_view name = content.substr(0, colon == std::string_view::npos ? 0 : colon);
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
        skipping = EqualsIgnoreCase(name, "Message-ID");
      }
      if (skipping) continue;
    }
    out.append(line);
  }
  return out;
}

MessageSource::MessageSource(size_t body_bytes, std::string run_id)
    : body_bytes_(body_bytes), run_id_(std::move(run_id)) {}

std::unique_ptr<MessageSource> MessageSource::Generated(size_t body_bytes, std::string run_id) {
  auto source = std::unique_ptr<MessageSource>(new MessageSource(body_bytes, std::move(run_id)));
  std::string& body = source->filler_;
  body.reserve(body_bytes + 2);
  size_t remaining = body_bytes;
  size_t offset = 0;
  while (remaining > 0) {
    if (remaining <= 2) {
      body.append("\r\n");
      break;
    }
    size_t length = std::min(kBodyLineLength, remaining - 2);
    // One byte left over could not be a line: take it from this one, leaving an empty line.
    if (remaining - (length + 2) == 1) --length;
    for (size_t i = 0; i < length; ++i) {
      body.push_back(kFillerText[offset]);
      offset = (offset + 1) % kFillerText.size();
    }
    body.append("\r\n");
    remaining -= length + 2;
  }
  return source;
}

std::unique_ptr<MessageSource> MessageSource::LoadCorpus(const std::string& dir, std::string run_id,
                                                         std::string* error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> paths;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".eml" && it->is_regular_file()) paths.push_back(it->path());
  }
  if (ec) {
    *error = "--corpus " + dir + ": " + ec.message();
    return nullptr;
  }
  if (paths.empty()) {
    *error = "--corpus " + dir + ": no .eml file";
    return nullptr;
  }
  std::sort(paths.begin(), paths.end());
  auto source = std::unique_ptr<MessageSource>(new MessageSource(0, std::move(run_id)));
  for (const fs::path& path : paths) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in && !in.eof()) {
      *error = "--corpus " + path.string() + ": cannot read";
      return nullptr;
    }
    std::string message = RemoveMessageIdFields(NormalizeLineEnds(text.str()));
    source->corpus_.push_back({path.filename().string(), ToWireFormat(message)});
  }
  return source;
}

std::string MessageSource::MessageId(uint64_t sequence, std::string_view sender) const {
  return "<blast." + run_id_ + "." + std::to_string(sequence) + "@" +
         std::string(DomainOf(sender)) + ">";
}

OutgoingMessage MessageSource::Build(uint64_t sequence, std::string_view sender,
                                     std::string_view recipient) const {
  OutgoingMessage out;
  std::string message_id = "Message-ID: " + MessageId(sequence, sender) + "\r\n";
  if (is_corpus()) {
    const OutgoingMessage& file = corpus_[sequence % corpus_.size()].message;
    out.wire.reserve(message_id.size() + file.wire.size());
    out.wire.append(message_id).append(file.wire);
    out.size = file.size + message_id.size();
    out.eight_bit = file.eight_bit;
    return out;
  }
  std::string& wire = out.wire;
  wire.reserve(filler_.size() + 400);
  wire.append("From: <").append(sender).append(">\r\n");
  wire.append("To: <").append(recipient).append(">\r\n");
  wire.append("Subject: postdesk-blast ").append(run_id_).append(" message ");
  wire.append(std::to_string(sequence)).append("\r\n");
  wire.append("Date: ").append(Rfc5322Date()).append("\r\n");
  wire.append(message_id);
  wire.append("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n");
  wire.append(filler_);
  out.size = wire.size();
  wire.append(".\r\n");
  // Headers and filler are ASCII unless the caller's addresses are not.
  out.eight_bit = std::any_of(sender.begin(), sender.end(),
                              [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
  return out;
}

}  // namespace postdesk::blast
