// Deletion / insertion curves of one explanation (definitions in atman/eval.h).
#include "atman/error.h"
#include "atman/eval.h"

namespace atman::eval {

Curves faithfulness(const ExplainRequest& request, const std::vector<double>& explanation,
                    int max_steps) {
  const int n = static_cast<int>(explanation.size());
  const std::vector<int> order = ranking(explanation);
  const std::vector<int> ks = curve_steps(n, max_steps);
  std::vector<CandidateMask> masks = deletion_masks(order, ks);
  const std::vector<CandidateMask> insert = insertion_masks(order, ks);
  masks.insert(masks.end(), insert.begin(), insert.end());
  // One call: the task is prepared once and the shared end points (nothing / everything removed)
  // run once.
  const std::vector<double> p = target_probabilities(request, masks);
  Curves c;
  for (size_t s = 0; s < ks.size(); ++s) {
    c.x.push_back(static_cast<double>(ks[s]) / n);
    c.deletion.push_back(p[s]);
    c.insertion.push_back(p[ks.size() + s]);
  }
  c.deletion_auc = curve_auc(c.x, c.deletion);
  c.insertion_auc = curve_auc(c.x, c.insertion);
  return c;
}

}  // namespace atman::eval
