// request_fingerprint (atman/explainer.h): the one list of the request fields that decide what an
// explanation computes, for AtMan's mask cache and the GUI's cache of explanations.
#include <cstdio>

#include "atman/explainer.h"

namespace atman {
namespace {

class Fingerprint {
 public:
  Fingerprint& text(const std::string& s) {
    out_ +=
        std::to_string(s.size()) + ':' + s + '|';  // length-prefixed: no field bleeds into the next
    return *this;
  }
  Fingerprint& number(double v) {
    char buffer[40];
    std::snprintf(buffer, sizeof buffer, "%a|", v);  // exact: every distinct double differs
    out_ += buffer;
    return *this;
  }
  Fingerprint& integer(long long v) {
    out_ += std::to_string(v) + '|';
    return *this;
  }
  std::string str() && { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string request_fingerprint(const ExplainRequest& r, FingerprintScope scope) {
  Fingerprint f;
  f.text(r.prompt).text(r.target).integer(static_cast<long long>(r.labels.size()));
  for (const auto& label : r.labels) f.text(label);
  f.integer(int(r.explain)).number(r.factor).integer(int(r.variant)).integer(int(r.granularity));
  f.text(r.delimiter).integer(r.tile).integer(static_cast<long long>(r.layers.size()));
  for (int layer : r.layers) f.integer(layer);
  // Only a non-default loss is added, so that every other request keeps its fingerprint.
  if (r.siglip_loss != SiglipLoss::Sigmoid) f.text("siglip_loss").integer(int(r.siglip_loss));
  if (scope == FingerprintScope::Result) {
    f.integer(int(r.post)).integer(r.max_neighbours).integer(r.adaptive ? 1 : 0);
    if (r.adaptive) f.number(r.adaptive_threshold).integer(r.adaptive_group);
  }
  return std::move(f).str();
}

}  // namespace atman
