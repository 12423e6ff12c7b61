#include "steering_panel.h"

#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSignalBlocker>
#include <QTableWidget>
#include <QToolButton>
#include <QVBoxLayout>
#include <optional>

#include <algorithm>
#include <map>

#include "atman/error.h"
#include "conversions.h"
#include "steering_image_view.h"
#include "token_view.h"

namespace atman::ui {
namespace {

QString factorMeaning(double factor) {
  if (factor < 1.0)
    return factor == 0.0 ? QObject::tr("suppress completely") : QObject::tr("suppress");
  if (factor > 1.0) return QObject::tr("amplify");
  return QObject::tr("no change");
}

QDoubleSpinBox* makeFactorSpin(QWidget* parent) {
  auto* spin = new QDoubleSpinBox(parent);
  spin->setRange(0.0, kMaxSteeringFactor);
  spin->setSingleStep(0.1);
  spin->setDecimals(2);
  spin->setToolTip(
      QObject::tr("Attention to these positions is scaled by this factor in every layer: "
                  "below 1 suppresses, above 1 amplifies"));
  return spin;
}

}  // namespace

SteeringPanel::SteeringPanel(QWidget* parent) : QWidget(parent) {
  auto* intro =
      new QLabel(tr("Choose prompt tokens or image patches, give them a factor (below 1 "
                    "suppresses attention to them, above 1 amplifies it) and compare the answers."),
                 this);
  intro->setWordWrap(true);

  m_factor = makeFactorSpin(this);
  m_factor->setValue(0.0);
  m_factorHint = new QLabel(factorMeaning(0.0), this);
  connect(m_factor, &QDoubleSpinBox::valueChanged, this,
          [this](double f) { m_factorHint->setText(factorMeaning(f)); });
  auto* factorLabel = new QLabel(tr("&Factor for new choices:"), this);
  factorLabel->setBuddy(m_factor);
  auto* factorRow = new QHBoxLayout;
  factorRow->addWidget(factorLabel);
  factorRow->addWidget(m_factor);
  factorRow->addWidget(m_factorHint, 1);

  auto* promptBox = new QGroupBox(tr("Prompt tokens (click; shift-click for a range)"), this);
  m_promptView = new TokenView(promptBox);
  m_promptView->setPlaceholderText(tr("Type a prompt in the Input panel."));
  m_promptView->setDescriber([this](int position) {
    QString text = tr("Position %1").arg(position);
    for (const SteeringFactor& s : steering())
      if (s.position == position)
        return text + tr(": ×%1 (%2)").arg(s.factor, 0, 'f', 2).arg(factorMeaning(s.factor));
    return text + tr(": click to steer it with ×%1").arg(newFactor(), 0, 'f', 2);
  });
  connect(m_promptView, &TokenView::candidateClickedWith, this,
          [this](int position, Qt::KeyboardModifiers modifiers) {
            clickToken(position, modifiers & Qt::ShiftModifier);
          });
  connect(m_promptView, &TokenView::message, this, &SteeringPanel::message);
  auto* promptLayout = new QVBoxLayout(promptBox);
  promptLayout->addWidget(m_promptView);

  m_imageBox = new QGroupBox(tr("Image patches (drag a rectangle)"), this);
  m_imageView = new SteeringImageView(m_imageBox);
  connect(m_imageView, &SteeringImageView::regionSelected, this, &SteeringPanel::addRegion);
  connect(m_imageView, &SteeringImageView::message, this, &SteeringPanel::message);
  auto* imageLayout = new QVBoxLayout(m_imageBox);
  imageLayout->addWidget(m_imageView);

  auto* listBox = new QGroupBox(tr("Steered"), this);
  m_table = new QTableWidget(0, 4, listBox);
  m_table->setHorizontalHeaderLabels({tr("What"), tr("Positions"), tr("Factor"), QString()});
  m_table->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
  for (int c = 1; c < 4; ++c)
    m_table->horizontalHeader()->setSectionResizeMode(c, QHeaderView::ResizeToContents);
  m_table->verticalHeader()->hide();
  m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_table->setSelectionMode(QAbstractItemView::NoSelection);
  m_table->setMinimumHeight(90);
  m_table->setMaximumHeight(150);  // the answers below matter more than a long list
  m_clear = new QPushButton(tr("C&lear All"), listBox);
  connect(m_clear, &QPushButton::clicked, this, &SteeringPanel::clearAll);
  auto* listLayout = new QVBoxLayout(listBox);
  listLayout->addWidget(m_table);
  listLayout->addWidget(m_clear, 0, Qt::AlignLeft);

  m_generate = new QPushButton(tr("Generate &Steered"), this);
  m_generate->setToolTip(tr("Generate the answer plainly and with the factors above, and compare"));
  connect(m_generate, &QPushButton::clicked, this, &SteeringPanel::generateRequested);
  m_export = new QPushButton(tr("E&xport…"), this);
  m_export->setToolTip(tr("Save the factors and both answers as JSON or CSV"));
  m_export->setEnabled(false);
  connect(m_export, &QPushButton::clicked, this, &SteeringPanel::exportRequested);
  auto* buttons = new QHBoxLayout;
  buttons->addWidget(m_generate);
  buttons->addWidget(m_export);
  buttons->addStretch(1);

  auto* answersBox = new QGroupBox(tr("Answers"), this);
  m_status = new QLabel(tr("Press Generate Steered to compare."), answersBox);
  m_status->setWordWrap(true);
  m_originalView = new TokenView(answersBox);
  m_steeredView = new TokenView(answersBox);
  for (TokenView* v : {m_originalView, m_steeredView}) {
    v->setPlaceholderText(tr("—"));
    v->setDescriber([](int) { return tr("Highlighted tokens are missing from the other answer"); });
  }
  auto* answers = new QFormLayout(answersBox);
  answers->addRow(m_status);
  answers->addRow(tr("Original:"), m_originalView);
  answers->addRow(tr("Steered:"), m_steeredView);

  auto* layout = new QVBoxLayout(this);
  layout->addWidget(intro);
  layout->addLayout(factorRow);
  layout->addWidget(promptBox);
  layout->addWidget(m_imageBox, 1);
  layout->addWidget(listBox);
  layout->addLayout(buttons);
  layout->addWidget(answersBox);
  setModel(nullptr);
}

// ---------------------------------------------------------------------------------------------
// Input

void SteeringPanel::setModel(std::shared_ptr<const Model> model, InputLayoutFn layout) {
  m_model = std::move(model);
  m_layoutFn = std::move(layout);
  m_entries.clear();
  m_lastClicked = -1;
  m_imageBox->setVisible(m_model && m_model->reads_images());
  rebuildLayout();
  rebuildTable();
  clearResult();
}

void SteeringPanel::setImage(std::shared_ptr<const RgbImage> image, const QString& origin) {
  m_image = std::move(image);
  m_imageOrigin = origin;
  m_imageView->setImage(m_image ? toQImage(*m_image) : QImage());
  // The layout holds the image tokens' rectangles (and, for Qwen2.5-VL and anyres LLaVA, their
  // number), so a new image lays the prompt out again.
  if (m_model && m_model->reads_images() && m_model->generates())
    rebuildLayout();
  else
    updatePatchCells();
  if (m_report) clearResult(tr("The image changed: press Generate Steered again."));
}

void SteeringPanel::setPrompt(const QString& prompt) {
  if (prompt == m_prompt) return;
  m_prompt = prompt;
  const std::vector<InputPosition> before = m_layout;
  rebuildLayout();
  // Token choices name positions; they still mean the same tokens only if the tokens are unchanged.
  const bool same =
      before.size() == m_layout.size() &&
      std::equal(before.begin(), before.end(), m_layout.begin(), [](const auto& a, const auto& b) {
        return a.is_image == b.is_image && a.text == b.text && a.row == b.row && a.col == b.col;
      });
  if (!same) {
    const auto dropped = std::erase_if(
        m_entries, [](const SteeringEntry& e) { return e.kind == SteeringEntry::Kind::Tokens; });
    m_lastClicked = -1;
    if (dropped > 0) emit message(tr("The prompt's tokens changed: token choices were cleared."));
  }
  rebuildTable();
  if (m_report) clearResult(tr("The prompt changed: press Generate Steered again."));
}

void SteeringPanel::rebuildLayout() {
  m_layout.clear();
  const bool lm = m_model && m_model->generates();
  if (lm && !m_prompt.isEmpty()) {
    try {
      // Anyres LLaVA and Qwen2.5-VL: the number of image tokens depends on the image's size.
      const std::string prompt = toStd(m_prompt);
      if (m_layoutFn) {
        m_layout = m_layoutFn(prompt, m_image.get());
      } else {
        std::optional<PixelTensor> shape;  // size and geometry only: no resampling on this thread
        if (m_image && m_model->reads_images())
          shape = m_model->input_shape(m_image->width, m_image->height);
        m_layout = input_layout(*m_model, prompt, shape ? &*shape : nullptr);
      }
    } catch (const Error& e) {
      emit message(toQString(e.what()));  // e.g. an over-long prompt; Generate reports it too
    }
  }
  m_promptView->setSegments(promptSegments(m_prompt, m_layout), false);
  m_promptView->setPlaceholderText(lm ? tr("Type a prompt in the Input panel.")
                                      : tr("Steering needs a language model."));
  updatePatchCells();
  updateMarks();
}

void SteeringPanel::updatePatchCells() {
  // The cells are the image tokens' own rectangles, as the core lays the prompt out for this
  // image: the model's resize, crop and token grid (square or not) are the core's, so what a drag
  // selects is exactly what patch_region_positions steers. Anyres tiles (view 1) are steered with
  // the base view's cells they lie in, so only the base view is drawn.
  std::vector<PatchCell> cells;
  if (m_image)
    for (const InputPosition& p : m_layout)
      if (p.is_image && p.view == 0 && p.row >= 0 && p.col >= 0 && p.rect.width > 0 &&
          p.rect.height > 0)
        cells.push_back({p.row, p.col, QRectF(p.rect.x, p.rect.y, p.rect.width, p.rect.height)});
  m_imageView->setCells(std::move(cells));
}

// ---------------------------------------------------------------------------------------------
// Choices

double SteeringPanel::newFactor() const {
  return m_factor->value();
}

void SteeringPanel::setNewFactor(double factor) {
  m_factor->setValue(factor);
}

void SteeringPanel::clickToken(int position, bool extend) {
  if (position < 0 || position >= static_cast<int>(m_layout.size()) || m_layout[position].is_image)
    return;
  if (extend && m_lastClicked >= 0) {
    SteeringEntry e;
    e.first = std::min(m_lastClicked, position);
    e.last = std::max(m_lastClicked, position);
    e.factor = newFactor();
    m_entries.push_back(e);
  } else {
    // A second click on a token chosen alone takes the choice back.
    const auto alone =
        std::find_if(m_entries.begin(), m_entries.end(), [&](const SteeringEntry& e) {
          return e.kind == SteeringEntry::Kind::Tokens && e.first == position && e.last == position;
        });
    if (alone != m_entries.end()) {
      m_entries.erase(alone);
    } else {
      SteeringEntry e;
      e.first = e.last = position;
      e.factor = newFactor();
      m_entries.push_back(e);
    }
  }
  m_lastClicked = position;
  rebuildTable();
}

void SteeringPanel::addRegion(int row0, int row1, int col0, int col1) {
  SteeringEntry e;
  e.kind = SteeringEntry::Kind::Region;
  e.row0 = std::min(row0, row1), e.row1 = std::max(row0, row1);
  e.col0 = std::min(col0, col1), e.col1 = std::max(col0, col1);
  e.factor = newFactor();
  m_entries.push_back(e);
  rebuildTable();
}

void SteeringPanel::setEntryFactor(int entry, double factor) {
  if (entry < 0 || entry >= static_cast<int>(m_entries.size())) return;
  m_entries[entry].factor = std::clamp(factor, 0.0, kMaxSteeringFactor);
  if (auto* spin = qobject_cast<QDoubleSpinBox*>(m_table->cellWidget(entry, 2))) {
    const QSignalBlocker blocker(spin);
    spin->setValue(m_entries[entry].factor);
  }
  updateMarks();
}

void SteeringPanel::removeEntry(int entry) {
  if (entry < 0 || entry >= static_cast<int>(m_entries.size())) return;
  m_entries.erase(m_entries.begin() + entry);
  rebuildTable();
}

void SteeringPanel::clearAll() {
  m_entries.clear();
  m_lastClicked = -1;
  rebuildTable();
}

void SteeringPanel::rebuildTable() {
  m_table->setRowCount(static_cast<int>(m_entries.size()));
  for (int row = 0; row < m_table->rowCount(); ++row) {
    const SteeringEntry& e = m_entries[row];
    m_table->setItem(row, 0, new QTableWidgetItem(describeEntry(e, m_layout)));
    auto* count = new QTableWidgetItem(QString::number(entryPositions(e, m_layout).size()));
    count->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    m_table->setItem(row, 1, count);
    auto* spin = makeFactorSpin(m_table);
    spin->setValue(e.factor);
    // Rows are rebuilt on every add or remove, so a spin box finds its row when it changes.
    connect(spin, &QDoubleSpinBox::valueChanged, this, [this, spin](double f) {
      for (int r = 0; r < m_table->rowCount(); ++r)
        if (m_table->cellWidget(r, 2) == spin) setEntryFactor(r, f);
    });
    m_table->setCellWidget(row, 2, spin);
    auto* remove = new QToolButton(m_table);
    remove->setText(QStringLiteral("✕"));
    remove->setToolTip(tr("Remove this choice"));
    connect(remove, &QToolButton::clicked, this, [this, remove] {
      for (int r = 0; r < m_table->rowCount(); ++r)
        if (m_table->cellWidget(r, 3) == remove) return removeEntry(r);
    });
    m_table->setCellWidget(row, 3, remove);
  }
  m_clear->setEnabled(!m_entries.empty());
  updateMarks();
}

void SteeringPanel::updateMarks() {
  // The prompt chips and the patches show the factor each position will actually run with.
  QHash<int, QColor> chips;
  const std::vector<SteeringFactor> factors = steering();
  std::map<std::pair<int, int>, double> patches;
  for (const SteeringFactor& s : factors) {
    const InputPosition& p = m_layout[s.position];
    if (!p.is_image)
      chips.insert(static_cast<int>(s.position), steeringChipColour(s.factor));
    else if (p.row >= 0 && p.view == 0)  // the base view's grid is the one drawn
      patches[{p.row, p.col}] = s.factor;
  }
  m_promptView->setMarks(chips);
  m_imageView->setPatchFactors(patches);
}

// ---------------------------------------------------------------------------------------------
// Results

void SteeringPanel::setBusy(bool busy) {
  m_generate->setEnabled(!busy);
  if (busy) m_status->setText(tr("Generating the original and the steered answer…"));
}

void SteeringPanel::showResult(const Prediction& prediction) {
  setBusy(false);
  if (!prediction.steered) return;
  SteeringReport report;
  report.model = m_model ? toQString(m_model->name()) : QString();
  report.prompt = m_prompt;
  report.image = m_model && m_model->reads_images() ? m_imageOrigin : QString();
  report.layout = m_layout;
  report.entries = m_entries;
  report.factors = prediction.steering;
  report.original = prediction.generation;
  report.steered = *prediction.steered;
  report.steeredSeconds = prediction.steeredSeconds;

  const TokenDiff diff = diffTokens(report.original.ids, report.steered.ids);
  m_originalView->setSegments(answerSegments(report.original), false);
  m_steeredView->setSegments(answerSegments(report.steered), false);
  for (auto [view, differs] :
       {std::pair{m_originalView, &diff.a}, std::pair{m_steeredView, &diff.b}}) {
    QHash<int, QColor> marks;
    for (size_t i = 0; i < differs->size(); ++i)
      if ((*differs)[i]) marks.insert(static_cast<int>(i), differenceColour());
    view->setMarks(marks);
  }
  m_status->setText(
      diff.any()
          ? tr("The answer changed with %1 steered positions (highlighted: what one answer "
               "has and the other lacks). Steered generation: %2 s.")
                .arg(report.factors.size())
                .arg(report.steeredSeconds, 0, 'f', 2)
          : tr("The answer did not change with %1 steered positions. Steered generation: %2 s.")
                .arg(report.factors.size())
                .arg(report.steeredSeconds, 0, 'f', 2));
  m_report = std::move(report);
  m_export->setEnabled(true);
}

void SteeringPanel::showFailure(const QString& message) {
  setBusy(false);
  m_status->setText(message);
}

void SteeringPanel::clearResult(const QString& why) {
  m_report.reset();
  m_export->setEnabled(false);
  m_originalView->clear();
  m_steeredView->clear();
  m_status->setText(why.isEmpty() ? tr("Press Generate Steered to compare.") : why);
}

}  // namespace atman::ui
