// The image as the steering panel shows it: the picture, its patch grid, and the steered patches
// as a translucent overlay (red suppressed, green amplified). Dragging over the patches selects an
// inclusive rectangle of them; a click selects one patch.
#pragma once

#include <QImage>
#include <QPixmap>
#include <QWidget>

#include <map>
#include <utility>
#include <vector>

namespace atman::ui {

class SteeringImageView : public QWidget {
  Q_OBJECT

 public:
  // How much of a steered patch the overlay colour covers (the rest is the image).
  static constexpr double kOverlayAlpha = 0.45;

  explicit SteeringImageView(QWidget* parent = nullptr);

  // `cells` are the grid×grid patch rectangles in original-image pixels, row-major (what the
  // model sees of the image after its resize and crop). An empty image clears the view.
  void setImage(const QImage& image, const std::vector<QRectF>& cells, int grid);
  // (row, col) -> factor of every steered patch; patches not listed are left as they are.
  void setPatchFactors(const std::map<std::pair<int, int>, double>& factors);
  void setPlaceholderText(const QString& text);

  bool hasImage() const { return !m_image.isNull() && m_grid > 0; }
  int grid() const { return m_grid; }
  // Where the image is drawn, and a patch's rectangle, in widget coordinates.
  QRectF imageRect() const;
  QRectF patchRect(int row, int col) const;
  // The patch under a widget position: {row, col}, or {-1, -1}.
  std::pair<int, int> patchAt(const QPointF& position) const;

  QSize sizeHint() const override { return {280, 280}; }
  QSize minimumSizeHint() const override { return {160, 160}; }

 signals:
  void regionSelected(int row0, int row1, int col0, int col1);  // inclusive
  void message(const QString& text);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;

 private:
  void updateScaled();
  QRectF toWidget(const QRectF& imageRect) const;

  QImage m_image;
  QPixmap m_scaled;
  std::vector<QRectF> m_cells;
  int m_grid = 0;
  std::map<std::pair<int, int>, double> m_factors;
  QString m_placeholder;
  // The drag in progress: the patch it started on and the one under the mouse ({-1, -1}: none).
  std::pair<int, int> m_dragFrom{-1, -1}, m_dragTo{-1, -1};
};

}  // namespace atman::ui
