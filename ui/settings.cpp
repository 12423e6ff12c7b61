#include "settings.h"

#include <algorithm>

namespace atman::ui {
namespace {
constexpr int kMaxRecentModels = 8;
}

Settings::Settings(const QString& fileName)
    : m_settings(fileName.isEmpty() ? std::make_unique<QSettings>(QStringLiteral("AtMan"),
                                                                  QStringLiteral("AtMan Studio"))
                                    : std::make_unique<QSettings>(fileName, QSettings::IniFormat)) {
}

QString Settings::lastModel() const {
  return m_settings->value("model/last").toString();
}
void Settings::setLastModel(const QString& dir) {
  m_settings->setValue("model/last", dir);
}

QStringList Settings::recentModels() const {
  return m_settings->value("model/recent").toStringList();
}
void Settings::addRecentModel(const QString& dir) {
  QStringList recent = recentModels();
  recent.removeAll(dir);
  recent.prepend(dir);
  while (recent.size() > kMaxRecentModels) recent.removeLast();
  m_settings->setValue("model/recent", recent);
}

QString Settings::imageFolder() const {
  return m_settings->value("folders/images").toString();
}
void Settings::setImageFolder(const QString& dir) {
  m_settings->setValue("folders/images", dir);
}
QString Settings::exportFolder() const {
  return m_settings->value("folders/export").toString();
}
void Settings::setExportFolder(const QString& dir) {
  m_settings->setValue("folders/export", dir);
}

QString Settings::device() const {
  return m_settings->value("model/device", "cpu").toString();
}
void Settings::setDevice(const QString& device) {
  m_settings->setValue("model/device", device);
}
QString Settings::dtype() const {
  return m_settings->value("model/dtype", "auto").toString();
}
void Settings::setDtype(const QString& dtype) {
  m_settings->setValue("model/dtype", dtype);
}

QString Settings::serverAddress() const {
  return m_settings->value("server/address").toString();
}
void Settings::setServerAddress(const QString& address) {
  m_settings->setValue("server/address", address);
}
QString Settings::serverCaFile() const {
  return m_settings->value("server/ca").toString();
}
void Settings::setServerCaFile(const QString& path) {
  m_settings->setValue("server/ca", path);
}
bool Settings::rememberServerToken() const {
  return m_settings->value("server/rememberToken", true).toBool();
}
void Settings::setRememberServerToken(bool remember) {
  m_settings->setValue("server/rememberToken", remember);
}

QString Settings::colormap() const {
  return m_settings->value("view/colormap", "jet").toString();
}
void Settings::setColormap(const QString& name) {
  m_settings->setValue("view/colormap", name);
}
double Settings::opacity() const {
  return std::clamp(m_settings->value("view/opacity", 0.5).toDouble(), 0.0, 1.0);
}
void Settings::setOpacity(double opacity) {
  m_settings->setValue("view/opacity", opacity);
}
bool Settings::smooth() const {
  return m_settings->value("view/smooth", true).toBool();
}
void Settings::setSmooth(bool smooth) {
  m_settings->setValue("view/smooth", smooth);
}
bool Settings::showGrid() const {
  return m_settings->value("view/grid", false).toBool();
}
void Settings::setShowGrid(bool show) {
  m_settings->setValue("view/grid", show);
}
bool Settings::sharedScale() const {
  return m_settings->value("view/sharedScale", false).toBool();
}
void Settings::setSharedScale(bool shared) {
  m_settings->setValue("view/sharedScale", shared);
}
QString Settings::viewMode() const {
  return m_settings->value("view/mode", "side-by-side").toString();
}
void Settings::setViewMode(const QString& mode) {
  m_settings->setValue("view/mode", mode);
}

double Settings::kappa() const {
  return std::clamp(m_settings->value("explain/kappa", 0.7).toDouble(), 0.0, 1.0);
}
void Settings::setKappa(double kappa) {
  m_settings->setValue("explain/kappa", kappa);
}
double Settings::factor() const {
  return std::clamp(m_settings->value("explain/factor", 0.9).toDouble(), 0.0, 1.0);
}
void Settings::setFactor(double factor) {
  m_settings->setValue("explain/factor", factor);
}

int Settings::exportDpi() const {
  return std::clamp(m_settings->value("export/dpi", 300).toInt(), 36, 2400);
}
void Settings::setExportDpi(int dpi) {
  m_settings->setValue("export/dpi", dpi);
}

QByteArray Settings::windowGeometry() const {
  return m_settings->value("window/geometry").toByteArray();
}
void Settings::setWindowGeometry(const QByteArray& geometry) {
  m_settings->setValue("window/geometry", geometry);
}
QByteArray Settings::windowState() const {
  return m_settings->value("window/state").toByteArray();
}
void Settings::setWindowState(const QByteArray& state) {
  m_settings->setValue("window/state", state);
}

void Settings::sync() {
  m_settings->sync();
}

}  // namespace atman::ui
