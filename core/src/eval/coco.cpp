// COCO128 for CLIP patch explanations: the items (one per image and class present), the class
// prompts and the patch ground truth (box coverage through the preprocessing's crop).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <map>

#include "atman/error.h"
#include "atman/eval.h"

namespace atman::eval {
namespace {

using nlohmann::json;

struct Box {
  double x0, y0, x1, y1;
};

// Area of the union of axis-aligned boxes: sweep over the distinct x edges, merging the y intervals
// of the boxes spanning each x slab. Exact; fine for the few boxes one class has in one patch.
double union_area(const std::vector<Box>& boxes) {
  std::vector<double> xs;
  for (const auto& b : boxes) xs.insert(xs.end(), {b.x0, b.x1});
  std::sort(xs.begin(), xs.end());
  xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
  double area = 0;
  for (size_t i = 0; i + 1 < xs.size(); ++i) {
    const double left = xs[i], right = xs[i + 1];
    std::vector<std::pair<double, double>> spans;
    for (const auto& b : boxes)
      if (b.x0 <= left && b.x1 >= right) spans.push_back({b.y0, b.y1});
    std::sort(spans.begin(), spans.end());
    double covered = 0, top = -1e300, bottom = -1e300;
    for (auto [a, z] : spans) {
      if (a > bottom) {
        covered += bottom - top;
        top = a, bottom = z;
      } else {
        bottom = std::max(bottom, z);
      }
    }
    covered += bottom - top;  // the last run (0 when there was none: both are -1e300)
    area += covered * (right - left);
  }
  return area;
}

}  // namespace

std::string coco_prompt(const std::string& category) {
  return "a photo of a " + category;
}

std::vector<double> box_coverage(const std::vector<RectF>& boxes, const CropGeometry& g, int grid) {
  if (grid < 1) throw InputError("the patch grid must be at least 1x1");
  if (g.crop_size < 1 || g.scale <= 0)
    throw InputError("box_coverage needs the crop geometry of a preprocessed image");
  const double sx = g.scale, sy = g.scale_y > 0 ? g.scale_y : g.scale;
  const double side = g.crop_size, patch = side / grid;
  // Boxes in model-input pixels, clipped to the crop: what lies outside was cut away.
  std::vector<Box> mapped;
  for (const auto& r : boxes) {
    Box b{r.x * sx - g.crop_x, r.y * sy - g.crop_y, (r.x + r.width) * sx - g.crop_x,
          (r.y + r.height) * sy - g.crop_y};
    b.x0 = std::clamp(b.x0, 0.0, side), b.x1 = std::clamp(b.x1, 0.0, side);
    b.y0 = std::clamp(b.y0, 0.0, side), b.y1 = std::clamp(b.y1, 0.0, side);
    if (b.x1 > b.x0 && b.y1 > b.y0) mapped.push_back(b);
  }
  std::vector<double> coverage(static_cast<size_t>(grid) * grid, 0.0);
  for (int row = 0; row < grid; ++row) {
    for (int col = 0; col < grid; ++col) {
      const Box cell{col * patch, row * patch, (col + 1) * patch, (row + 1) * patch};
      std::vector<Box> inside;
      for (const auto& b : mapped) {
        Box c{std::max(b.x0, cell.x0), std::max(b.y0, cell.y0), std::min(b.x1, cell.x1),
              std::min(b.y1, cell.y1)};
        if (c.x1 > c.x0 && c.y1 > c.y0) inside.push_back(c);
      }
      if (!inside.empty())
        coverage[row * grid + col] = std::min(1.0, union_area(inside) / (patch * patch));
    }
  }
  return coverage;
}

CocoSet load_coco(const std::filesystem::path& dir_or_json, int limit) {
  const bool is_file = std::filesystem::is_regular_file(dir_or_json);
  const auto path = is_file ? dir_or_json : dir_or_json / "instances_coco128.json";
  const auto image_dir = (is_file ? dir_or_json.parent_path() : dir_or_json) / "images";
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw InputError("cannot read " + path.string() +
                     " (give the coco128 folder or a COCO-format instances JSON)");
  try {
    const json j = json::parse(in);
    CocoSet set;
    std::map<int, std::string> names;
    for (const auto& c : j.at("categories"))
      names[c.at("id").get<int>()] = c.at("name").get<std::string>();
    for (const auto& [id, name] : names) set.classes.push_back(name);

    struct ImageInfo {
      std::string file;
      int width, height;
      std::map<int, std::vector<RectF>> boxes;  // by category id: classes in id order
    };
    std::map<int64_t, ImageInfo> images;
    for (const auto& im : j.at("images"))
      images[im.at("id").get<int64_t>()] = {im.at("file_name").get<std::string>(),
                                            im.at("width").get<int>(),
                                            im.at("height").get<int>(),
                                            {}};
    for (const auto& a : j.at("annotations")) {
      auto it = images.find(a.at("image_id").get<int64_t>());
      if (it == images.end()) throw InputError("an annotation names an image that is not listed");
      const int category = a.at("category_id").get<int>();
      if (!names.count(category))
        throw InputError("an annotation has the unknown category " + std::to_string(category));
      auto b = a.at("bbox").get<std::vector<double>>();
      if (b.size() != 4) throw InputError("a bbox must be [x, y, width, height]");
      it->second.boxes[category].push_back(RectF{b[0], b[1], b[2], b[3]});
    }
    std::vector<const ImageInfo*> ordered;
    for (const auto& [id, info] : images) ordered.push_back(&info);
    std::sort(ordered.begin(), ordered.end(), [](auto* a, auto* b) { return a->file < b->file; });
    for (const ImageInfo* info : ordered) {
      for (const auto& [category, boxes] : info->boxes) {
        if (limit > 0 && static_cast<int>(set.items.size()) >= limit) return set;
        CocoItem item;
        item.image = image_dir / info->file;
        item.id = item.image.stem().string() + ":" + names[category];
        item.width = info->width;
        item.height = info->height;
        item.category = names[category];
        item.boxes = boxes;
        set.items.push_back(std::move(item));
      }
    }
    return set;
  } catch (const json::exception& e) {
    throw InputError(path.string() + ": " + e.what());
  } catch (const InputError& e) {
    throw InputError(path.string() + ": " + e.what());
  }
}

}  // namespace atman::eval
