// Candidate grouping (token / word / sentence / delimiter) and the small text helpers it needs.
#include <ATen/ATen.h>

#include "atman/error.h"
#include "explain/task.h"
#include "text/utf8.h"

namespace atman::detail {

// The tokenizers' strict UTF-8 codec: one definition of "valid text" for the whole core.
std::u32string to_u32(const std::string& utf8) {
  return text::decode_utf8(utf8);
}

std::string to_utf8(const std::u32string& text) {
  return text::encode_utf8(text);
}

PatchCandidates tile_patches(int grid, int tile, int patch_pixels, const CropGeometry& geometry,
                             const std::function<int64_t(int64_t)>& position_of_patch) {
  PatchCandidates out;
  const int k = std::max(1, tile);
  for (int r = 0; r < grid; r += k) {
    for (int c = 0; c < grid; c += k) {
      Candidate cand;
      cand.kind = CandidateKind::Patch;
      cand.row = r;
      cand.col = c;
      cand.rows = std::min(k, grid - r);
      cand.cols = std::min(k, grid - c);
      std::vector<int64_t> patches;
      for (int rr = r; rr < r + cand.rows; ++rr)
        for (int cc = c; cc < c + cand.cols; ++cc) {
          patches.push_back(int64_t(rr) * grid + cc);
          cand.positions.push_back(position_of_patch(patches.back()));
        }
      cand.rect = geometry.to_original(RectF{double(c * patch_pixels), double(r * patch_pixels),
                                             double(cand.cols * patch_pixels),
                                             double(cand.rows * patch_pixels)});
      out.candidates.push_back(std::move(cand));
      out.patches.push_back(std::move(patches));
    }
  }
  return out;
}

std::vector<Candidate> token_candidates(const std::vector<std::pair<int64_t, int64_t>>& spans,
                                        const std::u32string& text, const ExplainRequest& request,
                                        const std::function<int64_t(int)>& position_of_token) {
  std::vector<Candidate> out;
  for (const auto& group : group_tokens(spans, text, request.granularity, request.delimiter)) {
    Candidate cand;
    cand.kind = CandidateKind::Token;
    cand.span = {spans[group.front()].first, spans[group.back()].second};
    for (int g : group) cand.positions.push_back(position_of_token(g));
    const int64_t size = static_cast<int64_t>(text.size());
    const int64_t b = std::clamp<int64_t>(cand.span.first, 0, size);
    const int64_t e = std::clamp<int64_t>(cand.span.second, b, size);
    cand.text = to_utf8(text.substr(b, e - b));
    out.push_back(std::move(cand));
  }
  return out;
}

namespace {

bool is_space(char32_t c) {
  return c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' || c == U'\f' || c == U'\v' ||
         c == 0xA0 || c == 0x3000 || (c >= 0x2000 && c <= 0x200A);
}

// Index of the segment each code point belongs to, for sentence and delimiter grouping.
std::vector<int> segment_ids(const std::u32string& text, Granularity granularity,
                             const std::u32string& delimiter) {
  std::vector<int> ids(text.size() + 1, 0);
  int segment = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    ids[i] = segment;
    if (granularity == Granularity::Sentence) {
      // A sentence ends at . ! ? (or a newline) followed by whitespace or the end of the text.
      bool end_mark = text[i] == U'.' || text[i] == U'!' || text[i] == U'?';
      if ((end_mark && (i + 1 == text.size() || is_space(text[i + 1]))) || text[i] == U'\n')
        ++segment;
    } else if (!delimiter.empty() && text.compare(i, delimiter.size(), delimiter) == 0) {
      for (size_t k = 0; k < delimiter.size() && i + k < text.size(); ++k) ids[i + k] = segment;
      i += delimiter.size() - 1;
      ++segment;
    }
  }
  ids[text.size()] = segment;
  return ids;
}

}  // namespace

std::vector<std::vector<int>> group_tokens(const std::vector<std::pair<int64_t, int64_t>>& spans,
                                           const std::u32string& text, Granularity granularity,
                                           const std::string& delimiter) {
  std::vector<std::vector<int>> groups;
  if (granularity == Granularity::Token) {
    for (size_t i = 0; i < spans.size(); ++i) groups.push_back({static_cast<int>(i)});
    return groups;
  }
  if (granularity == Granularity::Delimiter && delimiter.empty())
    throw InputError("granularity 'delimiter' needs a delimiter string");
  std::vector<int> segments = segment_ids(text, granularity, to_u32(delimiter));
  int64_t previous_end = -1;
  int previous_segment = -1;
  for (size_t i = 0; i < spans.size(); ++i) {
    auto [begin, end] = spans[i];
    bool starts_new = groups.empty();
    if (granularity == Granularity::Word) {
      // A new word starts after whitespace: between the tokens, or at the token's own start.
      bool gap_space = false;
      for (int64_t c = std::max<int64_t>(previous_end, 0); c < begin && c < (int64_t)text.size();
           ++c)
        gap_space |= is_space(text[c]);
      bool lead_space = begin < (int64_t)text.size() && begin < end && is_space(text[begin]);
      starts_new |= gap_space || lead_space || begin == end;
    } else {
      int64_t probe = std::clamp<int64_t>(begin, 0, (int64_t)text.size());
      // Skip leading whitespace so " The" belongs to the sentence it starts.
      while (probe < end && probe < (int64_t)text.size() && is_space(text[probe])) ++probe;
      int segment = segments[probe];
      starts_new |= segment != previous_segment;
      previous_segment = segment;
    }
    if (starts_new) groups.emplace_back();
    groups.back().push_back(static_cast<int>(i));
    previous_end = end;
  }
  return groups;
}

at::Tensor group_embeddings(const at::Tensor& embeddings,
                            const std::vector<std::vector<int64_t>>& groups) {
  std::vector<at::Tensor> rows;
  for (const auto& g : groups) {
    at::Tensor index = at::tensor(g, at::kLong).to(embeddings.device());
    rows.push_back(embeddings.index_select(0, index).mean(0));
  }
  return at::stack(rows, 0);  // (N, C)
}

}  // namespace atman::detail
