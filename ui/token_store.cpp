#include "token_store.h"

#include <QCoreApplication>
#include <QEventLoop>
#include <QTimer>

#include <utility>

#ifdef ATMAN_WITH_KEYCHAIN
#include <qt6keychain/keychain.h>
#endif

namespace atman::ui {
namespace {

#ifdef ATMAN_WITH_KEYCHAIN
// QtKeychain's jobs are asynchronous; the dialog asks at moments where a short wait is fine
// (opening it, pressing Connect), so wait for the job here, with a bound: a keychain that does
// not answer is treated as none.
bool runJob(QKeychain::Job& job, QString& error) {
  // Never QtKeychain's plain-text fallback: without a keychain the token stays in memory.
  job.setInsecureFallback(false);
  job.setAutoDelete(false);
  QEventLoop loop;
  bool finished = false;
  QObject::connect(&job, &QKeychain::Job::finished, &loop, [&] {
    finished = true;
    loop.quit();
  });
  QTimer::singleShot(5000, &loop, &QEventLoop::quit);
  job.start();
  if (!finished) loop.exec();
  if (!finished) {
    error = QCoreApplication::translate("TokenStore", "the keychain did not answer");
    return false;
  }
  if (job.error() == QKeychain::NoError) return true;
  // QtKeychain's own text is often just "Unknown error": say what it means here.
  error = QCoreApplication::translate(
              "TokenStore", "no Secret Service, wallet or keychain answered; QtKeychain: %1")
              .arg(job.errorString());
  return false;
}
#endif

}  // namespace

TokenStore::TokenStore(QString service)
    : m_service(std::move(service)), m_keychainWorks(keychainBuilt()) {
  if (!m_keychainWorks)
    m_keychainError = QCoreApplication::translate(
        "TokenStore", "this build has no keychain support (qtkeychain-qt6-dev)");
}

bool TokenStore::keychainBuilt() {
#ifdef ATMAN_WITH_KEYCHAIN
  return true;
#else
  return false;
#endif
}

QString TokenStore::token(const QString& address) {
  if (const auto it = m_session.constFind(address); it != m_session.cend()) return *it;
#ifdef ATMAN_WITH_KEYCHAIN
  if (m_keychainWorks) {
    QKeychain::ReadPasswordJob job(m_service);
    job.setKey(address);
    QString error;
    if (runJob(job, error)) return job.textData();
    // No entry is no failure; anything else means there is no usable keychain.
    if (job.error() == QKeychain::EntryNotFound) return {};
    m_keychainWorks = false;
    m_keychainError = error;
  }
#endif
  return {};
}

bool TokenStore::store(const QString& address, const QString& token, bool remember) {
  if (!remember) {
    forget(address);
    m_session.insert(address, token);
    return false;
  }
  m_session.insert(address, token);
#ifdef ATMAN_WITH_KEYCHAIN
  if (m_keychainWorks) {
    QKeychain::WritePasswordJob job(m_service);
    job.setKey(address);
    job.setTextData(token);
    QString error;
    if (runJob(job, error)) return true;
    m_keychainWorks = false;
    m_keychainError = error;
  }
#endif
  return false;
}

void TokenStore::forget(const QString& address) {
  m_session.remove(address);
#ifdef ATMAN_WITH_KEYCHAIN
  if (m_keychainWorks) {
    QKeychain::DeletePasswordJob job(m_service);
    job.setKey(address);
    QString error;
    runJob(job, error);  // nothing to delete is fine too
  }
#endif
}

QString TokenStore::status() const {
  if (m_keychainWorks)
    return QCoreApplication::translate("TokenStore",
                                       "A remembered token is kept in the system keychain.");
  return QCoreApplication::translate(
      "TokenStore",
      "No keychain is available: the token is kept for this session only, never in the "
      "settings.");
}

QString TokenStore::keychainError() const {
  return m_keychainError;
}

}  // namespace atman::ui
