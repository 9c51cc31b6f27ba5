#include "sweep/runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (in format.h before fmt 11)
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "core/format.hpp"
#include "core/progress.hpp"
#include "core/subprocess.hpp"
#include "core/table.hpp"
#include "run/config.hpp"
#include "run/environment.hpp"
#include "sweep/collect.hpp"
#include "sweep/process.hpp"
#include "sweep/stopping.hpp"
#include "sweep/work.hpp"

namespace pepr::sweep {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

volatile std::sig_atomic_t g_signal = 0;
void on_signal(int sig) {
  g_signal = sig;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// ---------------------------------------------------------------------------------------------
// Per-run lock: RUNS_DIR/<run_id>.lock, held with flock() for the whole run and inherited by the
// trainer child, so it is released by the kernel when both are gone (even after SIGKILL): a lock
// is never stale. The file holds "host pid" for messages. Removed by its holder at the end.
class RunLock {
 public:
  RunLock() = default;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  RunLock(RunLock&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
  RunLock& operator=(RunLock&& o) noexcept {
    if (this != &o) {
      release();
      fd_ = o.fd_;
      path_ = std::move(o.path_);
      o.fd_ = -1;
    }
    return *this;
  }
  ~RunLock() { release(); }

  // The lock, or nullopt with the holder's "host pid" in *holder.
  static std::optional<RunLock> try_acquire(const fs::path& path, std::string* holder) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      // Not O_CLOEXEC: the trainer child inherits the lock (see above).
      int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
      if (fd < 0)
        throw Error(
            fmt::format("{}: cannot create lock file: {}", path.string(), std::strerror(errno)));
      if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char buf[256] = {};
        ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
        ::close(fd);
        if (e == EWOULDBLOCK) {
          if (holder) *holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "?";
          while (holder && !holder->empty() && holder->back() == '\n') holder->pop_back();
          return std::nullopt;
        }
        throw Error(fmt::format(
            "{}: cannot lock: {} (the runs folder needs a file system with working locks)",
            path.string(), std::strerror(e)));
      }
      // The holder before us may have removed the file after we opened it: check that we lock
      // the file that is at the path now.
      struct stat a {
      }, b{};
      if (::fstat(fd, &a) != 0 || ::stat(path.c_str(), &b) != 0 || a.st_ino != b.st_ino ||
          a.st_dev != b.st_dev) {
        ::close(fd);
        continue;
      }
      std::string me = fmt::format("{} {}\n", run::host_name(), ::getpid());
      if (::ftruncate(fd, 0) == 0) {
        [[maybe_unused]] ssize_t n = ::pwrite(fd, me.data(), me.size(), 0);
      }
      RunLock l;
      l.fd_ = fd;
      l.path_ = path;
      return l;
    }
    if (holder) *holder = "? (lock file kept changing)";
    return std::nullopt;
  }

  void release() {
    if (fd_ < 0) return;
    ::unlink(path_.c_str());  // while still holding it: see the inode check above
    ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  fs::path path_;
};

// A lock held by a process of this host that is gone: its trainer child is finishing after
// the sweep was killed, and will release the lock in a moment.
bool held_by_dead_local_sweep(const std::string& holder) {
  auto space = holder.find(' ');
  if (space == std::string::npos) return false;
  if (holder.substr(0, space) != run::host_name()) return false;
  auto pid = parse_number(holder.substr(space + 1));
  return pid && !pid_alive(static_cast<pid_t>(*pid));
}

std::string regime_token(const RunSpec& r) {
  return r.config.pretrained ? "pt" : "scratch";
}

std::string run_label(const RunSpec& r) {
  return fmt::format("{} {} {} f={} s{}", r.config.model, r.dataset.name, regime_token(r),
                     fraction_text(r.config.train_fraction), r.config.seed);
}

std::optional<double> jnum(const json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

// The last lines of a child's output, for the record's error.
std::string tail_lines(const std::string& text, std::size_t max_lines, std::size_t max_chars) {
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  std::size_t pos = t.size();
  for (std::size_t n = 0; n < max_lines && pos > 0; ++n) {
    auto nl = t.rfind('\n', pos - 1);
    if (nl == std::string::npos) {
      pos = 0;
      break;
    }
    pos = nl;
    if (n + 1 == max_lines) ++pos;
  }
  std::string out = t.substr(pos);
  while (!out.empty() && out.front() == '\n') out.erase(out.begin());
  if (out.size() > max_chars) out = "..." + out.substr(out.size() - max_chars);
  // Progress bars redraw with \r: keep the last state of each line.
  std::string clean;
  std::size_t line_start = 0;
  for (char c : out) {
    if (c == '\r') {
      clean.resize(line_start);
    } else {
      clean += c;
      if (c == '\n') line_start = clean.size();
    }
  }
  return clean;
}

struct EpochSeen {
  int epoch = 0;
  double test_acc = NAN, energy_kwh = 0, time_s = 0;
  json raw;
};

// Reads new complete lines of a progress file.
class ProgressTail {
 public:
  explicit ProgressTail(fs::path p) : path_(std::move(p)) {}
  ~ProgressTail() {
    if (fd_ >= 0) ::close(fd_);
  }
  std::vector<json> poll() {
    std::vector<json> events;
    if (fd_ < 0) {
      fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd_ < 0) return events;
    }
    char buf[16384];
    for (;;) {
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      buf_.append(buf, static_cast<std::size_t>(n));
    }
    std::size_t nl;
    while ((nl = buf_.find('\n')) != std::string::npos) {
      json j = json::parse(buf_.substr(0, nl), nullptr, false);
      buf_.erase(0, nl + 1);
      if (!j.is_discarded() && j.is_object()) events.push_back(std::move(j));
    }
    return events;
  }

 private:
  fs::path path_;
  int fd_ = -1;
  std::string buf_;
};

struct SweepState {
  const BenchOptions* opt = nullptr;
  bool tty = false;              // a terminal that redraws (not TERM=dumb)
  ProgressLine* live = nullptr;  // the redrawn line, fitted to the terminal's width
  std::size_t total = 0;
  SweepWork work;  // for the ETA
  Clock::time_point start = Clock::now();
  double energy_kwh = 0;  // finished runs of this invocation
  std::size_t line_len = 0;
};

SweepWork::Run work_of(const RunSpec& r) {
  return {r.config.epochs, r.config.train_fraction};
}

void status_line(SweepState& s, const std::string& line, bool final_line) {
  if (s.opt->quiet) return;
  if (s.tty && s.live) {
    if (final_line) {
      s.live->clear();  // a finished run's line stays whole (it may wrap), the live one is cut
      fmt::print(stderr, "{}\n", line);
    } else {
      s.live->draw(line);
    }
  } else {
    fmt::print(stderr, "{}\n", line);
  }
  std::fflush(stderr);
}

std::string eta_text(const SweepState& s, double current_units) {
  const auto left = s.work.eta_s(seconds_since(s.start), current_units);
  return left ? format_duration(*left) : "?";
}

struct ChildOutcome {
  ExitStatus status;
  bool exited = false;
  std::string err_tail;
  std::vector<EpochSeen> epochs;
  std::string budget_reason;  // set when the parent stopped the child for a budget
  bool budget_killed = false;
  std::string sweep_stop;  // set when the sweep stopped the child after an epoch (stop_check)
  bool signal_forwarded = false;
};

// Asked after each epoch event of a running child: a reason to stop it now, or "".
using StopCheck = std::function<std::string(const std::vector<EpochSeen>&)>;

// A run continued from its probe's checkpoint: the epochs done before (in the probe's record),
// their energy (counted in the sweep's when the probe ran) and how many.
struct Continuation {
  std::vector<EpochSeen> epochs;
  double energy_kwh = 0;
  int epochs_done() const { return static_cast<int>(epochs.size()); }
};

ChildOutcome run_child(const RunSpec& run, const std::vector<std::string>& argv,
                       const fs::path& progress_path, const fs::path& log_path, SweepState& s,
                       std::size_t position, const StopCheck& stop_check,
                       const Continuation& before) {
  ChildOutcome oc;
  oc.epochs = before.epochs;  // the live epochs include those of the probe it continues
  std::FILE* log = std::fopen(log_path.c_str(), "a");
  if (log) {
    fmt::print(log, "=== {} {}\n", run::utc_now(), fmt::join(argv, " "));
    std::fflush(log);
  }
  // The trainer's stdout and stderr into one pipe; it dies with the sweep (a SIGKILLed sweep
  // must not leave a trainer running on).
  SpawnOptions so;
  so.output = SpawnOptions::Output::merged;
  so.null_stdin = true;
  so.nonblocking = true;
  so.die_with_parent = true;
  Subprocess child;
  try {
    child = Subprocess::spawn(argv, so);
  } catch (const Error&) {
    if (log) std::fclose(log);
    throw;
  }
  int rfd = child.out_fd();
  std::string output;  // kept to the last 64 KiB
  if (child.exec_error() != 0) {
    output = fmt::format("cannot run {}: {}\n", argv[0], std::strerror(child.exec_error()));
    if (log) fmt::print(log, "{}", output);
  }
  ProgressTail progress(progress_path);
  const BenchOptions& o = *s.opt;
  std::optional<Clock::time_point> forwarded_at, budget_deadline;
  auto read_output = [&] {
    char buf[8192];
    for (;;) {
      ssize_t n = ::read(rfd, buf, sizeof buf);
      if (n > 0) {
        output.append(buf, static_cast<std::size_t>(n));
        if (log) std::fwrite(buf, 1, static_cast<std::size_t>(n), log);
        if (output.size() > (1 << 17)) output.erase(0, output.size() - (1 << 16));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        child.close_out();
        rfd = -1;
      }
      break;
    }
    if (log) std::fflush(log);
  };
  auto draw = [&](bool epoch_line) {
    double cur_energy = -before.energy_kwh;  // the probe's epochs are counted already
    for (const auto& e : oc.epochs) cur_energy += e.energy_kwh;
    double frac = oc.epochs.empty()
                      ? 0.0
                      : double(oc.epochs.back().epoch - before.epochs_done()) / run.config.epochs;
    std::string line = fmt::format(
        "[{}/{}] {}  epoch {}/{}  ETA {}  energy so far {:.3g} Wh", position, s.total,
        run_label(run), oc.epochs.empty() ? 0 : oc.epochs.back().epoch, run.config.epochs,
        eta_text(s, frac * SweepWork::units(work_of(run))), (s.energy_kwh + cur_energy) * 1000);
    if (!oc.epochs.empty() && std::isfinite(oc.epochs.back().test_acc))
      line += fmt::format("  test acc {:.4f}", oc.epochs.back().test_acc);
    if (s.tty || epoch_line) status_line(s, line, false);
  };
  // Every epoch event: recorded, checked against the budgets (after epoch 1) and, when stderr is
  // not a terminal, printed as one line.
  auto take_events = [&](bool running) {
    for (auto& ev : progress.poll()) {
      if (ev.value("event", "") != "epoch") continue;
      EpochSeen e;
      e.epoch = static_cast<int>(jnum(ev, "epoch").value_or(oc.epochs.size() + 1));
      e.test_acc = jnum(ev, "test_acc").value_or(NAN);
      e.energy_kwh = jnum(ev, "energy_kwh").value_or(0);
      e.time_s = jnum(ev, "time_s").value_or(0);
      e.raw = ev;
      oc.epochs.push_back(std::move(e));
      if (running && oc.epochs.size() == 1 && run.config.epochs > 1) {
        auto pred = predict_after_first_epoch(oc.epochs[0].energy_kwh, oc.epochs[0].time_s,
                                              run.config.epochs);
        oc.budget_reason = budget_stop_reason(pred, o.max_energy_wh, o.max_time_s);
        // The trainer should stop by itself; give it a few seconds before stopping it.
        if (!oc.budget_reason.empty()) budget_deadline = Clock::now() + std::chrono::seconds(5);
      }
      if (running && stop_check && oc.sweep_stop.empty() && !g_signal &&
          oc.epochs.size() < static_cast<std::size_t>(run.config.epochs)) {
        oc.sweep_stop = stop_check(oc.epochs);
        if (!oc.sweep_stop.empty()) child.kill(SIGTERM);
      }
      if (!s.tty) draw(true);
    }
  };
  draw(false);
  for (;;) {
    pollfd p{rfd, POLLIN, 0};
    int pr = ::poll(rfd >= 0 ? &p : nullptr, rfd >= 0 ? 1 : 0, 200);
    if (pr > 0) read_output();
    take_events(true);
    if (auto st = child.try_wait()) {
      oc.status = *st;
      break;
    }
    if (g_signal && !forwarded_at) {
      child.kill(g_signal);
      forwarded_at = Clock::now();
      oc.signal_forwarded = true;
    }
    if (forwarded_at && seconds_since(*forwarded_at) > o.grace_s) child.kill(SIGKILL);
    if (budget_deadline && !oc.budget_killed && Clock::now() > *budget_deadline && !g_signal) {
      child.kill(SIGTERM);
      oc.budget_killed = true;
    }
    if (s.tty) draw(false);
  }
  oc.exited = true;
  // The child is gone; read what it left in the pipe (a grandchild could keep it open: bounded).
  for (int i = 0; i < 50 && rfd >= 0; ++i) {
    pollfd p{rfd, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) break;
    read_output();
  }
  child.close_out();
  take_events(false);
  if (log) std::fclose(log);
  oc.err_tail = tail_lines(output, 12, 3000);
  return oc;
}

run::RunRecord running_record(const RunSpec& run, const BenchOptions& o, int attempt,
                              const std::string& started_at) {
  run::RunRecord r;
  r.run_id = run.id;
  r.status = run::RunStatus::running;
  r.error = nullptr;
  r.stop_reason = nullptr;
  r.config = run.config_record();
  run::SweepRecord& s = r.sweep.emplace();
  s.plan = o.plan_file;
  s.plan_name = o.plan_name;
  s.host = run::host_name();
  s.pid = ::getpid();
  s.started_at = started_at;
  s.attempt = attempt;
  s.shard = fmt::format("{}/{}", o.shard.index, o.shard.count);
  return r;
}

// Adds the budget prediction (after epoch 1) and, for completed runs, its error, where the
// trainer did not.
void fill_budget(run::RunRecord& rec, int planned_epochs) {
  const auto& epochs = rec.epoch_list();
  if (epochs.empty()) return;
  const run::EpochRecord& e1 = epochs[0];
  if (!rec.budget) {
    if (!e1.energy_kwh || !e1.time_s) return;
    auto p = predict_after_first_epoch(*e1.energy_kwh, *e1.time_s, planned_epochs);
    run::BudgetRecord& b = rec.budget.emplace();
    b.predicted_energy_kwh = p.energy_kwh;
    b.predicted_time_s = p.time_s;
  }
  run::BudgetRecord& b = *rec.budget;
  if (rec.status != run::RunStatus::completed) return;
  // The actual values: the sums over epochs, the same span the prediction covers.
  double se = 0, st = 0;
  for (const auto& ep : epochs) se += ep.energy_kwh.value_or(0), st += ep.time_s.value_or(0);
  if (!b.energy_error.present())
    if (auto pe = b.predicted_energy_kwh.opt())
      if (auto err = relative_error(*pe, se)) b.energy_error = *err;
  if (!b.time_error.present())
    if (auto pt = b.predicted_time_s.opt())
      if (auto err = relative_error(*pt, st)) b.time_error = *err;
}

}  // namespace

std::string resolve_train_program(const BenchOptions& o) {
  if (!o.train_program.empty()) return o.train_program;
  if (const char* env = std::getenv("PEPR_TRAIN_CMD"); env && *env) return env;
  std::string self = self_exe();
  if (self.empty()) return "pepr";
  return self;
}

std::vector<std::string> train_argv(const RunSpec& r, const BenchOptions& o) {
  const fs::path dir = fs::absolute(o.runs_dir);
  run::RunConfig c = r.config;
  if (o.max_energy_wh > 0) c.max_energy_wh = o.max_energy_wh;
  if (o.max_time_s > 0) c.max_time_s = o.max_time_s;
  c.pepr_patience = std::max(0, o.pepr_patience);
  c.run_id = r.id;
  // auto, resolved before the sweep started: the size itself (0: the data as stored).
  if (c.image_size.is_auto() && r.image_size && r.image_size->ok())
    c.image_size =
        run::ImageSize::pixels(r.image_size->resize ? static_cast<int>(r.image_size->size) : 0);
  std::vector<std::string> a{resolve_train_program(o), "train"};
  for (auto& arg : run::to_args(c)) a.push_back(std::move(arg));
  a.insert(a.end(), {"-o", (dir / (r.id + ".json")).string(), "--progress",
                     (dir / (r.id + ".progress.jsonl")).string()});
  a.insert(a.end(), r.train_args.begin(), r.train_args.end());
  return a;
}

void prepare_datasets(const std::vector<RunSpec>& runs, const BenchOptions& o) {
  std::set<std::string> done;
  for (const auto& r : runs) {
    const std::string& data = r.config.data;
    if (!r.dataset.synth || done.count(data)) continue;
    done.insert(data);
    if (fs::exists(data)) continue;
    std::string exe = o.pepr_exe.empty() ? self_exe() : o.pepr_exe;
    std::vector<std::string> argv{exe, "data", "synth", "-o", data, "--seed", "0"};
    argv.insert(argv.end(), r.dataset.synth_args.begin(), r.dataset.synth_args.end());
    if (!o.quiet) fmt::print(stderr, "pepr bench: generating {}\n", data);
    CaptureResult c = run_capture(argv);
    if (c.exit_code != 0 || !fs::exists(data))
      throw Error(fmt::format("dataset '{}': `{}` failed (status {}): {}", r.dataset.name,
                              fmt::join(argv, " "), c.exit_code, tail_lines(c.err, 5, 1000)));
  }
}

namespace {

// The test accuracies of a record's epochs (a missing one counts as 0).
std::vector<double> record_accs(const run::RunRecord& rec) {
  std::vector<double> acc;
  for (const auto& e : rec.epoch_list()) acc.push_back(e.test_acc.value_or(0));
  return acc;
}

struct PruneContext {
  const PruneOptions* opt = nullptr;
  fs::path dir;
  std::map<std::string, std::vector<const RunSpec*>> experiments;  // every run of the plan
};

// What the sweep knows of `self`'s experiment now, from the records on disk (of every shard);
// `live` the epochs `self` has run in this attempt. *self_index: self's index in the state.
PruneState prune_state(const PruneContext& c, const RunSpec& self,
                       const std::vector<EpochSeen>* live, std::size_t* self_index) {
  PruneState st;
  st.top_k = c.opt->top_k;
  st.bound = c.opt->bound;
  st.p_margin = c.opt->p_margin;
  st.min_peers = c.opt->min_peers;
  st.energy_margin = c.opt->energy_margin;
  for (const RunSpec* r : c.experiments.at(self.experiment())) {
    PruneRun pr;
    if (auto rec = read_record(c.dir / (r->id + ".json"))) {
      if (rec->totals) pr.energy_error = rec->totals->energy_error_per_run.value_or(0);
      if (rec->status == run::RunStatus::completed || rec->status == run::RunStatus::stopped) {
        pr.finished = true;
        pr.energy_kwh = rec->energy_kwh();
        pr.test_acc = record_accs(*rec);
      } else {
        if (rec->probe) {
          pr.energy_kwh = rec->probe->predicted_energy_kwh.value_or(0);
          pr.test_acc = {rec->probe->test_acc.value_or(0)};
        }
        if (rec->status == run::RunStatus::pruned) {
          pr.test_acc = record_accs(*rec);
          if (rec->pruned) pr.spent_kwh = rec->pruned->spent_kwh.value_or(0);
        }
      }
    }
    if (r->id == self.id) {
      *self_index = st.runs.size();
      pr.finished = false;
      if (live && !live->empty()) {
        pr.test_acc.clear();
        pr.spent_kwh = 0;
        for (const auto& e : *live)
          pr.test_acc.push_back(std::isfinite(e.test_acc) ? e.test_acc : 0.0),
              pr.spent_kwh += e.energy_kwh;
      }
    }
    st.runs.push_back(std::move(pr));
  }
  // A run without a measured error of its own (still running) is measured as its peers are.
  double widest = 0;
  for (const auto& pr : st.runs) widest = std::max(widest, pr.energy_error);
  for (auto& pr : st.runs)
    if (!pr.finished && pr.energy_error <= 0) pr.energy_error = widest;
  return st;
}

// Why `self` cannot enter its experiment's top K now, or "".
std::string prune_check(const PruneContext& c, const RunSpec& self,
                        const std::vector<EpochSeen>* live) {
  std::size_t i = 0;
  PruneState st = prune_state(c, self, live, &i);
  auto why = prune_reason(st, i);
  return why ? *why : "";
}

enum class Phase { Full, Probe, AfterProbe };

struct Sweep {
  const BenchOptions& o;
  fs::path dir;
  SweepState& s;
  BenchSummary& sum;
  const PruneContext* prune = nullptr;  // null: no pruning
};

void count_status(BenchSummary& sum, run::RunStatus st, const std::string& id) {
  switch (st) {
    case run::RunStatus::completed:
      ++sum.completed;
      break;
    case run::RunStatus::stopped:
      ++sum.stopped;
      break;
    case run::RunStatus::pruned:
      ++sum.pruned;
      break;
    case run::RunStatus::probed:
      ++sum.probed;
      break;
    case run::RunStatus::interrupted:
      ++sum.interrupted;
      break;
    case run::RunStatus::failed:
    case run::RunStatus::running:
      ++sum.failed, sum.failed_ids.push_back(id);
      break;
  }
}

// The run's lock, or nullopt when another sweep holds it (counted as busy). A sweep of this host
// that was killed leaves its trainer finishing: its lock is waited for a little.
std::optional<RunLock> lock_run(Sweep& w, const RunSpec& run, std::size_t position) {
  const fs::path lock_path = w.dir / (run.id + ".lock");
  std::string holder;
  auto lock = RunLock::try_acquire(lock_path, &holder);
  for (int i = 0; !lock && i < 150 && held_by_dead_local_sweep(holder) && !g_signal; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    lock = RunLock::try_acquire(lock_path, &holder);
  }
  if (!lock) {
    ++w.sum.busy;
    w.sum.busy_ids.push_back(run.id);
    w.s.work.skip(work_of(run));
    if (!w.o.quiet)
      fmt::print(stderr, "[{}/{}] {}: skipped, running elsewhere (lock held by {})\n", position,
                 w.s.total, run.id, holder);
  }
  return lock;
}

// Where a probe keeps what its run continues from (pepr train --save-checkpoint).
fs::path checkpoint_path(const Sweep& w, const RunSpec& run) {
  return fs::absolute(w.dir / (run.id + ".ckpt"));
}

// Records a run pruned before it starts (K finished runs already beat it).
void record_pruned_before_start(Sweep& w, const RunSpec& run, std::size_t position,
                                const std::string& why, run::RunRecord out,
                                const std::optional<run::RunRecord>& prev,
                                const std::optional<run::ProbeRecord>& probe) {
  SweepState& s = w.s;
  out.status = run::RunStatus::pruned;
  out.stop_reason = "pruned by pepr bench before it started: " + why;
  if (prev && prev->epochs) out.epochs = prev->epochs;
  const double projected = probe ? probe->predicted_energy_kwh.value_or(0) : 0;
  const double spent = probe ? probe->energy_kwh.value_or(0) : 0;
  run::PrunedRecord& pruned = out.pruned.emplace();
  pruned.reason = why;
  pruned.top_k = w.prune->opt->top_k;
  pruned.projected_energy_kwh = projected;
  pruned.spent_kwh = spent;
  run::BudgetRecord& budget = out.budget.emplace();
  budget.predicted_energy_kwh = projected;
  if (probe && probe->predicted_time_s) budget.predicted_time_s = *probe->predicted_time_s;
  out.totals.emplace().energy_kwh = 0.0;
  out.sweep.value().finished_at = run::utc_now();
  write_file_atomic((w.dir / (run.id + ".json")).string(), out.dump());
  std::error_code ec;
  fs::remove(checkpoint_path(w, run), ec);
  ++w.sum.pruned;
  // Its probe's epoch was counted done when it ran.
  s.work.skip(work_of(run), probe ? 1 : 0);
  status_line(s,
              fmt::format("[{}/{}] {} pruned before it started (probe {:.3g} Wh, projected "
                          "{:.3g} Wh): {}",
                          position, s.total, run.id, spent * 1000, projected * 1000, why),
              true);
}

// What the progress file showed of a run that left no epochs in its record.
void keep_seen_epochs(run::RunRecord& out, const std::vector<EpochSeen>& seen) {
  if (!out.epoch_list().empty()) return;
  std::vector<run::EpochRecord> eps;
  for (const auto& e : seen) {
    json ej = {{"epoch", e.epoch}, {"energy_kwh", e.energy_kwh}, {"time_s", e.time_s}};
    ej["test_acc"] = std::isfinite(e.test_acc) ? json(e.test_acc) : json(nullptr);
    for (const char* k : {"val_acc", "co2_g", "train_loss"})
      if (e.raw.contains(k)) ej[k] = e.raw[k];
    eps.push_back(run::section_from_json<run::EpochRecord>(ej));
  }
  if (!eps.empty()) out.epochs = std::move(eps);
}

// A probe that ran its epoch: its prediction of the whole run, kept in the record.
run::ProbeRecord probe_summary(const run::RunRecord& out, const RunSpec& run, double energy,
                               double wall) {
  const run::EpochRecord& e1 = out.epoch_list().front();
  double pe = 0, pt = 0;
  if (out.budget) {
    pe = out.budget->predicted_energy_kwh.value_or(0);
    pt = out.budget->predicted_time_s.value_or(0);
  }
  if (!(pe > 0)) {
    auto p = predict_after_first_epoch(e1.energy_kwh.value_or(0), e1.time_s.value_or(0),
                                       run.config.epochs);
    pe = p.energy_kwh, pt = p.time_s;
  }
  run::ProbeRecord probe;
  probe.predicted_energy_kwh = pe;
  probe.predicted_time_s = pt;
  probe.energy_kwh = energy;
  probe.test_acc = e1.test_acc.value_or(0);
  probe.wall_s = wall;
  return probe;
}

// The run's status from the trainer's record and how the child ended; sets `out`'s error,
// stop reason, probe and pruning fields to match.
run::RunStatus settle_status(Sweep& w, run::RunRecord& out, const ChildOutcome& oc, Phase phase,
                             const RunSpec& run, const std::optional<run::ProbeRecord>& probe,
                             double energy, double wall, bool continued) {
  using run::RunStatus;
  RunStatus st = out.status;
  const bool clean_exit = !oc.status.signaled() && oc.status.code() == 0;
  const std::string how = oc.status.describe();
  const bool probe_made = phase == Phase::Probe && st == RunStatus::stopped && out.stop_reason &&
                          out.stop_reason->rfind("stop-after-epochs", 0) == 0 &&
                          !out.epoch_list().empty();
  if (probe_made) {
    st = RunStatus::probed;
    out.stop_reason = nullptr;
    out.probe = probe_summary(out, run, energy, wall);
    w.sum.probe_energy_kwh += energy;
  } else if (run::is_done(st)) {
    // The trainer finished (possibly just as a signal came): its record stands.
  } else if (oc.signal_forwarded) {
    st = RunStatus::interrupted;
    out.error = nullptr;
  } else if (!oc.sweep_stop.empty() && phase == Phase::AfterProbe) {
    st = RunStatus::pruned;
    out.error = nullptr;
    out.stop_reason =
        fmt::format("pruned by pepr bench after epoch {}: {}", oc.epochs.size(), oc.sweep_stop);
    run::PrunedRecord& pruned = out.pruned.emplace();
    pruned.reason = oc.sweep_stop;
    pruned.top_k = w.prune->opt->top_k;
    pruned.projected_energy_kwh = probe ? probe->predicted_energy_kwh.value_or(0) : 0;
    // A continued run's energy holds its probe's already.
    pruned.spent_kwh = energy + (probe && !continued ? probe->energy_kwh.value_or(0) : 0);
  } else if (oc.budget_killed) {
    st = RunStatus::stopped;
    out.stop_reason = oc.budget_reason + " (stopped by pepr bench)";
  } else if (st == RunStatus::failed || st == RunStatus::interrupted) {
    if (!out.error || out.error->empty())
      out.error = fmt::format("pepr train {}: {}", how, oc.err_tail);
  } else {
    st = RunStatus::failed;
    out.error = clean_exit
                    ? fmt::format("the trainer exited 0 without writing a record; {}", oc.err_tail)
                    : fmt::format("the trainer {}: {}", how, oc.err_tail);
  }
  return st;
}

// The run's line: "[3/8] id completed in 1m 02s, 0.42 Wh, test acc 0.8123".
void print_run_line(SweepState& s, const RunSpec& run, std::size_t position,
                    const run::RunRecord& out, run::RunStatus st, double wall, double energy) {
  using run::RunStatus;
  std::string detail;
  if (st == RunStatus::completed || st == RunStatus::stopped || st == RunStatus::probed ||
      st == RunStatus::pruned) {
    if (!out.epoch_list().empty())
      if (auto acc = out.epoch_list().back().test_acc.opt())
        detail = fmt::format(", test acc {:.4f}", *acc);
    if (st == RunStatus::stopped || st == RunStatus::pruned)
      detail += fmt::format(" ({})", out.stop_reason.value_or(""));
    if (st == RunStatus::probed)
      detail += fmt::format(", predicted total {:.3g} Wh",
                            (out.probe ? out.probe->predicted_energy_kwh.value_or(0) : 0) * 1000);
  } else if (st == RunStatus::failed) {
    detail = fmt::format(": {}", tail_lines(out.error.value_or(""), 1, 200));
  }
  std::string range;  // the energy's bounds (docs/meters.md), when the record has them
  if (out.totals && out.totals->energy_kwh_lo && out.totals->energy_kwh_hi && energy > 0)
    range = fmt::format(" ({:.3g}-{:.3g})", *out.totals->energy_kwh_lo * 1000,
                        *out.totals->energy_kwh_hi * 1000);
  status_line(s,
              fmt::format("[{}/{}] {} {} in {}, {:.3g} Wh{}{}", position, s.total, run.id,
                          run::name(st), format_duration(wall), energy * 1000, range, detail),
              true);
}

// Runs one run (or its probe) under its lock. False when the sweep must stop (a signal).
bool run_one(Sweep& w, const RunSpec& run, std::size_t position, Phase phase) {
  const BenchOptions& o = w.o;
  SweepState& s = w.s;
  BenchSummary& sum = w.sum;
  const fs::path rec_path = w.dir / (run.id + ".json");
  auto lock = lock_run(w, run, position);
  if (!lock) return true;
  // Another shard may have finished (or probed) it meanwhile.
  int attempt = 1;
  std::optional<run::ProbeRecord> probe;  // carried from record to record once made
  std::optional<run::RunRecord> prev = read_record(rec_path);
  if (prev) {
    if (run::is_done(prev->status)) {
      ++sum.already_done;
      s.work.skip(work_of(run));
      return true;
    }
    probe = prev->probe;
    if (phase == Phase::Probe && probe) return true;  // probed before
    // A record left by an earlier attempt (ours, or the trainer's when it was interrupted).
    attempt = 2;
    if (prev->sweep) attempt = static_cast<int>(prev->sweep->attempt.value_or(1)) + 1;
  }
  run::RunRecord running = running_record(run, o, attempt, run::utc_now());
  if (probe) running.probe = probe;
  if (phase == Phase::AfterProbe && w.prune) {
    std::string why = prune_check(*w.prune, run, nullptr);
    if (!why.empty()) {
      record_pruned_before_start(w, run, position, why, running, prev, probe);
      return true;
    }
  }

  write_file_atomic(rec_path.string(), running.dump());
  const fs::path progress_path = w.dir / (run.id + ".progress.jsonl");
  std::error_code ec;
  fs::remove(progress_path, ec);
  std::vector<std::string> argv = train_argv(run, o);
  // A probe: the trainer stops itself after epoch 1, its prediction planned for all epochs, and
  // keeps a checkpoint; the run then continues from it, so pruning never trains an epoch twice.
  const fs::path ckpt = checkpoint_path(w, run);
  if (phase == Phase::Probe)
    argv.insert(argv.end(), {"--stop-after-epochs", "1", "--save-checkpoint", ckpt.string()});
  Continuation before;
  if (phase == Phase::AfterProbe && prev && !prev->epoch_list().empty() && fs::exists(ckpt)) {
    argv.insert(argv.end(), {"--resume-from", ckpt.string()});
    for (const auto& e : prev->epoch_list()) {
      EpochSeen seen;
      seen.epoch = static_cast<int>(e.epoch.value_or(0));
      seen.test_acc = e.test_acc.value_or(NAN);
      seen.energy_kwh = e.energy_kwh.value_or(0);
      seen.time_s = e.time_s.value_or(0);
      seen.raw = run::section_to_json(e);
      before.energy_kwh += seen.energy_kwh;
      before.epochs.push_back(std::move(seen));
    }
  } else if (phase == Phase::AfterProbe && probe) {
    s.work.redo_first_epoch(work_of(run));  // no checkpoint: epoch 1 again
  }
  const bool continued = !before.epochs.empty();
  StopCheck stop_check;
  if (phase == Phase::AfterProbe && w.prune)
    stop_check = [&](const std::vector<EpochSeen>& seen) {
      return prune_check(*w.prune, run, &seen);
    };
  const auto t0 = Clock::now();
  ChildOutcome oc = run_child(run, argv, progress_path, w.dir / (run.id + ".log"), s, position,
                              stop_check, before);
  const double wall = seconds_since(t0);

  // The outcome: the trainer's record when it wrote one, else ours.
  auto rec = read_record(rec_path);
  run::RunRecord out = (rec && rec->status != run::RunStatus::running) ? *rec : running;
  keep_seen_epochs(out, oc.epochs);
  double energy = out.energy_kwh();
  if (energy == 0)
    for (const auto& e : oc.epochs) energy += e.energy_kwh;
  const run::RunStatus st = settle_status(w, out, oc, phase, run, probe, energy, wall, continued);
  out.status = st;
  out.run_id = run.id;
  if (probe && !out.probe) out.probe = probe;
  if (!out.config) out.config = run.config_record();
  run::SweepRecord sweep = running.sweep.value();
  sweep.finished_at = run::utc_now();
  sweep.wall_s = wall;
  sweep.exit = oc.status.describe();
  sweep.argv = json(argv);
  out.sweep = std::move(sweep);
  fill_budget(out, run.config.epochs);
  write_file_atomic(rec_path.string(), out.dump());
  fs::remove(progress_path, ec);

  // A checkpoint is kept for the run's continuation (and a resumed sweep's), no longer.
  if (st != run::RunStatus::probed && st != run::RunStatus::interrupted) fs::remove(ckpt, ec);
  // This invocation's energy: a continued run's record holds its probe's too, counted then.
  const double energy_now = std::max(0.0, energy - before.energy_kwh);
  s.energy_kwh += energy_now;
  sum.energy_kwh += energy_now;
  {
    // Its bounds, in the record's proportion (the whole run's) of this invocation's part.
    double lo = 1, hi = 1;
    if (out.totals && out.totals->energy_kwh_lo && out.totals->energy_kwh_hi && energy > 0)
      lo = *out.totals->energy_kwh_lo / energy, hi = *out.totals->energy_kwh_hi / energy;
    sum.energy_lo_kwh += energy_now * lo;
    sum.energy_hi_kwh += energy_now * hi;
  }
  sum.time_s += wall;
  if (st == run::RunStatus::probed)
    s.work.probed(work_of(run));
  else
    s.work.finished(work_of(run), before.epochs_done());
  print_run_line(s, run, position, out, st, wall, energy_now);
  count_status(sum, st, run.id);
  lock->release();
  return !oc.signal_forwarded;
}

}  // namespace

namespace {

// The runs of the plan already done in the folder; refuses a folder with records of the plan
// unless resuming.
std::set<std::string> runs_done_before(const std::vector<RunSpec>& runs, const BenchOptions& o) {
  const fs::path& dir = o.runs_dir;
  std::vector<std::string> existing;
  std::set<std::string> done_before;
  for (const auto& r : runs) {
    fs::path p = dir / (r.id + ".json");
    if (!fs::exists(p)) continue;
    auto rec = read_record(p);
    const std::string st = rec ? std::string(run::name(rec->status)) : "unreadable";
    existing.push_back(fmt::format("{} ({})", r.id, st));
    if (rec && run::is_done(rec->status)) done_before.insert(r.id);
  }
  if (!o.resume && !existing.empty())
    throw Error(fmt::format(
        "{}: already holds records of {} of this plan (e.g. {}); give --resume to skip "
        "completed runs and redo the others, or choose another folder",
        dir.string(), plural(static_cast<long long>(existing.size()), "run"), existing.front()));
  return done_before;
}

// SIGINT and SIGTERM, while a sweep runs, are remembered; the loop forwards them to the child
// and stops. No SA_RESTART: poll() returns at once.
class SweepSignals {
 public:
  SweepSignals() {
    g_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
  }
  ~SweepSignals() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }
  SweepSignals(const SweepSignals&) = delete;
  SweepSignals& operator=(const SweepSignals&) = delete;

 private:
  struct sigaction old_int_ {
  }, old_term_{};
};

// The runs of each experiment the pruning rule compares (the plan's; the shard's when the plan's
// are not given).
void set_up_pruning(PruneContext& prune, const BenchOptions& o, const std::vector<RunSpec>& runs) {
  prune.opt = &o.prune;
  prune.dir = o.runs_dir;
  for (const auto& r : o.prune.plan_runs) prune.experiments[r.experiment()].push_back(&r);
  for (const auto& r : runs)  // a plan_runs that lacks a run: the shard's runs are the plan
    if (!prune.experiments.count(r.experiment()))
      for (const auto& q : runs)
        if (q.experiment() == r.experiment()) prune.experiments[r.experiment()].push_back(&q);
}

// Every run not done before, in plan order (in the probe phase: epoch 1 of each, except runs of
// one epoch, which run whole). False when the sweep must stop.
bool run_in_order(Sweep& w, const std::vector<RunSpec>& runs,
                  const std::set<std::string>& done_before, bool probes) {
  std::size_t position = 0;
  for (const auto& run : runs) {
    ++position;
    if (g_signal) return false;
    if (done_before.count(run.id)) {
      ++w.sum.already_done;
      continue;
    }
    const Phase phase = probes && run.config.epochs > 1 ? Phase::Probe : Phase::Full;
    if (!run_one(w, run, position, phase)) return false;
  }
  return true;
}

// The probed runs, cheapest predicted total first, each pruned when it cannot win.
void run_after_probes(Sweep& w, const std::vector<RunSpec>& runs) {
  std::vector<std::size_t> todo;
  std::vector<double> predicted;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    auto rec = read_record(w.dir / (runs[i].id + ".json"));
    if (!rec || run::is_done(rec->status) || !rec->probe) continue;
    todo.push_back(i);
    predicted.push_back(rec->probe->predicted_energy_kwh.value_or(0));
  }
  for (std::size_t k : cheapest_first(predicted))
    if (g_signal || !run_one(w, runs[todo[k]], todo[k] + 1, Phase::AfterProbe)) break;
}

void print_bench_summary(const BenchSummary& sum, const BenchOptions& o, bool pruning) {
  fmt::print(
      stderr,
      "pepr bench: {}: {} done before, {} completed, {} stopped, {}{} failed, {} "
      "interrupted, {} running elsewhere; {:.3g} Wh{} in {}\n",
      plural(static_cast<long long>(sum.total), "run"), sum.already_done, sum.completed,
      sum.stopped, pruning ? fmt::format("{} pruned, ", sum.pruned) : std::string(), sum.failed,
      sum.interrupted, sum.busy, sum.energy_kwh * 1000,
      sum.energy_hi_kwh > sum.energy_lo_kwh
          ? fmt::format(" ({:.3g}-{:.3g})", sum.energy_lo_kwh * 1000, sum.energy_hi_kwh * 1000)
          : std::string(),
      format_duration(sum.time_s));
  if (pruning)
    fmt::print(stderr,
               "pepr bench: the probes (epoch 1 of {}) took {:.3g} Wh of that; a pruned run's "
               "record holds the bound that stopped it\n",
               plural(static_cast<long long>(sum.probed), "run"), sum.probe_energy_kwh * 1000);
  for (const auto& id : sum.failed_ids)
    fmt::print(stderr, "  failed: {} (see {}/{}.log)\n", id, o.runs_dir.string(), id);
  if (sum.signalled) fmt::print(stderr, "pepr bench: interrupted; continue with --resume\n");
}

}  // namespace

BenchSummary run_bench(const std::vector<RunSpec>& runs, const BenchOptions& o) {
  BenchSummary sum;
  sum.total = runs.size();
  make_dirs(o.runs_dir.string());
  const fs::path dir = o.runs_dir;
  const std::set<std::string> done_before = runs_done_before(runs, o);

  SweepState s;
  s.opt = &o;
  ProgressLine live;
  s.live = &live;
  s.tty = live.redraws();
  s.total = runs.size();
  for (const auto& r : runs)
    if (!done_before.count(r.id)) s.work.plan(work_of(r));
  if (!o.quiet)
    fmt::print(
        stderr, "pepr bench: {} '{}': {}{}, {} done before, {} to run -> {}\n", o.plan_file,
        o.plan_name, plural(static_cast<long long>(runs.size()), "run"),
        o.shard.count > 1 ? fmt::format(" in shard {}/{}", o.shard.index, o.shard.count) : "",
        done_before.size(), runs.size() - done_before.size(), dir.string());

  SweepSignals signals;
  PruneContext prune;
  Sweep w{o, dir, s, sum, nullptr};
  if (o.prune.top_k > 0) {
    set_up_pruning(prune, o, runs);
    w.prune = &prune;
  }
  if (!w.prune) {
    run_in_order(w, runs, done_before, /*probes=*/false);
  } else {
    // 1. Every run's epoch 1; 2. the probed runs, cheapest first, pruned when they cannot win.
    if (!o.quiet)
      fmt::print(stderr,
                 "pepr bench: pruning to the top {} by PePR-E per experiment: epoch 1 of every "
                 "run first, then the runs cheapest first\n",
                 o.prune.top_k);
    if (run_in_order(w, runs, done_before, /*probes=*/true)) run_after_probes(w, runs);
  }
  sum.signalled = g_signal != 0;
  if (!o.quiet) print_bench_summary(sum, o, w.prune != nullptr);
  return sum;
}

}  // namespace pepr::sweep
