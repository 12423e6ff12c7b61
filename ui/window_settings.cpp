#include "window_settings.h"

#include <QDir>

#include "colormaps.h"

namespace atman::ui {
namespace {

QString orHome(const QString& folder) {
  return folder.isEmpty() ? QDir::homePath() : folder;
}

}  // namespace

WindowSettings::WindowSettings(const QString& fileName, bool frozen)
    : m_settings(fileName), m_frozen(frozen) {}

QByteArray WindowSettings::geometry() const {
  return m_frozen ? QByteArray() : m_settings.windowGeometry();
}
QByteArray WindowSettings::state() const {
  return m_frozen ? QByteArray() : m_settings.windowState();
}
QStringList WindowSettings::recentModels() const {
  return m_frozen ? QStringList() : m_settings.recentModels();
}
QString WindowSettings::device() const {
  return m_frozen ? QStringLiteral("cpu") : m_settings.device();
}
QString WindowSettings::dtype() const {
  return m_frozen ? QStringLiteral("auto") : m_settings.dtype();
}

ViewOptions WindowSettings::viewOptions() const {
  ViewOptions view;
  if (m_frozen) return view;
  view.colormap = colormapFromName(m_settings.colormap());
  view.opacity = m_settings.opacity();
  view.smooth = m_settings.smooth();
  view.showGrid = m_settings.showGrid();
  return view;
}

bool WindowSettings::sharedScale() const {
  // Off by default: the panes' ranges differ a lot, each gets its own scale.
  return !m_frozen && m_settings.sharedScale();
}
double WindowSettings::factor() const {
  return m_frozen ? 0.9 : m_settings.factor();
}
double WindowSettings::kappa() const {
  return m_frozen ? 0.7 : m_settings.kappa();
}
ViewMode WindowSettings::viewMode() const {
  return parseViewMode(m_frozen ? QString() : m_settings.viewMode()).value_or(ViewMode::SideBySide);
}

QString WindowSettings::imageFolder() const {
  return orHome(m_settings.imageFolder());
}
QString WindowSettings::exportFolder() const {
  return orHome(m_settings.exportFolder());
}
int WindowSettings::exportDpi() const {
  return m_settings.exportDpi();
}

ServerChoice WindowSettings::server() const {
  ServerChoice server;
  if (m_frozen) return server;
  server.address = m_settings.serverAddress();
  server.caFile = m_settings.serverCaFile();
  return server;
}

bool WindowSettings::rememberServerToken() const {
  return m_frozen || m_settings.rememberServerToken();
}

void WindowSettings::setServer(const ServerChoice& server, bool rememberToken) {
  if (m_frozen) return;
  m_settings.setServerAddress(server.address);
  m_settings.setServerCaFile(server.caFile);
  m_settings.setRememberServerToken(rememberToken);
  m_settings.sync();
}

void WindowSettings::setDevice(const QString& device) {
  if (!m_frozen) m_settings.setDevice(device);
}
void WindowSettings::setDtype(const QString& dtype) {
  if (!m_frozen) m_settings.setDtype(dtype);
}
void WindowSettings::addModel(const QString& dir) {
  if (m_frozen) return;
  m_settings.setLastModel(dir);
  m_settings.addRecentModel(dir);
}

void WindowSettings::setViewOptions(const ViewOptions& options, bool sharedScale) {
  if (m_frozen) return;
  m_settings.setColormap(colormapNames().value(int(options.colormap)));
  m_settings.setOpacity(options.opacity);
  m_settings.setSmooth(options.smooth);
  m_settings.setShowGrid(options.showGrid);
  m_settings.setSharedScale(sharedScale);
}

void WindowSettings::setKappa(double kappa) {
  if (!m_frozen) m_settings.setKappa(kappa);
}
void WindowSettings::setFactor(double factor) {
  if (!m_frozen) m_settings.setFactor(factor);
}
void WindowSettings::setViewMode(ViewMode mode) {
  if (!m_frozen) m_settings.setViewMode(viewModeName(mode));
}
void WindowSettings::setImageFolder(const QString& dir) {
  if (!m_frozen) m_settings.setImageFolder(dir);
}
void WindowSettings::setExportFolder(const QString& dir) {
  if (!m_frozen) m_settings.setExportFolder(dir);
}
void WindowSettings::setExportDpi(int dpi) {
  if (!m_frozen) m_settings.setExportDpi(dpi);
}

void WindowSettings::saveWindow(const QByteArray& geometry, const QByteArray& state) {
  if (m_frozen) return;
  m_settings.setWindowGeometry(geometry);
  m_settings.setWindowState(state);
  m_settings.sync();
}

}  // namespace atman::ui
