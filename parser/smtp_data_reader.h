// SmtpDataReader: the bytes after DATA's 354 to the message, incrementally (RFC 5321 4.1.1.4,
// 4.5.2).
//
// Feed it whatever the socket delivers; it removes dot-stuffing, finds the end of the data and
// keeps at most `max_bytes` of the message. Only <CRLF>.<CRLF> ends the data: a bare LF or bare
// CR never starts a line here, so "\n.\n" or "\r.\r" cannot end it (the SMTP smuggling attacks
// of 2023). Past `max_bytes` the rest is read and dropped, never held (oversized() then says so
// and the caller answers 552). One reader per transaction; single-threaded; never fails.
#ifndef POSTDESK_PARSER_SMTP_DATA_READER_H_
#define POSTDESK_PARSER_SMTP_DATA_READER_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace postdesk {

class SmtpDataReader {
 public:
  explicit SmtpDataReader(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Consumes bytes of `input` up to and including the terminating ".\r\n"; returns how many it
  // consumed (all of them unless the end was found). Must not be called after done().
  size_t Consume(std::string_view input);

  // BDAT (RFC 3030): a chunk's octets are message data as they are (no dot-stuffing, no end
  // marker; the session counts them), kept up to max_bytes like DATA's. Not mixed with Consume.
  void AppendChunk(std::string_view octets) { Append(octets); }

  bool done() const { return state_ == State::kDone; }
  bool oversized() const { return oversized_; }
  // Bytes of message data seen, whether kept or dropped.
  size_t total_bytes() const { return total_bytes_; }
  // The unstuffed message, ending with the CRLF before the final dot. Empty when oversized().
  // Its buffer has kHeadroom bytes to spare, for a trace header inserted in front.
  std::string& message() { return message_; }

  static constexpr size_t kHeadroom = 1024;

 private:
  enum class State {
    kLineStart,  // just after CRLF (or at the very start)
    kDot,        // a '.' at the start of a line
    kDotCr,      // ".\r" at the start of a line
    kText,       // inside a line
    kCr,         // inside a line, just after '\r'
    kDone,
  };

  void Append(std::string_view bytes);

  const size_t max_bytes_;
  State state_ = State::kLineStart;
  bool oversized_ = false;
  size_t total_bytes_ = 0;
  std::string message_;
};

}  // namespace postdesk

#endif  // POSTDESK_PARSER_SMTP_DATA_READER_H_
