#include "remote/convert.h"

#include "atman/error.h"
#include "atman/names.h"

namespace atman::remote {
namespace {

template <typename Enum>
std::optional<Enum> optional_enum(const std::string& name) {
  if (name.empty()) return std::nullopt;
  return from_string<Enum>(name);
}

template <typename T, typename Repeated>
std::vector<T> to_vector(const Repeated& repeated) {
  return std::vector<T>(repeated.begin(), repeated.end());
}

}  // namespace

void to_proto(const RgbImage& image, v1::Image* out) {
  out->set_width(image.width);
  out->set_height(image.height);
  out->set_rgb(image.pixels.data(), image.pixels.size());
}

RgbImage from_proto(const v1::Image& image) {
  if (!image.encoded().empty()) {
    const std::string& bytes = image.encoded();
    return decode_image(std::vector<uint8_t>(bytes.begin(), bytes.end()),
                        image.origin().empty() ? "the image sent" : image.origin());
  }
  RgbImage out;
  out.width = image.width();
  out.height = image.height();
  // Checked before the multiplication can overflow: the sides are bounded first.
  if (out.width < 0 || out.height < 0 || out.width > kMaxImageSide || out.height > kMaxImageSide ||
      static_cast<uint64_t>(out.width) * static_cast<uint64_t>(out.height) > kMaxImagePixels)
    throw InputError("the image sent is " + std::to_string(out.width) + "x" +
                     std::to_string(out.height) + " pixels: beyond the limit of " +
                     std::to_string(kMaxImageSide) + " pixels a side and " +
                     std::to_string(kMaxImagePixels) + " pixels");
  const uint64_t expected = 3ull * static_cast<uint64_t>(out.width) * out.height;
  if (image.rgb().size() != expected)
    throw InputError("the image sent has " + std::to_string(image.rgb().size()) +
                     " bytes of pixels, but " + std::to_string(out.width) + "x" +
                     std::to_string(out.height) + " RGB needs " + std::to_string(expected));
  out.pixels.assign(image.rgb().begin(), image.rgb().end());
  return out;
}

void to_proto(const ExplainRequest& r, const std::string& model_id, v1::ExplainRequest* out) {
  out->set_model_id(model_id);
  if (r.image) {
    to_proto(*r.image, out->mutable_image());
  }
  out->set_prompt(r.prompt);
  out->set_target(r.target);
  for (const auto& label : r.labels) out->add_labels(label);
  out->set_explain(std::string(to_string(r.explain)));
  out->set_siglip_loss(std::string(to_string(r.siglip_loss)));
  out->set_mode(std::string(to_string(r.mode)));
  out->set_kappa(r.kappa);
  out->set_factor(r.factor);
  out->set_variant(std::string(to_string(r.variant)));
  for (int layer : r.layers) out->add_layers(layer);
  out->set_max_neighbours(r.max_neighbours);
  out->set_post(std::string(to_string(r.post)));
  out->set_granularity(std::string(to_string(r.granularity)));
  out->set_delimiter(r.delimiter);
  out->set_tile(r.tile);
  out->set_adaptive(r.adaptive);
  out->set_adaptive_threshold(r.adaptive_threshold);
  out->set_adaptive_group(r.adaptive_group);
  out->set_batch_size(r.batch_size);
  out->set_memory_budget_bytes(r.memory_budget_bytes);
  out->set_reuse_kv_cache(r.reuse_kv_cache);
}

ExplainRequest from_proto(const v1::ExplainRequest& in, std::shared_ptr<const Model> model) {
  ExplainRequest r;
  r.model = std::move(model);
  if (in.has_image()) r.image = std::make_shared<const RgbImage>(from_proto(in.image()));
  r.prompt = in.prompt();
  r.target = in.target();
  r.labels = to_vector<std::string>(in.labels());
  r.explain = from_string<ExplainWhat>(in.explain());
  r.siglip_loss = from_string<SiglipLoss>(in.siglip_loss());
  r.mode = from_string<SuppressionMode>(in.mode());
  r.kappa = in.kappa();
  r.factor = in.factor();
  r.variant = from_string<SuppressionVariant>(in.variant());
  r.layers = to_vector<int>(in.layers());
  r.max_neighbours = in.max_neighbours();
  r.post = from_string<PostProcess>(in.post());
  r.granularity = from_string<Granularity>(in.granularity());
  r.delimiter = in.delimiter();
  r.tile = in.tile();
  r.adaptive = in.adaptive();
  r.adaptive_threshold = in.adaptive_threshold();
  r.adaptive_group = in.adaptive_group();
  r.batch_size = in.batch_size();
  r.memory_budget_bytes = in.memory_budget_bytes();
  r.reuse_kv_cache = in.reuse_kv_cache();
  return r;
}

void to_proto(const NeighbourFactor& f, v1::NeighbourFactor* out) {
  out->set_candidate(f.candidate);
  out->set_similarity(f.similarity);
  out->set_factor(f.factor);
}

NeighbourFactor from_proto(const v1::NeighbourFactor& f) {
  return {f.candidate(), f.similarity(), f.factor()};
}

void to_proto(const Explanation& e, v1::Explanation* out) {
  out->set_method(std::string(to_string(e.method)));
  out->set_model(e.model);
  out->set_architecture(e.architecture);
  out->set_explained(to_string(e.explained));
  out->set_mode(to_string(e.mode));
  out->set_kappa(e.kappa);
  out->set_factor(e.factor);
  out->set_variant(to_string(e.variant));
  out->set_loss(to_string(e.loss));
  out->set_post(std::string(to_string(e.post)));
  out->set_prompt(e.prompt);
  out->set_target(e.target);
  for (const auto& label : e.labels) out->add_labels(label);
  for (const auto& token : e.target_tokens) out->add_target_tokens(token);
  out->set_baseline_loss(e.baseline_loss);
  for (double v : e.baseline_per_target) out->add_baseline_per_target(v);
  out->set_grid_rows(e.grid_rows);
  out->set_grid_cols(e.grid_cols);
  out->set_image_width(e.image_width);
  out->set_image_height(e.image_height);
  for (const Candidate& c : e.candidates) {
    v1::Candidate* p = out->add_candidates();
    p->set_index(c.index);
    p->set_kind(std::string(to_string(c.kind)));
    p->set_text(c.text);
    p->set_span_begin(c.span.first);
    p->set_span_end(c.span.second);
    p->set_row(c.row);
    p->set_col(c.col);
    p->set_rows(c.rows);
    p->set_cols(c.cols);
    p->set_rect_x(c.rect.x);
    p->set_rect_y(c.rect.y);
    p->set_rect_width(c.rect.width);
    p->set_rect_height(c.rect.height);
    for (int position : c.positions) p->add_positions(position);
    p->set_value(c.value);
    for (double v : c.per_target) p->add_per_target(v);
    for (const auto& f : c.suppressed) to_proto(f, p->add_suppressed());
    p->set_exact(c.exact);
    p->set_group(c.group);
    p->set_view(c.view);
  }
  v1::Timings* t = out->mutable_timings();
  t->set_prepare_seconds(e.timings.prepare_seconds);
  t->set_baseline_seconds(e.timings.baseline_seconds);
  t->set_perturbation_seconds(e.timings.perturbation_seconds);
  t->set_total_seconds(e.timings.total_seconds);
  t->set_forwards(e.timings.forwards);
  t->set_cache_hits(e.timings.cache_hits);
  t->set_batches(e.timings.batches);
  v1::AdaptiveInfo* a = out->mutable_adaptive();
  a->set_enabled(e.adaptive.enabled);
  a->set_threshold(e.adaptive.threshold);
  a->set_group_size(e.adaptive.group_size);
  a->set_groups(e.adaptive.groups);
  a->set_refined_groups(e.adaptive.refined_groups);
  a->set_exact_candidates(e.adaptive.exact_candidates);
  for (double v : e.adaptive.group_values) a->add_group_values(v);
}

Explanation from_proto(const v1::Explanation& in) {
  Explanation e;
  e.method = from_string<ExplainMethod>(in.method());
  e.model = in.model();
  e.architecture = in.architecture();
  e.explained = optional_enum<ExplainWhat>(in.explained());
  e.mode = optional_enum<SuppressionMode>(in.mode());
  e.kappa = in.kappa();
  e.factor = in.factor();
  e.variant = optional_enum<SuppressionVariant>(in.variant());
  e.loss = optional_enum<SiglipLoss>(in.loss());
  e.post = from_string<PostProcess>(in.post());
  e.prompt = in.prompt();
  e.target = in.target();
  e.labels = to_vector<std::string>(in.labels());
  e.target_tokens = to_vector<std::string>(in.target_tokens());
  e.baseline_loss = in.baseline_loss();
  e.baseline_per_target = to_vector<double>(in.baseline_per_target());
  e.grid_rows = in.grid_rows();
  e.grid_cols = in.grid_cols();
  e.image_width = in.image_width();
  e.image_height = in.image_height();
  e.candidates.reserve(in.candidates_size());
  for (const v1::Candidate& p : in.candidates()) {
    Candidate c;
    c.index = p.index();
    c.kind = from_string<CandidateKind>(p.kind());
    c.text = p.text();
    c.span = {p.span_begin(), p.span_end()};
    c.row = p.row();
    c.col = p.col();
    c.rows = p.rows();
    c.cols = p.cols();
    c.rect = {p.rect_x(), p.rect_y(), p.rect_width(), p.rect_height()};
    c.positions = to_vector<int>(p.positions());
    c.value = p.value();
    c.per_target = to_vector<double>(p.per_target());
    for (const auto& f : p.suppressed()) c.suppressed.push_back(from_proto(f));
    c.exact = p.exact();
    c.group = p.group();
    c.view = p.view();
    e.candidates.push_back(std::move(c));
  }
  const v1::Timings& t = in.timings();
  e.timings = {t.prepare_seconds(), t.baseline_seconds(), t.perturbation_seconds(),
               t.total_seconds(),   t.forwards(),         t.cache_hits(),
               t.batches()};
  const v1::AdaptiveInfo& a = in.adaptive();
  e.adaptive.enabled = a.enabled();
  e.adaptive.threshold = a.threshold();
  e.adaptive.group_size = a.group_size();
  e.adaptive.groups = a.groups();
  e.adaptive.refined_groups = a.refined_groups();
  e.adaptive.exact_candidates = a.exact_candidates();
  e.adaptive.group_values = to_vector<double>(a.group_values());
  return e;
}

void to_proto(const Generation& g, v1::Generation* out) {
  for (int64_t id : g.ids) out->add_ids(id);
  for (const auto& token : g.tokens) out->add_tokens(token);
  out->set_text(g.text);
}

Generation from_proto(const v1::Generation& g) {
  return {to_vector<int64_t>(g.ids()), to_vector<std::string>(g.tokens()), g.text()};
}

void to_proto(const LabelScore& s, v1::LabelScore* out) {
  out->set_label(s.label);
  out->set_logit(s.logit);
  out->set_probability(s.probability);
}

LabelScore from_proto(const v1::LabelScore& s) {
  return {s.label(), s.logit(), s.probability()};
}

void to_proto(const InputPosition& p, v1::InputPosition* out) {
  out->set_is_image(p.is_image);
  out->set_text(p.text);
  out->set_span_begin(p.span.first);
  out->set_span_end(p.span.second);
  out->set_row(p.row);
  out->set_col(p.col);
  out->set_view(p.view);
  out->set_rect_x(p.rect.x);
  out->set_rect_y(p.rect.y);
  out->set_rect_width(p.rect.width);
  out->set_rect_height(p.rect.height);
}

InputPosition from_proto(const v1::InputPosition& p) {
  InputPosition out;
  out.is_image = p.is_image();
  out.text = p.text();
  out.span = {p.span_begin(), p.span_end()};
  out.row = p.row();
  out.col = p.col();
  out.view = p.view();
  out.rect = RectF{p.rect_x(), p.rect_y(), p.rect_width(), p.rect_height()};
  return out;
}

}  // namespace atman::remote
