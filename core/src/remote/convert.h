// Core values <-> atman.v1 messages (proto/atman/v1/atman.proto), both ways, field for field.
// Numbers stay doubles and enums travel by their names (atman/names.h), so a value that went
// through the wire and back equals the original bit for bit.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "atman/explainer.h"
#include "atman/explanation.h"
#include "atman/image.h"
#include "atman/inference.h"
#include "atman/v1/atman.pb.h"

namespace atman::remote {

void to_proto(const RgbImage& image, v1::Image* out);
// The raw pixels, or the encoded bytes through the core's decoder (decode_image): InputError with
// the same text as a local load for bytes that are not an image, or pixels that do not match the
// size given.
RgbImage from_proto(const v1::Image& image);

// The request without its model (model_id names it) and with its image, if any.
void to_proto(const ExplainRequest& request, const std::string& model_id, v1::ExplainRequest* out);
// The request for `model`; InputError for an unknown enum name.
ExplainRequest from_proto(const v1::ExplainRequest& request, std::shared_ptr<const Model> model);

void to_proto(const Explanation& e, v1::Explanation* out);
Explanation from_proto(const v1::Explanation& e);

void to_proto(const NeighbourFactor& f, v1::NeighbourFactor* out);
NeighbourFactor from_proto(const v1::NeighbourFactor& f);

void to_proto(const Generation& g, v1::Generation* out);
Generation from_proto(const v1::Generation& g);

void to_proto(const LabelScore& s, v1::LabelScore* out);
LabelScore from_proto(const v1::LabelScore& s);

void to_proto(const InputPosition& p, v1::InputPosition* out);
InputPosition from_proto(const v1::InputPosition& p);

}  // namespace atman::remote
