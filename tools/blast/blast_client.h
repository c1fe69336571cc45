// BlastClient: one postdesk-blast connection, an SMTP client state machine (RFC 5321) on one
// libuv loop: connect, greeting, EHLO, optionally STARTTLS (RFC 3207) and EHLO again, then
// transactions one at a time (MAIL, RCPT, DATA, the message; or MAIL, RCPT and one BDAT LAST
// chunk, RFC 3030), in lockstep or, when asked and the server offers it, with MAIL, RCPT and
// DATA (or the chunk) in one write (RFC 2920 PIPELINING).
//
// Owns its socket and its command timer (each freed in its close callback) and the TLS state.
// Runs on its loop's thread only; nothing here is thread-safe. It reports to its ClientHost
// (the BlastRunner of that loop): OnReady when it can take a message, OnTransactionDone with
// each message's outcome, and, from the final close callback, OnConnectionError (if it failed)
// and then OnClosed, after which the host may destroy it. No callback is made from inside a
// call the host made (Start, Send, Quit, Abort): a failure found there is reported from the
// close callback, so the host is never re-entered. No exception leaves a libuv callback: one
// caught there fails the connection like any other error.
//
// How it fails: a refused command (4xx, 5xx) is a refused message, and the connection carries
// on after RSET (or closes, after a 421: RFC 5321 3.8). An unexpected or malformed reply, a
// timeout, a TLS failure or a connection closed by the server mid-way is a connection error: the
// message in flight is lost, the connection closes, and the host decides whether to open
// another. A server that closes an idle connection (with or without a 421) is no error.
#ifndef POSTDESK_TOOLS_BLAST_BLAST_CLIENT_H_
#define POSTDESK_TOOLS_BLAST_BLAST_CLIENT_H_

#include <sys/socket.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/tls_stream.h"
#include "tools/blast/message_source.h"

namespace postdesk::blast {

enum class ErrorKind {
  kConnect,   // TCP connect failed
  kRefused,   // greeting, EHLO or STARTTLS refused (421 at the greeting: too many connections)
  kTimeout,   // no reply (or no connection) within the command timeout
  kClosed,    // the server closed the connection, or the socket failed, mid-way
  kProtocol,  // a malformed or unexpected reply
  kTls,       // handshake or record failure
};
inline constexpr size_t kErrorKinds = 6;
const char* ErrorKindName(ErrorKind kind);

struct TransactionResult {
  bool accepted = false;    // 2xx to the final dot
  int code = 0;             // the deciding reply's code
  std::string reply;        // its text, lines joined with " / "
  const char* stage = "";   // "MAIL", "RCPT", "DATA", "end of data"
  uint64_t latency_ns = 0;  // final dot to reply; 0 when the message was refused before it
};

class BlastClient;

class ClientHost {
 public:
  virtual ~ClientHost() = default;
  // `client` is set up, or done with a transaction, and idle: the host may Send() or Quit().
  virtual void OnReady(BlastClient* client) = 0;
  // A message got its final answer (2xx at the final dot, or a 4xx/5xx refusal at any step).
  virtual void OnTransactionDone(BlastClient* client, const TransactionResult& result) = 0;
  // The connection failed (reported from the close callback, just before OnClosed);
  // `message_lost` when a message was in flight.
  virtual void OnConnectionError(BlastClient* client, ErrorKind kind, const std::string& what,
                                 bool message_lost) = 0;
  // Every handle is closed: the last call; the host may destroy `client` from here.
  virtual void OnClosed(BlastClient* client) = 0;
};

class BlastClient {
 public:
  struct Config {
    sockaddr_storage address{};
    std::string helo = "blast.load.test";
    bool pipelining = false;                // use PIPELINING when offered
    bool chunking = false;                  // BDAT LAST instead of DATA; CHUNKING required
    std::shared_ptr<const TlsContext> tls;  // non-null: STARTTLS, required
    std::string tls_name;                   // SNI, and the name verified
    uint64_t timeout_ms = 30000;            // connect, each reply, the TLS handshake
    char* read_buffer = nullptr;            // shared by a loop's clients: a read is used at once
    size_t read_buffer_size = 0;
  };

  // The explicit state machine; the reply awaited is the state's name.
  enum class State {
    kConnecting,    // TCP connect in progress
    kGreeting,      // awaiting the 220 greeting (RFC 5321 3.1)
    kEhlo,          // awaiting the EHLO reply
    kStartTls,      // awaiting the 220 to STARTTLS
    kTlsHandshake,  // TLS handshake in progress
    kEhloTls,       // awaiting the EHLO reply under TLS (RFC 3207 4.2: EHLO again)
    kReady,         // idle between transactions: the host may Send or Quit
    kMail,          // lockstep: awaiting the reply to MAIL...
    kRcpt,          // ...to RCPT...
    kData,          // ...to DATA (354)
    kPipelined,     // awaiting the three replies to MAIL, RCPT, DATA (or BDAT) in one write
    kBody,          // the message and its final dot (or BDAT LAST) sent: awaiting the reply
    kRset,          // a refused transaction is being reset
    kQuit,          // QUIT sent: awaiting 221 or the close
    kClosing,       // handles closing; OnClosed comes next
  };

  BlastClient(uv_loop_t* loop, const Config& config, ClientHost* host, size_t slot);
  ~BlastClient();
  BlastClient(const BlastClient&) = delete;
  BlastClient& operator=(const BlastClient&) = delete;

  void Start();
  // In kReady only: one transaction to `recipient` from `sender`.
  void Send(OutgoingMessage message, const std::string& sender, const std::string& recipient);
  // In kReady: QUIT politely, then close. Elsewhere: Abort().
  void Quit();
  // Close now, reporting nothing but OnClosed (the host counts what it abandons).
  void Abort();

  State state() const { return state_; }
  size_t slot() const { return slot_; }
  bool ready() const { return state_ == State::kReady; }
  // A message is in flight, its outcome unknown yet.
  bool in_transaction() const { return state_ >= State::kMail && state_ <= State::kBody; }
  // Reached kReady at least once: the setup worked.
  bool was_ready() const { return was_ready_; }
  // The server closed the connection (or said 421) while it was idle in kReady.
  bool closed_by_server() const { return closed_by_server_; }
  uint64_t transactions() const { return transactions_; }
  bool pipelining_active() const { return config_.pipelining && server_pipelining_; }
  bool tls_active() const { return tls_ != nullptr && tls_->handshake_done(); }
  std::string tls_description() const { return tls_ ? tls_->Describe() : "none"; }

 private:
  struct Reply {
    int code = 0;
    std::string text;  // every line, joined with " / "
    int Class() const { return code / 100; }
  };

  static void OnConnected(uv_connect_t* req, int status);
  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnWritten(uv_write_t* req, int status);
  static void OnTimer(uv_timer_t* timer);
  static void OnHandleClosed(uv_handle_t* handle);

  void OnBytes(const char* data, size_t size);
  void ProcessInput(const char* data, size_t size);
  void OnReply(const Reply& reply);
  void OnSetupReply(const Reply& reply);
  void OnTransactionReply(const Reply& reply);
  void OnPipelinedReply(const Reply& reply);
  void ParseEhlo(const Reply& reply);
  void AfterEhlo();
  void BecomeReady();
  void SendBody();
  // The message as one BDAT LAST chunk (RFC 3030), in one write after `commands`.
  void SendChunk(std::string commands = {});
  // Writes the bytes that end the message (its final dot, or its BDAT LAST chunk), from which
  // its latency runs, and lets the message go.
  void SendEndOfMessage(std::string bytes);
  void StartTransactions();  // after the last EHLO: ready, unless --chunking finds no CHUNKING
  void Refused(const Reply& reply, const char* stage);
  void Finish(const TransactionResult& result);

  static std::string Shown(std::string_view text);  // server text, cut and made printable
  static const char* Awaiting(State state);         // "the reply to MAIL", for error messages
  static const char* StageOf(State state);          // "MAIL", "RCPT", "DATA", "end of data"
  void Send(std::string bytes);                     // through TLS once it is on
  void WriteToSocket(std::string bytes);            // uv_try_write, then uv_write for the rest
  void Await(State state);                          // enter `state` and arm the timer
  void Fail(ErrorKind kind, const std::string& what);
  void CloseHandles();  // quietly: the host gets OnClosed only
  void Release();

  uv_loop_t* const loop_;
  const Config& config_;
  ClientHost* const host_;
  const size_t slot_;
  State state_ = State::kConnecting;
  uv_tcp_t* tcp_ = nullptr;  // owned; freed in its close callback
  uv_timer_t* timer_;        // owned; freed in its close callback
  int pending_ = 0;          // open handles and requests still to call back
  size_t writes_in_flight_ = 0;
  bool closing_ = false;
  bool was_ready_ = false;
  bool closed_by_server_ = false;
  bool failed_ = false;  // Fail() ran: report error_ before OnClosed
  ErrorKind error_kind_ = ErrorKind::kClosed;
  std::string error_;
  bool error_lost_message_ = false;
  bool server_pipelining_ = false;
  bool server_starttls_ = false;
  bool server_8bitmime_ = false;
  bool server_size_ = false;
  bool server_chunking_ = false;
  std::unique_ptr<TlsStream> tls_;
  std::string in_;             // received plaintext, not yet a whole reply
  std::string reply_text_;     // lines of a multi-line reply so far
  std::vector<Reply> group_;   // replies to a pipelined group so far
  OutgoingMessage message_;    // the message in flight
  std::string pending_rcpt_;   // lockstep: the RCPT command, sent after MAIL's 250
  bool dot_in_write_ = false;  // the final dot waits in a uv_write: its time is the callback's
  uint64_t dot_sent_ns_ = 0;
  uint64_t transactions_ = 0;
};

}  // namespace postdesk::blast

#endif  // POSTDESK_TOOLS_BLAST_BLAST_CLIENT_H_
