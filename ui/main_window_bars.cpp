// The window's furniture: its actions, menus, tool bars and status bar, and what keeps them in
// step with the session. What the actions trigger is in main_window.cpp.
#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QKeySequence>
#include <QLabel>
#include <QMenuBar>
#include <QSlider>
#include <QToolBar>

#include "explain_session.h"
#include "explanation_panes.h"
#include "exporter.h"
#include "input_panel.h"
#include "main_window.h"
#include "remote_backend.h"
#include "studio_status_bar.h"
#include "view_tool_bar.h"

namespace atman::ui {
namespace {

// The desktop theme's icon where there is one, else the bundled one (resources/icons).
QIcon studioIcon(const char* themeName, const char* bundled) {
  return QIcon::fromTheme(QLatin1String(themeName),
                          QIcon(QStringLiteral(":/icons/%1.svg").arg(QLatin1String(bundled))));
}

}  // namespace

void MainWindow::createActions() {
  m_openImageAction =
      new QAction(studioIcon("document-open", "open-image"), tr("&Open Image…"), this);
  m_openImageAction->setShortcut(QKeySequence::Open);
  m_openImageAction->setStatusTip(tr("Open the image to explain"));
  connect(m_openImageAction, &QAction::triggered, this, &MainWindow::openImageDialog);

  m_openModelAction = new QAction(tr("Open &Model Folder…"), this);
  m_openModelAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));
  m_openModelAction->setStatusTip(
      tr("Open a Hugging Face model folder (CLIP, GPT-2, Llama-style, LLaVA)"));
  connect(m_openModelAction, &QAction::triggered, this, &MainWindow::openModelDialog);

  m_connectAction = new QAction(tr("&Connect to Server…"), this);
  m_connectAction->setStatusTip(tr("Run the jobs on an atman serve server"));
  connect(m_connectAction, &QAction::triggered, this, [this] { openConnectDialog(); });
  m_reconnectAction = new QAction(tr("&Reconnect"), this);
  m_reconnectAction->setStatusTip(tr("Connect again to the last server"));
  connect(m_reconnectAction, &QAction::triggered, this, &MainWindow::reconnect);
  m_runHereAction = new QAction(tr("Run on &This Computer"), this);
  m_runHereAction->setStatusTip(tr("Disconnect from the server and run the jobs here"));
  connect(m_runHereAction, &QAction::triggered, this, &MainWindow::runHere);
  if (!serverSupport()) {
    // Still in the menu, so the person learns why it is not there to use.
    const QString why =
        tr("This AtMan Studio was built without server support (ATMAN_WITH_SERVER)");
    for (QAction* a : {m_connectAction, m_reconnectAction, m_runHereAction}) {
      a->setEnabled(false);
      a->setToolTip(why);
      a->setStatusTip(why);
    }
  }

  m_exportFigureAction =
      new QAction(studioIcon("document-save", "export"), tr("&Export Figure…"), this);
  m_exportFigureAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
  m_exportFigureAction->setStatusTip(tr("Save the explanation as a PNG, SVG or PDF figure"));
  connect(m_exportFigureAction, &QAction::triggered, this,
          [this] { m_exporter->exportFigureDialog(); });

  m_exportDataAction = new QAction(tr("Export &Data…"), this);
  m_exportDataAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_E));
  m_exportDataAction->setStatusTip(tr("Save the explanation's values as CSV or JSON"));
  connect(m_exportDataAction, &QAction::triggered, this,
          [this] { m_exporter->exportDataDialog(); });

  m_copyFigureAction = new QAction(tr("&Copy Figure"), this);
  m_copyFigureAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_C));
  connect(m_copyFigureAction, &QAction::triggered, this, [this] { m_exporter->copyFigure(); });

  m_pasteAction = new QAction(tr("&Paste Image"), this);
  m_pasteAction->setShortcut(QKeySequence::Paste);
  m_pasteAction->setStatusTip(tr("Explain the image on the clipboard"));
  connect(m_pasteAction, &QAction::triggered, this, &MainWindow::pasteImage);

  m_quitAction = new QAction(tr("&Quit"), this);
  m_quitAction->setShortcut(QKeySequence::Quit);
  m_quitAction->setMenuRole(QAction::QuitRole);
  connect(m_quitAction, &QAction::triggered, this, &QWidget::close);

  m_explainAction =
      new QAction(studioIcon("media-playback-start", "explain"), tr("E&xplain"), this);
  m_explainAction->setShortcuts(
      {QKeySequence(Qt::CTRL | Qt::Key_Return), QKeySequence(Qt::CTRL | Qt::Key_Enter)});
  m_explainAction->setStatusTip(tr("Explain the target with AtMan (Ctrl+Enter)"));
  connect(m_explainAction, &QAction::triggered, this, &MainWindow::explain);

  m_cancelAction = new QAction(studioIcon("process-stop", "cancel"), tr("&Cancel"), this);
  m_cancelAction->setShortcut(QKeySequence(Qt::Key_Escape));
  m_cancelAction->setStatusTip(
      tr("Stop the running explanation, or clear the neighbourhood shown"));
  connect(m_cancelAction, &QAction::triggered, this, &MainWindow::cancel);

  m_generateAction = new QAction(tr("&Generate Continuation"), this);
  m_generateAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_G));
  connect(m_generateAction, &QAction::triggered, this, &MainWindow::generate);

  m_generateSteeredAction = new QAction(tr("Generate &Steered"), this);
  m_generateSteeredAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_G));
  m_generateSteeredAction->setStatusTip(
      tr("Generate with the steering panel's factors and compare the answers"));
  connect(m_generateSteeredAction, &QAction::triggered, this, &MainWindow::generateSteered);

  m_kappaUpAction = new QAction(tr("κ &Up"), this);
  m_kappaUpAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Up));
  connect(m_kappaUpAction, &QAction::triggered, this, [this] { setKappa(kappa() + 0.05); });
  m_kappaDownAction = new QAction(tr("κ &Down"), this);
  m_kappaDownAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Down));
  connect(m_kappaDownAction, &QAction::triggered, this, [this] { setKappa(kappa() - 0.05); });

  m_modeGroup = new QActionGroup(this);
  const QString modeNames[3] = {tr("&Single-Token Suppression"), tr("C&orrelated Suppression"),
                                tr("Side &by Side")};
  for (int i = 0; i < 3; ++i) {
    m_modeActions[i] = new QAction(modeNames[i], m_modeGroup);
    m_modeActions[i]->setCheckable(true);
    m_modeActions[i]->setShortcut(QKeySequence(Qt::CTRL | (Qt::Key_1 + i)));
    connect(m_modeActions[i], &QAction::triggered, this,
            [this, i] { setViewMode(static_cast<ViewMode>(i)); });
  }

  m_aboutAction = new QAction(tr("&About AtMan Studio"), this);
  m_aboutAction->setMenuRole(QAction::AboutRole);
  connect(m_aboutAction, &QAction::triggered, this, &MainWindow::about);
  m_aboutQtAction = new QAction(tr("About &Qt"), this);
  m_aboutQtAction->setMenuRole(QAction::AboutQtRole);
  connect(m_aboutQtAction, &QAction::triggered, qApp, &QApplication::aboutQt);
}

void MainWindow::createMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(m_openImageAction);
  file->addAction(m_openModelAction);
  file->addSeparator();
  file->addAction(m_connectAction);
  file->addAction(m_reconnectAction);
  file->addAction(m_runHereAction);
  file->setToolTipsVisible(true);
  file->addSeparator();
  file->addAction(m_exportFigureAction);
  file->addAction(m_exportDataAction);
  file->addSeparator();
  file->addAction(m_quitAction);

  QMenu* edit = menuBar()->addMenu(tr("&Edit"));
  edit->addAction(m_pasteAction);
  edit->addAction(m_copyFigureAction);

  QMenu* explainMenu = menuBar()->addMenu(tr("E&xplain"));
  explainMenu->addAction(m_explainAction);
  explainMenu->addAction(m_cancelAction);
  explainMenu->addAction(m_generateAction);
  explainMenu->addAction(m_generateSteeredAction);
  explainMenu->addSeparator();
  for (QAction* a : m_modeActions) explainMenu->addAction(a);
  explainMenu->addSeparator();
  explainMenu->addAction(m_kappaUpAction);
  explainMenu->addAction(m_kappaDownAction);

  m_viewMenu = menuBar()->addMenu(tr("&View"));  // filled in createDocks() with the docks' toggles

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(m_aboutAction);
  help->addAction(m_aboutQtAction);
}

void MainWindow::createToolBars() {
  QToolBar* explainBar = addToolBar(tr("Explain"));
  explainBar->setObjectName(QStringLiteral("explainToolBar"));
  explainBar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  explainBar->addAction(m_openImageAction);
  explainBar->addAction(m_explainAction);
  explainBar->addAction(m_cancelAction);
  explainBar->addSeparator();

  m_modeCombo = new QComboBox(explainBar);
  m_modeCombo->addItem(tr("Single-token"), int(ViewMode::Single));
  m_modeCombo->addItem(tr("Correlated"), int(ViewMode::Correlated));
  m_modeCombo->addItem(tr("Side by side"), int(ViewMode::SideBySide));
  m_modeCombo->setToolTip(
      tr("Suppress each token alone, together with its correlated neighbours, or show both"));
  connect(m_modeCombo, &QComboBox::activated, this,
          [this] { setViewMode(static_cast<ViewMode>(m_modeCombo->currentData().toInt())); });
  explainBar->addWidget(new QLabel(tr(" Mode: "), explainBar));
  explainBar->addWidget(m_modeCombo);
  explainBar->addSeparator();

  m_kappaSlider = new QSlider(Qt::Horizontal, explainBar);
  m_kappaSlider->setRange(0, kKappaSteps);
  m_kappaSlider->setPageStep(2);
  m_kappaSlider->setTickPosition(QSlider::TicksBelow);
  m_kappaSlider->setTickInterval(2);
  m_kappaSlider->setFixedWidth(170);
  m_kappaSlider->setToolTip(
      tr("κ: neighbours with cosine similarity ≥ κ are suppressed together "
         "(values already computed show at once)"));
  m_kappaLabel = new QLabel(explainBar);
  m_kappaLabel->setMinimumWidth(
      m_kappaLabel->fontMetrics().horizontalAdvance(QStringLiteral("κ = 0.00 ")));
  m_kappaSlider->setObjectName(QStringLiteral("kappaSlider"));
  connect(m_kappaSlider, &QSlider::valueChanged, this, [this](int step) {
    updateKappaLabel();
    m_settings.setKappa(kappa());
    m_session->setKappaStep(step);  // shows a κ already computed, else computes it
  });
  explainBar->addWidget(new QLabel(tr(" κ "), explainBar));
  explainBar->addWidget(m_kappaSlider);
  explainBar->addWidget(m_kappaLabel);

  m_factorSpin = new QDoubleSpinBox(explainBar);
  m_factorSpin->setRange(0.0, 1.0);
  m_factorSpin->setSingleStep(0.05);
  m_factorSpin->setDecimals(2);
  m_factorSpin->setToolTip(
      tr("f: a suppressed token keeps 1 − f of its attention (applies to the next Explain)"));
  connect(m_factorSpin, &QDoubleSpinBox::valueChanged, this,
          [this](double f) { m_settings.setFactor(f); });
  explainBar->addWidget(new QLabel(tr("  f "), explainBar));
  explainBar->addWidget(m_factorSpin);

  addToolBarBreak();
  m_viewBar = new ViewToolBar(this);
  addToolBar(m_viewBar);
  m_viewBar->addSeparator();
  m_viewBar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  m_viewBar->addAction(m_exportFigureAction);
  m_viewBar->addAction(m_exportDataAction);
  connect(m_viewBar, &ViewToolBar::changed, this, [this] { setViewOptions(m_viewBar->options()); });
}

void MainWindow::createStatusBar() {
  m_status = new StudioStatusBar(*m_session, this);
  setStatusBar(m_status);
  m_status->setRuntime(nullptr, m_input->device());
  m_status->showMessage(tr("Choose a model and an image, then press Explain (Ctrl+Enter)."));
}

void MainWindow::updateActions() {
  const bool haveResult = m_panes->hasResult();
  m_exportFigureAction->setEnabled(haveResult);
  m_exportDataAction->setEnabled(haveResult);
  m_copyFigureAction->setEnabled(haveResult);
  m_cancelAction->setEnabled(true);  // Esc also clears a neighbourhood
  const auto& model = m_session->model();
  m_explainAction->setEnabled(model != nullptr);
  m_generateAction->setEnabled(model && model->generates());
  m_generateSteeredAction->setEnabled(model && model->generates());
  if (serverSupport()) {
    const BackendInfo& backend = m_session->backend();
    m_reconnectAction->setEnabled(backend.remote || !m_server.address.isEmpty() ||
                                  !m_settings.server().address.isEmpty());
    m_runHereAction->setEnabled(backend.remote);
  }
}

}  // namespace atman::ui
