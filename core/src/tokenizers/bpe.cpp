#include "tokenizers/bpe.h"

#include <algorithm>
#include <climits>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <queue>

#include "atman/error.h"
#include "text/utf8.h"

namespace atman::tokenizers {
namespace {

std::string read_file(const std::filesystem::path& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ModelError("Cannot open the tokenizer " + std::string(what) + " file '" + path.string() +
                     "': it is missing or unreadable.");
  }
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string in_quotes(std::string_view s) {
  return "'" + std::string(s) + "'";
}

}  // namespace

void TokenIndex::reserve(size_t n) {
  keys_.reserve(n);
  ids_.reserve(n);
  size_t capacity = 16;
  while (capacity < 2 * n) capacity *= 2;
  if (capacity > slots_.size()) rehash(capacity);
}

size_t TokenIndex::probe(std::string_view token, uint32_t hash) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.entry == 0 || (s.hash == hash && keys_[s.entry - 1] == token)) return i;
  }
}

int32_t TokenIndex::find(std::string_view token) const {
  if (slots_.empty()) return -1;
  const Slot& s = slots_[probe(token, hash_of(token))];
  return s.entry == 0 ? -1 : ids_[s.entry - 1];
}

void TokenIndex::insert_or_assign(std::string token, int32_t id) {
  if (2 * (keys_.size() + 1) > slots_.size()) rehash(std::max<size_t>(16, 2 * slots_.size()));
  const uint32_t hash = hash_of(token);
  Slot& s = slots_[probe(token, hash)];
  if (s.entry != 0) {
    ids_[s.entry - 1] = id;
    return;
  }
  keys_.push_back(std::move(token));
  ids_.push_back(id);
  s = {hash, static_cast<uint32_t>(keys_.size())};
}

void TokenIndex::rehash(size_t capacity) {
  slots_.assign(capacity, Slot{});
  const size_t mask = capacity - 1;
  for (size_t e = 0; e < keys_.size(); ++e) {
    const uint32_t hash = hash_of(keys_[e]);
    size_t i = hash & mask;
    while (slots_[i].entry != 0) i = (i + 1) & mask;
    slots_[i] = {hash, static_cast<uint32_t>(e + 1)};
  }
}

namespace {

// Streams vocab.json straight into a Vocab: building nlohmann's DOM (a std::map per object) for
// 50k entries would take most of the tokenizer's load time.
class VocabReader : public nlohmann::json_sax<nlohmann::json> {
 public:
  std::vector<std::pair<std::string, int32_t>> entries;
  std::string problem;  // set when the structure is not {"token": id, ...}

  bool null() override { return bad_value("null"); }
  bool boolean(bool) override { return bad_value("a boolean"); }
  bool number_integer(number_integer_t v) override { return id(v); }
  bool number_unsigned(number_unsigned_t v) override {
    return id(v > static_cast<number_unsigned_t>(INT64_MAX) ? -1 : static_cast<int64_t>(v));
  }
  bool number_float(number_float_t, const string_t&) override { return bad_value("a fraction"); }
  bool string(string_t&) override { return bad_value("a string"); }
  bool binary(binary_t&) override { return bad_value("binary data"); }
  bool start_object(std::size_t) override {
    if (depth_++ == 0) return true;
    return bad_value("an object");
  }
  bool key(string_t& k) override {
    key_ = std::move(k);
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    if (depth_ == 0) problem = "it is an array, not an object mapping token strings to ids";
    return depth_ == 0 ? false : bad_value("an array");
  }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    problem = std::string("it is not valid JSON: ") + e.what();
    return false;
  }

 private:
  bool bad_value(const char* what) {
    problem = depth_ == 0 ? "it is not a JSON object mapping token strings to ids"
                          : "token '" + key_ + "' has " + what + " instead of an id";
    return false;
  }
  bool id(int64_t v) {
    // Ids index embedding rows; anything beyond this is a corrupt file, not a real vocabulary.
    constexpr int64_t kMaxId = 16 * 1024 * 1024;
    if (depth_ != 1) return bad_value("a number");
    if (v < 0 || v > kMaxId) {
      problem = "token '" + key_ + "' has the id " + std::to_string(v) +
                ", which is not a valid non-negative id";
      return false;
    }
    entries.emplace_back(std::move(key_), static_cast<int32_t>(v));
    return true;
  }

  int depth_ = 0;
  std::string key_;
};

}  // namespace

Vocab load_vocab_json(const std::filesystem::path& path) {
  const std::string text = read_file(path, "vocabulary");
  VocabReader reader;
  reader.entries.reserve(text.size() / 12);
  const bool ok = nlohmann::json::sax_parse(text, &reader);
  if (!ok || !reader.problem.empty()) {
    throw ModelError("The tokenizer vocabulary '" + path.string() + "' is unusable: " +
                     (reader.problem.empty() ? "it is not valid JSON" : reader.problem) + ".");
  }
  if (reader.entries.empty()) {
    throw ModelError("The tokenizer vocabulary '" + path.string() + "' has no tokens.");
  }
  int32_t max_id = 0;
  for (const auto& e : reader.entries) max_id = std::max(max_id, e.second);
  Vocab vocab;
  vocab.tokens.resize(static_cast<size_t>(max_id) + 1);
  vocab.ids.reserve(reader.entries.size());
  for (auto& [token, id] : reader.entries) {
    vocab.tokens[static_cast<size_t>(id)] = token;
    vocab.ids.insert_or_assign(std::move(token), id);
  }
  return vocab;
}

std::vector<MergeRule> load_merges_txt(const std::filesystem::path& path) {
  const std::string text = read_file(path, "merges");
  std::vector<MergeRule> merges;
  merges.reserve(text.size() / 8);
  std::string_view rest(text);
  int line_no = 0;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (line_no == 1 && line.starts_with("#version"))) continue;
    const size_t space = line.find(' ');
    if (space == 0 || space == std::string_view::npos || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string_view::npos) {
      throw ModelError("The tokenizer merges file '" + path.string() + "' has a bad line " +
                       std::to_string(line_no) + " (" + in_quotes(line.substr(0, 80)) +
                       "): expected two symbols separated by one space.");
    }
    merges.push_back(
        {std::string(line.substr(0, space)), std::string(line.substr(space + 1)), line_no});
  }
  if (merges.empty()) {
    throw ModelError("The tokenizer merges file '" + path.string() + "' contains no merges.");
  }
  return merges;
}

const std::array<char32_t, 256>& byte_to_unicode() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    // Printable Latin-1 bytes stand for themselves; the rest get U+0100 onwards, in byte order.
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      t[static_cast<size_t>(b)] = printable ? static_cast<char32_t>(b) : next++;
    }
    return t;
  }();
  return table;
}

int unicode_to_byte(char32_t c) {
  static const std::array<int16_t, 512> table = [] {
    std::array<int16_t, 512> t;
    t.fill(-1);
    for (int b = 0; b < 256; ++b)
      t[byte_to_unicode()[static_cast<size_t>(b)]] = static_cast<int16_t>(b);
    return t;
  }();
  return c < table.size() ? table[c] : -1;
}

std::string token_bytes(std::string_view token) {
  std::string out;
  // Vocabulary strings come from a JSON file and are valid UTF-8 (nlohmann checks that).
  for (char32_t c : text::decode_utf8(token)) {
    const int b = unicode_to_byte(c);
    if (b >= 0) {
      out.push_back(static_cast<char>(b));
    } else {
      text::append_utf8(out, c);
    }
  }
  return out;
}

std::string alphabet_string(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char b : bytes) text::append_utf8(out, byte_to_unicode()[static_cast<unsigned char>(b)]);
  return out;
}

BpeModel::BpeModel(const Vocab& vocab, const std::vector<MergeRule>& merges,
                   std::string end_of_word, const std::filesystem::path& vocab_path,
                   const std::filesystem::path& merges_path)
    : BpeModel(vocab, merges, BpeOptions{.end_of_word = std::move(end_of_word)}, vocab_path,
               merges_path) {}

BpeModel::BpeModel(const Vocab& vocab, const std::vector<MergeRule>& merges, BpeOptions options,
                   const std::filesystem::path& vocab_path,
                   const std::filesystem::path& merges_path)
    : options_(std::move(options)) {
  const std::string& end_of_word = options_.end_of_word;
  if (!options_.byte_level || options_.ignore_merges) vocab_ = &vocab;
  for (int b = 0; b < 256; ++b) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    const std::string fallback = std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">";
    fallback_ids_[static_cast<size_t>(b)] = vocab.id(fallback);
    if (!options_.byte_level) continue;
    std::string symbol;
    text::append_utf8(symbol, byte_to_unicode()[static_cast<size_t>(b)]);
    const int32_t id = vocab.id(symbol);
    const int32_t last_id = end_of_word.empty() ? id : vocab.id(symbol + end_of_word);
    if (id < 0 || last_id < 0) {
      throw ModelError("The tokenizer vocabulary '" + vocab_path.string() +
                       "' lacks the byte symbol " +
                       in_quotes(id < 0 ? symbol : symbol + end_of_word) +
                       ", so it is not a byte-level BPE vocabulary.");
    }
    byte_ids_[static_cast<size_t>(b)] = id;
    last_byte_ids_[static_cast<size_t>(b)] = last_id;
  }
  merges_.reserve(merges.size());
  std::string joined;
  for (size_t r = 0; r < merges.size(); ++r) {
    const MergeRule& m = merges[r];
    const int32_t a = vocab.id(m.first), b = vocab.id(m.second);
    // A rule whose parts are not in the vocabulary can never fire (every symbol a word holds is).
    if (a < 0 || b < 0) continue;
    joined.assign(m.first).append(m.second);
    const int32_t merged = vocab.id(joined);
    if (merged < 0) {
      throw ModelError("The tokenizer files do not belong together: line " +
                       std::to_string(m.line) + " of '" + merges_path.string() + "' merges " +
                       in_quotes(m.first) + " and " + in_quotes(m.second) + ", but '" +
                       vocab_path.string() + "' has no token " + in_quotes(m.first + m.second) +
                       ".");
    }
    // Python builds the ranks with dict(zip(merges, range(...))): a repeated rule keeps its last
    // rank.
    merges_.insert_or_assign(key(a, b), Merge{static_cast<int32_t>(r), merged});
  }
}

int32_t BpeModel::rank(int32_t a, int32_t b) const {
  auto it = merges_.find(key(a, b));
  return it == merges_.end() ? INT32_MAX : it->second.rank;
}

std::vector<BpeModel::Symbol> BpeModel::initial_symbols(std::string_view word) const {
  std::vector<Symbol> w;
  w.reserve(word.size());
  if (options_.byte_level) {
    for (size_t i = 0; i < word.size(); ++i) {
      const auto b = static_cast<unsigned char>(word[i]);
      w.push_back({i + 1 == word.size() ? last_byte_ids_[b] : byte_ids_[b], 1});
    }
    return w;
  }
  // HF's BPE::merge_word for a model without a byte-level pre-tokenizer.
  int32_t skip = 0;  // bytes of dropped characters before the next symbol
  bool pending_unk = false;
  std::string symbol;
  for (size_t i = 0; i < word.size();) {
    size_t len = 1;
    const auto lead = static_cast<unsigned char>(word[i]);
    if (lead >= 0xF0) {
      len = 4;
    } else if (lead >= 0xE0) {
      len = 3;
    } else if (lead >= 0xC0) {
      len = 2;
    }
    len = std::min(len, word.size() - i);  // callers pass valid UTF-8; stay in bounds regardless
    const auto n = static_cast<int32_t>(len);
    symbol.assign(word.substr(i, len));
    if (i + len == word.size()) symbol += options_.end_of_word;
    i += len;
    if (const int32_t id = vocab_->id(symbol); id >= 0) {
      w.push_back({id, n, skip});
      skip = 0;
      pending_unk = false;
      continue;
    }
    if (options_.byte_fallback) {
      bool all = true;
      for (char c : symbol) all = all && fallback_ids_[static_cast<unsigned char>(c)] >= 0;
      if (all) {
        for (char c : symbol) {
          w.push_back({fallback_ids_[static_cast<unsigned char>(c)], 1, skip});
          skip = 0;
        }
        pending_unk = false;
        continue;
      }
    }
    if (options_.unk_id < 0) {
      skip += n;
    } else if (pending_unk && options_.fuse_unk) {
      w.back().bytes += skip + n;
      skip = 0;
    } else {
      w.push_back({options_.unk_id, n, skip});
      skip = 0;
      pending_unk = true;
    }
  }
  return w;
}

std::vector<BpeModel::Symbol> BpeModel::merge_with_queue(std::vector<Symbol> w) const {
  constexpr uint32_t kNone = UINT32_MAX;
  const auto n = static_cast<uint32_t>(w.size());
  // A doubly linked list over w; merged-away symbols are unlinked and marked dead.
  std::vector<uint32_t> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (uint32_t i = 0; i < n; ++i) {
    prev[i] = i == 0 ? kNone : i - 1;
    next[i] = i + 1 == n ? kNone : i + 1;
  }
  struct Candidate {
    int32_t rank;
    uint32_t left;              // index of the pair's left symbol: ties go leftmost
    int32_t left_id, right_id;  // the pair as it was when queued
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : left > o.left;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto push = [&](uint32_t i) {
    const uint32_t j = next[i];
    if (j == kNone) return;
    const int32_t r = rank(w[i].id, w[j].id);
    if (r != INT32_MAX) queue.push({r, i, w[i].id, w[j].id});
  };
  for (uint32_t i = 0; i + 1 < n; ++i) push(i);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    const uint32_t i = c.left, j = alive[i] ? next[i] : kNone;
    // Stale: a symbol of the pair has since been merged into something else.
    if (j == kNone || w[i].id != c.left_id || w[j].id != c.right_id) continue;
    const int32_t merged = merges_.find(key(c.left_id, c.right_id))->second.merged;
    w[i] = {merged, w[i].bytes + w[j].skip + w[j].bytes, w[i].skip};
    alive[j] = false;
    next[i] = next[j];
    if (next[j] != kNone) prev[next[j]] = i;
    if (prev[i] != kNone) push(prev[i]);
    push(i);
  }
  std::vector<Symbol> out;
  for (uint32_t i = 0; i < n; ++i) {
    if (alive[i]) out.push_back(w[i]);
  }
  return out;
}

std::vector<BpeModel::Symbol> BpeModel::merge_word(std::string_view word) const {
  std::vector<Symbol> w = initial_symbols(word);
  if (w.size() >= options_.queue_from_symbols) return merge_with_queue(std::move(w));
  // ranks[i] is the rank of the pair (w[i], w[i+1]).
  std::vector<int32_t> ranks(w.size() > 1 ? w.size() - 1 : 0);
  for (size_t i = 0; i + 1 < w.size(); ++i) ranks[i] = rank(w[i].id, w[i + 1].id);
  std::vector<Symbol> next;
  std::vector<int32_t> next_ranks;
  while (w.size() > 1) {
    // OpenAI's bpe(): take the lowest-ranked adjacent pair, then merge every occurrence of that
    // pair left to right in one pass, and repeat.
    size_t best = 0;
    for (size_t i = 1; i < ranks.size(); ++i) {
      if (ranks[i] < ranks[best]) best = i;
    }
    if (ranks[best] == INT32_MAX) break;
    const int32_t first = w[best].id, second = w[best + 1].id;
    const int32_t merged = merges_.find(key(first, second))->second.merged;
    next.clear();
    next_ranks.clear();
    bool prev_changed = false;
    for (size_t i = 0; i < w.size();) {
      const bool merge = i + 1 < w.size() && w[i].id == first && w[i + 1].id == second;
      const Symbol s =
          merge ? Symbol{merged, w[i].bytes + w[i + 1].skip + w[i + 1].bytes, w[i].skip} : w[i];
      if (!next.empty()) {
        // Only pairs next to a merged symbol change; the others keep their rank.
        next_ranks.push_back(merge || prev_changed ? rank(next.back().id, s.id) : ranks[i - 1]);
      }
      next.push_back(s);
      prev_changed = merge;
      i += merge ? 2 : 1;
    }
    w.swap(next);
    ranks.swap(next_ranks);
  }
  return w;
}

void BpeModel::encode_word(std::string_view word, std::vector<Symbol>& out) const {
  if (options_.ignore_merges) {
    // HF looks the word up as the model sees it: in byte-level mode, in the byte alphabet.
    const int32_t id = options_.byte_level ? vocab_->id(alphabet_string(word)) : vocab_->id(word);
    if (id >= 0) {
      out.push_back({id, static_cast<int32_t>(word.size())});
      return;
    }
  }
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    std::lock_guard lock(cache_mutex_);
    if (auto it = cache_.find(word); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  // Merge outside the lock so that threads encoding different words do not wait on each other.
  std::vector<Symbol> symbols = merge_word(word);
  out.insert(out.end(), symbols.begin(), symbols.end());
  if (cacheable) {
    std::lock_guard lock(cache_mutex_);
    if (cache_.size() >= kMaxCachedWords) cache_.clear();  // bounded memory for endless input
    cache_.emplace(std::string(word), std::move(symbols));
  }
}

}  // namespace atman::tokenizers
