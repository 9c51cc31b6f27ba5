// pepr data: pull (download MedMNIST into the cache), info, synth, list.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (in format.h before fmt 11)
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/download_progress.hpp"
#include "core/error.hpp"
#include "core/file_io.hpp"
#include "core/format.hpp"
#include "core/table.hpp"
#include "data/catalogue.hpp"
#include "data/dataset.hpp"
#include "data/npy.hpp"
#include "data/synth.hpp"

namespace pepr::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct PullArgs {
  std::string name;
  int size = 28;
  bool force = false, verify = false, quiet = false;
  int retries = 3;
};

void run_pull(const PullArgs& a) {
  data::PullOptions o;
  o.size = a.size;
  o.force = a.force;
  o.verify = a.verify;
  o.retries = a.retries;
  auto spec = data::parse_catalogue_spec(a.name);
  std::string file =
      spec ? data::medmnist_file_name(*spec->entry, spec->size == 28 ? a.size : spec->size)
           : a.name;
  auto progress = std::make_shared<DownloadProgress>(file, a.quiet);
  o.progress = [progress](std::uint64_t d, std::uint64_t t) { (*progress)(d, t); };
  data::PullResult r;
  try {
    r = data::pull_medmnist(a.name, o);
  } catch (...) {
    progress->finish();
    throw;
  }
  progress->finish();
  if (!a.quiet) {
    if (r.from_cache) {
      fmt::print(stderr, "{}: in the cache{}\n", file,
                 r.verified ? ", MD5 verified" : (a.verify ? "" : " (not re-verified)"));
    } else {
      fmt::print(
          stderr, "{}: downloaded {} from {}{}{}\n", file, format_bytes(r.download.bytes), r.url,
          r.download.resumes
              ? fmt::format(
                    " (resumed {} time{}{})", r.download.resumes, r.download.resumes > 1 ? "s" : "",
                    r.download.resumed_from
                        ? fmt::format(", first at {}", format_bytes(r.download.resumed_from))
                        : "")
              : "",
          r.verified ? fmt::format(", MD5 {} verified", r.md5) : "");
    }
  }
  fmt::print("{}\n", r.path);
}

struct InfoArgs {
  std::string path;
  OutputArgs out;
  int num_classes = 0;
  int image_size = 0;
};

std::string dims(const std::vector<int64_t>& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out;
}

void run_info(const InfoArgs& a) {
  data::LoadOptions lo;
  lo.num_classes = a.num_classes;
  lo.size = a.image_size;
  data::DatasetInfo info = data::inspect_dataset(a.path, lo);
  const data::FolderSplit& made = info.split_made;
  const std::string split_note =
      made.made ? fmt::format(
                      "{} split off from the {} images: {:g} % per class for val, {:g} % "
                      "for test (stratified, seed {}; the same for every run)",
                      fmt::join(made.splits, " and "), made.from, 100 * made.val_fraction,
                      100 * made.test_fraction, made.seed)
                : "";
  // .npz images are resized when a run reads them; an image folder as it is read (above).
  const std::string resize_note =
      a.image_size > 0 && info.format == "npz"
          ? fmt::format("shapes as stored; pepr train --image-size {0} resizes them to {0}x{0}",
                        a.image_size)
          : "";
  check_output_path(a.out.output, "-o");
  const Format f = resolve_format(a.out);
  if (f == Format::Json) {
    json j;
    j["path"] = info.path;
    j["format"] = info.format;
    j["num_classes"] = info.num_classes;
    j["multi_label"] = info.multi_label;
    if (!info.class_names.empty()) j["class_names"] = info.class_names;
    json splits = json::object();
    for (const auto& s : info.splits) {
      splits[s.split] = {{"n", s.n},
                         {"height", s.h},
                         {"width", s.w},
                         {"channels", s.c},
                         {"image_shape", s.image_shape},
                         {"image_dtype", s.image_dtype},
                         {"label_shape", s.label_shape},
                         {"label_dtype", s.label_dtype},
                         {"class_counts", s.class_counts}};
    }
    j["splits"] = splits;
    j["split_made"] = made.made ? json{{"splits", made.splits},
                                       {"from_images", made.from},
                                       {"seed", made.seed},
                                       {"val_fraction", made.val_fraction},
                                       {"test_fraction", made.test_fraction}}
                                : json(nullptr);
    if (a.image_size > 0) j["image_size"] = a.image_size;
    emit(a.out, j.dump(2) + "\n");
    return;
  }
  // The other formats: one row per split, the dataset in the title, the split made and the
  // resizing as notes.
  Table t({"split", "images", "image_shape", "image_dtype", "label_shape", "label_dtype",
           info.multi_label ? "positives_per_label" : "class_counts"});
  for (const auto& s : info.splits) {
    std::string counts;
    for (std::size_t k = 0; k < s.class_counts.size(); ++k)
      counts += fmt::format("{}{}:{}", k ? " " : "", k, s.class_counts[k]);
    t.add_row({s.split, std::to_string(s.n), dims(s.image_shape), s.image_dtype,
               dims(s.label_shape), s.label_dtype, counts});
  }
  RenderOptions ro;
  ro.title = fmt::format(
      "{} ({}), {} {}{}", info.path, info.format, info.num_classes,
      info.multi_label ? "labels (multi-label)" : "classes",
      info.class_names.empty() ? "" : ": " + fmt::format("{}", fmt::join(info.class_names, ", ")));
  if (!split_note.empty()) ro.notes.push_back(split_note);
  if (!resize_note.empty()) ro.notes.push_back(resize_note);
  emit(a.out, render(t, f, ro));
}

struct ExportArgs {
  std::string source, output;
  data::FolderExport opt;
};

void run_export(const ExportArgs& a) {
  if (a.output.empty()) throw Error("export: give the output folder with -o DIR");
  data::Dataset ds = data::load_dataset(a.source);
  const int64_t n = data::save_image_folder(ds, a.output, a.opt);
  fmt::print(stderr, "{}: {} PNG images of {} classes{}\n", a.output, n, ds.num_classes,
             a.opt.flat
                 ? " in class folders (no split folders: pepr splits them when it reads them)"
                 : " in train/, val/ and test/");
}

struct SynthArgs {
  data::SynthOptions opt;
  std::string output;
  bool stored = false;
};

void run_synth(const SynthArgs& a) {
  if (a.output.empty()) throw Error("synth: give the output file with -o FILE.npz");
  data::Dataset ds = data::make_synthetic(a.opt);
  if (auto dir = fs::path(a.output).parent_path(); !dir.empty()) make_dirs(dir.string());
  data::save_npz_dataset(ds, a.output, !a.stored);
  fmt::print(stderr, "{}: {} classes, {}x{}x{}, train {} / val {} / test {} (seed {})\n", a.output,
             ds.num_classes, ds.train.h, ds.train.w, ds.train.c, ds.train.n, ds.val.n, ds.test.n,
             a.opt.seed);
}

void run_list(const OutputArgs& out) {
  check_output_path(out.output, "-o");
  const Format f = resolve_format(out);
  const auto& cat = data::medmnist_catalogue();
  auto cached = [](const data::CatalogueEntry& e, int size) {
    return fs::is_regular_file(fs::path(data::data_cache_dir()) /
                               data::medmnist_file_name(e, size));
  };
  if (f == Format::Json) {  // the catalogue with every size's file, URL and MD5
    json arr = json::array();
    for (const auto& e : cat) {
      json sizes = json::object();
      for (int s : data::kMedmnistSizes) {
        std::string_view md5 = data::medmnist_md5(e, s);
        sizes[std::to_string(s)] = {{"file", data::medmnist_file_name(e, s)},
                                    {"url", data::medmnist_url(e, s)},
                                    {"md5", md5.empty() ? json(nullptr) : json(std::string(md5))},
                                    {"cached", cached(e, s)}};
      }
      arr.push_back({{"name", e.name},
                     {"description", e.description},
                     {"task", e.task},
                     {"channels", e.channels},
                     {"classes", e.classes},
                     {"train", e.train},
                     {"val", e.val},
                     {"test", e.test},
                     {"sizes", sizes}});
    }
    emit(out, arr.dump(2) + "\n");
    return;
  }
  Table t({"name", "modality", "task", "channels", "classes", "train", "val", "test", "cached_px"});
  for (const auto& e : cat) {
    std::string c;  // the sizes in the cache, e.g. "28,64"; empty: none
    for (int s : data::kMedmnistSizes)
      if (cached(e, s)) c += (c.empty() ? "" : ",") + std::to_string(s);
    t.add_row({std::string(e.name), std::string(e.description), std::string(e.task),
               std::to_string(e.channels), std::to_string(e.classes), std::to_string(e.train),
               std::to_string(e.val), std::to_string(e.test), c});
  }
  RenderOptions ro;
  ro.notes.push_back(fmt::format("sizes 28, 64, 128, 224 px from {} (override: {}); cache {}",
                                 data::kMedmnistBaseUrl, data::kMedmnistBaseEnv,
                                 data::data_cache_dir()));
  ro.notes.push_back(
      "published MD5 in the catalogue: pneumoniamnist 28 px; others are computed and reported at "
      "download (-f json: every size's file, URL and MD5)");
  emit(out, render(t, f, ro));
}

}  // namespace

void add_data(CLI::App& app) {
  CLI::App* data = app.add_subcommand("data",
                                      "Datasets: MedMNIST catalogue and downloads, "
                                      "inspection, synthetic data");
  data->require_subcommand(1);

  auto pull = std::make_shared<PullArgs>();
  CLI::App* p =
      data->add_subcommand("pull",
                           "Download a MedMNIST dataset into the cache ($PEPR_HOME/data, default "
                           "~/.cache/pepr/data), verify its MD5 and resume partial downloads");
  p->add_option("name", pull->name, "Dataset name (see `pepr data list`), e.g. pneumoniamnist")
      ->required();
  p->add_option("--size", pull->size, "Image size in pixels")
      ->check(CLI::IsMember({28, 64, 128, 224}))
      ->default_val(28);
  p->add_flag("--force", pull->force, "Download again even when cached");
  p->add_flag("--verify", pull->verify, "Recompute the MD5 of a cached file");
  p->add_option("--retries", pull->retries, "Resumptions after an interrupted transfer")
      ->default_val(3);
  p->add_flag("-q,--quiet", pull->quiet, "No progress output");
  p->callback([pull] { run_pull(*pull); });

  auto info = std::make_shared<InfoArgs>();
  CLI::App* i = data->add_subcommand(
      "info",
      "Splits, shapes, dtypes and class counts of a .npz file, an image folder or a "
      "pulled catalogue dataset; verifies every .npz member's CRC-32 and the labels");
  i->add_option("path", info->path, "FILE.npz, ROOT folder, or catalogue name")->required();
  add_output_options(i, info->out);
  i->add_option("--num-classes", info->num_classes,
                "the dataset's classes when not every class has images (default: the labels "
                "present, 0..K-1)")
      ->check(CLI::PositiveNumber);
  i->add_option("--image-size", info->image_size,
                "resize an image folder's images to this size as pepr train --image-size does "
                "(needed when they differ in size)")
      ->check(CLI::Range(1, static_cast<int>(data::kMaxImageSide)));
  i->callback([info] { run_info(*info); });

  auto exp = std::make_shared<ExportArgs>();
  CLI::App* x = data->add_subcommand(
      "export",
      "Write a dataset as an image folder of PNGs (to look at it, or to try pepr on "
      "an image folder)");
  x->add_option("source", exp->source, "FILE.npz, ROOT folder, or catalogue name")->required();
  x->add_option("-o,--output", exp->output, "the folder to create (must not exist)")->required();
  x->add_flag("--flat", exp->opt.flat,
              "ROOT/CLASS/*.png with every split's images pooled (pepr splits such a folder)");
  x->add_option("--limit", exp->opt.limit, "at most this many images per split (0: all)")
      ->check(CLI::NonNegativeNumber);
  x->add_option("--image-size", exp->opt.size, "resize to this size (default: as stored)")
      ->check(CLI::Range(1, static_cast<int>(data::kMaxImageSide)));
  x->callback([exp] { run_export(*exp); });

  auto synth = std::make_shared<SynthArgs>();
  CLI::App* s = data->add_subcommand(
      "synth", "Write a seeded synthetic dataset in the MedMNIST .npz layout (no download)");
  s->add_option("-o,--output", synth->output, "Output FILE.npz")->required();
  s->add_option("--classes", synth->opt.classes, "Number of classes (2..64)")->default_val(4);
  s->add_option("--size", synth->opt.size, "Image height and width in pixels")->default_val(28);
  s->add_option("--channels", synth->opt.channels, "1 (grayscale) or 3 (RGB)")
      ->check(CLI::IsMember({1, 3}))
      ->default_val(1);
  s->add_option("--train", synth->opt.train, "Training images")->default_val(800);
  s->add_option("--val", synth->opt.val, "Validation images")->default_val(200);
  s->add_option("--test", synth->opt.test, "Test images")->default_val(200);
  s->add_option("--seed", synth->opt.seed, "Random seed")->default_val(0);
  s->add_option("--noise", synth->opt.noise, "Pixel noise standard deviation in [0,1]")
      ->default_val(0.15);
  s->add_flag("--stored", synth->stored,
              "Store members uncompressed (np.savez) instead of "
              "deflating them (np.savez_compressed)");
  s->callback([synth] { run_synth(*synth); });

  auto list_out = std::make_shared<OutputArgs>();
  CLI::App* l = data->add_subcommand("list", "The MedMNIST catalogue");
  add_output_options(l, *list_out);
  l->footer(
      "Examples:\n  pepr data list\n  pepr data list -o catalogue.json   # with every size's URL "
      "and MD5");
  l->callback([list_out] { run_list(*list_out); });
}

}  // namespace pepr::cli
