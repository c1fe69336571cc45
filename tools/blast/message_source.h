// MessageSource: the messages postdesk-blast sends, already in their wire form for after the
// 354 to DATA: every line end CRLF, lines starting with '.' dot-stuffed (RFC 5321 4.5.2), and
// the end-of-data marker ".\r\n" appended.
//
// Two kinds: generated messages with a fixed body size, whose From, To, Subject, Date and
// Message-ID are unique per message (so the gateway's duplicate detection, which keys on the
// Message-ID, never fires); or the .eml files of a corpus folder sent in turn, each with its
// Message-ID replaced by a unique one for the same reason (their other headers are kept).
//
// Owns its corpus in memory (loaded once, before any loop starts). Build() is const and touches
// no shared mutable state, so the load loops of every thread call it concurrently. Loading a
// corpus fails with a message naming the folder or file; building never fails.
#ifndef POSTDESK_TOOLS_BLAST_MESSAGE_SOURCE_H_
#define POSTDESK_TOOLS_BLAST_MESSAGE_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace postdesk::blast {

struct OutgoingMessage {
  std::string wire;        // CRLF, dot-stuffed, ends with ".\r\n"
  uint64_t size = 0;       // RFC 1870's SIZE: CRLF form, without the stuffing and the final dot
  bool eight_bit = false;  // an octet over 127: MAIL gets BODY=8BITMIME (RFC 6152)
};

// `message` in wire form: CRLF, bare LF and bare CR each become CRLF (RFC 5321 2.3.8 allows no
// bare line ends), a '.' opening a line is doubled (4.5.2), a CRLF ends the last line, and
// ".\r\n" ends the data. `size` and `eight_bit` describe it as OutgoingMessage does.
OutgoingMessage ToWireFormat(std::string_view message);

// The octets of `wire` (ToWireFormat's form) as one BDAT chunk sends them (RFC 3030 2): without
// the final ".\r\n" and with the stuffing dot of each line that starts with '.' removed; as
// many bytes as the message's `size`.
std::string ChunkOctets(std::string_view wire);

// The envelope and From: sender of message `sequence` with --unique-senders: "bench@load.test"
// becomes "bench+42@load.test" (the rate guard counts per sender). An address without '@' gets
// "+42" appended.
std::string UniqueSender(std::string_view from, uint64_t sequence);

// A run id unlikely to repeat across runs (time, pid and a random device), for Message-IDs that
// stay unique against the gateway's 7-day duplicate window when a benchmark is run again.
std::string NewRunId();

class MessageSource {
 public:
  // Generated messages with a body of exactly `body_bytes` bytes (CRLF line ends counted; a
  // body of 1 byte is rounded up to one empty line, 2 bytes).
  static std::unique_ptr<MessageSource> Generated(size_t body_bytes, std::string run_id);
  // Every regular *.eml file directly in `dir`, in name order. Null with `*error` set when the
  // folder cannot be read, a file cannot be read, or there is no .eml file.
  static std::unique_ptr<MessageSource> LoadCorpus(const std::string& dir, std::string run_id,
                                                   std::string* error);

  // Message `sequence` (0, 1, 2... across the whole run) from `sender` to `recipient`. A corpus
  // gives file sequence % files(); the envelope is the caller's business, the generated From:
  // and To: headers are `sender` and `recipient`.
  OutgoingMessage Build(uint64_t sequence, std::string_view sender,
                        std::string_view recipient) const;

  // "<blast.RUNID.SEQUENCE@load.test>", the domain taken from `sender`.
  std::string MessageId(uint64_t sequence, std::string_view sender) const;

  bool is_corpus() const { return !corpus_.empty(); }
  size_t files() const { return corpus_.size(); }
  size_t body_bytes() const { return body_bytes_; }

 private:
  struct CorpusMessage {
    std::string name;
    OutgoingMessage message;  // wire form without its Message-ID field(s)
  };
  MessageSource(size_t body_bytes, std::string run_id);

  size_t body_bytes_ = 0;
  std::string run_id_;
  std::string filler_;  // the generated body, in wire form (it never starts a line with '.')
  std::vector<CorpusMessage> corpus_;
};

// Exposed for tests: `message` (already CRLF) without its Message-ID header fields, folded
// continuation lines included; the body is left alone.
std::string RemoveMessageIdFields(std::string_view message);

}  // namespace postdesk::blast

#endif  // POSTDESK_TOOLS_BLAST_MESSAGE_SOURCE_H_
