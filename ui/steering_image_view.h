// The image as the steering panel shows it: the picture, the cells of its image tokens, and the
// steered cells as a translucent overlay (red suppressed, green amplified). Dragging over the cells
// selects an inclusive rectangle of their rows and columns; a click selects one cell. The cells are
// whatever the model's tokens cover (a square grid for CLIP-style towers, a rows x cols grid of
// merged tokens for Qwen2.5-VL, the base view of anyres LLaVA), not a grid assumed here.
#pragma once

#include <QImage>
#include <QPixmap>
#include <QWidget>

#include <map>
#include <utility>
#include <vector>

namespace atman::ui {

// One selectable image token: its place on the token grid and the original-image pixels it reads.
struct PatchCell {
  int row = 0, col = 0;
  QRectF rect;
};

class SteeringImageView : public QWidget {
  Q_OBJECT

 public:
  // How much of a steered patch the overlay colour covers (the rest is the image).
  static constexpr double kOverlayAlpha = 0.45;

  explicit SteeringImageView(QWidget* parent = nullptr);

  // The picture; a null image clears the view (and its cells).
  void setImage(const QImage& image);
  // The cells a drag can select, in original-image pixels (what the model reads of the image
  // after its resize and crop). A new set ends a drag in progress.
  void setCells(std::vector<PatchCell> cells);
  // (row, col) -> factor of every steered patch; patches not listed are left as they are.
  void setPatchFactors(const std::map<std::pair<int, int>, double>& factors);
  void setPlaceholderText(const QString& text);

  // An image with cells to select.
  bool hasImage() const { return !m_image.isNull() && !m_cells.empty(); }
  const std::vector<PatchCell>& cells() const { return m_cells; }
  // The token grid's size: one more than the largest row and column (0 without cells).
  int rows() const { return m_rows; }
  int cols() const { return m_cols; }
  // Where the image is drawn, and a cell's rectangle, in widget coordinates (empty for a cell
  // that does not exist).
  QRectF imageRect() const;
  QRectF patchRect(int row, int col) const;
  // The cell under a widget position: {row, col}, or {-1, -1}.
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
  std::vector<PatchCell> m_cells;
  std::map<std::pair<int, int>, size_t> m_cellAt;  // (row, col) -> index into m_cells
  int m_rows = 0, m_cols = 0;
  std::map<std::pair<int, int>, double> m_factors;
  QString m_placeholder;
  // The drag in progress: the patch it started on and the one under the mouse ({-1, -1}: none).
  std::pair<int, int> m_dragFrom{-1, -1}, m_dragTo{-1, -1};
};

}  // namespace atman::ui
