// pepr's public API without LibTorch: scores and statistics on tables, the Tracker, run records.
// The LibTorch part: <pepr/models.hpp> and <pepr/train.hpp>.
#pragma once

#include "pepr/records.hpp"
#include "pepr/score.hpp"
#include "pepr/tracker.hpp"
