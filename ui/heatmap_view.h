// The image with the patch heatmap over it. The overlay pixels come from atman::render_overlay, the
// function behind the CLI's --png, so the GUI shows what the CLI writes. On top: the patch grid,
// the hovered patch (synchronised across panes) and a correlated neighbourhood with its factors.
#pragma once

#include <QImage>
#include <QPixmap>
#include <QWidget>

#include <memory>
#include <optional>
#include <vector>

#include "atman/explanation.h"
#include "atman/image.h"
#include "view_options.h"

namespace atman::ui {

class HeatmapView : public QWidget {
  Q_OBJECT

 public:
  explicit HeatmapView(QWidget* parent = nullptr);

  // The picture to explain; clears the explanation (a new image makes it meaningless).
  void setImage(std::shared_ptr<const RgbImage> image);
  // nullptr shows the plain image. The explanation must belong to the current image.
  void setExplanation(const Explanation* explanation);
  void setViewOptions(const ViewOptions& options, double scaleMax);
  void setHoveredCandidate(int candidate);
  void setNeighbourhood(const Neighbourhood& neighbourhood);
  void setPlaceholderText(const QString& text);

  int hoveredCandidate() const { return m_hovered; }
  const Neighbourhood& neighbourhood() const { return m_neighbourhood; }
  bool hasImage() const { return !m_base.isNull(); }
  bool hasHeatmap() const { return !m_cells.empty(); }
  double scaleMax() const { return m_scaleMax; }  // the colour scale the overlay is drawn with
  // The image as shown: with the heatmap when there is one (full image resolution).
  QImage shownImage() const { return m_overlay.isNull() ? m_base : m_overlay; }
  // Where the image is drawn, in widget coordinates.
  QRectF imageRect() const;
  // A rectangle in original-image pixels, in widget coordinates.
  QRectF toWidget(const QRectF& imageRect) const;
  // The patch candidate under a widget position, or -1.
  int candidateAt(const QPointF& position) const;

  QSize sizeHint() const override { return {420, 420}; }
  QSize minimumSizeHint() const override { return {160, 160}; }

 signals:
  void candidateHovered(int candidate);  // -1 when the mouse leaves the patches
  void candidateClicked(int candidate);
  void message(const QString& text);
  void imageRectChanged(const QRectF& rect);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void leaveEvent(QEvent* event) override;

 private:
  struct Cell {
    int candidate = -1;
    int row = 0, col = 0;
    QRectF rect;  // original-image pixels
    double value = 0;
  };

  void renderOverlay();
  void updateScaled();
  QString describe(int candidate) const;
  const Cell* cell(int candidate) const;

  std::shared_ptr<const RgbImage> m_image;
  QImage m_base;
  std::optional<Explanation> m_explanation;
  QImage m_overlay;
  QPixmap m_scaled;  // the shown image at widget size, rebuilt on resize or new overlay
  ViewOptions m_options;
  double m_scaleMax = 0;
  std::vector<Cell> m_cells;
  int m_hovered = -1;
  Neighbourhood m_neighbourhood;
  QString m_placeholder;
};

}  // namespace atman::ui
