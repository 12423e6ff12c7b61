// The window's status bar: passing messages, the progress of the running job, the background κ
// sweep, and where the core runs (this computer's device and threads, or a server's address and
// device, or that the server cannot be reached) with the model. It follows the session's progress
// and sweep signals, and the ends of its jobs, itself; the window tells it the rest.
#pragma once

#include <QStatusBar>

#include "jobs.h"
#include "view_options.h"

class QLabel;
class QProgressBar;

namespace atman {
class Model;
}

namespace atman::ui {

class ExplainSession;

class StudioStatusBar : public QStatusBar {
  Q_OBJECT

 public:
  StudioStatusBar(const ExplainSession& session, QWidget* parent);

  // An empty text clears the line (a pane or panel that stops hovering).
  void post(const QString& text, int timeoutMs = 0);
  // Busy: the progress bar shows, with `what` in the line; loading reports no progress.
  void setBusy(bool busy, const QString& what = {});
  // The device is the model's once one is loaded, else the one chosen for the next; where it is
  // comes from the session (ExplainSession::backend()).
  void setRuntime(const Model* model, const QString& chosenDevice);
  // The permanent label: "cpu · 2 threads · shapes-clip", "cpu on 10.0.0.2:7861 · shapes-clip".
  QString runtimeText() const;
  // What was explained and what it cost.
  void postExplained(const Explanation& explanation);
  // The neighbourhood a click shows, if any (nothing is posted for none).
  void postNeighbourhood(const Neighbourhood& neighbourhood);

 private:
  // A job ended without a result: cancelled (`failure` null) or failed.
  void jobEnded(JobKind kind, const QString& failure);
  void updateRuntime();

  const ExplainSession& m_session;
  QProgressBar* m_progress = nullptr;
  QLabel* m_prefetchLabel = nullptr;
  QLabel* m_runtimeLabel = nullptr;
  QString m_modelName;  // of the last setRuntime(); empty: none
  QString m_device;
};

}  // namespace atman::ui
