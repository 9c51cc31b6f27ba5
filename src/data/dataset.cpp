#include "data/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <numeric>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "data/catalogue.hpp"
#include "data/image_codec.hpp"
#include "data/npz.hpp"
#include "data/preprocess.hpp"
#include "data/rng.hpp"

namespace pepr::data {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSplits[] = {"train", "val", "test"};

std::string stem_of(const std::string& path) {
  return fs::path(path).stem().string();
}

bool is_u1(const NpyDtype& t) {
  return t.kind == 'u' && t.size == 1;
}

// Checks an image member's header; returns n,h,w,c.
std::array<int64_t, 4> image_geometry(const NpyHeader& h, const std::string& what) {
  if (!is_u1(h.dtype)) {
    throw Error(fmt::format("{}: unsupported dtype '{}' (expected |u1)", what, h.dtype.descr));
  }
  const auto& s = h.shape;
  std::array<int64_t, 4> g{};
  if (s.size() == 3)
    g = {s[0], s[1], s[2], 1};
  else if (s.size() == 4 && (s[3] == 1 || s[3] == 3))
    g = {s[0], s[1], s[2], s[3]};
  else
    throw Error(fmt::format("{}: unsupported image shape {} (expected N,H,W or N,H,W,3)", what,
                            shape_string(s)));
  // Height and width are bounded even for an empty split (N = 0 holds no bytes whatever H x W
  // claims), so that H x W x C never overflows.
  if (g[1] < 1 || g[2] < 1 || g[1] > kMaxImageSide || g[2] > kMaxImageSide)
    throw Error(fmt::format("{}: image shape {}: height and width must be 1 to {} pixels", what,
                            shape_string(s), kMaxImageSide));
  return g;
}

// Label shape N, N,1 or N,L; returns label_dim.
int64_t label_geometry(const NpyHeader& h, int64_t n, const std::string& what) {
  if (h.dtype.kind == 'f') {
    throw Error(fmt::format("{}: unsupported dtype '{}' (expected an integer type such as |u1)",
                            what, h.dtype.descr));
  }
  const auto& s = h.shape;
  if (s.empty() || s.size() > 2 || (s.size() == 2 && s[1] < 1)) {
    throw Error(fmt::format("{}: unsupported label shape {} (expected N or N,1 or N,L)", what,
                            shape_string(s)));
  }
  if (s[0] != n) {
    throw Error(
        fmt::format("{}: {} labels for {} images (shape {})", what, s[0], n, shape_string(s)));
  }
  return s.size() == 2 ? s[1] : 1;
}

void check_labels(const ImageSet& s, bool multi, const std::string& what) {
  for (int64_t v : s.labels) {
    if (v < 0 || (multi && v > 1)) {
      throw Error(fmt::format("{}: invalid label value {} ({})", what, v,
                              multi ? "multi-label values must be 0 or 1" : "negative"));
    }
  }
}

// Classes: `num_classes` when given (> 0), else the catalogue's count for a catalogue dataset,
// else the class folders, else the labels present, which must then be 0..K-1 without a gap: a
// label past a gap (200 among 0 and 1) is a stray value, an error naming its split and index.
// Every split with images must hold more than one class (accuracy 1.0 or an AUC of 0 on one
// class is no result).
void finish_dataset(Dataset& ds, int num_classes) {
  const ImageSet* first = nullptr;
  for (const char* sp : kSplits) {
    const ImageSet& s = ds.split(sp);
    if (s.empty()) continue;
    if (!first) first = &s;
    if (s.h != first->h || s.w != first->w || s.c != first->c || s.label_dim != first->label_dim) {
      throw Error(
          fmt::format("{}: split {} has images {}x{}x{} (labels {}), other splits "
                      "{}x{}x{} (labels {})",
                      ds.source, sp, s.h, s.w, s.c, s.label_dim, first->h, first->w, first->c,
                      first->label_dim));
    }
  }
  ds.multi_label = first && first->label_dim > 1;
  std::set<int64_t> present;
  for (const char* sp : kSplits) {
    const ImageSet& s = ds.split(sp);
    check_labels(s, ds.multi_label, fmt::format("{}: {}_labels", ds.source, sp));
    if (!ds.multi_label) present.insert(s.labels.begin(), s.labels.end());
  }
  if (ds.multi_label) {
    ds.num_classes = static_cast<int>(first->label_dim);
    return;
  }
  if (num_classes < 0) throw Error(fmt::format("num_classes must be >= 1, got {}", num_classes));
  int64_t classes = 0;
  std::string why;  // where `classes` comes from, for the error message
  const CatalogueEntry* entry = find_catalogue_entry(ds.name);
  if (num_classes > 0) {
    classes = num_classes;
    why = fmt::format("num_classes is {}", num_classes);
  } else if (!ds.class_names.empty()) {
    classes = static_cast<int64_t>(ds.class_names.size());
    why = fmt::format("{} class folders", classes);
  } else if (entry) {
    classes = entry->classes;
    why = fmt::format("{} has {} classes", ds.name, classes);
  } else {
    while (present.count(classes)) ++classes;  // 0..K-1 without a gap
    auto next = present.upper_bound(classes);
    if (classes == 0)
      why = "no image has label 0";
    else if (next != present.end())
      why = fmt::format("the labels present are 0..{}, then {}", classes - 1, *next);
  }
  for (const char* sp : kSplits) {
    const ImageSet& s = ds.split(sp);
    for (std::size_t i = 0; i < s.labels.size(); ++i)
      if (s.labels[i] >= classes)
        throw Error(
            fmt::format("{}: {}_labels[{}] = {} is not a class ({}); a stray label? If "
                        "the dataset really has {} classes, give num_classes (pepr train "
                        "--num-classes {})",
                        ds.source, sp, i, s.labels[i], why, s.labels[i] + 1, s.labels[i] + 1));
  }
  if (classes > 1000000)
    throw Error(fmt::format("{}: {} classes is implausible", ds.source, classes));
  ds.num_classes = static_cast<int>(classes);
  for (const char* sp : kSplits) {
    const ImageSet& s = ds.split(sp);
    if (s.empty()) continue;
    if (std::all_of(s.labels.begin(), s.labels.end(), [&](int64_t v) { return v == s.labels[0]; }))
      throw Error(
          fmt::format("{}: split {} holds one class only (all {} image{} are class {}): "
                      "accuracy and AUC on it are no result",
                      ds.source, sp, s.n, s.n == 1 ? "" : "s", s.labels[0]));
  }
}

}  // namespace

const ImageSet& Dataset::split(std::string_view name) const {
  if (name == "train") return train;
  if (name == "val") return val;
  if (name == "test") return test;
  throw Error(fmt::format("unknown split '{}' (train, val or test)", name));
}

Dataset load_npz_dataset(const std::string& path, const LoadOptions& opt) {
  return load_npz_dataset(NpzFile::open(path), opt);
}

Dataset load_npz_dataset(const NpzFile& f, const LoadOptions& opt) {
  const std::string& path = f.path();
  Dataset ds;
  ds.source = path;
  ds.name = stem_of(path);
  for (const char* sp : kSplits) {
    ImageSet& s = const_cast<ImageSet&>(ds.split(sp));
    std::string ik = fmt::format("{}_images", sp), lk = fmt::format("{}_labels", sp);
    std::string iwhat = fmt::format("{}: member {}.npy", path, ik);
    std::string lwhat = fmt::format("{}: member {}.npy", path, lk);
    // Validate both headers before decompressing anything large.
    NpyHeader ih = f.header(ik);
    NpyHeader lh = f.header(lk);
    auto [n, h, w, c] = image_geometry(ih, iwhat);
    s.label_dim = label_geometry(lh, n, lwhat);
    s.labels = npy_to_int64(f.read(lk), lwhat);
    NpyArray img = f.read(ik);
    s.n = n;
    s.h = h;
    s.w = w;
    s.c = c;
    s.pixels = std::move(img.data);
  }
  finish_dataset(ds, opt.num_classes);
  return ds;
}

namespace {

bool is_image_file(const fs::directory_entry& e) {
  std::string ext = e.path().extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return e.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg");
}

bool has_images(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (is_image_file(e)) return true;
  return false;
}

// The class folders (names not starting with '.') under `dir`.
std::set<std::string> class_folders(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string()[0] != '.')
      out.insert(e.path().filename().string());
  return out;
}

struct FolderImage {
  DecodedImage im;
  int64_t label;
  std::string path;
};

// The images of one split folder (sorted by path within each class), resized to `size` when it
// is positive, else checked against the first image's size.
struct FolderReader {
  const FolderOptions& opt;
  int64_t H, W;
  std::string first_path;
  bool any_rgb = false;

  void read(const fs::path& split_dir, const std::vector<std::string>& classes,
            std::vector<FolderImage>& list) {
    for (std::size_t k = 0; k < classes.size(); ++k) {
      fs::path cd = split_dir / classes[k];
      if (!fs::is_directory(cd)) continue;
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(cd))
        if (is_image_file(e)) files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (const auto& p : files) {
        FolderImage img{read_image(p.string()), static_cast<int64_t>(k), p.string()};
        if (opt.size > 0) {
          if (img.im.h != H || img.im.w != W) {
            DecodedImage r;
            r.h = H;
            r.w = W;
            r.c = img.im.c;
            r.pixels.resize(static_cast<std::size_t>(H * W * r.c));
            resize_bilinear(img.im.pixels.data(), img.im.h, img.im.w, img.im.c, r.pixels.data(), H,
                            W);
            img.im = std::move(r);
          }
        } else if (first_path.empty()) {
          H = img.im.h;
          W = img.im.w;
          first_path = img.path;
        } else if (img.im.h != H || img.im.w != W) {
          throw Error(
              fmt::format("{}: image is {}x{} but {} is {}x{} (pass a size to resize "
                          "all images, e.g. --image-size {})",
                          img.path, img.im.w, img.im.h, first_path, W, H, W));
        }
        any_rgb = any_rgb || img.im.c == 3;
        list.push_back(std::move(img));
      }
    }
  }
};

// The images at `indices` of `all`, moved out.
std::vector<FolderImage> take(std::vector<FolderImage>& all, const std::vector<int64_t>& indices) {
  std::vector<FolderImage> out;
  out.reserve(indices.size());
  for (int64_t i : indices) out.push_back(std::move(all[static_cast<std::size_t>(i)]));
  return out;
}

// Splits `pool` (one folder's images) into the splits `missing` names ("val", "test"), stratified
// by class and seeded (LoadOptions::split_seed); what stays is the training split.
void split_pool(std::vector<FolderImage>& pool, const std::vector<std::string>& class_names,
                const std::vector<std::string>& missing, const FolderOptions& opt,
                std::map<std::string, std::vector<FolderImage>>& loaded, FolderSplit& made,
                const std::string& root) {
  std::vector<int64_t> per_class(class_names.size(), 0);
  for (const auto& img : pool) ++per_class[static_cast<std::size_t>(img.label)];
  const std::size_t need = missing.size() + 1;
  for (std::size_t k = 0; k < class_names.size(); ++k)
    if (per_class[k] > 0 && static_cast<std::size_t>(per_class[k]) < need)
      throw Error(fmt::format(
          "{}: class '{}' has {} image(s); pepr splits off {} from the training images and needs "
          "at least {} per class (one for each split), or give the splits as folders "
          "ROOT/{{train,val,test}}/CLASS/",
          root, class_names[k], per_class[k], fmt::join(missing, " and "), need));
  made.made = true;
  made.seed = opt.split_seed;
  made.from = static_cast<int64_t>(pool.size());
  // Per class, a seeded permutation (the class's images in path order, shuffled); each split
  // made takes round(share x count) of it, at least one, and leaves at least one image for every
  // split still to come and for training.
  std::vector<std::vector<int64_t>> members(class_names.size());
  for (std::size_t i = 0; i < pool.size(); ++i)
    members[static_cast<std::size_t>(pool[i].label)].push_back(static_cast<int64_t>(i));
  Rng rng(opt.split_seed);
  for (auto& idx : members)
    for (std::size_t k = 0; k + 1 < idx.size(); ++k)
      std::swap(idx[k], idx[k + static_cast<std::size_t>(rng.below(idx.size() - k))]);
  std::vector<std::size_t> next(class_names.size(), 0);  // first image not yet split off
  for (std::size_t m = 0; m < missing.size(); ++m) {
    const double share = missing[m] == "test" ? opt.test_fraction : opt.val_fraction;
    const std::size_t after = missing.size() - m;  // splits after this one, and training
    std::vector<int64_t> chosen;
    for (std::size_t k = 0; k < members.size(); ++k) {
      const std::size_t n = members[k].size();
      if (n == 0) continue;
      auto want = static_cast<std::size_t>(std::llround(share * static_cast<double>(n)));
      want = std::clamp<std::size_t>(want, 1, n - next[k] - after);
      chosen.insert(chosen.end(), members[k].begin() + static_cast<std::ptrdiff_t>(next[k]),
                    members[k].begin() + static_cast<std::ptrdiff_t>(next[k] + want));
      next[k] += want;
    }
    std::sort(chosen.begin(), chosen.end());
    loaded[missing[m]] = take(pool, chosen);
  }
  std::vector<int64_t> rest;
  for (std::size_t k = 0; k < members.size(); ++k)
    rest.insert(rest.end(), members[k].begin() + static_cast<std::ptrdiff_t>(next[k]),
                members[k].end());
  std::sort(rest.begin(), rest.end());
  loaded["train"] = take(pool, rest);
  made.val_fraction = opt.val_fraction;
  made.test_fraction = opt.test_fraction;
  made.splits = missing;
}

}  // namespace

Dataset load_image_folder(const std::string& root, const FolderOptions& opt) {
  if (!fs::is_directory(root)) throw Error(fmt::format("{}: not a folder", root));
  if (!(opt.val_fraction > 0 && opt.test_fraction > 0 && opt.val_fraction + opt.test_fraction < 1))
    throw Error(fmt::format(
        "split fractions: val {} and test {} must be above 0 and leave images for training",
        opt.val_fraction, opt.test_fraction));
  Dataset ds;
  ds.source = root;
  ds.name = fs::path(root).lexically_normal().filename().string();
  if (ds.name.empty()) {
    ds.name = fs::path(root).lexically_normal().parent_path().filename().string();
  }
  // Layouts: ROOT/{train,val,test}/CLASS/ (val optional); ROOT/train/CLASS/ alone, or
  // ROOT/CLASS/ (no split folders): the missing splits are split off, stratified and seeded.
  const fs::path r(root);
  const bool has_train = fs::is_directory(r / "train");
  std::vector<std::string> missing;
  std::set<std::string> classes;
  if (has_train) {
    for (const char* sp : kSplits) {
      if (!fs::is_directory(r / sp)) {
        missing.push_back(sp);
        continue;
      }
      auto found = class_folders(r / sp);
      classes.insert(found.begin(), found.end());
    }
    // A lone val/ with no test/ is kept; only absent splits are made.
    if (std::find(missing.begin(), missing.end(), "test") == missing.end()) missing.clear();
  } else {
    if (fs::is_directory(r / "test") || fs::is_directory(r / "val"))
      throw Error(
          fmt::format("{}: has {}/ but no train/ (expected ROOT/{{train,val,test}}/CLASS/"
                      "*.png|*.jpg, or ROOT/CLASS/*.png|*.jpg to split)",
                      root, fs::is_directory(r / "test") ? "test" : "val"));
    classes = class_folders(r);
    missing = {"val", "test"};
  }
  if (classes.empty())
    throw Error(
        fmt::format("{}: no class folders (expected ROOT/{{train,val,test}}/CLASS/*.png|*.jpg, or "
                    "ROOT/CLASS/*.png|*.jpg)",
                    root));
  ds.class_names.assign(classes.begin(), classes.end());
  if (!has_train && has_images(r))
    throw Error(
        fmt::format("{}: images directly in the folder; put each class in its own "
                    "folder ROOT/CLASS/*.png",
                    root));
  std::map<std::string, std::vector<FolderImage>> loaded;
  FolderReader reader{opt, opt.size, opt.size, {}};
  if (has_train) {
    for (const char* sp : kSplits)
      if (fs::is_directory(r / sp)) reader.read(r / sp, ds.class_names, loaded[sp]);
  } else {
    reader.read(r, ds.class_names, loaded["train"]);
  }
  if (loaded["train"].empty())
    throw Error(fmt::format("{}: no .png/.jpg images under {}", root,
                            has_train ? "train/" : "its class folders"));
  if (!missing.empty()) {
    std::vector<FolderImage> pool = std::move(loaded["train"]);
    std::erase_if(missing, [](const std::string& s) { return s == "train"; });
    split_pool(pool, ds.class_names, missing, opt, loaded, ds.split_made, root);
  } else if (loaded["test"].empty()) {
    throw Error(fmt::format("{}: no .png/.jpg images under test/", root));
  }
  const int64_t H = reader.H, W = reader.W;
  const int64_t C = reader.any_rgb ? 3 : 1;
  for (const char* sp : kSplits) {
    ImageSet& s = const_cast<ImageSet&>(ds.split(sp));
    auto& list = loaded[sp];
    s.n = static_cast<int64_t>(list.size());
    s.h = H;
    s.w = W;
    s.c = C;
    s.pixels.resize(static_cast<std::size_t>(s.n * H * W * C));
    s.labels.resize(static_cast<std::size_t>(s.n));
    for (int64_t i = 0; i < s.n; ++i) {
      const DecodedImage& im = list[i].im;
      std::uint8_t* dst = s.pixels.data() + i * H * W * C;
      if (im.c == C) {
        std::memcpy(dst, im.pixels.data(), static_cast<std::size_t>(H * W * C));
      } else {  // gray -> RGB
        for (int64_t p = 0; p < H * W; ++p)
          dst[3 * p] = dst[3 * p + 1] = dst[3 * p + 2] = im.pixels[p];
      }
      s.labels[i] = list[i].label;
    }
  }
  finish_dataset(ds, opt.num_classes);
  return ds;
}

int64_t save_image_folder(const Dataset& ds, const std::string& dir, const FolderExport& opt) {
  if (ds.multi_label)
    throw Error(fmt::format("{}: multi-label datasets have no class folders", ds.source));
  if (fs::exists(dir)) throw Error(fmt::format("{}: already exists; give a new folder", dir));
  const std::size_t digits = std::to_string(std::max(ds.num_classes - 1, 0)).size();
  std::vector<std::string> names;
  for (int k = 0; k < ds.num_classes; ++k)
    names.push_back(static_cast<std::size_t>(k) < ds.class_names.size()
                        ? ds.class_names[static_cast<std::size_t>(k)]
                        : fmt::format("{:0{}}", k, digits));
  const fs::path part = fs::path(dir).string() + ".part";
  fs::remove_all(part);
  int64_t written = 0;
  for (const char* sp : kSplits) {
    ImageSet s = ds.split(sp);
    if (opt.limit > 0 && s.n > opt.limit) {
      std::vector<int64_t> first(static_cast<std::size_t>(opt.limit));
      std::iota(first.begin(), first.end(), 0);
      s = subset(s, first);
    }
    if (opt.size > 0 && (s.h != opt.size || s.w != opt.size))
      s = resize_images(s, opt.size, opt.size);
    for (int64_t i = 0; i < s.n; ++i) {
      const fs::path folder = opt.flat ? part / names[static_cast<std::size_t>(s.labels[i])]
                                       : part / sp / names[static_cast<std::size_t>(s.labels[i])];
      fs::create_directories(folder);
      write_file_atomic((folder / fmt::format("{}_{:05}.png", sp, i)).string(),
                        encode_png(s.image(i), s.w, s.h, s.c));
      ++written;
    }
  }
  fs::rename(part, dir);
  return written;
}

std::string resolve_dataset_path(const std::string& spec) {
  if (fs::exists(spec)) return spec;
  if (auto cached = cached_catalogue_file(spec)) return *cached;
  if (find_catalogue_entry(spec) || parse_catalogue_spec(spec)) {
    throw Error(fmt::format("{}: not in the cache ({}); download it with `pepr data pull {}`", spec,
                            data_cache_dir(), spec));
  }
  throw Error(
      fmt::format("{}: no such file or folder, and not a catalogue dataset name (see "
                  "`pepr data list`)",
                  spec));
}

Dataset load_dataset(const std::string& spec, const FolderOptions& opt) {
  std::string path = resolve_dataset_path(spec);
  if (fs::is_directory(path)) return load_image_folder(path, opt);
  return load_npz_dataset(path, opt);
}

void save_npz_dataset(const Dataset& ds, const std::string& path, bool compress) {
  std::vector<NpzMember> members;
  std::vector<std::string> label_bytes(3);
  int idx = 0;
  for (const char* sp : kSplits) {
    const ImageSet& s = ds.split(sp);
    std::vector<int64_t> ishape{s.n, s.h, s.w};
    if (s.c != 1) ishape.push_back(s.c);
    members.push_back(
        {fmt::format("{}_images", sp), "|u1", ishape,
         std::string_view(reinterpret_cast<const char*>(s.pixels.data()), s.pixels.size())});
    bool fits =
        std::all_of(s.labels.begin(), s.labels.end(), [](int64_t v) { return v >= 0 && v <= 255; });
    std::string& lb = label_bytes[idx++];
    if (fits) {
      for (int64_t v : s.labels) lb.push_back(static_cast<char>(v));
    } else {
      for (int64_t v : s.labels) {
        for (int b = 0; b < 8; ++b) lb.push_back(static_cast<char>((std::uint64_t(v) >> (8 * b))));
      }
    }
    members.push_back({fmt::format("{}_labels", sp), fits ? "|u1" : "<i8",
                       std::vector<int64_t>{s.n, s.label_dim}, lb});
  }
  write_npz(path, members, compress);
}

std::vector<int64_t> class_counts(const ImageSet& s, int num_classes) {
  std::vector<int64_t> counts(static_cast<std::size_t>(std::max(num_classes, 0)), 0);
  if (s.label_dim > 1) {
    for (std::size_t i = 0; i < s.labels.size(); ++i) {
      std::size_t j = i % static_cast<std::size_t>(s.label_dim);
      if (j < counts.size()) counts[j] += s.labels[i] != 0;
    }
  } else {
    for (int64_t v : s.labels) {
      if (v >= 0 && v < num_classes) ++counts[static_cast<std::size_t>(v)];
    }
  }
  return counts;
}

ImageSet subset(const ImageSet& s, const std::vector<int64_t>& indices) {
  ImageSet o;
  o.n = static_cast<int64_t>(indices.size());
  o.h = s.h;
  o.w = s.w;
  o.c = s.c;
  o.label_dim = s.label_dim;
  const int64_t ib = s.image_bytes();
  o.pixels.resize(static_cast<std::size_t>(o.n * ib));
  o.labels.resize(static_cast<std::size_t>(o.n * s.label_dim));
  for (int64_t k = 0; k < o.n; ++k) {
    int64_t i = indices[k];
    if (i < 0 || i >= s.n) throw Error(fmt::format("subset: index {} out of range 0..{}", i, s.n));
    std::memcpy(o.pixels.data() + k * ib, s.image(i), static_cast<std::size_t>(ib));
    std::copy_n(s.labels.begin() + i * s.label_dim, s.label_dim,
                o.labels.begin() + k * s.label_dim);
  }
  return o;
}

std::vector<int64_t> stratified_subset(const ImageSet& s, double fraction, std::uint64_t seed) {
  if (!(fraction > 0.0 && fraction <= 1.0)) {
    throw Error(fmt::format("train fraction {} must be in (0, 1]", fraction));
  }
  std::map<std::vector<int64_t>, std::vector<int64_t>> groups;
  for (int64_t i = 0; i < s.n; ++i) {
    auto b = s.labels.begin() + i * s.label_dim;
    groups[std::vector<int64_t>(b, b + s.label_dim)].push_back(i);
  }
  Rng rng(seed);
  std::vector<int64_t> out;
  for (auto& [key, idx] : groups) {
    auto take = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(idx.size())));
    take = std::clamp<std::size_t>(take, 1, idx.size());
    // Partial Fisher-Yates: the first `take` of a seeded permutation.
    for (std::size_t k = 0; k < take; ++k) {
      std::size_t j = k + static_cast<std::size_t>(rng.below(idx.size() - k));
      std::swap(idx[k], idx[j]);
    }
    out.insert(out.end(), idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(take));
  }
  std::sort(out.begin(), out.end());
  return out;
}

DatasetInfo inspect_dataset(const std::string& spec, const LoadOptions& opt) {
  std::string path = resolve_dataset_path(spec);
  DatasetInfo info;
  info.path = path;
  if (fs::is_directory(path)) {
    Dataset ds = load_image_folder(path, opt);
    info.format = "image-folder";
    info.num_classes = ds.num_classes;
    info.multi_label = ds.multi_label;
    info.class_names = ds.class_names;
    info.split_made = ds.split_made;
    for (const char* sp : kSplits) {
      const ImageSet& s = ds.split(sp);
      SplitInfo si{sp,  {s.n, s.h, s.w, s.c},           "uint8", {s.n}, "int64", s.n, s.h, s.w,
                   s.c, class_counts(s, ds.num_classes)};
      info.splits.push_back(std::move(si));
    }
    return info;
  }
  info.format = "npz";
  NpzFile f = NpzFile::open(path);
  f.verify();           // a damaged file fails here, not in the middle of pepr train
  Dataset labels_only;  // labels of every split, to compute classes and counts
  labels_only.source = path;
  labels_only.name = stem_of(path);
  for (const char* sp : kSplits) {
    std::string ik = fmt::format("{}_images", sp), lk = fmt::format("{}_labels", sp);
    std::string iwhat = fmt::format("{}: member {}.npy", path, ik);
    std::string lwhat = fmt::format("{}: member {}.npy", path, lk);
    NpyHeader ih = f.header(ik);
    NpyHeader lh = f.header(lk);
    auto [n, h, w, c] = image_geometry(ih, iwhat);
    ImageSet& s = const_cast<ImageSet&>(labels_only.split(sp));
    s.n = n;
    s.h = h;
    s.w = w;
    s.c = c;
    s.label_dim = label_geometry(lh, n, lwhat);
    s.labels = npy_to_int64(f.read(lk), lwhat);
    SplitInfo si;
    si.split = sp;
    si.image_shape = ih.shape;
    si.image_dtype = ih.dtype.descr;
    si.label_shape = lh.shape;
    si.label_dtype = lh.dtype.descr;
    si.n = n;
    si.h = h;
    si.w = w;
    si.c = c;
    info.splits.push_back(std::move(si));
  }
  finish_dataset(labels_only, opt.num_classes);
  info.num_classes = labels_only.num_classes;
  info.multi_label = labels_only.multi_label;
  for (auto& si : info.splits) {
    si.class_counts = class_counts(labels_only.split(si.split), info.num_classes);
  }
  return info;
}

}  // namespace pepr::data
