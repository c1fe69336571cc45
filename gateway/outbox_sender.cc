#include "gateway/outbox_sender.h"

#include <spdlog/spdlog.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "gateway/address_table.h"
#include "gateway/notify_config.h"
#include "gateway/smtp_client.h"
#include "gateway/tls_stream.h"
#include "parser/email_address.h"
#include "parser/notification_message.h"
#include "parser/ticket_token.h"
#include "storage/outbox_queue.h"

namespace postdesk {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The outbox is read every kPollInterval while notifications come, and half as often after each
// read that finds nothing, down to kIdlePollInterval: an idle gateway asks Redis three times a
// second instead of fifty, and a notification after a quiet spell waits at most that long.
constexpr auto kPollInterval = milliseconds(20);
constexpr auto kIdlePollInterval = milliseconds(320);
constexpr auto kClaimInterval = std::chrono::seconds(1);
constexpr size_t kMaxJobs = 1000;  // notifications held in memory at once
constexpr size_t kBatch = 64;

// The configuration a notification is prepared with; replaced whole on SIGHUP.
struct Settings {
  explicit Settings(const Config& c)
      : config(c), addresses(c.brands), tokens(c.classification.token_secret) {}
  Config config;
  AddressTable addresses;
  TicketTokens tokens;
};

// FNV-1a: a stable nonce per outbox entry, so that every retry of one notification carries the
// same Message-ID and a relay or client can tell a repeat.
uint64_t StableNonce(std::string_view text) {
  uint64_t h = 1469598103934665603ull;
  for (char c : text) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

int64_t UnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ConsumerName() {
  // Stable across restarts on one host: a restarted sender finds its own pending entries at
  // once instead of waiting for the claim timeout.
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return std::string("outbox@") + host;
}

}  // namespace

// Everything that runs on the sender's thread.
class OutboxSender::Worker {
 public:
  Worker(const Config& config, RedisAddress redis, OutboxCounters* counters)
      : redis_(std::move(redis)),
        settings_(std::make_shared<const Settings>(config)),
        counters_(counters) {}

  void Run() {
    uv_loop_init(&loop_);
    uv_timer_init(&loop_, &poll_);
    poll_.data = this;
    uv_async_init(&loop_, &wakeup_, [](uv_async_t* a) { static_cast<Worker*>(a->data)->OnWakeup(); });
    wakeup_.data = this;
    StartPolling(milliseconds(0));
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }

  // Main thread.
  void RequestStop(milliseconds grace) {
    stop_deadline_ = Clock::now() + grace;
    stopping_ = true;
    uv_async_send(&wakeup_);
  }
  void SetSettings(const Config& config) {
    auto next = std::make_shared<const Settings>(config);
    std::lock_guard<std::mutex> lock(settings_mutex_);
    settings_ = std::move(next);
  }

 private:
  struct Job {
    StreamEntry entry;
    bool prepared = false;
    bool in_flight = false;
    int attempts = 0;
    Clock::time_point next_attempt = Clock::now();
    std::string relay;      // "" writes a file
    std::string target_id;  // for a target's failure count
    OutboundMessage message;
    std::vector<std::string> recipients;
  };

  std::shared_ptr<const Settings> settings() {
    std::lock_guard<std::mutex> lock(settings_mutex_);
    return settings_;
  }

  // Polls after `first`, then every interval_.
  void StartPolling(milliseconds first) {
    uv_timer_start(
        &poll_, [](uv_timer_t* t) { static_cast<Worker*>(t->data)->Poll(); }, first.count(),
        interval_.count());
  }

  // Stopping: Poll checks at the quick interval whether the deliveries in flight are done.
  void OnWakeup() {
    if (!stopping_) return;
    interval_ = kPollInterval;
    StartPolling(milliseconds(0));
  }

  // Every poll: reconnect if needed, take new work while there is room, start what is due.
  void Poll() {
    if (stopping_) {
      bool busy = false;
      for (auto& [id, job] : jobs_) busy |= job.in_flight;
      if (!busy || Clock::now() >= stop_deadline_) Shutdown();
      return;
    }
    if (!Connect()) return;
    const size_t known = jobs_.size();
    if (!Fetch()) {
      queue_.reset();
      return;
    }
    auto interval =
        jobs_.size() > known ? kPollInterval : std::min(interval_ * 2, kIdlePollInterval);
    if (interval != interval_) {
      interval_ = interval;
      StartPolling(interval);  // from now: a repeat set alone would wait out the old interval
    }
    auto now = Clock::now();
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      Job& job = it->second;
      ++it;  // Dispatch may erase the job
      if (!job.in_flight && job.next_attempt <= now) Dispatch(job);
      if (!queue_) return;
    }
  }

  // True with queue_ connected: the one there is, or a new one when there is none or the
  // sentinels moved the primary since it connected (its writes could be lost).
  bool Connect() {
    if (queue_ && !queue_->connection().primary_moved()) return true;
    queue_.reset();
    if (Clock::now() < reconnect_at_) return false;
    Result<std::unique_ptr<OutboxQueue>> queue = OutboxQueue::Connect(redis_, ConsumerName());
    if (!queue.ok()) {
      spdlog::warn("outbox: {}; retrying", queue.status().message());
      reconnect_at_ = Clock::now() + std::chrono::seconds(1);
      return false;
    }
    queue_ = std::move(queue).value();
    read_own_pending_ = true;
    return true;
  }

  bool Fetch() {
    auto add = [this](std::vector<StreamEntry> entries) {
      for (StreamEntry& entry : entries) {
        std::string id = entry.id;
        if (jobs_.count(id)) continue;
        Job job;
        job.entry = std::move(entry);
        jobs_.emplace(id, std::move(job));
      }
    };
    if (read_own_pending_) {
      Result<std::vector<StreamEntry>> own = queue_->ReadOwnPending(kMaxJobs);
      if (!own.ok()) return false;
      if (!own->empty()) spdlog::info("outbox: {} notifications pending from before", own->size());
      add(std::move(own).value());
      read_own_pending_ = false;
    }
    if (Clock::now() >= next_claim_) {
      next_claim_ = Clock::now() + kClaimInterval;
      auto claim_idle = settings()->config.triggers.claim_timeout;
      Result<std::vector<StreamEntry>> stale = queue_->ClaimStale(claim_idle.count(), kBatch);
      if (!stale.ok()) return false;
      add(std::move(stale).value());
    }
    while (jobs_.size() + kBatch <= kMaxJobs) {
      Result<std::vector<StreamEntry>> fresh = queue_->ReadNew(kBatch);
      if (!fresh.ok()) return false;
      bool more = fresh->size() == kBatch;
      add(std::move(fresh).value());
      if (!more) break;
    }
    return true;
  }

  // Acknowledges and forgets a job; `record` (if not null) goes on its ticket first.
  void Finish(Job& job, const nlohmann::json* record) {
    const std::string& ticket = job.entry.Field("ticket");
    if (record && !ticket.empty() && ticket != "0") {
      Status recorded = queue_->RecordOnTicket(ticket, *record);
      if (!recorded.ok()) return Lost(recorded);
    }
    std::string id = job.entry.id;  // erase must not read a key from the node it frees
    Status acked = queue_->Acknowledge(id);
    if (!acked.ok()) return Lost(acked);
    jobs_.erase(id);
  }

  // Redis failed mid-way: the job stays pending in Redis and in memory, and is retried after
  // the reconnection.
  void Lost(const Status& status) {
    spdlog::warn("outbox: {}", status.message());
    queue_.reset();
  }

  void Dispatch(Job& job) {
    std::shared_ptr<const Settings> s = settings();
    if (!job.prepared && !Prepare(*s, job)) return;  // finished or lost inside
    if (job.relay.empty()) return WriteFile(*s, job);
    job.in_flight = true;
    job.attempts++;
    SmtpClient& client = Client(*s, job.relay);
    std::string id = job.entry.id;
    client.Send(job.message, [this, id](DeliveryResult result) { OnResult(id, std::move(result)); });
  }

  SmtpClient& Client(const Settings& s, const std::string& relay) {
    auto it = clients_.find(relay);
    if (it != clients_.end()) return *it->second;
    SmtpClient::Options options;
    ListenAddress address = ParseRelay(relay).value();  // checked when the config was read
    options.host = address.host;
    options.port = address.port;
    options.helo_name = s.config.hostname;
    if (s.config.notify.relay_tls) {
      Result<std::shared_ptr<const TlsContext>> tls = TlsContext::Client();
      if (tls.ok()) options.tls = tls.value();
    }
    options.require_tls = s.config.notify.relay_require_tls;
    auto client = std::make_unique<SmtpClient>(&loop_, options);
    return *clients_.emplace(relay, std::move(client)).first->second;
  }

  // Resolves, filters and builds the message. False when the job is over (nothing to send) or
  // Redis failed.
  bool Prepare(const Settings& s, Job& job) {
    const StreamEntry& e = job.entry;
    const NotifyConfig& notify = s.config.notify;
    std::string kind = e.Field("kind");
    std::string recipient = e.Field("recipient");
    std::string subject = e.Field("subject");
    std::vector<std::string> candidates;
    job.relay = notify.relay;
    if (kind == "target") {
      const TargetConfig* target = nullptr;
      for (const TargetConfig& t : s.config.targets) {
        if (t.id == recipient) target = &t;
      }
      if (!target) return Drop(job, "no target " + recipient + " in the configuration");
      if (!target->active) {
        return Drop(job, "target " + target->id + " is inactive in the configuration");
      }
      Result<TargetHealth> health = queue_->GetTarget(target->id);
      if (!health.ok()) return Lost(health.status()), false;
      if (!health->active) return Drop(job, "target " + target->id + " is deactivated");
      candidates = {target->email};
      subject = target->subject.empty() ? "Ticket #" + e.Field("ticket") : target->subject;
      job.target_id = target->id;
      if (!target->relay.empty()) job.relay = target->relay;
    } else if (kind == "group") {
      for (const GroupConfig& g : s.config.groups) {
        if (g.id == LowerAscii(recipient)) candidates = g.members;
      }
    } else if (recipient == "all_agents") {
      candidates = notify.agents;
    } else if (IsValidMailbox(recipient) && !SplitAddress(recipient).domain.empty()) {
      candidates = {LowerAscii(recipient)};
    }
    if (candidates.empty()) return Drop(job, "no address for " + kind + " " + recipient);

    // Loop safety (design.md): never our own support addresses, never a partner's; then the
    // per-recipient caps, except for alerts to the administrator.
    NotificationCaps caps{notify.ticket_recipient_limit, notify.ticket_recipient_window.count(),
                          notify.recipient_limit, notify.recipient_window.count()};
    nlohmann::json dropped = nlohmann::json::array();
    for (const std::string& address : candidates) {
      std::string why;
      if (s.addresses.IsSupportAddress(address) || s.addresses.FindRecipient(address)) {
        why = "one of our support addresses";
      } else if (std::find(notify.partner_addresses.begin(), notify.partner_addresses.end(),
                           address) != notify.partner_addresses.end()) {
        why = "a partner address";
      } else if (kind != "alert" && kind != "target") {
        Result<std::string> cap = queue_->CountNotification(e.Field("ticket"), address, caps);
        if (!cap.ok()) return Lost(cap.status()), false;
        if (cap.value() != "ok") why = "over the " + cap.value();
      }
      if (why.empty()) {
        job.recipients.push_back(address);
      } else {
        counters_->suppressed++;
        dropped.push_back({{"recipient", address}, {"reason", why}});
        spdlog::warn("outbox: {} ticket {}: not sending to {}: {}", e.id, e.Field("ticket"),
                     address, why);
      }
    }
    if (job.recipients.empty()) {
      nlohmann::json record = {{"result", "suppressed"}, {"trigger", e.Field("trigger")},
                               {"dropped", dropped}};
      Finish(job, &record);
      return false;
    }
    if (!dropped.empty()) {
      nlohmann::json record = {{"result", "partly_suppressed"}, {"dropped", dropped}};
      Status recorded = queue_->RecordOnTicket(e.Field("ticket"), record);
      if (!recorded.ok()) return Lost(recorded), false;
    }
    Build(s, job, subject);
    job.prepared = true;
    return true;
  }

  void Build(const Settings& s, Job& job, const std::string& subject) {
    const StreamEntry& e = job.entry;
    const BrandConfig* brand = s.config.brands.empty() ? nullptr : &s.config.brands[0];
    for (const BrandConfig& b : s.config.brands) {
      if (b.name == e.Field("brand")) brand = &b;
    }
    std::string from = FromAddress(s, brand, e.Field("received_at"));
    int64_t ticket = ParseStoredInt(e.Field("ticket"));
    NotificationEmail email;
    email.from_name = brand ? brand->name : "Postdesk";
    email.from_address = from;
    email.reply_to = ReplyTo(s, e.Field("received_at"), ticket, from);
    if (job.recipients.size() == 1) {
      email.to_name = e.Field("recipient_name");
      email.to_address = job.recipients[0];
    } else {
      email.to_address = from;  // several agents: each gets a blind copy
    }
    email.subject = subject;
    email.body = e.Field("body");
    uint64_t nonce = StableNonce(e.id);
    if (ticket > 0) {
      email.message_id = s.tokens.MessageId(ticket, nonce, s.config.hostname);
      email.ticket_token = s.tokens.Token(ticket);
    } else {
      email.message_id = "pd.alert." + std::to_string(nonce) + "@" + s.config.hostname;
    }
    email.in_reply_to = e.Field("in_reply_to");
    email.date_unix_seconds = UnixSeconds();
    email.loop_marker = s.config.hostname;  // what the classifier recognises as ours
    job.message.mail_from = from;
    job.message.rcpt_to = job.recipients;
    if (!s.config.notify.archive_address.empty() && e.Field("kind") != "alert") {
      job.message.rcpt_to.push_back(s.config.notify.archive_address);  // blind copy
    }
    job.message.data = BuildNotificationMessage(email);
  }

  // design.md "Addresses and brands": notifications about a ticket go out from its received-at
  // address, as Zendesk's do from the support address a request came to: whoever wrote to
  // billing@ hears back from billing@. The brand's default address (its first) stands in when
  // the ticket came through an external mailbox (its provider's domain is not ours to send as,
  // nor to sign for), for alerts, and when a reload took the address from the brand.
  static std::string FromAddress(const Settings& s, const BrandConfig* brand,
                                 const std::string& received_at) {
    if (brand && !received_at.empty()) {
      std::optional<AddressMatch> match = s.addresses.FindRecipient(received_at);
      if (match && &s.config.brands[match->brand] == brand) return match->received_at;
    }
    if (brand && !brand->addresses.empty()) return brand->addresses[0];
    return "postmaster@" + s.config.hostname;
  }

  // design.md "Threading and duplicates": on a hosted domain the Reply-To carries the ticket's
  // token as a plus tag (support+id1G7EOR-0Q2J8K@acme.test), so that a reply threads even from a
  // client that drops In-Reply-To and quotes nothing. Not for an external mailbox that forwards
  // to us: its own provider receives that address, and may not forward a tagged one.
  static std::string ReplyTo(const Settings& s, const std::string& received_at, int64_t ticket,
                             const std::string& from) {
    const std::string& address = received_at.empty() ? from : received_at;
    if (ticket <= 0) return address;  // an alert to the administrators
    if (s.addresses.FindExternal(address)) return address;
    return s.tokens.PlusAddress(ticket, address).value_or(address);
  }

  // Nothing can be sent: record why on the ticket and acknowledge. Returns false.
  bool Drop(Job& job, const std::string& why) {
    counters_->suppressed++;
    spdlog::warn("outbox: {} ticket {}: {}", job.entry.id, job.entry.Field("ticket"), why);
    nlohmann::json record = {{"result", "not_sent"}, {"reason", why},
                             {"trigger", job.entry.Field("trigger")}};
    Finish(job, &record);
    return false;
  }

  // No relay: the embedded default writes each notification as a file, atomically.
  void WriteFile(const Settings& s, Job& job) {
    std::filesystem::path dir = std::filesystem::path(s.config.data_dir) / "outbox";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    std::string name = job.entry.id;
    std::filesystem::path tmp = dir / (name + ".tmp"), final_path = dir / (name + ".eml");
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << "X-Postdesk-Envelope-To: ";
      for (size_t i = 0; i < job.message.rcpt_to.size(); ++i) {
        out << (i ? ", " : "") << job.message.rcpt_to[i];
      }
      out << "\r\n" << job.message.data;
      if (!out.flush()) ec = std::make_error_code(std::errc::io_error);
    }
    if (!ec) std::filesystem::rename(tmp, final_path, ec);
    if (ec) {
      spdlog::error("outbox: {}: {}; retrying", final_path.string(), ec.message());
      job.next_attempt = Clock::now() + s.config.notify.retry_max;
      return;
    }
    counters_->delivered++;
    Finish(job, nullptr);
  }

  void OnResult(const std::string& id, DeliveryResult result) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    Job& job = it->second;
    job.in_flight = false;
    if (!Connect()) {
      job.next_attempt = Clock::now() + std::chrono::seconds(1);
      return;  // the outcome is redone: the entry is still pending
    }
    std::shared_ptr<const Settings> s = settings();
    const NotifyConfig& notify = s->config.notify;
    std::string ticket = job.entry.Field("ticket");
    bool delivered = result.kind == DeliveryResult::Kind::kDelivered;
    bool deactivated = false;
    if (!job.target_id.empty()) {
      Result<bool> recorded = queue_->RecordTargetResult(
          job.target_id, delivered, notify.target_failure_limit,
          std::to_string(result.code) + " " + result.reply);
      if (!recorded.ok()) return Lost(recorded.status());
      deactivated = recorded.value();
      if (deactivated) Alert(*s, job, result);
    }
    if (delivered) {
      counters_->delivered++;
      spdlog::info("outbox: {} ticket {} to {}: {} {}", id, ticket, job.recipients[0], result.code,
                   result.reply);
      nlohmann::json record = {{"result", "sent"}, {"to", job.recipients},
                               {"trigger", job.entry.Field("trigger")}};
      if (!result.refused.empty()) record["refused"] = result.refused;
      return Finish(job, &record);
    }
    if (result.kind == DeliveryResult::Kind::kPermanent || deactivated) {
      counters_->failed++;
      spdlog::warn("outbox: {} ticket {}: failed: {} {}", id, ticket, result.code, result.reply);
      nlohmann::json record = {{"result", deactivated ? "target_deactivated" : "failed"},
                               {"to", job.recipients},
                               {"code", result.code},
                               {"reply", result.reply},
                               {"trigger", job.entry.Field("trigger")}};
      return Finish(job, &record);
    }
    counters_->deferred++;
    auto delay = notify.retry_initial;
    for (int i = 1; i < job.attempts && delay < notify.retry_max; ++i) delay *= 2;
    delay = std::min(delay, notify.retry_max);
    job.next_attempt = Clock::now() + delay;
    spdlog::info("outbox: {} ticket {}: deferred ({} {}), attempt {}, next in {} ms", id, ticket,
                 result.code, result.reply, job.attempts, delay.count());
  }

  void Alert(const Settings& s, const Job& job, const DeliveryResult& result) {
    counters_->alerts++;
    std::string text = "target " + job.target_id + " deactivated after " +
                       std::to_string(s.config.notify.target_failure_limit) +
                       " consecutive failures; last: " + std::to_string(result.code) + " " +
                       result.reply;
    spdlog::error("ALERT: {}", text);
    if (s.config.notify.admin_email.empty()) return;
    Status queued = queue_->Enqueue(
        {{"ticket", "0"}, {"brand", s.config.brands.empty() ? "" : s.config.brands[0].name},
         {"kind", "alert"}, {"recipient", s.config.notify.admin_email},
         {"subject", "Postdesk alert: target " + job.target_id + " deactivated"},
         {"body", text + "\n\nReactivate it with: postdesk targets activate " + job.target_id +
                      " --config FILE\n"},
         {"trigger", ""}, {"event", ""}, {"received_at", ""}, {"in_reply_to", ""}});
    if (!queued.ok()) spdlog::error("outbox: alert mail not queued: {}", queued.message());
  }

  void Shutdown() {
    if (shut_down_) return;
    shut_down_ = true;
    uv_timer_stop(&poll_);
    size_t left = 0;
    for (auto& [id, job] : jobs_) left += job.in_flight ? 1 : 0;
    if (left) spdlog::warn("outbox: stopping with {} deliveries in flight; they stay pending", left);
    auto pending = std::make_shared<size_t>(clients_.size());
    auto close_handles = [this] {
      uv_close(reinterpret_cast<uv_handle_t*>(&poll_), nullptr);
      uv_close(reinterpret_cast<uv_handle_t*>(&wakeup_), nullptr);
    };
    if (*pending == 0) return close_handles();
    for (auto& [relay, client] : clients_) {
      client->Close([pending, close_handles] {
        if (--*pending == 0) close_handles();
      });
    }
  }

  RedisAddress redis_;
  std::mutex settings_mutex_;
  std::shared_ptr<const Settings> settings_;
  OutboxCounters* counters_;
  uv_loop_t loop_;
  uv_timer_t poll_;
  milliseconds interval_ = kPollInterval;  // poll_'s repeat
  uv_async_t wakeup_;
  std::atomic<bool> stopping_{false};
  bool shut_down_ = false;
  Clock::time_point stop_deadline_;
  std::unique_ptr<OutboxQueue> queue_;
  Clock::time_point reconnect_at_;
  Clock::time_point next_claim_;
  bool read_own_pending_ = true;
  std::map<std::string, Job> jobs_;  // by entry id
  std::map<std::string, std::unique_ptr<SmtpClient>> clients_;  // by relay
};

OutboxSender::OutboxSender(const Config& config, RedisAddress redis)
    : worker_(std::make_unique<Worker>(config, std::move(redis), &counters_)) {}

OutboxSender::~OutboxSender() { Stop(); }

void OutboxSender::Start() {
  thread_ = std::thread([this] { worker_->Run(); });
}

void OutboxSender::Stop(milliseconds grace) {
  if (!thread_.joinable()) return;
  worker_->RequestStop(grace);
  thread_.join();
}

void OutboxSender::UpdateConfig(const Config& config) { worker_->SetSettings(config); }

}  // namespace postdesk
