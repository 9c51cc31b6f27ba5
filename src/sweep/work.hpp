// A sweep's work, for its ETA: in units of epochs x train fraction, what this invocation has to
// do and what it has done. With `--prune-top` a probe does a run's first epoch; a run continued
// from its probe's checkpoint does the rest; one continued without a checkpoint does its first
// epoch again. LibTorch-free.
//
//   SweepWork w;
//   for (auto& r : runs) w.plan({r.epochs, r.fraction});
//   ... w.probed(run); ... w.finished(run, /*epochs_before=*/1);
//   auto left = w.eta_s(elapsed, current_units);   // nullopt before any work is done
#pragma once

#include <optional>

namespace pepr::sweep {

class SweepWork {
 public:
  struct Run {
    int epochs = 1;
    double fraction = 1;
  };
  static double units(Run r) { return r.epochs * r.fraction; }
  static double epoch_units(Run r) { return r.fraction; }

  // A run to do now.
  void plan(Run r) { total_ += units(r); }
  // A planned run not done now (done before, running elsewhere, pruned before it started), of
  // which `epochs_done` epochs were counted done in this invocation (its probe).
  void skip(Run r, int epochs_done = 0) { total_ -= units(r) - epochs_done * epoch_units(r); }
  // A probe finished: the run's first epoch is done.
  void probed(Run r) { done_ += epoch_units(r); }
  // A probed run continues without its checkpoint: its first epoch is to do again.
  void redo_first_epoch(Run r) { total_ += epoch_units(r); }
  // A run ended (completed, stopped, pruned, failed): its epochs after the `epochs_before` its
  // probe counted are done (the rest of a stopped one is no longer to do).
  void finished(Run r, int epochs_before = 0) {
    done_ += units(r) - epochs_before * epoch_units(r);
  }

  double total() const { return total_; }
  double done() const { return done_; }
  // Seconds left after `elapsed_s`, with `current` units of the running run done: the rate so far
  // over what is left; nullopt before any work is done.
  std::optional<double> eta_s(double elapsed_s, double current) const {
    const double d = done_ + current;
    if (!(d > 0)) return std::nullopt;
    const double left = total_ - d;
    return elapsed_s / d * (left > 0 ? left : 0.0);
  }

 private:
  double total_ = 0, done_ = 0;
};

}  // namespace pepr::sweep
