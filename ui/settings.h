// Typed access to the persisted settings: one getter/setter pair per value, the key and the
// default in one place, so no string keys leak into the widgets.
#pragma once

#include <QByteArray>
#include <QSettings>
#include <QString>
#include <QStringList>

#include <memory>

namespace atman::ui {

class Settings {
 public:
  // An empty file name uses the platform's settings for "AtMan/AtMan Studio"; a file name keeps
  // the settings in that INI file (tests, screenshots: nothing of the user's leaks in or out).
  explicit Settings(const QString& fileName = {});

  QString lastModel() const;
  void setLastModel(const QString& dir);
  QStringList recentModels() const;  // most recent first
  void addRecentModel(const QString& dir);

  QString imageFolder() const;
  void setImageFolder(const QString& dir);
  QString exportFolder() const;
  void setExportFolder(const QString& dir);

  QString device() const;
  void setDevice(const QString& device);
  QString dtype() const;  // "auto" unless chosen
  void setDtype(const QString& dtype);
  // The last server connected to (File → Connect to Server…). Never the token: that lives in the
  // platform keychain (TokenStore) or in memory.
  QString serverAddress() const;
  void setServerAddress(const QString& address);
  QString serverCaFile() const;
  void setServerCaFile(const QString& path);
  bool rememberServerToken() const;  // keep the token in the keychain (true unless declined)
  void setRememberServerToken(bool remember);

  QString colormap() const;
  void setColormap(const QString& name);
  double opacity() const;
  void setOpacity(double opacity);
  bool smooth() const;
  void setSmooth(bool smooth);
  bool showGrid() const;
  void setShowGrid(bool show);
  bool sharedScale() const;
  void setSharedScale(bool shared);
  double kappa() const;
  void setKappa(double kappa);
  double factor() const;
  void setFactor(double factor);
  QString viewMode() const;  // "single", "correlated", "side-by-side"
  void setViewMode(const QString& mode);
  int exportDpi() const;
  void setExportDpi(int dpi);

  QByteArray windowGeometry() const;
  void setWindowGeometry(const QByteArray& geometry);
  QByteArray windowState() const;
  void setWindowState(const QByteArray& state);

  void sync();

 private:
  std::unique_ptr<QSettings> m_settings;
};

}  // namespace atman::ui
