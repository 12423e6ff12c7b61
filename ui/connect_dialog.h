// File → Connect to Server…: the address of an `atman serve` server, its bearer token and the CA
// that signed its certificate (docs/remote.md). The dialog only gathers and reports: the window
// connects (ExplainSession::connectServer) and tells the dialog how it went. Tests drive it
// through setChoice(), submit() and the labels' object names ("connectStatus", "tokenStatus").
#pragma once

#include <QDialog>

#include "jobs.h"

class QCheckBox;
class QLabel;
class QLineEdit;
class QPushButton;

namespace atman::ui {

class TokenStore;

class ConnectDialog : public QDialog {
  Q_OBJECT

 public:
  ConnectDialog(TokenStore& tokens, QWidget* parent = nullptr);

  // Fills the fields; an empty token is looked up in the TokenStore for the address.
  void setChoice(const ServerChoice& choice, bool rememberToken);
  ServerChoice choice() const;
  bool rememberToken() const;

  // What the window reports back.
  void setConnecting();
  void setConnected(const BackendInfo& info);
  void showError(const QString& message);
  QString statusText() const;

 public slots:
  // The Connect button: checks the fields, keeps the token (TokenStore) and asks to connect.
  void submit();

 signals:
  void connectRequested(const atman::ui::ServerChoice& choice, bool rememberToken);
  void disconnectRequested();  // run the jobs in this process again

 private:
  void browseCa();
  void updateTokenStatus();

  TokenStore& m_tokens;
  QLineEdit* m_address = nullptr;
  QLineEdit* m_token = nullptr;
  QLineEdit* m_caFile = nullptr;
  QCheckBox* m_remember = nullptr;
  QLabel* m_tokenStatus = nullptr;
  QLabel* m_status = nullptr;
  QPushButton* m_connect = nullptr;
  QPushButton* m_disconnect = nullptr;
};

}  // namespace atman::ui
