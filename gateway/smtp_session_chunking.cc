// SmtpSession's CHUNKING (RFC 3030): BDAT, the length-counted alternative to DATA that
// Exchange Online and Gmail use when a server offers it. A chunk's octets follow its
// command line at once, whether or not the server takes them, so a refused BDAT still reads
// (and drops) its octets before it answers: the stream stays in step, and nothing in a chunk is
// ever taken for a command. The octets are message data as they are (no dot-stuffing, no end
// marker: "\r\n.\r\n" in a chunk is data, so the SMTP smuggling of 2023 has nothing to work
// with). A message has one deadline per chunk (data_timeout) and the DATA size limit over all
// its chunks; the one past the limit gets 552 at once and ends the transaction.
#include <algorithm>
#include <cassert>
#include <chrono>

#include "gateway/smtp_session.h"
#include "parser/json_string.h"
#include "parser/smtp_command.h"

namespace postdesk {

void SmtpSession::DoBdat(std::string_view arg) {
  Result<BdatChunk> chunk = ParseBdatArgument(arg);
  if (!chunk.ok()) {
    // Without a size there is no knowing where the chunk ends: whatever follows could be data
    // or commands, so the session ends here.
    Reply("501 5.5.4 " + chunk.status().message());
    Close("BDAT without a chunk size");
    return;
  }
  chunk_left_ = chunk->size;
  chunk_last_ = chunk->last;
  chunk_refusal_ = nullptr;
  switch (state_) {
    case State::kRecipients:  // the first chunk
      data_.emplace(limits_.max_message_size);
      data_started_ = std::chrono::steady_clock::now();
      break;
    case State::kChunks:
      break;
    case State::kGreeting:
      chunk_refusal_ = "503 5.5.1 Error: send HELO/EHLO first";
      break;
    case State::kReady:
      chunk_refusal_ = "503 5.5.1 Error: need MAIL command";
      break;
    case State::kMail:
      // As for DATA (RFC 2920 3.1): every RCPT failed.
      chunk_refusal_ = "554 5.5.1 Error: no valid recipients";
      break;
    case State::kData:
    case State::kChunk:
    case State::kDelivering:
    case State::kClosed:
      assert(false && "BDAT is read as a command only between commands");
      return;
  }
  chunk_return_ = state_;
  EnterState(State::kChunk);
  // One deadline for the chunk's octets, as DATA has for the message (RFC 5321 4.5.3.2.6).
  transport_->SetTimeout(limits_.data_timeout);
  if (chunk_left_ == 0) FinishChunk();  // "BDAT 0 LAST" ends a message without more octets
}

size_t SmtpSession::ConsumeChunk(std::string_view input) {
  const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk_left_, input.size()));
  if (!chunk_refusal_) data_->AppendChunk(input.substr(0, n));
  chunk_left_ -= n;
  if (chunk_left_ == 0) FinishChunk();
  return n;
}

void SmtpSession::FinishChunk() {
  if (chunk_refusal_) {
    EnterState(chunk_return_);
    transport_->SetTimeout(CommandTimeout());
    Reply(chunk_refusal_);
    CountError();
    return;
  }
  // Past the size limit, or the LAST chunk: the end of the message, as the final dot is.
  if (chunk_last_ || data_->oversized()) {
    FinishData();
    return;
  }
  EnterState(State::kChunks);
  transport_->SetTimeout(CommandTimeout());
  out_.append("250 2.0.0 Ok: ");
  AppendDecimal(static_cast<int64_t>(data_->total_bytes()), &out_);
  out_.append(" octets received\r\n");
}

}  // namespace postdesk
