// trigger_benchmark: how fast the trigger cycle runs on one core as the trigger set grows.
//
// Goal (issue 5): 50,000 events/s per core at 10,000 triggers, and the cost per event at 10,
// 1,000 and 10,000 triggers; design.md: 10,000 triggers must not make each event 10,000 times
// slower (TriggerSet indexes triggers by received_at, brand, tags and update type).
//
// The triggers are generated here, deterministically (fixed seed), as the Zendesk JSON an
// operator of a helpdesk with thousands of support addresses would export, and loaded through
// LoadTriggerSet with Zendesk's default triggers (rules/default_triggers.h) in front of them:
//   - about 60% select on `received_at is <one of N/2 addresses>`, 25% on `brand_id is <one of
//     50 brands>`, 15% on `current_tags includes <one of 200 tags>`, each with a discriminating
//     condition (subject words, the requester's domain, a subject regex in ~5%, the update type)
//     and 0-2 more (status is_not solved, priority less_than high, comment_is_public);
//   - a few (10 from 1,000 triggers up) are global: they select on the update type only;
//   - actions set the priority, add tags (some of which other triggers select on, so cycles
//     restart and chain), set the group and notify users with placeholder templates.
// The events are a pool of 1,000 creations and changes over those addresses and brands.
//
// Run: build/tools/bench/trigger_benchmark --benchmark_min_time=1
// Each iteration of BM_TriggerCycle is one event, so items_per_second is events/s and the time
// column is the cost of one event. Counters (from the whole pool, outside the timed loop):
//   triggers              active triggers in the set (N generated + the 8 defaults, a few
//                         generated ones inactive)
//   candidates_per_event  triggers Candidates hands the cycle's first pass (the index at work)
//   fired_per_event       triggers fired per event, restarts included
//   notifications_per_event, changed_pct (events whose ticket some action changed)
// BM_BruteForceMatch/10000 is the baseline without the index: every trigger tried once with
// TriggerMatches against the event (one pass, no actions, no restarts: less work than a cycle).
// BM_LoadTriggerSet/10000 is the time to parse, compile and index the whole file.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rules/default_triggers.h"
#include "rules/trigger_engine.h"
#include "rules/trigger_loader.h"

namespace {

using postdesk::Placeholder;
using postdesk::Result;
using postdesk::TicketState;
using postdesk::Trigger;
using postdesk::TriggerEvent;
using postdesk::TriggerOutcome;
using postdesk::TriggerSet;
using postdesk::UpdateType;

// SplitMix64: the same numbers on every platform and standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
  }
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }
  bool Percent(size_t p) { return Below(100) < p; }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Below(N)];
  }
  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    return items[Below(items.size())];
  }

 private:
  uint64_t state_;
};

constexpr uint64_t kTriggerSeed = 20261122;
constexpr uint64_t kEventSeed = 7;
constexpr size_t kBrands = 50;
constexpr size_t kEventPool = 1000;

// Words that subjects are made of and that triggers look for.
constexpr std::string_view kWords[] = {
    "refund",  "invoice",  "password", "login",     "outage",      "shipping", "delivery",
    "cancel",  "upgrade",  "billing",  "crash",     "error",       "broken",   "urgent",
    "security", "gdpr",    "api",      "export",    "import",      "integration", "mobile",
    "android", "ios",      "printer",  "license",   "renewal",     "discount", "complaint",
    "feedback", "bug",     "account",  "locked",    "payment",     "declined", "warranty",
    "return",  "damaged",  "missing",  "subscription", "trial"};
constexpr std::string_view kFiller[] = {"my",   "the",  "is",    "not",      "working", "since",
                                        "help", "with", "again", "yesterday", "please", "order",
                                        "still", "our", "team",  "question", "about",  "from"};
constexpr std::string_view kRegions[] = {"eu", "us", "apac", "latam", "emea"};
constexpr std::string_view kDomains[] = {"example.com",  "example.org",      "customer.test",
                                         "bigcorp.test", "mail.test",        "outlook.test",
                                         "retail.test",  "startup.test"};
constexpr std::string_view kFirstNames[] = {"Alice", "Bob",   "Chloé", "Dmitri", "Emma",
                                            "Farid", "Grace", "Hiro",  "Inès",   "Jonas"};

// The names triggers and events share for a set of N triggers.
struct Pools {
  std::vector<std::string> addresses;  // N/2 support addresses
  std::vector<std::string> brands;     // as configured: mixed case
  std::vector<std::string> tags;
};

Pools MakePools(size_t n) {
  Pools pools;
  for (size_t b = 0; b < kBrands; ++b) {
    pools.brands.push_back("Brand" + std::string(b < 10 ? "0" : "") + std::to_string(b));
  }
  size_t addresses = n / 2 < 1 ? 1 : n / 2;
  for (size_t a = 0; a < addresses; ++a) {
    pools.addresses.push_back("support-" + std::to_string(a) + "@brand" +
                              std::to_string(a % kBrands) + ".helpdesk.test");
  }
  for (std::string_view word : kWords) {
    for (std::string_view region : kRegions) {
      pools.tags.push_back(std::string(word) + "_" + std::string(region));
    }
  }
  return pools;
}

std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
  return out;
}

std::string Condition(std::string_view field, std::string_view op, std::string_view value) {
  return "{\"field\": " + JsonString(field) + ", \"operator\": " + JsonString(op) +
         ", \"value\": " + JsonString(value) + "}";
}

std::string Action(std::string_view field, const std::string& value_json) {
  return "{\"field\": " + JsonString(field) + ", \"value\": " + value_json + "}";
}

std::string Join(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += items[i];
  }
  return out + "]";
}

// A condition that only some events of the trigger's address, brand or tag meet.
std::string Discriminating(Rng& rng) {
  size_t kind = rng.Below(100);
  if (kind < 65) {
    std::string words = std::string(rng.Pick(kWords)) + " " + std::string(rng.Pick(kWords));
    return Condition("subject_includes_word", "includes", words);
  }
  if (kind < 85) {
    return Condition("requester_email", "contains", "@" + std::string(rng.Pick(kDomains)));
  }
  if (kind < 90) {
    // Python-style, full match, case-insensitive: an order number near a word.
    std::string word(rng.Pick(kWords));
    return Condition("subject", "regex", ".*\\b" + word + "\\b.*#?\\d{4,}.*");
  }
  if (kind < 95) return Condition("comment_includes_word", "includes", std::string(rng.Pick(kWords)));
  return Condition("update_type", "is", rng.Percent(50) ? "Create" : "Change");
}

std::string Further(Rng& rng) {
  switch (rng.Below(4)) {
    case 0:
      return Condition("status", "is_not", "solved");
    case 1:
      return Condition("priority", "less_than", "high");
    case 2:
      return Condition("comment_is_public", "is", "true");
    default:
      return Condition("status", "less_than", "solved");
  }
}

std::string Notification(Rng& rng) {
  static constexpr std::string_view kRecipients[] = {"requester_id", "assignee_id",
                                                     "lead@helpdesk.test", "requester_id"};
  static constexpr std::string_view kBodies[] = {
      "Hello {{ticket.requester.first_name}},\n\nWe received your request #{{ticket.id}} "
      "({{ticket.title}}) and our {{ticket.brand}} team is on it.\n\n{{ticket.comments_formatted}}"
      "\n\n{{ticket.url}}\n\n[{{ticket.encoded_id}}]",
      "Ticket #{{ticket.id}} from {{ticket.requester.name}} <{{ticket.requester.email}}> is now "
      "{{ticket.status}} / {{ticket.priority}} (tags: {{ticket.tags}}).\n\n"
      "{{ticket.latest_comment}}\n\n{{ticket.url}}",
      "{{ticket.group.name}}: a {{ticket.ticket_type}} arrived at {{ticket.received_at}} on "
      "{{ticket.created_at}}.\n\n{{ticket.description}}\n\n[{{ticket.encoded_id}}]",
  };
  std::string value = "[" + JsonString(rng.Pick(kRecipients)) + ", " +
                      JsonString("[{{ticket.brand}}] Re: {{ticket.title}}") + ", " +
                      JsonString(rng.Pick(kBodies)) + "]";
  return Action("notification_user", value);
}

std::string Actions(Rng& rng, const Pools& pools) {
  std::vector<std::string> actions;
  size_t count = 1 + rng.Below(3);
  for (size_t i = 0; i < count; ++i) {
    switch (rng.Below(5)) {
      case 0: {
        static constexpr std::string_view kPriorities[] = {"low", "normal", "high", "urgent"};
        actions.push_back(Action("priority", JsonString(rng.Pick(kPriorities))));
        break;
      }
      case 1:
        // A third of the added tags are ones other triggers select on: cycles chain.
        actions.push_back(Action("current_tags", JsonString(rng.Percent(33)
                                                                ? rng.Pick(pools.tags)
                                                                : "auto_" + std::string(rng.Pick(kWords)))));
        break;
      case 2:
        actions.push_back(Action("group_id", std::to_string(360000100 + rng.Below(40))));
        break;
      default:
        actions.push_back(Notification(rng));
        break;
    }
  }
  return Join(actions);
}

std::string TriggerJson(size_t i, size_t n, std::vector<std::string> all,
                        std::vector<std::string> any, const std::string& actions, bool active) {
  // Positions interleave the file order, as years of edits leave them; all after the defaults.
  size_t position = 100 + (i * 7919) % n;
  return "{\"id\": " + std::to_string(360000000 + i) + ", \"title\": \"Generated trigger " +
         std::to_string(i) + "\", \"active\": " + (active ? "true" : "false") +
         ", \"position\": " + std::to_string(position) +
         ", \"url\": \"https://acme.zendesk.test/api/v2/triggers/" + std::to_string(360000000 + i) +
         ".json\", \"conditions\": {\"all\": " + Join(all) + ", \"any\": " + Join(any) +
         "}, \"actions\": " + actions + "}";
}

// Zendesk's defaults, then N generated triggers, as one {"triggers": [...]} file.
std::string TriggersJson(size_t n, const Pools& pools) {
  Rng rng(kTriggerSeed);
  std::string_view defaults = postdesk::kDefaultTriggersJson;
  size_t open = defaults.find('[');
  size_t close = defaults.rfind(']');
  std::string json = "{\"triggers\": [";
  json += defaults.substr(open + 1, close - open - 1);
  size_t globals = n / 100 < 1 ? 1 : (n / 100 > 10 ? 10 : n / 100);
  for (size_t i = 0; i < n; ++i) {
    std::vector<std::string> all;
    std::vector<std::string> any;
    if (i < globals) {
      // Global triggers, as an operator adds next to the defaults: the update type only.
      all.push_back(Condition("update_type", "is", i % 2 == 0 ? "Create" : "Change"));
      if (i % 3 == 0) all.push_back(Condition("priority", "is", "urgent"));
      if (i % 3 == 1) all.push_back(Condition("status", "is_not", "solved"));
      if (i % 3 == 2) {
        any.push_back(Condition("subject_includes_word", "includes", "urgent asap emergency"));
        any.push_back(Condition("comment", "contains", "as soon as possible"));
      }
    } else {
      size_t selector = rng.Below(100);
      if (selector < 60) {
        all.push_back(Condition("received_at", "is", rng.Pick(pools.addresses)));
      } else if (selector < 85) {
        all.push_back(Condition("brand_id", "is", rng.Pick(pools.brands)));
      } else {
        all.push_back(Condition("current_tags", "includes", rng.Pick(pools.tags)));
      }
      all.push_back(Discriminating(rng));
      for (size_t extra = rng.Below(3); extra > 0; --extra) all.push_back(Further(rng));
      if (rng.Percent(10)) {
        any.push_back(Condition("priority", "is", "urgent"));
        any.push_back(Condition("subject_includes_word", "includes", std::string(rng.Pick(kWords))));
      }
    }
    json += ",\n";
    json += TriggerJson(i, n, all, any, Actions(rng, pools), !rng.Percent(3));
  }
  json += "\n]}";
  return json;
}

TriggerEvent MakeEvent(Rng& rng, const Pools& pools, int64_t id) {
  TriggerEvent e;
  TicketState& s = e.current;
  s.id = id;
  size_t address = rng.Below(pools.addresses.size());
  s.received_at = rng.Percent(85) ? pools.addresses[address] : "help@unlisted.test";
  s.brand = rng.Percent(90) ? pools.brands[address % kBrands] : "";
  std::string name(rng.Pick(kFirstNames));
  s.requester_name = name + " Customer";
  s.requester_email = "user" + std::to_string(rng.Below(100000)) + "@" +
                      std::string(rng.Pick(kDomains));
  // A subject of 5-8 words, two of which triggers may look for; some carry an order number.
  std::string subject;
  size_t words = 5 + rng.Below(4);
  for (size_t w = 0; w < words; ++w) {
    if (!subject.empty()) subject += ' ';
    subject += w % 3 == 1 ? rng.Pick(kWords) : rng.Pick(kFiller);
  }
  if (rng.Percent(30)) subject += " #" + std::to_string(10000 + rng.Below(90000));
  s.subject = subject;
  s.description = "Hello, " + subject + ". It started after the last update, can you help?";
  static constexpr std::string_view kPriorities[] = {"", "low", "normal", "normal", "high",
                                                     "urgent"};
  s.priority = rng.Pick(kPriorities);
  static constexpr std::string_view kTypes[] = {"", "question", "incident", "problem", "task"};
  s.type = rng.Pick(kTypes);
  if (rng.Percent(50)) s.group = std::to_string(360000100 + rng.Below(40));
  if (rng.Percent(40)) s.assignee = "agent" + std::to_string(rng.Below(200)) + "@helpdesk.test";
  for (size_t t = rng.Below(4); t > 0; --t) postdesk::AddTag(s.tags, rng.Pick(pools.tags));

  if (rng.Percent(50)) {
    e.update_type = UpdateType::kCreate;
    s.status = "new";
    e.previous = TicketState{};
    e.previous.status.clear();
    e.previous.via.clear();
    e.comment = s.description;
  } else {
    e.update_type = UpdateType::kChange;
    static constexpr std::string_view kStatuses[] = {"open", "open", "pending", "hold", "solved"};
    s.status = rng.Pick(kStatuses);
    e.previous = s;
    if (rng.Percent(20)) e.previous.status = "solved";  // a reply reopens it
    e.comment = rng.Percent(50) ? "Any news on this? The " + std::string(rng.Pick(kWords)) +
                                      " problem is still there."
                                : "Thanks, that fixed it.";
    e.comment_is_public = !rng.Percent(10);
    e.sender_type = rng.Percent(80) ? "requester" : "end_user";
  }
  e.requester_previous_tickets = static_cast<int64_t>(rng.Below(20));
  e.hour_of_day = static_cast<int>(rng.Below(24));
  e.day_of_week = static_cast<int>(rng.Below(7));
  auto set = [&e](Placeholder p, std::string value) {
    e.placeholders[static_cast<size_t>(p)] = std::move(value);
  };
  set(Placeholder::kTicketLatestComment, e.comment);
  set(Placeholder::kTicketLatestPublicComment, e.comment_is_public ? e.comment : "");
  set(Placeholder::kTicketCommentsFormatted,
      s.requester_name + " <" + s.requester_email + ">, Nov 22, 2026, 10:00\n\n" + e.comment);
  set(Placeholder::kTicketCreatedAt, "Nov 22, 2026, 09:59");
  set(Placeholder::kTicketUpdatedAt, "Nov 22, 2026, 10:00");
  set(Placeholder::kTicketUrl, "https://helpdesk.test/tickets/" + std::to_string(id));
  set(Placeholder::kTicketEncodedId, "PD-" + std::to_string(id * 7919 % 1000003));
  set(Placeholder::kCurrentUserName, s.requester_name);
  set(Placeholder::kCurrentUserEmail, s.requester_email);
  return e;
}

struct Workload {
  std::string json;
  std::shared_ptr<const TriggerSet> set;
  std::vector<TriggerEvent> events;
  // Over the pool, computed once outside the timed loops.
  double candidates_per_event = 0;
  double fired_per_event = 0;
  double notifications_per_event = 0;
  double changed_pct = 0;
};

// Built once per size: Google Benchmark calls a benchmark function several times.
const Workload* GetWorkload(size_t n) {
  static std::map<size_t, std::unique_ptr<Workload>> cache;
  auto it = cache.find(n);
  if (it != cache.end()) return it->second.get();
  auto w = std::make_unique<Workload>();
  Pools pools = MakePools(n);
  w->json = TriggersJson(n, pools);
  Result<std::shared_ptr<const TriggerSet>> set =
      postdesk::LoadTriggerSet(w->json, "generated-triggers.json");
  if (!set.ok()) return nullptr;
  w->set = set.value();
  Rng rng(kEventSeed);
  for (size_t i = 0; i < kEventPool; ++i) {
    w->events.push_back(MakeEvent(rng, pools, static_cast<int64_t>(1000 + i)));
  }
  std::vector<uint32_t> candidates;
  size_t candidate_total = 0, fired = 0, notifications = 0, changed = 0;
  for (const TriggerEvent& e : w->events) {
    w->set->Candidates(e.update_type == UpdateType::kCreate, e.current.received_at, e.current.brand,
                       e.current.tags, candidates);
    candidate_total += candidates.size();
    TriggerOutcome outcome = postdesk::RunTriggerCycle(*w->set, e);
    fired += outcome.fired.size();
    notifications += outcome.notifications.size();
    changed += outcome.changed ? 1 : 0;
  }
  double count = static_cast<double>(w->events.size());
  w->candidates_per_event = static_cast<double>(candidate_total) / count;
  w->fired_per_event = static_cast<double>(fired) / count;
  w->notifications_per_event = static_cast<double>(notifications) / count;
  w->changed_pct = 100.0 * static_cast<double>(changed) / count;
  return cache.emplace(n, std::move(w)).first->second.get();
}

void SetWorkloadCounters(benchmark::State& state, const Workload& w) {
  state.counters["triggers"] = static_cast<double>(w.set->triggers().size());
  state.counters["candidates_per_event"] = w.candidates_per_event;
  state.counters["fired_per_event"] = w.fired_per_event;
  state.counters["notifications_per_event"] = w.notifications_per_event;
  state.counters["changed_pct"] = w.changed_pct;
}

void BM_TriggerCycle(benchmark::State& state) {
  const Workload* w = GetWorkload(static_cast<size_t>(state.range(0)));
  if (!w) {
    state.SkipWithError("the generated triggers do not load");
    return;
  }
  size_t next = 0;
  for (auto _ : state) {
    TriggerOutcome outcome = postdesk::RunTriggerCycle(*w->set, w->events[next]);
    benchmark::DoNotOptimize(outcome);
    if (++next == w->events.size()) next = 0;
  }
  state.SetItemsProcessed(state.iterations());
  SetWorkloadCounters(state, *w);
}
BENCHMARK(BM_TriggerCycle)->Arg(10)->Arg(1000)->Arg(10000);

void BM_BruteForceMatch(benchmark::State& state) {
  const Workload* w = GetWorkload(static_cast<size_t>(state.range(0)));
  if (!w) {
    state.SkipWithError("the generated triggers do not load");
    return;
  }
  const std::vector<Trigger>& triggers = w->set->triggers();
  size_t next = 0;
  size_t matched = 0;
  for (auto _ : state) {
    const TriggerEvent& e = w->events[next];
    for (const Trigger& trigger : triggers) {
      matched += postdesk::TriggerMatches(trigger, e, e.current) ? 1 : 0;
    }
    benchmark::DoNotOptimize(matched);
    if (++next == w->events.size()) next = 0;
  }
  state.SetItemsProcessed(state.iterations());
  SetWorkloadCounters(state, *w);
  state.counters["matched_per_event"] =
      static_cast<double>(matched) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_BruteForceMatch)->Arg(10000)->Unit(benchmark::kMicrosecond);

void BM_LoadTriggerSet(benchmark::State& state) {
  const Workload* w = GetWorkload(static_cast<size_t>(state.range(0)));
  if (!w) {
    state.SkipWithError("the generated triggers do not load");
    return;
  }
  for (auto _ : state) {
    Result<std::shared_ptr<const TriggerSet>> set =
        postdesk::LoadTriggerSet(w->json, "generated-triggers.json");
    if (!set.ok()) {
      state.SkipWithError("the generated triggers do not load");
      break;
    }
    benchmark::DoNotOptimize(set);
  }
  size_t triggers = w->set->triggers().size() + w->set->inactive_count();
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(triggers));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(w->json.size()));
  state.counters["triggers"] = static_cast<double>(triggers);
  state.counters["json_bytes"] = static_cast<double>(w->json.size());
}
BENCHMARK(BM_LoadTriggerSet)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
