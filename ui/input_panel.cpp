#include "input_panel.h"

#include <QComboBox>
#include <QFile>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPainter>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalBlocker>
#include <QStyledItemDelegate>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>

#include "atman/runtime.h"
#include "conversions.h"
#include "model_picker.h"
#include "token_view.h"

namespace atman::ui {
namespace {

constexpr int kProbabilityRole = Qt::UserRole + 1;

// The probability column: a bar behind the percentage, so the ranking reads at a glance.
class ProbabilityDelegate : public QStyledItemDelegate {
 public:
  using QStyledItemDelegate::QStyledItemDelegate;
  void paint(QPainter* painter, const QStyleOptionViewItem& option,
             const QModelIndex& index) const override {
    QStyledItemDelegate::paint(painter, option, index);
    const double p = index.data(kProbabilityRole).toDouble();
    QRectF bar = QRectF(option.rect).adjusted(2, 3, -2, -3);
    bar.setWidth(bar.width() * std::clamp(p, 0.0, 1.0));
    painter->save();
    painter->fillRect(bar, QColor(214, 96, 77, 90));
    painter->restore();
  }
};

QString shortOrigin(const QString& origin) {
  const QFileInfo info(origin);
  return info.exists() ? info.fileName() : origin;
}

}  // namespace

InputPanel::InputPanel(QWidget* parent) : QWidget(parent) {
  // Model and device.
  m_modelPicker = new ModelPicker(this);
  m_device = new QComboBox(this);
  m_device->setObjectName(QStringLiteral("deviceCombo"));
  setDevices({});
  m_dtype = new QComboBox(this);
  m_dtype->addItem(tr("Automatic"), QStringLiteral("auto"));
  m_dtype->addItem(tr("float32"), QStringLiteral("float32"));
  m_dtype->addItem(tr("bfloat16 (half the memory)"), QStringLiteral("bfloat16"));
  m_dtype->addItem(tr("float16 (CUDA)"), QStringLiteral("float16"));
  m_dtype->setToolTip(
      tr("The precision the model computes in. Automatic: float32 on the CPU, the checkpoint's own "
         "precision on CUDA. Changing it reloads the model"));

  // Image.
  m_thumbnail = new QLabel(this);
  m_thumbnail->setFixedSize(72, 72);
  m_thumbnail->setAlignment(Qt::AlignCenter);
  m_thumbnail->setFrameShape(QFrame::StyledPanel);
  m_thumbnail->setText(tr("no image"));
  m_imageOrigin = new QLabel(tr("Drop an image here, paste it, or open a file."), this);
  m_imageOrigin->setWordWrap(true);
  auto* openImage = new QPushButton(tr("Open Image…"), this);
  connect(openImage, &QPushButton::clicked, this, &InputPanel::openImageRequested);
  auto* imageText = new QVBoxLayout;
  imageText->addWidget(m_imageOrigin);
  imageText->addWidget(openImage, 0, Qt::AlignLeft);
  auto* imageRow = new QHBoxLayout;
  imageRow->addWidget(m_thumbnail);
  imageRow->addLayout(imageText, 1);

  auto* modelForm = new QFormLayout;
  modelForm->addRow(tr("&Model:"), m_modelPicker);
  modelForm->addRow(tr("&Device:"), m_device);
  modelForm->addRow(tr("&Precision:"), m_dtype);

  // CLIP label set.
  m_labelsBox = new QGroupBox(tr("Labels"), this);
  m_preset = new QComboBox(m_labelsBox);
  m_preset->addItem(tr("Shapes"), QStringLiteral("shapes"));
  m_preset->addItem(tr("Common objects"), QStringLiteral("common"));
  m_preset->addItem(tr("Custom"), QStringLiteral("custom"));
  m_labels = new QPlainTextEdit(m_labelsBox);
  m_labels->setPlaceholderText(tr("One label per line, e.g. “a photo of a cat”"));
  m_labels->setLineWrapMode(QPlainTextEdit::NoWrap);
  m_labels->setMaximumHeight(110);
  auto* labelsLayout = new QVBoxLayout(m_labelsBox);
  labelsLayout->addWidget(m_preset);
  labelsLayout->addWidget(m_labels);
  connect(m_preset, &QComboBox::activated, this, [this] {
    const QString preset = m_preset->currentData().toString();
    if (preset != QLatin1String("custom")) {
      setLabels(presetLabels(preset));
      emit labelsEdited();
    }
  });
  connect(m_labels, &QPlainTextEdit::textChanged, this, [this] {
    if (m_settingLabels) return;
    const QSignalBlocker blocker(m_preset);
    m_preset->setCurrentIndex(m_preset->findData(QStringLiteral("custom")));
    emit labelsEdited();
  });

  // LM prompt.
  m_promptBox = new QGroupBox(tr("Prompt"), this);
  m_prompt = new QPlainTextEdit(m_promptBox);
  m_prompt->setPlaceholderText(tr("The text the model continues"));
  m_prompt->setMaximumHeight(110);
  auto* promptLayout = new QVBoxLayout(m_promptBox);
  promptLayout->addWidget(m_prompt);
  connect(m_prompt, &QPlainTextEdit::textChanged, this, &InputPanel::promptEdited);

  // What the model says.
  m_saysBox = new QGroupBox(tr("What the model says"), this);
  m_saysStatus = new QLabel(m_saysBox);
  m_saysStatus->setWordWrap(true);
  m_ranking = new QTableWidget(0, 2, m_saysBox);
  m_ranking->setHorizontalHeaderLabels({tr("Label"), tr("Probability")});
  m_ranking->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
  m_ranking->horizontalHeader()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
  m_ranking->verticalHeader()->hide();
  m_ranking->verticalHeader()->setDefaultSectionSize(m_ranking->fontMetrics().height() + 6);
  m_ranking->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_ranking->setSelectionMode(QAbstractItemView::SingleSelection);
  m_ranking->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_ranking->setItemDelegateForColumn(1, new ProbabilityDelegate(m_ranking));
  m_ranking->setToolTip(tr("Click a label to explain it"));
  connect(m_ranking, &QTableWidget::cellClicked, this, [this](int row, int) {
    if (auto* item = m_ranking->item(row, 0)) {
      m_target->setText(item->text());
      emit targetEdited();
    }
  });
  connect(m_ranking, &QTableWidget::cellDoubleClicked, this, [this] { emit explainRequested(); });
  m_continuation = new TokenView(m_saysBox);
  m_continuation->setPlaceholderText(tr("Press Generate to see the model's continuation."));
  m_generate = new QPushButton(tr("&Generate"), m_saysBox);
  m_generate->setToolTip(tr("Greedy continuation of the prompt (Ctrl+G)"));
  connect(m_generate, &QPushButton::clicked, this, &InputPanel::generateRequested);
  connect(m_continuation, &TokenView::candidateClicked, this, [this](int token) {
    // The continuation up to and including the clicked token becomes the target.
    if (!m_model || token < 0 || token >= static_cast<int>(m_generation.ids.size())) return;
    std::vector<int64_t> ids(m_generation.ids.begin(), m_generation.ids.begin() + token + 1);
    m_target->setText(toQString(m_model->tokenizer().decode(ids)));
    m_continuation->setSelectedUpTo(token);
    emit targetEdited();
  });
  auto* saysLayout = new QVBoxLayout(m_saysBox);
  saysLayout->addWidget(m_saysStatus);
  saysLayout->addWidget(m_ranking, 1);
  saysLayout->addWidget(m_continuation);
  saysLayout->addWidget(m_generate, 0, Qt::AlignLeft);
  saysLayout->addStretch(0);  // takes the room of the hidden ranking for language models

  // Target and what to explain.
  m_target = new QLineEdit(this);
  m_target->setClearButtonEnabled(true);
  m_target->setPlaceholderText(tr("the label or continuation to explain"));
  connect(m_target, &QLineEdit::textEdited, this, [this] {
    markTarget();
    emit targetEdited();
  });
  connect(m_target, &QLineEdit::returnPressed, this, &InputPanel::explainRequested);
  m_explainWhat = new QComboBox(this);
  connect(m_explainWhat, &QComboBox::activated, this, &InputPanel::explainWhatChanged);
  auto* targetForm = new QFormLayout;
  targetForm->addRow(tr("&Target:"), m_target);
  targetForm->addRow(tr("E&xplain:"), m_explainWhat);

  auto* layout = new QVBoxLayout(this);
  layout->addLayout(modelForm);
  layout->addLayout(imageRow);
  layout->addWidget(m_labelsBox);
  layout->addWidget(m_promptBox);
  layout->addWidget(m_saysBox, 1);
  layout->addLayout(targetForm);
  setModel(nullptr, {});
}

QString InputPanel::device() const {
  return m_device->currentData().toString();
}

QString InputPanel::dtype() const {
  return m_dtype->currentData().toString();
}

void InputPanel::setDtype(const QString& dtype) {
  const int index = m_dtype->findData(dtype);
  m_dtype->setCurrentIndex(index >= 0 ? index : 0);
}

void InputPanel::setDevices(const QStringList& devices) {
  const QString current = m_device->currentData().toString();
  m_device->clear();
  if (devices.isEmpty()) {
    m_device->addItem(tr("CPU"), QStringLiteral("cpu"));
    if (toQString(runtime_report()).contains(QStringLiteral("CUDA: available")))
      m_device->addItem(tr("CUDA"), QStringLiteral("cuda"));
    m_device->setToolTip(tr("Where the model runs; changing it reloads the model"));
  } else {
    for (const QString& device : devices)
      m_device->addItem(device == QLatin1String("cpu") ? tr("CPU") : device.toUpper(), device);
    m_device->setToolTip(
        tr("The server's device the model runs on; changing it reloads the model"));
  }
  if (!current.isEmpty()) setDevice(current);
}

void InputPanel::setDevice(const QString& device) {
  int index = m_device->findData(device);
  // "cuda" here and "cuda:0" on a server (or the other way round) mean the same choice.
  for (int i = 0; index < 0 && i < m_device->count(); ++i)
    if (device.startsWith(QLatin1String("cuda")) &&
        m_device->itemData(i).toString().startsWith(QLatin1String("cuda")))
      index = i;
  m_device->setCurrentIndex(index >= 0 ? index : 0);
}

QStringList InputPanel::presetLabels(const QString& preset) {
  QFile file(QStringLiteral(":/labels/%1.txt").arg(preset));
  QStringList labels;
  if (!file.open(QIODevice::ReadOnly | QIODevice::Text)) return labels;
  for (const QString& line : QString::fromUtf8(file.readAll()).split(QLatin1Char('\n'))) {
    const QString label = line.trimmed();
    if (!label.isEmpty() && !label.startsWith(QLatin1Char('#'))) labels << label;
  }
  return labels;
}

void InputPanel::setModel(std::shared_ptr<const Model> model, const QString& defaultPrompt) {
  m_model = std::move(model);
  const bool clip = m_model && m_model->target_is_label();
  const bool lm = m_model && !clip;
  m_labelsBox->setVisible(clip || !m_model);
  m_promptBox->setVisible(lm);
  m_ranking->setVisible(clip || !m_model);
  m_continuation->setVisible(lm);
  m_generate->setVisible(lm);
  if (clip && labels().isEmpty())
    setLabelPreset(toQString(m_model->name()).contains(QStringLiteral("shapes"))
                       ? QStringLiteral("shapes")
                       : QStringLiteral("common"));
  // The folder's prompt format wins over an empty prompt, and over one that cannot feed an image
  // model (a LLaVA prompt needs its <image> marker, Qwen2.5-VL's may use its own).
  const bool unfit = lm && !m_model->prompt_places_image(prompt().toStdString());
  if (lm && !defaultPrompt.isEmpty() && (prompt().isEmpty() || unfit)) setPrompt(defaultPrompt);
  fillExplainChoices();
  clearPrediction();
}

void InputPanel::fillExplainChoices() {
  // Each kind starts at its most telling choice (the first); choices of another kind do not carry
  // over.
  const QSignalBlocker blocker(m_explainWhat);
  m_explainWhat->clear();
  if (!m_model || m_model->target_is_label()) {
    m_explainWhat->addItem(tr("Image patches"), int(ExplainWhat::ImagePatches));
    m_explainWhat->addItem(tr("Target label tokens"), int(ExplainWhat::PromptTokens));
  } else if (!m_model->reads_images()) {
    m_explainWhat->addItem(tr("Prompt tokens"), int(ExplainWhat::PromptTokens));
  } else {
    m_explainWhat->addItem(tr("Image and prompt"), int(ExplainWhat::All));
    m_explainWhat->addItem(tr("Image patches"), int(ExplainWhat::ImagePatches));
    m_explainWhat->addItem(tr("Prompt tokens"), int(ExplainWhat::PromptTokens));
  }
  m_explainWhat->setCurrentIndex(0);
}

void InputPanel::setImage(const QImage& image, const QString& origin) {
  if (image.isNull()) {
    m_thumbnail->setText(tr("no image"));
    m_imageOrigin->setText(tr("Drop an image here, paste it, or open a file."));
    return;
  }
  m_thumbnail->setPixmap(QPixmap::fromImage(image.scaled(
      m_thumbnail->size() - QSize(4, 4), Qt::KeepAspectRatio, Qt::SmoothTransformation)));
  m_imageOrigin->setText(
      tr("%1\n%2 × %3 pixels").arg(shortOrigin(origin)).arg(image.width()).arg(image.height()));
  m_imageOrigin->setToolTip(origin);
}

QStringList InputPanel::labels() const {
  QStringList labels;
  for (const QString& line : m_labels->toPlainText().split(QLatin1Char('\n'))) {
    const QString label = line.trimmed();
    if (!label.isEmpty() && !label.startsWith(QLatin1Char('#'))) labels << label;
  }
  return labels;
}

void InputPanel::setLabels(const QStringList& labels) {
  m_settingLabels = true;
  m_labels->setPlainText(labels.join(QLatin1Char('\n')));
  m_settingLabels = false;
}

QString InputPanel::labelPreset() const {
  return m_preset->currentData().toString();
}

void InputPanel::setLabelPreset(const QString& preset) {
  const int index = m_preset->findData(preset);
  if (index < 0) return;
  const QSignalBlocker blocker(m_preset);
  m_preset->setCurrentIndex(index);
  if (preset != QLatin1String("custom")) setLabels(presetLabels(preset));
}

QString InputPanel::prompt() const {
  return m_prompt->toPlainText();
}

void InputPanel::setPrompt(const QString& prompt) {
  if (prompt != m_prompt->toPlainText()) m_prompt->setPlainText(prompt);
}

QString InputPanel::target() const {
  return m_target->text();
}

void InputPanel::setTarget(const QString& target) {
  m_target->setText(target);
  markTarget();
}

ExplainWhat InputPanel::explainWhat() const {
  return static_cast<ExplainWhat>(m_explainWhat->currentData().toInt());
}

void InputPanel::setExplainWhat(ExplainWhat what) {
  const int index = m_explainWhat->findData(int(what));
  if (index >= 0) m_explainWhat->setCurrentIndex(index);
}

void InputPanel::setPrediction(const Prediction& prediction) {
  m_saysStatus->clear();
  m_saysStatus->setVisible(false);
  if (!prediction.labels.empty()) {
    m_ranking->setRowCount(static_cast<int>(prediction.labels.size()));
    for (int row = 0; row < m_ranking->rowCount(); ++row) {
      const LabelScore& score = prediction.labels[row];
      auto* label = new QTableWidgetItem(toQString(score.label));
      auto* probability =
          new QTableWidgetItem(QStringLiteral("%1 %").arg(100.0 * score.probability, 0, 'f', 1));
      probability->setData(kProbabilityRole, double(score.probability));
      probability->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
      probability->setToolTip(tr("logit %1").arg(score.logit, 0, 'f', 3));
      m_ranking->setItem(row, 0, label);
      m_ranking->setItem(row, 1, probability);
    }
    markTarget();
    return;
  }
  m_generation = prediction.generation;
  QVector<TokenSegment> segments;
  for (size_t i = 0; i < m_generation.tokens.size(); ++i)
    segments.push_back({toQString(m_generation.tokens[i]), static_cast<int>(i), 0});
  m_continuation->setSegments(segments, false);
  if (segments.isEmpty())
    m_continuation->setPlaceholderText(tr("The model ends the text right away."));
  markTarget();
}

void InputPanel::clearPrediction(const QString& placeholder) {
  m_ranking->setRowCount(0);
  m_generation = {};
  m_continuation->clear();
  m_saysStatus->setText(placeholder);
  m_saysStatus->setVisible(!placeholder.isEmpty());
}

void InputPanel::setPredictionBusy() {
  m_saysStatus->setText(tr("Asking the model…"));
  m_saysStatus->setVisible(true);
}

void InputPanel::markTarget() {
  // The ranking row or the continuation prefix that equals the target is shown as selected.
  const QString target = m_target->text();
  const QSignalBlocker blocker(m_ranking);
  m_ranking->clearSelection();
  for (int row = 0; row < m_ranking->rowCount(); ++row)
    if (m_ranking->item(row, 0) && m_ranking->item(row, 0)->text() == target)
      m_ranking->selectRow(row);
  int upTo = -1;
  if (m_model && !m_generation.ids.empty()) {
    for (size_t i = 0; i < m_generation.ids.size(); ++i) {
      std::vector<int64_t> ids(m_generation.ids.begin(), m_generation.ids.begin() + i + 1);
      if (toQString(m_model->tokenizer().decode(ids)) == target) upTo = static_cast<int>(i);
    }
  }
  m_continuation->setSelectedUpTo(upTo);
}

}  // namespace atman::ui
