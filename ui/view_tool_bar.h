// The View tool bar: how the heatmaps are drawn (colormap, opacity, smoothing, patch grid) and
// whether the two panes share one colour scale. It only reports edits; the window applies them.
#pragma once

#include <QToolBar>

#include "view_options.h"

class QCheckBox;
class QComboBox;
class QSlider;

namespace atman::ui {

class ViewToolBar : public QToolBar {
  Q_OBJECT

 public:
  explicit ViewToolBar(QWidget* parent = nullptr);

  ViewOptions options() const;
  bool sharedScale() const;
  // Set from outside (settings, tests, command line): no changed() follows.
  void setOptions(const ViewOptions& options);
  void setSharedScale(bool shared);

 signals:
  void changed();  // the person edited a control

 private:
  QComboBox* m_colormap = nullptr;
  QComboBox* m_views = nullptr;
  QSlider* m_opacity = nullptr;
  QCheckBox* m_smooth = nullptr;
  QCheckBox* m_grid = nullptr;
  QCheckBox* m_shared = nullptr;
};

}  // namespace atman::ui
