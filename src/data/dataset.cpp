#include "data/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

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

Dataset load_image_folder(const std::string& root, const FolderOptions& opt) {
  if (!fs::is_directory(root)) throw Error(fmt::format("{}: not a folder", root));
  Dataset ds;
  ds.source = root;
  ds.name = fs::path(root).lexically_normal().filename().string();
  if (ds.name.empty()) {
    ds.name = fs::path(root).lexically_normal().parent_path().filename().string();
  }
  std::set<std::string> classes;
  for (const char* sp : kSplits) {
    fs::path d = fs::path(root) / sp;
    if (!fs::is_directory(d)) {
      if (std::string(sp) == "val") continue;
      throw Error(
          fmt::format("{}: missing folder {}/ (expected ROOT/{{train,val,test}}/CLASS/"
                      "*.png|*.jpg)",
                      root, sp));
    }
    for (const auto& e : fs::directory_iterator(d)) {
      if (e.is_directory() && e.path().filename().string()[0] != '.') {
        classes.insert(e.path().filename().string());
      }
    }
  }
  if (classes.empty()) throw Error(fmt::format("{}: no class folders under train/", root));
  ds.class_names.assign(classes.begin(), classes.end());
  struct Img {
    DecodedImage im;
    int64_t label;
    std::string path;
  };
  std::map<std::string, std::vector<Img>> loaded;
  bool any_rgb = false;
  int64_t H = opt.size, W = opt.size;
  std::string first_path;
  for (const char* sp : kSplits) {
    fs::path d = fs::path(root) / sp;
    if (!fs::is_directory(d)) continue;
    auto& list = loaded[sp];
    for (std::size_t k = 0; k < ds.class_names.size(); ++k) {
      fs::path cd = d / ds.class_names[k];
      if (!fs::is_directory(cd)) continue;
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(cd)) {
        std::string ext = e.path().extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
        if (e.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg")) {
          files.push_back(e.path());
        }
      }
      std::sort(files.begin(), files.end());
      for (const auto& p : files) {
        Img img{read_image(p.string()), static_cast<int64_t>(k), p.string()};
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
    if (list.empty() && std::string(sp) != "val") {
      throw Error(fmt::format("{}: no .png/.jpg images under {}/", root, sp));
    }
  }
  const int64_t C = any_rgb ? 3 : 1;
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
