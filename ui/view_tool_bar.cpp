#include "view_tool_bar.h"

#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QSlider>

#include <algorithm>
#include <cmath>

#include "colormaps.h"

namespace atman::ui {

ViewToolBar::ViewToolBar(QWidget* parent) : QToolBar(tr("View"), parent) {
  setObjectName(QStringLiteral("viewToolBar"));
  m_colormap = new QComboBox(this);
  m_colormap->addItems(colormapNames());
  m_opacity = new QSlider(Qt::Horizontal, this);
  m_opacity->setRange(0, 100);
  m_opacity->setFixedWidth(120);
  m_opacity->setToolTip(tr("Heatmap opacity over the image"));
  m_smooth = new QCheckBox(tr("Smooth"), this);
  m_smooth->setToolTip(tr("Bicubic heatmap; off: one flat colour per patch"));
  m_grid = new QCheckBox(tr("Patch grid"), this);
  m_shared = new QCheckBox(tr("Shared colour scale"), this);
  m_shared->setToolTip(tr("One colour scale for both panes, so their colours compare directly"));
  // In the order of OverlayView.
  m_views = new QComboBox(this);
  m_views->addItems({tr("All views"), tr("Base view"), tr("Tiles")});
  m_views->setToolTip(
      tr("LLaVA-NeXT / OneVision read the image as a base view and tiles: their evidence summed "
         "per pixel, or one of them"));
  addWidget(new QLabel(tr("Colormap: "), this));
  addWidget(m_colormap);
  addWidget(new QLabel(tr("  Opacity: "), this));
  addWidget(m_opacity);
  addWidget(m_smooth);
  addWidget(m_grid);
  addWidget(m_shared);
  addWidget(m_views);

  connect(m_colormap, &QComboBox::currentTextChanged, this, &ViewToolBar::changed);
  connect(m_views, &QComboBox::currentIndexChanged, this, &ViewToolBar::changed);
  connect(m_opacity, &QSlider::valueChanged, this, &ViewToolBar::changed);
  for (QCheckBox* box : {m_smooth, m_grid, m_shared})
    connect(box, &QCheckBox::toggled, this, &ViewToolBar::changed);
}

ViewOptions ViewToolBar::options() const {
  ViewOptions options;
  options.colormap = colormapFromName(m_colormap->currentText());
  options.opacity = m_opacity->value() / 100.0;
  options.smooth = m_smooth->isChecked();
  options.showGrid = m_grid->isChecked();
  options.overlayView = static_cast<OverlayView>(std::max(0, m_views->currentIndex()));
  return options;
}

bool ViewToolBar::sharedScale() const {
  return m_shared->isChecked();
}

void ViewToolBar::setOptions(const ViewOptions& options) {
  const QSignalBlocker b1(m_colormap), b2(m_opacity), b3(m_smooth), b4(m_grid), b5(m_views);
  const int index = m_colormap->findText(colormapNames().value(int(options.colormap)));
  if (index >= 0) m_colormap->setCurrentIndex(index);
  m_opacity->setValue(static_cast<int>(std::lround(options.opacity * 100)));
  m_smooth->setChecked(options.smooth);
  m_grid->setChecked(options.showGrid);
  m_views->setCurrentIndex(static_cast<int>(options.overlayView));
}

void ViewToolBar::setSharedScale(bool shared) {
  const QSignalBlocker blocker(m_shared);
  m_shared->setChecked(shared);
}

}  // namespace atman::ui
