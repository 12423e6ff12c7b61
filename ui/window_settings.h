// The window's persisted choices, typed, over Settings. Screenshot mode freezes them, here and
// nowhere else: the window starts from the defaults, so a picture does not depend on whoever ran
// the studio last, and nothing is written, so the user's settings are left as they are.
#pragma once

#include <QByteArray>
#include <QString>
#include <QStringList>

#include "jobs.h"
#include "settings.h"
#include "view_mode.h"
#include "view_options.h"

namespace atman::ui {

class WindowSettings {
 public:
  // An empty file name: the user's settings (see Settings).
  WindowSettings(const QString& fileName, bool frozen);
  bool frozen() const { return m_frozen; }

  // What the window starts with: the stored choices, or the defaults when frozen.
  QByteArray geometry() const;  // empty: none stored, the window picks its size
  QByteArray state() const;
  QStringList recentModels() const;
  QString device() const;
  QString dtype() const;
  // The server last connected to: address and CA file, no token (empty when frozen).
  ServerChoice server() const;
  bool rememberServerToken() const;
  ViewOptions viewOptions() const;
  bool sharedScale() const;
  double factor() const;
  double kappa() const;
  ViewMode viewMode() const;
  // Where the file dialogs open (the last folder used, else home) and the figure's resolution.
  // Read even when frozen: only a person opens a dialog, and a screenshot run has none.
  QString imageFolder() const;
  QString exportFolder() const;
  int exportDpi() const;

  // Each choice is kept as it is made, so a crash loses nothing; frozen, none is.
  void setDevice(const QString& device);
  // The server last connected to, without its token (TokenStore keeps that).
  void setServer(const ServerChoice& server, bool rememberToken);
  void setDtype(const QString& dtype);
  void addModel(const QString& dir);  // the last one opened, and the first of the recent ones
  void setViewOptions(const ViewOptions& options, bool sharedScale);
  void setKappa(double kappa);
  void setFactor(double factor);
  void setViewMode(ViewMode mode);
  void setImageFolder(const QString& dir);
  void setExportFolder(const QString& dir);
  void setExportDpi(int dpi);
  // At close: the window's geometry and dock layout, then everything to disk.
  void saveWindow(const QByteArray& geometry, const QByteArray& state);

 private:
  Settings m_settings;
  bool m_frozen;
};

}  // namespace atman::ui
