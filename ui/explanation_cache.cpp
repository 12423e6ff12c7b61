#include "explanation_cache.h"

#include <QCryptographicHash>

#include <algorithm>
#include <cmath>

namespace atman::ui {

int kappaStep(double kappa) {
  return std::clamp(static_cast<int>(std::lround(kappa * kKappaSteps)), 0, kKappaSteps);
}

double kappaOfStep(int step) {
  return static_cast<double>(std::clamp(step, 0, kKappaSteps)) / kKappaSteps;
}

std::vector<double> allKappas() {
  std::vector<double> kappas;
  for (int s = 0; s <= kKappaSteps; ++s) kappas.push_back(kappaOfStep(s));
  return kappas;
}

QString inputKey(const ExplainRequest& r, quint64 modelSerial, quint64 imageSerial) {
  // Hashed so that long prompts and label sets make a short key; length-prefixed fields so that
  // moving text between fields changes it.
  QCryptographicHash hash(QCryptographicHash::Sha1);
  auto add = [&hash](const std::string& field) {
    hash.addData(QByteArray::number(qsizetype(field.size())) + ':');
    hash.addData(QByteArrayView(field.data(), qsizetype(field.size())));
  };
  add(std::to_string(modelSerial));
  add(std::to_string(imageSerial));
  add(request_fingerprint(r, FingerprintScope::Result));
  return QString::fromLatin1(hash.result().toHex());
}

bool ExplanationCache::setInput(const QString& key) {
  if (key == m_key) return false;
  clear();
  m_key = key;
  return true;
}

void ExplanationCache::clear() {
  m_key.clear();
  m_single.reset();
  m_correlated.clear();
}

void ExplanationCache::store(SharedExplanation e) {
  if (!e) return;
  if (e->mode == SuppressionMode::Correlated)
    m_correlated.insert_or_assign(kappaStep(e->kappa), std::move(e));
  else
    m_single = std::move(e);
}

SharedExplanation ExplanationCache::correlated(int step) const {
  auto it = m_correlated.find(step);
  return it == m_correlated.end() ? nullptr : it->second;
}

}  // namespace atman::ui
