// pepr's public API: train or fine-tune a classifier on a dataset (.npz in MedMNIST's layout, an
// image folder, or a catalogue name), metered epoch by epoch, into a pepr.run/1 record.
//
//   pepr::TrainConfig c;
//   c.model = "resnet18";  c.data = "pneumoniamnist.npz";  c.epochs = 2;
//   pepr::RunRecord r = pepr::train_run(c);   // r.epoch_list()[k].test_acc, r.totals, r.dump()
//   nlohmann::json j = r;                       // the same record as JSON
//
// Link pepr::train (LibTorch). Bad configuration throws pepr::Error; a failure while training
// (a diverging loss, out of memory) gives a record with status "failed".
#pragma once

#include "train/engine.hpp"

namespace pepr {
using run::RunRecord;
using run::RunStatus;
using train::Progress;
using train::train_run;
using train::TrainConfig;
}  // namespace pepr
