// Where the bearer tokens of servers are kept: the platform keychain (QtKeychain: the Secret
// Service, KWallet, macOS Keychain, Windows Credential Store) when this build has it and the
// desktop offers one; otherwise only in this process's memory, for the session. Never in the
// settings file: a token there would be readable by anything that reads the user's files.
#pragma once

#include <QHash>
#include <QString>

namespace atman::ui {

class TokenStore {
 public:
  // `service`: the keychain entry's service name (tests use their own).
  explicit TokenStore(QString service = QStringLiteral("AtMan Studio"));

  // The token kept for `address`: this session's, else the keychain's; empty when none.
  QString token(const QString& address);
  // Keeps `token` for `address` for this session and, with `remember` and when possible, in the
  // keychain. Returns true when the keychain has it; false: this session only (status() says why
  // when the keychain failed). Without `remember`, a token the keychain had is removed there.
  bool store(const QString& address, const QString& token, bool remember);
  // Forgets the token of `address` here and in the keychain.
  void forget(const QString& address);

  // Whether this build can use a keychain at all (ATMAN_WITH_KEYCHAIN).
  static bool keychainBuilt();
  // Whether the last keychain access worked (before any: whether one is built in).
  bool keychainWorks() const { return m_keychainWorks; }
  // One line for the Connect dialog: where a remembered token is kept.
  QString status() const;
  // Why there is no keychain (empty while it works), for a tooltip.
  QString keychainError() const;

 private:
  QString m_service;
  QHash<QString, QString> m_session;
  bool m_keychainWorks;
  QString m_keychainError;
};

}  // namespace atman::ui
