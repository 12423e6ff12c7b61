#include "connect_dialog.h"

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QToolButton>
#include <QVBoxLayout>

#include "remote_backend.h"
#include "token_store.h"

namespace atman::ui {

ConnectDialog::ConnectDialog(TokenStore& tokens, QWidget* parent)
    : QDialog(parent), m_tokens(tokens) {
  setWindowTitle(tr("Connect to Server"));
  m_address = new QLineEdit(this);
  m_address->setObjectName(QStringLiteral("serverAddress"));
  m_address->setPlaceholderText(tr("host:port, e.g. gpu-box:7861"));
  m_token = new QLineEdit(this);
  m_token->setObjectName(QStringLiteral("serverToken"));
  m_token->setEchoMode(QLineEdit::Password);
  m_token->setPlaceholderText(tr("the server's --token-file contents"));
  m_caFile = new QLineEdit(this);
  m_caFile->setObjectName(QStringLiteral("serverCa"));
  m_caFile->setPlaceholderText(tr("none: plain TCP (the server allows it on loopback only)"));
  auto* browse = new QToolButton(this);
  browse->setText(tr("…"));
  browse->setToolTip(tr("Choose the PEM file of the CA that signed the server's certificate"));
  connect(browse, &QToolButton::clicked, this, &ConnectDialog::browseCa);
  auto* caRow = new QHBoxLayout;
  caRow->addWidget(m_caFile, 1);
  caRow->addWidget(browse);
  m_remember = new QCheckBox(tr("Remember the token"), this);
  m_tokenStatus = new QLabel(this);
  m_tokenStatus->setObjectName(QStringLiteral("tokenStatus"));
  m_tokenStatus->setWordWrap(true);
  m_status = new QLabel(this);
  m_status->setObjectName(QStringLiteral("connectStatus"));
  m_status->setWordWrap(true);
  m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);

  auto* form = new QFormLayout;
  form->addRow(tr("&Address:"), m_address);
  form->addRow(tr("&Token:"), m_token);
  auto* caLabel = new QLabel(tr("&CA certificate:"), this);
  caLabel->setBuddy(m_caFile);  // a row of a layout gets no buddy of its own
  form->addRow(caLabel, caRow);
  form->addRow(QString(), m_remember);

  auto* buttons = new QDialogButtonBox(this);
  m_connect = buttons->addButton(tr("&Connect"), QDialogButtonBox::AcceptRole);
  m_connect->setObjectName(QStringLiteral("connectButton"));
  m_connect->setDefault(true);
  m_disconnect = buttons->addButton(tr("&Run Here"), QDialogButtonBox::ResetRole);
  m_disconnect->setObjectName(QStringLiteral("disconnectButton"));
  m_disconnect->setToolTip(tr("Disconnect and run the jobs on this computer"));
  m_disconnect->setEnabled(false);
  buttons->addButton(QDialogButtonBox::Close);
  // Connecting takes a moment and may fail: the dialog stays open until the window reports.
  connect(m_connect, &QPushButton::clicked, this, &ConnectDialog::submit);
  connect(m_disconnect, &QPushButton::clicked, this, &ConnectDialog::disconnectRequested);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

  auto* layout = new QVBoxLayout(this);
  // The wrapped messages (a refusal can take three lines) grow the dialog instead of being cut.
  layout->setSizeConstraint(QLayout::SetMinimumSize);
  layout->addLayout(form);
  layout->addWidget(m_tokenStatus);
  layout->addWidget(m_status);
  layout->addWidget(buttons);

  if (!serverSupport()) {
    m_connect->setEnabled(false);
    m_status->setText(
        tr("This AtMan Studio was built without server support "
           "(ATMAN_WITH_SERVER)."));
  }
  connect(m_address, &QLineEdit::editingFinished, this, [this] {
    if (m_token->text().isEmpty()) m_token->setText(m_tokens.token(m_address->text().trimmed()));
  });
  updateTokenStatus();
  resize(520, sizeHint().height());
}

void ConnectDialog::setChoice(const ServerChoice& choice, bool rememberToken) {
  m_address->setText(choice.address);
  m_caFile->setText(choice.caFile);
  m_token->setText(choice.token.isEmpty() && !choice.address.isEmpty()
                       ? m_tokens.token(choice.address)
                       : choice.token);
  m_remember->setChecked(rememberToken);
  updateTokenStatus();
}

ServerChoice ConnectDialog::choice() const {
  ServerChoice choice;
  choice.address = m_address->text().trimmed();
  choice.token = m_token->text().trimmed();
  choice.caFile = m_caFile->text().trimmed();
  return choice;
}

bool ConnectDialog::rememberToken() const {
  return m_remember->isChecked();
}

void ConnectDialog::submit() {
  const ServerChoice server = choice();
  const int colon = server.address.lastIndexOf(QLatin1Char(':'));
  if (colon <= 0 || colon == server.address.size() - 1) {
    showError(tr("Give the server's address as host:port, e.g. 127.0.0.1:7861."));
    return;
  }
  m_tokens.store(server.address, server.token, rememberToken());
  updateTokenStatus();  // the keychain may just have failed
  setConnecting();
  emit connectRequested(server, rememberToken());
}

void ConnectDialog::setConnecting() {
  m_status->setText(tr("Connecting to %1…").arg(choice().address));
  m_connect->setEnabled(false);
}

void ConnectDialog::setConnected(const BackendInfo& info) {
  m_connect->setEnabled(serverSupport());
  m_disconnect->setEnabled(info.remote);
  if (!info.remote) {
    m_status->setText(tr("The jobs run on this computer."));
    return;
  }
  m_status->setText(tr("Connected to %1 (AtMan %2; devices: %3; %4 models).")
                        .arg(info.where, info.version, info.devices.join(QStringLiteral(", ")))
                        .arg(info.models.size()));
}

void ConnectDialog::showError(const QString& message) {
  m_connect->setEnabled(serverSupport());
  m_status->setText(message);
}

QString ConnectDialog::statusText() const {
  return m_status->text();
}

void ConnectDialog::browseCa() {
  const QString path = QFileDialog::getOpenFileName(this, tr("CA Certificate"), m_caFile->text(),
                                                    tr("PEM certificates (*.pem *.crt);;All (*)"));
  if (!path.isEmpty()) m_caFile->setText(path);
}

void ConnectDialog::updateTokenStatus() {
  m_tokenStatus->setText(m_tokens.status());
  m_tokenStatus->setToolTip(m_tokens.keychainError());
  // A keychain that is not there cannot be asked to remember: say so rather than pretend.
  m_remember->setEnabled(m_tokens.keychainWorks());
  if (!m_tokens.keychainWorks()) m_remember->setChecked(false);
}

}  // namespace atman::ui
