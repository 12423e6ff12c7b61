// Loading, decoding limits, EXIF orientation, PIL-exact resampling and CLIP preprocessing.
#include <QtTest>

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>

#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "atman/error.h"
#include "atman/image.h"
#include "core/test_support.h"
#include "image/image_header.h"

using atman::ResampleFilter;
using atman::test::error_of;

Q_DECLARE_METATYPE(atman::ResampleFilter)

namespace {

const std::filesystem::path kShared = ATMAN_SHARED_DIR;

std::vector<uint8_t> to_vec(const QByteArray& bytes) {
  return {bytes.begin(), bytes.end()};
}
QByteArray to_qbytes(const std::vector<uint8_t>& bytes) {
  return QByteArray(reinterpret_cast<const char*>(bytes.data()),
                    static_cast<qsizetype>(bytes.size()));
}

std::vector<uint8_t> encode(const cv::Mat& image, const char* ext,
                            const std::vector<int>& params = {}) {
  std::vector<uint8_t> out;
  if (!cv::imencode(ext, image, out, params)) qFatal("cv::imencode(%s) failed", ext);
  return out;
}

void write_file(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

void append_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}
void append_le(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void append(std::vector<uint8_t>& out, std::initializer_list<int> bytes) {
  for (int b : bytes) out.push_back(static_cast<uint8_t>(b));
}
void append(std::vector<uint8_t>& out, const char* text) {
  out.insert(out.end(), text, text + std::strlen(text));
}

uint32_t crc32(const uint8_t* data, size_t size) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) {
    crc ^= data[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// A PNG signature and a valid IHDR claiming width × height RGB8 pixels, then IEND: no image data.
std::vector<uint8_t> png_header_only(uint32_t width, uint32_t height) {
  std::vector<uint8_t> out;
  append(out, {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
  std::vector<uint8_t> chunk;
  append(chunk, "IHDR");
  append_be32(chunk, width);
  append_be32(chunk, height);
  append(chunk, {8, 2, 0, 0, 0});
  append_be32(out, 13);
  out.insert(out.end(), chunk.begin(), chunk.end());
  append_be32(out, crc32(chunk.data(), chunk.size()));
  append_be32(out, 0);
  append(out, "IEND");
  append_be32(out, 0xAE426082u);
  return out;
}

// An EXIF APP1 segment holding only the Orientation tag, big-endian TIFF layout, inserted right
// after the JPEG's SOI marker.
std::vector<uint8_t> with_exif_orientation(const std::vector<uint8_t>& jpeg, int orientation) {
  std::vector<uint8_t> tiff;
  append(tiff, {'M', 'M', 0x00, 0x2A, 0, 0, 0, 8});    // header, first IFD at offset 8
  append(tiff, {0x00, 0x01});                          // one entry
  append(tiff, {0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1});  // tag 0x0112 Orientation, SHORT, count 1
  append(tiff, {0x00, orientation, 0x00, 0x00});       // value, left-justified
  append(tiff, {0, 0, 0, 0});                          // no next IFD
  std::vector<uint8_t> app1;
  const size_t length = 2 + 6 + tiff.size();
  append(app1, {0xFF, 0xE1, static_cast<int>(length >> 8), static_cast<int>(length & 0xFF)});
  append(app1, {'E', 'x', 'i', 'f', 0, 0});
  app1.insert(app1.end(), tiff.begin(), tiff.end());
  std::vector<uint8_t> out;
  out.reserve(jpeg.size() + app1.size());
  out.push_back(jpeg[0]);
  out.push_back(jpeg[1]);
  out.insert(out.end(), app1.begin(), app1.end());
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

// Deterministic test pattern shared with the PIL script that produced the expected bytes below.
std::vector<uint8_t> pattern(int width, int height, int channels) {
  std::vector<uint8_t> out;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c)
        out.push_back(
            static_cast<uint8_t>(c == 3 ? (x * 29 + y * 61) % 256
                                        : (x * 37 + y * 91 + c * 53 + (x * y) % 17 * 11) % 256));
  return out;
}

cv::Mat bgr_gradient(int width, int height) {
  cv::Mat image(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      image.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>(x * 255 / (width - 1)),
                                            static_cast<uint8_t>(y * 255 / (height - 1)),
                                            static_cast<uint8_t>(128 + (x - y) * 2));
  return image;
}

std::array<int, 3> rgb_at(const atman::RgbImage& image, int x, int y) {
  const uint8_t* p = &image.pixels[(static_cast<size_t>(y) * image.width + x) * 3];
  return {p[0], p[1], p[2]};
}

}  // namespace

class TestImage : public QObject {
  Q_OBJECT

 private slots:
  void goldenPixelParity_data();
  void goldenPixelParity();
  void realPhoto();
  void exifOrientation_data();
  void exifOrientation();
  void pixelFormats_data();
  void pixelFormats();
  void formatRoundTrip_data();
  void formatRoundTrip();
  void headerSizes_data();
  void headerSizes();
  void rejectsBadBytes_data();
  void rejectsBadBytes();
  void rejectsBadFiles();
  void resizeMatchesPil_data();
  void resizeMatchesPil();
  void resizeRegionIsCropOfResize();
  void elongatedPhotoResamplesOnlyTheCrop();
  void preprocessGeometry_data();
  void preprocessGeometry();
  void centerCropPads();
  void preprocessConfig_data();
  void preprocessConfig();
  void malformedConfig_data();
  void malformedConfig();
  void pngExport();
};

// The golden pixel tensors came from the reference implementation; shapes images are 128×128, so
// resize and crop are identity and only rescale/normalise is exercised.
void TestImage::goldenPixelParity_data() {
  QTest::addColumn<int>("index");
  for (int i = 0; i < 3; ++i) QTest::newRow(qPrintable(QString("image %1").arg(i))) << i;
}

void TestImage::goldenPixelParity() {
  QFETCH(int, index);
  QFile file(QString::fromStdString((kShared / "golden" / "clip_forward.json").string()));
  QVERIFY2(file.open(QIODevice::ReadOnly), qPrintable(file.fileName()));
  const QJsonObject golden =
      QJsonDocument::fromJson(file.readAll()).object()["images"].toArray()[index].toObject();
  const auto png = kShared / "golden" / golden["png"].toString().toStdString();
  const QJsonArray expected = golden["pixel_values"].toArray();
  const QJsonArray shape = golden["pixel_values_shape"].toArray();

  const auto config = atman::load_preprocess_config(kShared / "models" / "shapes-clip");
  const auto image = atman::load_image(png);
  const auto tensor = atman::preprocess_clip(image, config);
  QCOMPARE(tensor.channels, shape[0].toInt());
  QCOMPARE(tensor.height, shape[1].toInt());
  QCOMPARE(tensor.width, shape[2].toInt());
  QCOMPARE(static_cast<qsizetype>(tensor.values.size()), expected.size());
  double max_dev = 0;
  for (qsizetype i = 0; i < expected.size(); ++i)
    max_dev = std::max(max_dev, std::abs(tensor.values[i] - expected[i].toDouble()));
  qInfo("%s: max |pixel - golden| = %.3g", png.filename().c_str(), max_dev);
  QVERIFY(max_dev <= 1e-6);
  QCOMPARE(tensor.geometry.crop_x, 0);
  QCOMPARE(tensor.geometry.crop_y, 0);
  QCOMPARE(tensor.geometry.scale, 1.0);
}

void TestImage::realPhoto() {
  const auto path = kShared / "data" / "photos" / "panda.jpg";
  if (!std::filesystem::exists(path)) QSKIP("shared/data/photos/panda.jpg is not there");
  const auto image = atman::load_image(path);
  qInfo("panda.jpg: %d x %d", image.width, image.height);
  QCOMPARE(image.width, 824);
  QCOMPARE(image.height, 856);

  const auto tensor = atman::preprocess_clip(image, atman::ClipPreprocessConfig{});
  QCOMPARE(tensor.channels, 3);
  QCOMPARE(tensor.height, 224);
  QCOMPARE(tensor.width, 224);
  QCOMPARE(tensor.values.size(), size_t{3 * 224 * 224});
  const atman::ClipPreprocessConfig defaults;
  for (size_t i = 0; i < tensor.values.size(); ++i) {
    const int c = static_cast<int>(i / (224 * 224));
    const float lo = (0.0f - defaults.mean[c]) / defaults.std[c],
                hi = (1.0f - defaults.mean[c]) / defaults.std[c];
    if (!(tensor.values[i] >= lo - 1e-5f && tensor.values[i] <= hi + 1e-5f))
      QFAIL(qPrintable(
          QString("value %1 at %2 outside [%3, %4]").arg(tensor.values[i]).arg(i).arg(lo).arg(hi)));
  }

  // Reference: PIL 9.4 decode + Image.resize((224, 232), BICUBIC), HF crop and normalisation,
  // computed offline from this file. Equal to float precision: the resampler is PIL's, bit for bit.
  struct Probe {
    int c, y, x;
    double value;
  };
  const Probe probes[] = {{0, 0, 0, -0.011254520155489445},   {1, 111, 50, -1.662050485610962},
                          {2, 223, 223, 0.38260897994041443}, {0, 100, 200, 0.266115665435791},
                          {1, 5, 180, -0.431413471698761},    {2, 60, 10, 0.041327301412820816}};
  double max_dev = 0, sum = 0;
  for (const Probe& p : probes)
    max_dev = std::max(
        max_dev,
        std::abs(tensor.values[(static_cast<size_t>(p.c) * 224 + p.y) * 224 + p.x] - p.value));
  for (float v : tensor.values) sum += v;
  qInfo("panda vs PIL reference: max |probe - PIL| = %.3g, sum %.6f (PIL -21731.024029)", max_dev,
        sum);
  QVERIFY(max_dev <= 1e-6);
  QVERIFY(std::abs(sum - -21731.024028584943) < 1e-2);

  // 824 × 856 → 224 × int(224·856/824) = 224 × 232, crop rows 4..228.
  const auto& g = tensor.geometry;
  QCOMPARE(g.crop_size, 224);
  QCOMPARE(g.crop_x, 0);
  QCOMPARE(g.crop_y, 4);
  const atman::RectF full = g.to_original({0, 0, 224, 224});
  qInfo("model input covers x %.2f..%.2f, y %.2f..%.2f of the photo", full.x, full.x + full.width,
        full.y, full.y + full.height);
  QVERIFY(full.x >= -1e-9 && full.y >= -1e-9);
  QVERIFY(full.x + full.width <= image.width + 1e-9);
  QVERIFY(full.y + full.height <= image.height + 1e-9);
  QVERIFY(std::abs(full.x + full.width / 2 - image.width / 2.0) < 1.0);
  QVERIFY(std::abs(full.y + full.height / 2 - image.height / 2.0) < 1.0);
  QVERIFY(std::abs(full.width - image.width) < 1e-9);  // the short side is covered whole
}

// A 40×24 JPEG with a red block at its stored top-left corner; the EXIF tag decides where that
// corner is shown. Orientation 6 is "rotate 90° clockwise to display".
void TestImage::exifOrientation_data() {
  QTest::addColumn<int>("orientation");
  QTest::addColumn<int>("width");
  QTest::addColumn<int>("height");
  QTest::addColumn<bool>("right");
  QTest::addColumn<bool>("bottom");
  QTest::newRow("1 as stored") << 1 << 40 << 24 << false << false;
  QTest::newRow("2 mirrored") << 2 << 40 << 24 << true << false;
  QTest::newRow("3 rotate 180") << 3 << 40 << 24 << true << true;
  QTest::newRow("4 flipped") << 4 << 40 << 24 << false << true;
  QTest::newRow("5 transposed") << 5 << 24 << 40 << false << false;
  QTest::newRow("6 rotate 90 cw") << 6 << 24 << 40 << true << false;
  QTest::newRow("7 transversed") << 7 << 24 << 40 << true << true;
  QTest::newRow("8 rotate 90 ccw") << 8 << 24 << 40 << false << true;
}

void TestImage::exifOrientation() {
  QFETCH(int, orientation);
  QFETCH(int, width);
  QFETCH(int, height);
  QFETCH(bool, right);
  QFETCH(bool, bottom);
  cv::Mat stored(24, 40, CV_8UC3, cv::Scalar(128, 128, 128));
  stored(cv::Rect(0, 0, 8, 8)).setTo(cv::Scalar(0, 0, 255));  // BGR red
  const auto jpeg =
      with_exif_orientation(encode(stored, ".jpg", {cv::IMWRITE_JPEG_QUALITY, 95}), orientation);
  const auto image = atman::decode_image(jpeg, "exif.jpg");
  QCOMPARE(image.width, width);
  QCOMPARE(image.height, height);
  const int x = right ? width - 3 : 2, y = bottom ? height - 3 : 2;
  const auto red = rgb_at(image, x, y);
  QVERIFY2(
      red[0] > 200 && red[1] < 60 && red[2] < 60,
      qPrintable(
          QString("corner %1,%2 is %3 %4 %5").arg(x).arg(y).arg(red[0]).arg(red[1]).arg(red[2])));
  const auto gray = rgb_at(image, width - 1 - x, height - 1 - y);
  QVERIFY(std::abs(gray[0] - 128) < 10 && std::abs(gray[1] - 128) < 10);
}

// Encoded bytes → expected RGB8 pixels.
void TestImage::pixelFormats_data() {
  QTest::addColumn<QByteArray>("encoded");
  QTest::addColumn<int>("width");
  QTest::addColumn<int>("height");
  QTest::addColumn<QByteArray>("rgb");

  cv::Mat gray = (cv::Mat_<uint8_t>(2, 2) << 0, 100, 200, 255);
  QTest::newRow("gray8 png") << to_qbytes(encode(gray, ".png")) << 2 << 2
                             << QByteArray::fromHex("000000646464c8c8c8ffffff");
  QTest::newRow("gray8 bmp") << to_qbytes(encode(gray, ".bmp")) << 2 << 2
                             << QByteArray::fromHex("000000646464c8c8c8ffffff");

  // Alpha is dropped, not composited: a fully transparent pixel keeps its colour (PIL
  // convert("RGB")).
  cv::Mat bgra(1, 2, CV_8UC4);
  bgra.at<cv::Vec4b>(0, 0) = cv::Vec4b(10, 20, 30, 0);
  bgra.at<cv::Vec4b>(0, 1) = cv::Vec4b(40, 50, 60, 255);
  QTest::newRow("bgra8 png") << to_qbytes(encode(bgra, ".png")) << 2 << 1
                             << QByteArray::fromHex("1e140a3c3228");

  // 16-bit samples scale by 1/257 with rounding: 25700+128 → 100, 25700+129 → 101.
  cv::Mat bgr16(1, 2, CV_16UC3);
  bgr16.at<cv::Vec3w>(0, 0) = cv::Vec3w(0, 25700, 65535);
  bgr16.at<cv::Vec3w>(0, 1) = cv::Vec3w(25828, 25829, 32896);
  QTest::newRow("bgr16 png") << to_qbytes(encode(bgr16, ".png")) << 2 << 1
                             << QByteArray::fromHex(
                                    "ff640080"
                                    "6564");
  cv::Mat gray16 = (cv::Mat_<uint16_t>(1, 3) << 0, 32896, 65535);
  QTest::newRow("gray16 png") << to_qbytes(encode(gray16, ".png")) << 3 << 1
                              << QByteArray::fromHex("000000808080ffffff");
  QTest::newRow("gray16 tiff") << to_qbytes(encode(gray16, ".tiff")) << 3 << 1
                               << QByteArray::fromHex("000000808080ffffff");
  cv::Mat bgra16(1, 1, CV_16UC4, cv::Scalar(2570, 5140, 7710, 0));
  QTest::newRow("bgra16 png") << to_qbytes(encode(bgra16, ".png")) << 1 << 1
                              << QByteArray::fromHex("1e140a");
  // Float TIFFs are taken as 0..1.
  cv::Mat gray32f = (cv::Mat_<float>(1, 3) << 0.0f, 0.25f, 1.0f);
  QTest::newRow("gray32f tiff") << to_qbytes(encode(gray32f, ".tiff")) << 3 << 1
                                << QByteArray::fromHex("000000404040ffffff");
}

void TestImage::pixelFormats() {
  QFETCH(QByteArray, encoded);
  QFETCH(int, width);
  QFETCH(int, height);
  QFETCH(QByteArray, rgb);
  const auto image = atman::decode_image(to_vec(encoded), "pixels");
  QCOMPARE(image.width, width);
  QCOMPARE(image.height, height);
  QCOMPARE(to_qbytes(image.pixels).toHex(), rgb.toHex());
}

void TestImage::formatRoundTrip_data() {
  QTest::addColumn<QString>("ext");
  QTest::addColumn<QList<int>>("params");
  QTest::addColumn<int>("tolerance");
  QTest::newRow("png") << ".png" << QList<int>{} << 0;
  QTest::newRow("bmp") << ".bmp" << QList<int>{} << 0;
  QTest::newRow("tiff") << ".tiff" << QList<int>{} << 0;
  QTest::newRow("webp lossless") << ".webp" << QList<int>{cv::IMWRITE_WEBP_QUALITY, 101} << 0;
  QTest::newRow("webp lossy") << ".webp" << QList<int>{cv::IMWRITE_WEBP_QUALITY, 95} << 24;
  QTest::newRow("jpeg") << ".jpg" << QList<int>{cv::IMWRITE_JPEG_QUALITY, 98} << 16;
  QTest::newRow("jpeg progressive")
      << ".jpg" << QList<int>{cv::IMWRITE_JPEG_QUALITY, 98, cv::IMWRITE_JPEG_PROGRESSIVE, 1} << 16;
}

void TestImage::formatRoundTrip() {
  QFETCH(QString, ext);
  QFETCH(QList<int>, params);
  QFETCH(int, tolerance);
  if (!cv::haveImageWriter(ext.toStdString()))  // an encoder built in means its decoder is too
    QSKIP(qPrintable("this OpenCV has no " + ext + " codec"));
  const cv::Mat bgr = bgr_gradient(24, 16);
  QTemporaryDir dir;
  const auto path = std::filesystem::path(dir.path().toStdString()) /
                    "picture.data";  // sniffed, not by extension
  write_file(path, encode(bgr, ext.toLatin1().constData(),
                          std::vector<int>(params.begin(), params.end())));
  const auto image = atman::load_image(path);
  QCOMPARE(image.width, 24);
  QCOMPARE(image.height, 16);
  int max_dev = 0;
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 24; ++x) {
      const auto rgb = rgb_at(image, x, y);
      const auto want = bgr.at<cv::Vec3b>(y, x);
      for (int c = 0; c < 3; ++c) max_dev = std::max(max_dev, std::abs(rgb[c] - want[2 - c]));
    }
  qInfo("%s: max deviation %d", qPrintable(ext), max_dev);
  QVERIFY(max_dev <= tolerance);
}

// The header reader must agree with the encoders on every layout they write.
void TestImage::headerSizes_data() {
  QTest::addColumn<QByteArray>("encoded");
  QTest::addColumn<QString>("format");
  const cv::Mat bgr = bgr_gradient(37, 23);
  cv::Mat gray;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  QTest::newRow("png") << to_qbytes(encode(bgr, ".png")) << "PNG";
  QTest::newRow("jpeg baseline") << to_qbytes(encode(bgr, ".jpg")) << "JPEG";
  QTest::newRow("jpeg progressive")
      << to_qbytes(encode(bgr, ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1})) << "JPEG";
  QTest::newRow("bmp") << to_qbytes(encode(bgr, ".bmp")) << "BMP";
  QTest::newRow("bmp gray") << to_qbytes(encode(gray, ".bmp")) << "BMP";
  QTest::newRow("tiff") << to_qbytes(encode(bgr, ".tiff")) << "TIFF";
  if (cv::haveImageWriter(".webp")) {
    QTest::newRow("webp lossy") << to_qbytes(encode(bgr, ".webp", {cv::IMWRITE_WEBP_QUALITY, 80}))
                                << "WebP";
    QTest::newRow("webp lossless")
        << to_qbytes(encode(bgr, ".webp", {cv::IMWRITE_WEBP_QUALITY, 101})) << "WebP";
  }
}

void TestImage::headerSizes() {
  QFETCH(QByteArray, encoded);
  QFETCH(QString, format);
  const auto bytes = to_vec(encoded);
  const auto header = atman::detail::read_image_header(bytes, "header");
  QVERIFY(header.has_value());
  QCOMPARE(QString(atman::detail::format_name(header->format)), format);
  QCOMPARE(header->width, uint64_t{37});
  QCOMPARE(header->height, uint64_t{23});
  const auto image = atman::decode_image(bytes, "header");
  QCOMPARE(image.width, 37);
  QCOMPARE(image.height, 23);
}

// Bytes that must be refused, and what the message has to say. Oversized headers carry no pixel
// data: were they passed to OpenCV it would allocate for the claimed size first and fail later.
void TestImage::rejectsBadBytes_data() {
  QTest::addColumn<QByteArray>("bytes");
  QTest::addColumn<QStringList>("message");
  const QStringList not_image{"bytes.bin is not an image OpenCV can read",
                              "supported: JPEG, PNG, BMP, WebP, TIFF"};
  const QString limit = "the limit is 40000 pixels on a side and 400 megapixels";

  std::mt19937 rng(42);
  std::vector<uint8_t> random(4096);
  for (auto& b : random) b = static_cast<uint8_t>(rng());
  random[0] = 0x00;  // no accidental magic
  QTest::newRow("random bytes") << to_qbytes(random) << not_image;
  QTest::newRow("text") << QByteArray("hello, this is not a picture\n") << not_image;
  QTest::newRow("png 30000x30000")
      << to_qbytes(png_header_only(30000, 30000))
      << QStringList{"image bytes.bin is 30000\u00D730000 pixels", limit};
  QTest::newRow("png 50000x10") << to_qbytes(png_header_only(50000, 10))
                                << QStringList{"50000\u00D710 pixels", limit};
  QTest::newRow("png 20000x20001")
      << to_qbytes(png_header_only(20000, 20001)) << QStringList{"20000\u00D720001", limit};
  QTest::newRow("png 0x0") << to_qbytes(png_header_only(0, 0))
                           << QStringList{"is 0\u00D70 pixels: it has no pixels"};
  QTest::newRow("png 4x0") << to_qbytes(png_header_only(4, 0))
                           << QStringList{"4\u00D70 pixels", "no pixels"};

  std::vector<uint8_t> jpeg;  // SOI, a JFIF-less SOF0 for 45000 × 100, 3 components
  append(jpeg, {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0x64, 0xAF, 0xC8, 0x03});
  append(jpeg, {1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0});
  QTest::newRow("jpeg 45000x100") << to_qbytes(jpeg) << QStringList{"45000\u00D7100 pixels", limit};
  std::vector<uint8_t> progressive;  // an APP0 segment to skip, then SOF2 for 30000 × 30000
  append(progressive, {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xC2, 0x00, 0x11, 0x08,
                       0x75, 0x30, 0x75, 0x30, 3});
  append(progressive, {1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0});
  QTest::newRow("jpeg progressive 30000x30000")
      << to_qbytes(progressive) << QStringList{"30000\u00D730000", limit};

  auto bmp = [](int32_t width, int32_t height) {
    std::vector<uint8_t> out;
    append(out, "BM");
    append_le(out, 54, 4);
    append_le(out, 0, 4);
    append_le(out, 54, 4);
    append_le(out, 40, 4);
    append_le(out, static_cast<uint32_t>(width), 4);
    append_le(out, static_cast<uint32_t>(height), 4);
    append_le(out, 1, 2);
    append_le(out, 24, 2);
    out.resize(54, 0);
    return out;
  };
  QTest::newRow("bmp 100000x2") << to_qbytes(bmp(100000, 2))
                                << QStringList{"100000\u00D72 pixels", limit};
  QTest::newRow("bmp top-down 1x50000")
      << to_qbytes(bmp(1, -50000)) << QStringList{"1\u00D750000 pixels", limit};

  std::vector<uint8_t> webp;  // RIFF/WEBP with a VP8X canvas of 60000 × 60000
  append(webp, "RIFF");
  append_le(webp, 30, 4);
  append(webp, "WEBPVP8X");
  append_le(webp, 10, 4);
  append_le(webp, 0, 4);
  append_le(webp, 59999, 3);
  append_le(webp, 59999, 3);
  QTest::newRow("webp 60000x60000")
      << to_qbytes(webp) << QStringList{"60000\u00D760000 pixels", limit};

  auto tiff = [](bool little, uint32_t width, uint32_t height) {
    std::vector<uint8_t> out;
    auto put = [&](uint64_t v, int n) {
      for (int i = 0; i < n; ++i)
        out.push_back(static_cast<uint8_t>(v >> (8 * (little ? i : n - 1 - i))));
    };
    append(out, little ? "II" : "MM");
    put(42, 2);
    put(8, 4);
    put(2, 2);                                                     // two entries
    put(256, 2), put(4, 2), put(1, 4), put(width, 4);              // ImageWidth LONG
    put(257, 2), put(3, 2), put(1, 4), put(height, 2), put(0, 2);  // ImageLength SHORT
    put(0, 4);
    return out;
  };
  QTest::newRow("tiff LE 70000x10")
      << to_qbytes(tiff(true, 70000, 10)) << QStringList{"70000\u00D710 pixels", limit};
  QTest::newRow("tiff BE 30000x30000")
      << to_qbytes(tiff(false, 30000, 30000)) << QStringList{"30000\u00D730000", limit};

  const auto good_png = encode(bgr_gradient(37, 23), ".png");
  QTest::newRow("truncated png")
      << to_qbytes(std::vector<uint8_t>(good_png.begin(), good_png.begin() + good_png.size() / 2))
      << QStringList{
             "bytes.bin looks like a PNG image (37\u00D723 pixels) but OpenCV could not decode it"};
  QTest::newRow("png signature only")
      << to_qbytes(std::vector<uint8_t>(good_png.begin(), good_png.begin() + 8))
      << QStringList{"looks like a PNG image but has no IHDR header", "truncated or damaged"};
  QTest::newRow("jpeg without frame")
      << QByteArray::fromHex("ffd8ffd9")
      << QStringList{"looks like a JPEG image but has no frame header"};
  QTest::newRow("tiff without size")
      << to_qbytes(tiff(true, 5, 5)).left(10)
      << QStringList{"looks like a TIFF image but has a truncated image directory"};
}

void TestImage::rejectsBadBytes() {
  QFETCH(QByteArray, bytes);
  QFETCH(QStringList, message);
  const QString what =
      error_of<atman::InputError>([&] { atman::decode_image(to_vec(bytes), "bytes.bin"); });
  for (const QString& part : message)
    QVERIFY2(what.contains(part), qPrintable("message: " + what + "\nmissing: " + part));
}

void TestImage::rejectsBadFiles() {
  QTemporaryDir dir;
  const std::filesystem::path root = dir.path().toStdString();

  const auto missing = root / "nope.png";
  QString what = error_of<atman::InputError>([&] { atman::load_image(missing); });
  QVERIFY2(what.contains("cannot read image " + QString::fromStdString(missing.string()) +
                         ": no such file"),
           qPrintable(what));

  what = error_of<atman::InputError>([&] { atman::load_image(root); });
  QVERIFY2(what.contains("cannot read image " + QString::fromStdString(root.string()) +
                         ": it is a directory"),
           qPrintable(what));

  const auto empty = root / "empty.jpg";
  write_file(empty, {});
  what = error_of<atman::InputError>([&] { atman::load_image(empty); });
  QVERIFY2(what.contains("image " + QString::fromStdString(empty.string()) + " is empty (0 bytes)"),
           qPrintable(what));

  const auto random = root / "random.png";
  std::vector<uint8_t> noise(1000);
  std::mt19937 rng(7);
  for (auto& b : noise) b = static_cast<uint8_t>(rng() | 1);
  write_file(random, noise);
  what = error_of<atman::InputError>([&] { atman::load_image(random); });
  QVERIFY2(
      what.contains(QString::fromStdString(random.string()) +
                    " is not an image OpenCV can read (supported: JPEG, PNG, BMP, WebP, TIFF)"),
      qPrintable(what));

  const auto huge = root / "huge.png";
  write_file(huge, png_header_only(30000, 30000));
  what = error_of<atman::InputError>([&] { atman::load_image(huge); });
  QVERIFY2(what.contains("image " + QString::fromStdString(huge.string()) +
                         " is 30000\u00D730000 pixels; the limit is"),
           qPrintable(what));

  // A sparse file: refused from its size before a byte is read.
  const auto big = root / "big.jpg";
  write_file(big, {0xFF, 0xD8, 0xFF});
  std::filesystem::resize_file(big, (std::uintmax_t{513} << 20));
  what = error_of<atman::InputError>([&] { atman::load_image(big); });
  QVERIFY2(what.contains("image " + QString::fromStdString(big.string()) +
                         " is 513 MiB; the limit is 512 MiB"),
           qPrintable(what));
}

// Expected bytes from PIL 9.4 Image.resize (script: same pattern(), Image.frombytes, .resize).
void TestImage::resizeMatchesPil_data() {
  QTest::addColumn<ResampleFilter>("filter");
  QTest::addColumn<int>("width");
  QTest::addColumn<int>("height");
  QTest::addColumn<int>("channels");
  QTest::addColumn<int>("out_width");
  QTest::addColumn<int>("out_height");
  QTest::addColumn<QByteArray>("expected_hex");
  QTest::newRow("bicubic 37x23x3 -> 11x7")
      << ResampleFilter::bicubic << 37 << 23 << 3 << 11 << 7
      << QByteArray(
             "778786868181616c8f858b74826d7e737a777a8085869e8482727a868a718374707c8d7f7f767a885b8c8"
             "573949a7f71906b778a777978947c936a908081777f827d8c73956e6f8e7278917e698b777d7b8a7c8188"
             "80917c967b7c7a8f799294768a788e799398648a97676d7b948281697781817c8b7287719286876f6f859"
             "881827383819c6c91947e8d8abb7fb3a97a888278a4788686758068729f365883616d74807e7f9a748d83"
             "725b779388a28070717a7b847c7d7278998d74816c7e7e898a807a81868a8286828783697a8d6b93728a8"
             "08776879481756f9c7b7e7e848a817b688582");
  QTest::newRow("bicubic 9x6x3 -> 20x13")
      << ResampleFilter::bicubic << 9 << 6 << 3 << 20 << 13
      << QByteArray(
             "002a5f0030650c41741e538a2e61a53f73c04e8ed35da9e176befb93cdffa9e1e0b8ff5ac9e50ceb661ae"
             "4023b760256002571004186105d961a699c0a3d750f457d215891356da047819e5a909e6e91ad7e8ec083"
             "9adb80adee87c4d19ae36baed333d07346d0285f7d305f224e5d1c526d3b51804550883365ae3a72b94d8"
             "fd866add882cd909ed54ebd9a51ce4e71a3448f5260ac377eb24fa0966dac8e9094aea382b6919c7479b1"
             "2c857b2c9f2f4ba812566299b76c9fc484aae99bbce6a7e184b4eb2ad59a2ceb3352af236342476e1c5d8"
             "13a669e5678bb6195e26fb1e38ad788a7e626c29b22d83347e20b549ce15ba9c768cc8a86d561979a7b7f"
             "65986b748784976ea28f7d8273a03f7790309c4b549c2f7a5955a12a80b448a2987ab6779ba286b280a5b"
             "d73b2aefb19bdd025e76a40e9215f8736792e5f94337abb5e94d57ab79b95db2db4b709dd492cd00e4f69"
             "2668194b8124669e4c82bb6ba2da86bff593ccff5da0366c8e48916175a34a8e82746d65994f7e8268a35"
             "d8d956a806d92586f93569d6f7ab24f8ca3357a872f745c4c933b78be52a2e17fc6fd92d7ff0c42701b4f"
             "833a6bb35d8ebc7dc05f9bd30ac88914e72644b01d64474a832771a54d99ce829ad0d25a92f62d66a4447"
             "c4471a64c96cb7cb5ea8fc4f91d51b23168ab5ea09b7ec67f71ba49649c25867244ae4b769d55776b7f5f"
             "4f987744a4c25ca0d0b08975e77131c45a4a8a507f726ba86992c864a3d8578ce66da2c2a5db6ab6ed2c6"
             "39a3e154a6825569c5985c681ae95a4d63098d02f5a9b934586b173b14ea6c300cf781adf2a52a5377d53"
             "68a0317cb191c2ae92c79798cd5e8bc040558e6f2a60a54359b17569aa93968ca6d360a2ca5b85777e715"
             "68365925470b52eb5692fee1641b02567495a91206ea3c8f243abe04e679c63386d84478bbb6ca4dc9a6a"
             "a7c4285fb94b738ea7ba8ea6bab94773bb1d506e5270407987894664d80e41a6265e475a8f226fa4e1ff1"
             "6b7ec2f52876414499f4189db87bff5be72a4e40d40c92c698596e08798e1cf336ddb043a70387b2b60ad"
             "77377ad10a40a2255846598e216ea3");
  QTest::newRow("bilinear 9x6x3 -> 5x10")
      << ResampleFilter::bilinear << 9 << 6 << 3 << 5 << 10
      << QByteArray(
             "154a7f4f84b994c9c2a95e4325487d3c719f7d92937c99aa947c6e635a6376abcec1a65b57508575aaafc"
             "0753ca5997a898183847d60696e908e8f98a98752706f8a968f57704b806d9ed3557481998453716a849d"
             "5c916f96cb598e8c80855a718281a075767b79a788bd84487d8284b9668d92478b527581b6727075979a8"
             "785885d5f8047747cb1668b70a5a8659a853a6f783f74");
  QTest::newRow("lanczos 37x23x3 -> 10x9")
      << ResampleFilter::lanczos << 37 << 23 << 3 << 10 << 9
      << QByteArray(
             "76868f837e82577c8f967b656a6f85777f777f96918481737d867c8876657a90708c7177775e938d88859"
             "77a777c6678829b7791798f88746a87877e867f916b7283936199846b899c79679a6d8c7e92777c709283"
             "838e73807d87709773738a687b9279748170867f807a9582937c7b8487798f927896778e76999c5485917"
             "55e80837e896b6c8a6c8b809084787a7a899c7e806d898a9c63978f92aa96b3669eb0708c8488ac6a7367"
             "88823a63a8575176827e74a176877d725197c0a2a76982827172827b9e866fad5b525a679b7881828f956"
             "f82817b6c7c8873857d627a9585786f837b7b788a908d877e8a797b83898b877c838c5f7e907392798878"
             "9b708779a7717682808b7c7b608986");
  QTest::newRow("box 37x23x3 -> 8x8")
      << ResampleFilter::box << 37 << 23 << 3 << 8 << 8
      << QByteArray(
             "778a8b7e737d8284756275887883788c9f7f6a7494887958798c7c86658587668a9a796a8e6e787498899"
             "7626c7f92827d6d91776c8c7c6c908d7e80807595769a8b7f74947f808285769a857a84787a6b80827388"
             "689d788b7c8e83787f8082818385c63b707e99b47f67699c91666984a0bf7449738f9091a4627695b57eb"
             "3a48b8d7d64847998675881366b787a7c829574897e737c8f805c809383786d978879607f9f9373638486"
             "877b70909260848384759979836ea3838d6d77688b8d");
  QTest::newRow("hamming 37x23x3 -> 9x5")
      << ResampleFilter::hamming << 37 << 23 << 3 << 9 << 5
      << QByteArray(
             "7d877f8077816775908e73767874798088848d90817c7e7d87797387798d70728685689984747993777a8"
             "e868077858881818f76857d8d7a8f9766848b877682717c83827c8979826e79878c91798077827a9d7485"
             "818a75a2ac8689767d947985757fa06b5b72627f777a80888e7d7d7c837c718c7581828279868c8572788"
             "f8488827f728080");
  QTest::newRow("nearest 37x23x3 -> 10x7")
      << ResampleFilter::nearest << 37 << 23 << 3 << 10 << 7
      << QByteArray(
             "8bc0f54b80b50b40759bd0055b90c56095ca20558ab0e51a70a5da75aadfbdf227467bb0cf0439c2f72c4"
             "b80b5d4093e5d92c795caff1e5388a7dc11558abfd3083d5186bb0d42778bc0f5093e7387bcf14378adc1"
             "f62b3f74a987bcf1ce0338d0053a34699e7bb0e57db2e7c4f92e285d926fa4d971a6dbb9ee23c9fe3394c"
             "9fe5b90c56ba0d5366ba001366b0d4277d80d42a3d80d96cb00568bc0164b80a6db10669bd06ba0d52b60"
             "95bbf0257bb0e580b5eac8fd325186bbda0f44cd0237568bc0df1449689dd2a0d50a295e93b2e71c");
  QTest::newRow("nearest 9x6x3 -> 13x11")
      << ResampleFilter::nearest << 9 << 6 << 3 << 13 << 11
      << QByteArray(
             "00356a255a8f255a8f4a7fb46fa4d96fa4d994c9feb9ee23b9ee23de134803386d03386d285d9200356a2"
             "55a8f255a8f4a7fb46fa4d96fa4d994c9feb9ee23b9ee23de134803386d03386d285d925b90c58bc0f58b"
             "c0f5bbf025eb2055eb20551b50854b80b54b80b57bb0e5abe015abe015db10455b90c58bc0f58bc0f5bbf"
             "025eb2055eb20551b50854b80b54b80b57bb0e5abe015abe015db1045b6eb20f1265bf1265b2c6196679c"
             "d1679cd1a2d70cdd1247dd1247184d825388bd5388bd8ec3f8b6eb20f1265bf1265b2c6196679cd1679cd"
             "1a2d70cdd1247dd1247184d825388bd5388bd8ec3f811467b578cc1578cc19dd207e3184de3184d295e93"
             "6fa4d96fa4d9fa2f644075aa4075aa86bbf06ca1d6bdf227bdf2270e43785f94c95f94c9b0e51a467bb04"
             "67bb097cc01e81d52e81d52396ea36ca1d6bdf227bdf2270e43785f94c95f94c9b0e51a467bb0467bb097"
             "cc01e81d52e81d52396ea3c7fc3123588d23588d7fb4e9db1045db10457cb1e6d80d42d80d4234699ed50"
             "a3fd50a3f31669bc7fc3123588d23588d7fb4e9db1045db10457cb1e6d80d42d80d4234699ed50a3fd50a"
             "3f31669b");
  QTest::newRow("bicubic 9x6x4 -> 5x4")
      << ResampleFilter::bicubic << 9 << 6 << 4 << 5 << 4
      << QByteArray(
             "4caae51e9c9585507693a58c90767cb925447c95aa88657b7e7e84af76985cae578dcf558cb8e43a4f7c9"
             "eb97fae437c6cb7793da5745969777dada96caba8558464a651a27a8d92875660cfa32f5fa1");
  QTest::newRow("bilinear 9x6x4 -> 14x9")
      << ResampleFilter::bilinear << 9 << 6 << 4 << 14 << 9
      << QByteArray(
             "000000002762890d275f97204678af335c93c74571a5dc588abef56ba1d6ad7db8eb2890d05f3ba3a01d5"
             "3b5163569c8174c82db275d92e85a8bc51f6ea2d02c75aec63f8fc36c52a8936b64b85389776b72a88a5b"
             "8f9e9c77aa7aaf948393c28d669ab42748767429497b7a4053888776a8964791a3b654a3a0bc679cc45b7"
             "ab08e558cc63e709f625e6bb23d7280b64c7cafae689cd0bf77abdf9c78aebb26ac618722c34b822fade1"
             "2d70cc884d7dd03f6f90606481a3557da2b5778ebac888b54bdb8dbe25a9707a8932567bac3e5185b8455"
             "088bb3c7aa3d64b93b6ea5853875699767476a6926a8cb9759356cc6d9e66ac6e97bf7185b74d848ebf35"
             "6d8299b52da550833c964e824e4e76aa616da2d7748abdf38123588ec13c71a3ba6095a9b689be32c997c"
             "41488995b8e19627f6e2c5e94983e6197cc51b76b7564c058637671608f896f8cc09c75aadfa95f95c9ea"
             "6196c1956ea386355f914d485e8f6f496896b94296c64b5583b75b674d81af7a84a6468db091239fcf365"
             "5b280558ac54278add27bafb9936ca1ab65467887335b8eb946856ea258ad47746b979f8d7e949288909c"
             "3e70a3747262b6807056c8d01f49db9c366ba9376da17bc5f92e31669c663e32649a516da3d664a86c9f7"
             "6d7184c899684b89c9c76abaed41247c16e487bd45f4f83e6c41347f9c413488233669919");
}

void TestImage::resizeMatchesPil() {
  QFETCH(ResampleFilter, filter);
  QFETCH(int, width);
  QFETCH(int, height);
  QFETCH(int, channels);
  QFETCH(int, out_width);
  QFETCH(int, out_height);
  QFETCH(QByteArray, expected_hex);
  std::vector<uint8_t> out;
  if (channels == 3) {
    const auto resized = atman::resize_image(
        atman::RgbImage{width, height, pattern(width, height, 3)}, out_width, out_height, filter);
    QCOMPARE(resized.width, out_width);
    QCOMPARE(resized.height, out_height);
    out = resized.pixels;
  } else {
    const auto resized = atman::resize_image(
        atman::RgbaImage{width, height, pattern(width, height, 4)}, out_width, out_height, filter);
    QCOMPARE(resized.width, out_width);
    QCOMPARE(resized.height, out_height);
    out = resized.pixels;
  }
  const QByteArray expected = QByteArray::fromHex(expected_hex);
  QCOMPARE(static_cast<qsizetype>(out.size()), expected.size());
  int max_dev = 0;
  for (size_t i = 0; i < out.size(); ++i)
    max_dev = std::max(max_dev, std::abs(out[i] - static_cast<uint8_t>(expected[i])));
  QCOMPARE(max_dev, 0);
}

// Every region of a resize is the same bytes as the full resize cut to it, for every filter,
// shrinking and enlarging, and with one axis kept (PIL then skips that pass).
void TestImage::resizeRegionIsCropOfResize() {
  std::mt19937 rng(7);
  const std::array filters{ResampleFilter::nearest,  ResampleFilter::lanczos,
                           ResampleFilter::bilinear, ResampleFilter::bicubic,
                           ResampleFilter::box,      ResampleFilter::hamming};
  const std::array<std::array<int, 4>, 6> sizes{{{37, 23, 11, 7},
                                                 {9, 6, 20, 13},
                                                 {9, 6, 9, 13},
                                                 {37, 23, 10, 23},
                                                 {1, 1, 5, 4},
                                                 {40, 3, 200, 15}}};
  for (const ResampleFilter filter : filters) {
    for (const auto& [w, h, ow, oh] : sizes) {
      const atman::RgbImage image{w, h, pattern(w, h, 3)};
      const atman::RgbImage full = atman::resize_image(image, ow, oh, filter);
      for (int trial = 0; trial < 8; ++trial) {
        const int x = std::uniform_int_distribution<int>(0, ow - 1)(rng);
        const int y = std::uniform_int_distribution<int>(0, oh - 1)(rng);
        const int rw = std::uniform_int_distribution<int>(1, ow - x)(rng);
        const int rh = std::uniform_int_distribution<int>(1, oh - y)(rng);
        const atman::RgbImage region =
            atman::resize_image_region(image, ow, oh, x, y, rw, rh, filter);
        QCOMPARE(region.width, rw);
        QCOMPARE(region.height, rh);
        for (int yy = 0; yy < rh; ++yy)
          for (int xx = 0; xx < rw * 3; ++xx)
            QCOMPARE(region.pixels[(size_t(yy) * rw) * 3 + xx],
                     full.pixels[(size_t(y + yy) * ow + x) * 3 + xx]);
      }
    }
  }
  const atman::RgbImage image{9, 6, pattern(9, 6, 3)};
  QVERIFY_THROWS_EXCEPTION(atman::InputError,
                           atman::resize_image_region(image, 20, 13, 15, 0, 6, 13));
  QVERIFY_THROWS_EXCEPTION(atman::InputError,
                           atman::resize_image_region(image, 20, 13, 0, 0, 0, 13));
}

// A 3000x2 strip for a 64-pixel model becomes 96000x64 before the centre crop; only the crop is
// resampled, and it is the same as resizing everything and cutting out the middle.
void TestImage::elongatedPhotoResamplesOnlyTheCrop() {
  atman::ClipPreprocessConfig config;
  config.shortest_edge = 64;
  config.crop_size = 64;
  config.do_normalize = false;
  config.rescale_factor = 1.0;
  const atman::RgbImage strip{3000, 2, pattern(3000, 2, 3)};
  const atman::PixelTensor pixels = atman::preprocess_clip(strip, config);
  QCOMPARE(pixels.width, 64);
  QCOMPARE(pixels.geometry.crop_x, (96000 - 64) / 2);
  const atman::RgbImage full = atman::resize_image(strip, 96000, 64, config.resample);
  const size_t plane = size_t(64) * 64;
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x)
      for (int c = 0; c < 3; ++c)
        QCOMPARE(pixels.values[c * plane + size_t(y) * 64 + x],
                 float(full.pixels[(size_t(y) * 96000 + pixels.geometry.crop_x + x) * 3 + c]));
}

// HF sizes: short side → shortest_edge, long side truncated; centre crop offset (size - crop) // 2.
void TestImage::preprocessGeometry_data() {
  QTest::addColumn<int>("width");
  QTest::addColumn<int>("height");
  QTest::addColumn<int>("resized_width");
  QTest::addColumn<int>("resized_height");
  QTest::addColumn<int>("crop_x");
  QTest::addColumn<int>("crop_y");
  QTest::newRow("landscape 300x200") << 300 << 200 << 336 << 224 << 56 << 0;
  QTest::newRow("portrait 200x300") << 200 << 300 << 224 << 336 << 0 << 56;
  QTest::newRow("truncated 333x100") << 333 << 100 << 745 << 224 << 260 << 0;  // 745.92 → 745
  QTest::newRow("truncated 640x427") << 640 << 427 << 335 << 224 << 55 << 0;   // 335.7 → 335
  QTest::newRow("square upscale 50x50") << 50 << 50 << 224 << 224 << 0 << 0;
  QTest::newRow("already 224") << 224 << 224 << 224 << 224 << 0 << 0;
}

void TestImage::preprocessGeometry() {
  QFETCH(int, width);
  QFETCH(int, height);
  QFETCH(int, resized_width);
  QFETCH(int, resized_height);
  QFETCH(int, crop_x);
  QFETCH(int, crop_y);
  const atman::RgbImage image{width, height, pattern(width, height, 3)};
  const atman::ClipPreprocessConfig config;
  const auto tensor = atman::preprocess_clip(image, config);
  QCOMPARE(tensor.width, 224);
  QCOMPARE(tensor.height, 224);
  const auto& g = tensor.geometry;
  QCOMPARE(g.original_width, width);
  QCOMPARE(g.original_height, height);
  QCOMPARE(g.crop_x, crop_x);
  QCOMPARE(g.crop_y, crop_y);
  QCOMPARE(g.crop_size, 224);
  QCOMPARE(g.scale, static_cast<double>(resized_width) / width);
  QCOMPARE(g.scale_y, static_cast<double>(resized_height) / height);

  // The tensor is the PIL-resized image, cropped and normalised.
  const auto resized = atman::resize_image(image, resized_width, resized_height);
  for (int c = 0; c < 3; ++c)
    for (int y : {0, 111, 223})
      for (int x : {0, 57, 223}) {
        const uint8_t v =
            resized
                .pixels[((static_cast<size_t>(y) + crop_y) * resized_width + x + crop_x) * 3 + c];
        const float want =
            (static_cast<float>(v * config.rescale_factor) - config.mean[c]) / config.std[c];
        QCOMPARE(tensor.values[(static_cast<size_t>(c) * 224 + y) * 224 + x], want);
      }

  // A patch maps back by undoing the crop, then the scale.
  const atman::RectF patch = g.to_original({16, 32, 16, 16});
  QCOMPARE(patch.x, (16.0 + crop_x) * width / resized_width);
  QCOMPARE(patch.y, (32.0 + crop_y) * height / resized_height);
  QCOMPARE(patch.width, 16.0 * width / resized_width);
  QCOMPARE(patch.height, 16.0 * height / resized_height);
}

// Without resizing, a side shorter than the crop is zero-padded around the centred image (HF).
void TestImage::centerCropPads() {
  std::vector<uint8_t> pixels(100 * 50 * 3);
  for (size_t i = 0; i < pixels.size(); i += 3)
    pixels[i] = 10, pixels[i + 1] = 20, pixels[i + 2] = 30;
  atman::ClipPreprocessConfig config;
  config.do_resize = false;
  config.crop_size = 64;
  const auto tensor = atman::preprocess_clip(atman::RgbImage{100, 50, pixels}, config);
  QCOMPARE(tensor.width, 64);
  QCOMPARE(tensor.height, 64);
  QCOMPARE(tensor.geometry.crop_x, 18);  // (100 - 64) // 2
  QCOMPARE(tensor.geometry.crop_y, -7);  // (50 - 64) // 2, Python floor division
  auto at = [&](int c, int y, int x) {
    return tensor.values[(static_cast<size_t>(c) * 64 + y) * 64 + x];
  };
  const float pad = (0.0f - config.mean[0]) / config.std[0];
  const float inside =
      (static_cast<float>(10 * config.rescale_factor) - config.mean[0]) / config.std[0];
  QCOMPARE(at(0, 6, 10), pad);
  QCOMPARE(at(0, 7, 10), inside);
  QCOMPARE(at(0, 56, 10), inside);
  QCOMPARE(at(0, 57, 10), pad);
  const atman::RectF full = tensor.geometry.to_original({0, 0, 64, 64});
  QCOMPARE(full.y, -7.0);
  QCOMPARE(full.height, 64.0);

  config.do_center_crop = false;
  const auto uncropped = atman::preprocess_clip(atman::RgbImage{100, 50, pixels}, config);
  QCOMPARE(uncropped.width, 100);
  QCOMPARE(uncropped.height, 50);
  QCOMPARE(uncropped.values.size(), size_t{3 * 100 * 50});
}

void TestImage::preprocessConfig_data() {
  QTest::addColumn<QByteArray>("json");  // empty: no file
  QTest::addColumn<int>("shortest_edge");
  QTest::addColumn<int>("crop_size");
  QTest::addColumn<int>("resize_height");
  QTest::addColumn<int>("resize_width");
  QTest::addColumn<bool>("do_resize");
  QTest::addColumn<bool>("do_center_crop");
  QTest::addColumn<bool>("do_normalize");
  QTest::addColumn<double>("rescale_factor");
  QTest::addColumn<double>("mean0");
  QTest::addColumn<double>("std2");
  QTest::addColumn<int>("resample");
  QFile shapes(QString::fromStdString(
      (kShared / "models" / "shapes-clip" / "preprocessor_config.json").string()));
  if (shapes.open(QIODevice::ReadOnly))
    QTest::newRow("shapes-clip") << shapes.readAll() << 128 << 128 << 0 << 0 << true << true << true
                                 << 1 / 255.0 << 0.48145466 << 0.27577711 << 3;
  QTest::newRow("absent") << QByteArray() << 224 << 224 << 0 << 0 << true << true << true
                          << 1 / 255.0 << 0.48145466 << 0.27577711 << 3;
  QTest::newRow("ints") << QByteArray(R"({"size": 336, "crop_size": 336})") << 336 << 336 << 0 << 0
                        << true << true << true << 1 / 255.0 << 0.48145466 << 0.27577711 << 3;
  QTest::newRow("height/width")
      << QByteArray(
             R"({"size": {"height": 384, "width": 384}, "crop_size": {"height": 384, "width": 384}})")
      << 224 << 384 << 384 << 384 << true << true << true << 1 / 255.0 << 0.48145466 << 0.27577711
      << 3;
  QTest::newRow("non-square crop uses height")
      << QByteArray(R"({"crop_size": {"height": 224, "width": 256}})") << 224 << 224 << 0 << 0
      << true << true << true << 1 / 255.0 << 0.48145466 << 0.27577711 << 3;
  QTest::newRow("flags")
      << QByteArray(
             R"({"do_resize": false, "do_center_crop": false, "do_rescale": false, "do_normalize": false, "resample": 2})")
      << 224 << 224 << 0 << 0 << false << false << false << 1.0 << 0.48145466 << 0.27577711 << 2;
  QTest::newRow("scalar mean")
      << QByteArray(R"({"image_mean": 0.5, "image_std": [0.5, 0.5, 0.25], "rescale_factor": 0.5})")
      << 224 << 224 << 0 << 0 << true << true << true << 0.5 << 0.5 << 0.25 << 3;
}

void TestImage::preprocessConfig() {
  QFETCH(QByteArray, json);
  QTemporaryDir dir;
  const std::filesystem::path root = dir.path().toStdString();
  if (!json.isEmpty()) write_file(root / "preprocessor_config.json", to_vec(json));
  const auto config = atman::load_preprocess_config(root);
  QTEST(config.shortest_edge, "shortest_edge");
  QTEST(config.crop_size, "crop_size");
  QTEST(config.resize_height, "resize_height");
  QTEST(config.resize_width, "resize_width");
  QTEST(config.do_resize, "do_resize");
  QTEST(config.do_center_crop, "do_center_crop");
  QTEST(config.do_normalize, "do_normalize");
  QTEST(config.rescale_factor, "rescale_factor");
  QFETCH(double, mean0);
  QCOMPARE(config.mean[0], static_cast<float>(mean0));
  QFETCH(double, std2);
  QCOMPARE(config.std[2], static_cast<float>(std2));
  QTEST(static_cast<int>(config.resample), "resample");
}

void TestImage::malformedConfig_data() {
  QTest::addColumn<QByteArray>("json");
  QTest::addColumn<QString>("message");
  QTest::newRow("not json") << QByteArray("{size: 224")
                            << "preprocessor_config.json is not valid JSON";
  QTest::newRow("array") << QByteArray("[1, 2]")
                         << "preprocessor_config.json: expected a JSON object";
  QTest::newRow("size string") << QByteArray(R"({"size": "big"})")
                               << R"(preprocessor_config.json: field "size" must be)";
  QTest::newRow("size zero") << QByteArray(R"({"size": {"shortest_edge": 0}})")
                             << R"(field "size.shortest_edge" must be between 1)";
  QTest::newRow("crop fraction") << QByteArray(R"({"crop_size": 22.5})")
                                 << R"(field "crop_size" must be a whole number)";
  QTest::newRow("mean of 2") << QByteArray(R"({"image_mean": [0.5, 0.5]})")
                             << R"(field "image_mean" must be a list of 3 numbers)";
  QTest::newRow("zero std") << QByteArray(R"({"image_std": [0.5, 0, 0.5]})")
                            << R"(field "image_std" must hold finite positive)";
  QTest::newRow("flag string") << QByteArray(R"({"do_resize": "yes"})")
                               << R"(field "do_resize" must be true or false)";
  QTest::newRow("resample 9") << QByteArray(R"({"resample": 9})")
                              << R"(field "resample" must be a PIL filter number)";
}

void TestImage::malformedConfig() {
  QFETCH(QByteArray, json);
  QFETCH(QString, message);
  QTemporaryDir dir;
  const std::filesystem::path root = dir.path().toStdString();
  write_file(root / "preprocessor_config.json", to_vec(json));
  const QString what = error_of<atman::ModelError>([&] { atman::load_preprocess_config(root); });
  QVERIFY2(what.contains(message), qPrintable(what));
}

void TestImage::pngExport() {
  QTemporaryDir dir;
  const std::filesystem::path root = dir.path().toStdString();
  const atman::RgbImage rgb{5, 3, pattern(5, 3, 3)};
  atman::save_png(rgb, root / "rgb.png");
  const auto back = atman::load_image(root / "rgb.png");
  QCOMPARE(back.width, 5);
  QCOMPARE(back.height, 3);
  QVERIFY(back.pixels == rgb.pixels);

  const atman::RgbaImage rgba{4, 2, pattern(4, 2, 4)};
  const auto png = atman::encode_png(rgba);
  const cv::Mat decoded = cv::imdecode(png, cv::IMREAD_UNCHANGED);
  QCOMPARE(decoded.type(), CV_8UC4);
  cv::Mat as_rgba;
  cv::cvtColor(decoded, as_rgba, cv::COLOR_BGRA2RGBA);
  QVERIFY(std::equal(rgba.pixels.begin(), rgba.pixels.end(), as_rgba.data));
  atman::save_png(rgba, root / "overlay.png");
  QVERIFY(std::filesystem::file_size(root / "overlay.png") == png.size());

  const auto nowhere = root / "no-such-dir" / "x.png";
  const QString what = error_of<atman::InputError>([&] { atman::save_png(rgb, nowhere); });
  QVERIFY2(what.contains("cannot write PNG " + QString::fromStdString(nowhere.string())),
           qPrintable(what));
}

QTEST_APPLESS_MAIN(TestImage)
#include "test_image.moc"
