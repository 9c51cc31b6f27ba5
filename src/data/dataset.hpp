// Image classification datasets held in memory as uint8: MedMNIST `.npz` files and image folders.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pepr::data {

// The largest height or width of a stored image that pepr accepts.
inline constexpr int64_t kMaxImageSide = int64_t(1) << 16;

// One split: N images of H x W x C uint8 pixels (row-major N,H,W,C) and their labels.
struct ImageSet {
  int64_t n = 0, h = 0, w = 0, c = 1;
  std::vector<std::uint8_t> pixels;  // n*h*w*c
  int64_t label_dim = 1;             // 1: one class index per image; L > 1: multi-label 0/1
  std::vector<int64_t> labels;       // n*label_dim

  int64_t image_bytes() const { return h * w * c; }
  const std::uint8_t* image(int64_t i) const { return pixels.data() + i * image_bytes(); }
  bool empty() const { return n == 0; }
};

// How pepr split an image folder that lacked split folders (ROOT/CLASS/ or ROOT/train/ only):
// stratified by class, seeded; recorded in the run record's data section.
struct FolderSplit {
  bool made = false;
  std::vector<std::string> splits;  // the splits made: "val", "test" or both
  std::uint64_t seed = 0;
  double val_fraction = 0, test_fraction = 0;
  int64_t from = 0;  // images in the folder the splits were taken from
};

struct Dataset {
  ImageSet train, val, test;
  int num_classes = 0;                   // single-label: classes; multi-label: labels per image
  bool multi_label = false;              // labels are N,L with L > 1 (e.g. ChestMNIST)
  std::string name;                      // e.g. "pneumoniamnist" (the file's stem) or "synth"
  std::string source;                    // the file or folder it was read from
  std::vector<std::string> class_names;  // image folders: the class folder names
  FolderSplit split_made;                // image folders: splits pepr made, if any

  const ImageSet& split(std::string_view name) const;  // "train", "val" or "test"
};

struct LoadOptions {
  int64_t size = 0;     // image folders: > 0 resizes every image to size x size as it is read
                        // (bilinear, half-pixel centres, as the preprocessing resizes .npz
                        // images, rounded to 8 bits); 0: sizes must agree
  int num_classes = 0;  // > 0: the dataset's classes (labels must be below it); 0: the
                        // catalogue's count, the class folders, or the labels present
  // Image folders without val/ or test/: the share of each class split off for each (rounded,
  // at least one image) and the seed. Fixed by default, so that every run of a study is
  // tested on the same images whatever its training seed.
  double val_fraction = 0.1, test_fraction = 0.2;
  std::uint64_t split_seed = 0;
};
using FolderOptions = LoadOptions;

// Single-label classes (see LoadOptions::num_classes): the labels present must be 0..K-1
// without a gap, else the first label past the gap (200 among 0 and 1) is an error naming its
// split and index; a split holding one class only is an error too.

// Reads a MedMNIST-style `.npz`: train_images, train_labels, val_*, test_* (all six required);
// images uint8 N,H,W or N,H,W,1 or N,H,W,3; labels any integer dtype, shape N, N,1 or N,L.
Dataset load_npz_dataset(const std::string& path, const LoadOptions& opt = {});
class NpzFile;
// The same from an opened archive (e.g. NpzFile::from_memory).
Dataset load_npz_dataset(const NpzFile& f, const LoadOptions& opt = {});
// Reads ROOT/{train,val,test}/CLASS/*.png|*.jpg|*.jpeg (val optional), or ROOT/train/CLASS/ or
// ROOT/CLASS/ alone, from which the missing test (and val) splits are split off (FolderSplit).
// Classes are the sorted class folder names; grayscale images are promoted to RGB when any
// image of the dataset is RGB.
Dataset load_image_folder(const std::string& root, const FolderOptions& opt = {});

// A folder (image folder), a `.npz` file, or a catalogue name ("pneumoniamnist",
// "pneumoniamnist_64") already pulled into the cache.
Dataset load_dataset(const std::string& path_or_name, const FolderOptions& opt = {});
// The file or folder `load_dataset` would read; throws with a hint to `pepr data pull`.
std::string resolve_dataset_path(const std::string& path_or_name);

// Writes the dataset as a MedMNIST-style `.npz` (images |u1, labels |u1 N,1 when every label
// fits a byte, else <i8), atomically.
void save_npz_dataset(const Dataset& ds, const std::string& path, bool compress = true);

// Writes a single-label dataset as an image folder of PNGs: DIR/{train,val,test}/CLASS/ (or, with
// `flat`, every split's images in DIR/CLASS/), files SPLIT_INDEX.png, at most `limit` images per
// split (0: all) and resized to `size` (0: as stored). Classes are named by the dataset's class
// names, else by number, zero-padded so that they sort in label order. Written beside DIR and
// renamed into place; an existing DIR is refused. Returns the images written.
struct FolderExport {
  bool flat = false;
  int64_t limit = 0;
  int64_t size = 0;
};
int64_t save_image_folder(const Dataset& ds, const std::string& dir, const FolderExport& opt = {});

// Single-label: images per class (size num_classes); multi-label: positives per label.
std::vector<int64_t> class_counts(const ImageSet& s, int num_classes);

// The images at `indices` (in that order).
ImageSet subset(const ImageSet& s, const std::vector<int64_t>& indices);

// A stratified, seeded subset: from every class (for multi-label: every distinct label vector)
// round(fraction x count) images, at least one from each non-empty class; sorted indices.
// Deterministic for a given seed on every platform.
std::vector<int64_t> stratified_subset(const ImageSet& s, double fraction, std::uint64_t seed);

// What `pepr data info` prints. For `.npz` files only the headers of the image members and the
// labels are decompressed.
struct SplitInfo {
  std::string split;
  std::vector<int64_t> image_shape;  // as stored, e.g. 4708,28,28
  std::string image_dtype;
  std::vector<int64_t> label_shape;
  std::string label_dtype;
  int64_t n = 0, h = 0, w = 0, c = 0;
  std::vector<int64_t> class_counts;
};
struct DatasetInfo {
  std::string path, format;  // format: "npz" or "image-folder"
  int num_classes = 0;
  bool multi_label = false;
  std::vector<std::string> class_names;
  std::vector<SplitInfo> splits;
  FolderSplit split_made;  // image folders without val/ or test/: how pepr splits them
};
// The CRC-32 of every member of a `.npz` is verified (decompressing each in pieces).
DatasetInfo inspect_dataset(const std::string& path_or_name, const LoadOptions& opt = {});

}  // namespace pepr::data
