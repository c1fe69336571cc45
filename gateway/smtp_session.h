// SmtpSession: the server side of one SMTP connection as a state machine (RFC 5321, with
// PIPELINING RFC 2920, SIZE RFC 1870, 8BITMIME RFC 6152, CHUNKING and BINARYMIME RFC 3030 in
// smtp_session_chunking.cc, SMTPUTF8 RFC 6531, ENHANCEDSTATUSCODES RFC 2034/3463).
//
// Transport-agnostic: bytes come in through OnBytes(), replies and requests go out through the
// Transport interface, so the same code runs over libuv, over TLS, and under tests and fuzzers
// with a fake transport. Runs on one loop thread; not thread-safe. Owned by its transport's
// connection. It never throws and never fails: client errors become 4xx/5xx replies, too many
// of them or a timeout become 421 and Close. While a message is being delivered the session
// reads nothing more (pipelined commands wait in the buffer) and answers the final dot only when
// OnDelivered() brings delivery's outcome.
//
// Timeouts (RFC 5321 4.5.3.2): command_timeout runs from the last complete command line (bytes
// of an unfinished line do not restart it), data_timeout bounds the whole DATA phase from the
// 354 (each BDAT chunk's octets likewise), and the reply to the final dot gets data_timeout
// too: as long as the client waits for it. Under stress (Transport::UnderStress) a session
// waiting for a command gets stress_command_timeout instead, and stress_max_errors errors end it.
#ifndef POSTDESK_GATEWAY_SMTP_SESSION_H_
#define POSTDESK_GATEWAY_SMTP_SESSION_H_

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "gateway/smtp_transaction.h"
#include "parser/smtp_command.h"
#include "parser/smtp_data_reader.h"

namespace postdesk {

class SmtpSession {
 public:
  class Transport {
   public:
    virtual ~Transport() = default;
    virtual void Write(std::string_view bytes) = 0;
    // False while a message is being delivered: stop reading the socket (backpressure).
    virtual void SetReading(bool reading) = 0;
    // (Re)arms the inactivity timer; its expiry calls OnTimeout().
    virtual void SetTimeout(std::chrono::milliseconds timeout) = 0;
    // Closes the connection once the bytes written so far are sent. Called once.
    virtual void Close() = 0;
    // Stores the message, taking what `transaction` holds; it may leave there the buffers of an
    // earlier transaction, which the session reuses. The transport answers through
    // OnDelivered(), later, on this loop.
    virtual void Deliver(SmtpTransaction* transaction) = 0;
    // True when STARTTLS may be offered: a certificate is configured and TLS is not active.
    virtual bool TlsOffered() = 0;
    // RFC 3207: after the 220 to STARTTLS was written, the next bytes are a TLS handshake.
    // The transport calls OnTlsEstablished() when it is done.
    virtual void StartTls() = 0;
    // True while the process holds [limits] stress_connections or more connections.
    virtual bool UnderStress() = 0;
  };

  enum class State {
    kGreeting,    // connected, waiting for HELO/EHLO
    kReady,       // after HELO/EHLO, no transaction
    kMail,        // after MAIL, no recipient yet
    kRecipients,  // at least one RCPT accepted
    kData,        // receiving message data
    kChunk,       // receiving a BDAT chunk's octets (RFC 3030), taken or skipped
    kChunks,      // between the chunks of a BDAT transaction, before its LAST
    kDelivering,  // final dot (or BDAT LAST) seen, waiting for OnDelivered()
    kClosed,
  };

  // What a closed session leaves for the next one on the same connection object (ServerLoop
  // keeps closed connections for new ones): strings and vectors with their storage, so that a
  // new session allocates nothing for them. Their contents are stale; a session clears them.
  struct Buffers {
    std::string client_ip, pending, out, helo, tls, received, mail_from;
    std::vector<SmtpRecipient> recipients;
    SmtpTransaction transaction;
  };

  SmtpSession(uint64_t id, std::string_view client_ip, std::shared_ptr<const ServingState> state,
              Transport* transport, Buffers buffers = {});
  SmtpSession(const SmtpSession&) = delete;
  SmtpSession& operator=(const SmtpSession&) = delete;

  // Hands the buffers over once the session is closed, except those that grew past a few
  // KiB for one large line or message: they are freed rather than kept.
  Buffers TakeBuffers();

  void Start();  // sends the 220 greeting
  // Instead of Start(): answers `reply` (a 421) and closes, e.g. over a connection limit.
  void Refuse(std::string_view reply, std::string_view reason);
  void OnBytes(std::string_view bytes);
  void OnDelivered(const DeliveryOutcome& outcome);
  void OnTimeout();
  // The process came under stress: a session waiting for a command waits at most
  // stress_command_timeout from now, so that idle connections give their slots to mail.
  void OnStress();
  // SIGTERM: idle sessions get 421 now; a session inside a transaction gets it after.
  void Shutdown();
  // The TLS handshake finished (STARTTLS, or at connect on an implicit-TLS port).
  // `description` is like "TLSv1.3 TLS_AES_256_GCM_SHA384".
  void OnTlsEstablished(std::string description);
  // The peer went away (read error or EOF): no more replies.
  void OnDisconnected(std::string_view reason);

  State state() const { return state_; }
  uint64_t id() const { return id_; }
  static const char* StateName(State state);

 private:
  struct CommandSpec;
  static const CommandSpec* FindCommand(SmtpVerb verb);

  size_t Process(std::string_view input);
  size_t ProcessCommands(std::string_view input);  // Process()'s body
  void HandleLine(std::string_view line);
  void EnterState(State next);
  void Reply(std::string_view line);
  void Reply(std::initializer_list<std::string_view> parts);  // one line, in parts
  void Flush();
  void Close(std::string_view reason);
  void ResetTransaction();
  void FinishData();
  bool CountError();  // true when the error limit was reached and the session closed
  std::chrono::milliseconds CommandTimeout() const;  // command_timeout, shorter under stress

  void DoHelo(std::string_view arg);
  void DoEhlo(std::string_view arg);
  void DoMail(std::string_view arg);
  void DoRcpt(std::string_view arg);
  void DoData(std::string_view arg);
  void DoRset(std::string_view arg);
  void DoNoop(std::string_view arg);
  void DoQuit(std::string_view arg);
  void DoVrfy(std::string_view arg);
  void DoExpn(std::string_view arg);
  void DoHelp(std::string_view arg);
  void DoStarttls(std::string_view arg);
  void DoBdat(std::string_view arg);  // smtp_session_chunking.cc, with the two below
  void DoNotImplemented(std::string_view arg);
  // Takes (or skips) a chunk's octets from `input`; returns how many it used.
  size_t ConsumeChunk(std::string_view input);
  void FinishChunk();

  // Our trace header (id: the transaction's, tx.id), appended to `out`.
  void AppendReceivedHeader(std::string_view id, std::string* out) const;
  // The one log line of a transaction that reached the end of DATA.
  void LogTransaction(const DeliveryOutcome& outcome) const;

  const uint64_t id_;
  std::string client_ip_;
  std::shared_ptr<const ServingState> serving_;
  const LimitsConfig& limits_;
  Transport* const transport_;

  State state_ = State::kGreeting;
  std::string pending_;  // unprocessed input (partial line, or input held while delivering)
  // Inside Process(): a delivery that ends at once (parsed inline, storage down) must not
  // process pending_ again under the loop that is walking it; that loop goes on by itself.
  bool processing_ = false;
  bool discarding_line_ = false;  // inside an over-long command line, until its LF
  std::string out_;               // replies not yet handed to the transport
  size_t errors_ = 0;
  bool draining_ = false;
  bool esmtp_ = false;
  std::string helo_;
  std::string tls_;             // the TLS protocol and cipher once active; "" in the clear
  std::string received_;        // our trace header, rebuilt for each message in one buffer
  bool discard_input_ = false;  // after STARTTLS: the rest of this read is dropped
  uint32_t transaction_count_ = 0;

  // The transaction (RFC 5321 3.3): reset by RSET, HELO/EHLO and the end of DATA. Only the
  // first recipient_count_ recipients are this transaction's: the others are kept so that
  // their strings keep their storage for the next RCPTs.
  std::string mail_from_;
  bool smtputf8_ = false;
  bool binary_mime_ = false;  // MAIL BODY=BINARYMIME (RFC 3030 3): BDAT only
  std::vector<SmtpRecipient> recipients_;
  size_t recipient_count_ = 0;
  std::span<const SmtpRecipient> recipients() const {
    return {recipients_.data(), recipient_count_};
  }
  // What the end of DATA hands to the transport, refilled for each message in the buffers that
  // the transport gave back.
  SmtpTransaction transaction_;
  std::optional<SmtpDataReader> data_;
  // BDAT: the octets of the chunk being read still to come, whether it is the LAST, and, for
  // a chunk that is skipped, the reply it gets and the state it returns to.
  uint64_t chunk_left_ = 0;
  bool chunk_last_ = false;
  const char* chunk_refusal_ = nullptr;
  State chunk_return_ = State::kReady;
  std::chrono::steady_clock::time_point data_started_;
  std::chrono::steady_clock::time_point dot_received_;  // for postdesk_final_dot_seconds
};

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_SMTP_SESSION_H_
