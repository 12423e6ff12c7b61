// atman serve and its client (atman/remote.h, docs/remote.md): a server on 127.0.0.1 started by
// the test, with the bundled shapes-clip and facts-gpt2. Remote results must equal local ones bit
// for bit; the server must refuse what it should and survive what clients do to it.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <malloc.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "atman/error.h"
#include "atman/eval.h"
#include "atman/explainer.h"
#include "atman/image.h"
#include "atman/inference.h"
#include "atman/model.h"
#include "atman/prompt.h"
#include "atman/registry.h"
#include "atman/remote.h"
#include "atman/v1/atman.grpc.pb.h"
#include "core/test_support.h"
#include "core/tiny_llava.h"
#include "remote/server.h"

using namespace atman;
using namespace atman::remote;

namespace {

const char* kToken = "correct-horse-battery-staple";

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Resident memory of this process in KiB (VmRSS of /proc/self/status), after handing the heap's
// free pages back to the system: what is left is memory in use, not the allocator's reserve.
long rss_kib() {
  malloc_trim(0);
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// Every field of two explanations except the timings (wall clock), with ==: bit for bit.
void require_equal(const Explanation& a, const Explanation& b) {
  QCOMPARE(a.method, b.method);
  QCOMPARE(a.model, b.model);
  QCOMPARE(a.architecture, b.architecture);
  QVERIFY(a.explained == b.explained);
  QVERIFY(a.mode == b.mode);
  QVERIFY(a.kappa == b.kappa);
  QVERIFY(a.factor == b.factor);
  QVERIFY(a.variant == b.variant);
  QVERIFY(a.loss == b.loss);
  QVERIFY(a.post == b.post);
  QCOMPARE(a.prompt, b.prompt);
  QCOMPARE(a.target, b.target);
  QVERIFY(a.labels == b.labels);
  QVERIFY(a.target_tokens == b.target_tokens);
  QVERIFY(a.baseline_loss == b.baseline_loss);
  QVERIFY(a.baseline_per_target == b.baseline_per_target);
  QCOMPARE(a.grid_rows, b.grid_rows);
  QCOMPARE(a.grid_cols, b.grid_cols);
  QCOMPARE(a.image_width, b.image_width);
  QCOMPARE(a.image_height, b.image_height);
  QCOMPARE(a.candidates.size(), b.candidates.size());
  for (size_t i = 0; i < a.candidates.size(); ++i) {
    const Candidate &x = a.candidates[i], &y = b.candidates[i];
    QCOMPARE(x.index, y.index);
    QVERIFY(x.kind == y.kind);
    QCOMPARE(x.text, y.text);
    QVERIFY(x.span == y.span);
    QCOMPARE(x.row, y.row);
    QCOMPARE(x.col, y.col);
    QCOMPARE(x.rows, y.rows);
    QCOMPARE(x.cols, y.cols);
    QVERIFY(x.rect.x == y.rect.x && x.rect.y == y.rect.y && x.rect.width == y.rect.width &&
            x.rect.height == y.rect.height);
    QVERIFY(x.positions == y.positions);
    QVERIFY2(x.value == y.value, qPrintable(QString("candidate %1: %2 vs %3")
                                                .arg(i)
                                                .arg(x.value, 0, 'g', 17)
                                                .arg(y.value, 0, 'g', 17)));
    QVERIFY(x.per_target == y.per_target);
    QCOMPARE(x.suppressed.size(), y.suppressed.size());
    for (size_t k = 0; k < x.suppressed.size(); ++k) {
      QCOMPARE(x.suppressed[k].candidate, y.suppressed[k].candidate);
      QVERIFY(x.suppressed[k].similarity == y.suppressed[k].similarity);
      QVERIFY(x.suppressed[k].factor == y.suppressed[k].factor);
    }
    QCOMPARE(x.exact, y.exact);
    QCOMPARE(x.group, y.group);
    QCOMPARE(x.view, y.view);
  }
  QCOMPARE(a.adaptive.enabled, b.adaptive.enabled);
  QVERIFY(a.adaptive.group_values == b.adaptive.group_values);
}

}  // namespace

class TestRemote : public QObject {
  Q_OBJECT

  std::unique_ptr<Server> server_;
  std::string address_;
  std::shared_ptr<Client> client_;
  std::shared_ptr<const Model> clip_local_, lm_local_;
  RemoteModel clip_remote_, lm_remote_;
  // The local twin of the server's AtMan explainer of shapes-clip. The server keeps one explainer
  // per model for all its clients, and its cache reuses a mask's loss computed for an earlier
  // request; a loss computed in another batch (size or company) may differ in the last bits, as
  // BLAS picks other kernels for other shapes. So a remote result equals a local one bit for bit
  // when both explainers answered the same requests in the same order: this one gets the local
  // copy of every AtMan request the tests below send to the server's shapes-clip explainer.
  AtmanExplainer clip_atman_;
  std::shared_ptr<const RgbImage> image_;
  std::vector<std::string> labels_;

  ConnectOptions options(const std::string& token = kToken) const {
    ConnectOptions o;
    o.address = address_;
    o.token = token;
    o.connect_timeout_s = 10;
    return o;
  }

  ExplainRequest clip_request(std::shared_ptr<const Model> model, SuppressionMode mode) const {
    ExplainRequest r;
    r.model = std::move(model);
    r.image = image_;
    r.labels = labels_;
    r.target = labels_[0];
    r.explain = ExplainWhat::ImagePatches;
    r.mode = mode;
    return r;
  }

  ExplainRequest lm_request(std::shared_ptr<const Model> model, SuppressionMode mode) const {
    ExplainRequest r;
    r.model = std::move(model);
    r.prompt =
        "The bird is green. The bird lives in London. Question: Where does the bird live? "
        "Answer:";
    r.target = " London";
    r.explain = ExplainWhat::PromptTokens;
    r.mode = mode;
    return r;
  }

 private slots:
  void initTestCase() {
    ServerOptions so;
    so.models_dir = test::models_dir();
    so.listen = "127.0.0.1:0";
    so.token = kToken;
    so.max_concurrent_per_client = 8;
    server_ = std::make_unique<Server>(so);
    QVERIFY(server_->port() > 0);
    address_ = "127.0.0.1:" + std::to_string(server_->port());
    client_ = Client::connect(options());

    clip_local_ = test::shared_model("shapes-clip");
    lm_local_ = test::shared_model("facts-gpt2");
    clip_remote_ = client_->load_model("shapes-clip");
    lm_remote_ = client_->load_model("facts-gpt2");
    image_ = std::make_shared<const RgbImage>(
        load_image(test::shared_dir() / "data" / "shapes-eval" / "000.png"));
    labels_ = {"a photo of a red circle", "a photo of a green square", "a photo of a blue star"};
  }

  void cleanupTestCase() {
    client_.reset();
    server_.reset();
  }

  void serverInfoAndModelView() {
    const ServerInfo info = client_->info();
    QCOMPARE(info.protocol_version, kProtocolVersion);
    QVERIFY(!info.version.empty());
    QVERIFY(std::find(info.devices.begin(), info.devices.end(), "cpu") != info.devices.end());
    QVERIFY(std::find(info.models.begin(), info.models.end(), "shapes-clip") != info.models.end());
    const Model& view = *clip_remote_.model;
    QVERIFY(view.remote() != nullptr);
    QCOMPARE(view.remote()->address, address_);
    QCOMPARE(view.name(), clip_local_->name());
    QVERIFY(view.kind() == clip_local_->kind());
    QCOMPARE(view.patch_grid(), clip_local_->patch_grid());
    QCOMPARE(view.max_text_tokens(), clip_local_->max_text_tokens());
    QCOMPARE(view.parameter_count(), clip_local_->parameter_count());
    QCOMPARE(view.preprocess_config().crop_size, clip_local_->preprocess_config().crop_size);
    QVERIFY(view.tokenizer().encode(labels_[0]).ids ==
            clip_local_->tokenizer().encode(labels_[0]).ids);
    // The view holds no weights: the local core refuses it with a message, never crashes.
    auto local = create_explainer("atman");
    QVERIFY(test::error_of<ModelError>([&] {
              local->attribute(clip_request(clip_remote_.model, SuppressionMode::Single));
            }).contains("runs on the server"));
    // Its folder holds no weights either, and goes with the last copy of the view.
    const auto dir = lm_remote_.model->dir();
    QVERIFY(std::filesystem::is_regular_file(dir / "config.json"));
    QVERIFY(!std::filesystem::exists(dir / "model.safetensors"));
    {
      RemoteModel again = client_->load_model("facts-gpt2");
      const auto again_dir = again.model->dir();
      QVERIFY(std::filesystem::exists(again_dir));
      again = {};
      QVERIFY(!std::filesystem::exists(again_dir));
    }
  }

  void remoteExplainEqualsLocalClip() {
    auto remote = client_->make_explainer("atman");
    remote->clear_cache();  // both explainers start empty
    clip_atman_.clear_cache();
    for (auto mode : {SuppressionMode::Single, SuppressionMode::Correlated}) {
      // The correlated call reuses the single call's masks from the cache, on both sides.
      const Explanation want = clip_atman_.attribute(clip_request(clip_local_, mode));
      int progress_calls = 0;
      const Explanation got =
          remote->attribute(clip_request(clip_remote_.model, mode), [&](int done, int total) {
            ++progress_calls;
            return done <= total;
          });
      require_equal(got, want);
      QVERIFY(progress_calls > 0);
      QVERIFY(!want.candidates.empty());
    }
  }

  void remoteExplainEqualsLocalLm() {
    auto remote = client_->make_explainer("atman");
    for (auto mode : {SuppressionMode::Single, SuppressionMode::Correlated}) {
      AtmanExplainer local;
      require_equal(remote->attribute(lm_request(lm_remote_.model, mode)),
                    local.attribute(lm_request(lm_local_, mode)));
    }
  }

  void kappaSweepAndNeighboursEqualLocal() {
    const std::vector<double> kappas = {0.5, 0.7, 0.9};
    AtmanExplainer& local = clip_atman_;
    auto remote = client_->make_explainer("atman");
    // After the same earlier requests (cached masks reused on both sides), then from empty caches.
    for (bool empty : {false, true}) {
      if (empty) {
        remote->clear_cache();
        local.clear_cache();
      }
      const auto want =
          local.kappa_sweep(clip_request(clip_local_, SuppressionMode::Correlated), kappas);
      const auto got = remote->kappa_sweep(
          clip_request(clip_remote_.model, SuppressionMode::Correlated), kappas);
      QCOMPARE(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) require_equal(got[i], want[i]);
    }
    // Served from the server's cache: asking again runs no forward there.
    const auto again =
        remote->kappa_sweep(clip_request(clip_remote_.model, SuppressionMode::Correlated), kappas);
    QCOMPARE(again.back().timings.forwards, 0);

    const auto n_local =
        local.neighbours(clip_request(clip_local_, SuppressionMode::Correlated), 3, 0.7);
    const auto n_remote =
        remote->neighbours(clip_request(clip_remote_.model, SuppressionMode::Correlated), 3, 0.7);
    QCOMPARE(n_remote.size(), n_local.size());
    for (size_t i = 0; i < n_local.size(); ++i) {
      QCOMPARE(n_remote[i].candidate, n_local[i].candidate);
      QVERIFY(n_remote[i].similarity == n_local[i].similarity);
      QVERIFY(n_remote[i].factor == n_local[i].factor);
    }
  }

  void baselineEqualsLocal() {
    for (const char* method : {"attention", "ixg"}) {
      auto local = create_explainer(method);
      auto remote = client_->make_explainer(method);
      QCOMPARE(remote->name(), std::string(method));
      require_equal(remote->attribute(lm_request(lm_remote_.model, SuppressionMode::Single)),
                    local->attribute(lm_request(lm_local_, SuppressionMode::Single)));
    }
  }

  void predictionsEqualLocal() {
    const auto want = zero_shot(
        *clip_local_, preprocess_clip(*image_, clip_local_->preprocess_config()), labels_);
    const auto got = client_->zero_shot(*clip_remote_.model, *image_, labels_);
    QCOMPARE(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      QCOMPARE(got[i].label, want[i].label);
      QVERIFY(got[i].logit == want[i].logit && got[i].probability == want[i].probability);
    }
    const std::string prompt =
        "The bird lives in London. Question: Where does the bird live? Answer:";
    const Generation plain = generate(*lm_local_, prompt, 6);
    const Generation remote_plain = client_->generate(*lm_remote_.model, prompt, 6);
    QVERIFY(remote_plain.ids == plain.ids);
    QCOMPARE(remote_plain.text, plain.text);
    const std::vector<SteeringFactor> steering = {{4, 0.0f}, {5, 0.0f}};
    QVERIFY(client_->generate(*lm_remote_.model, prompt, 6, nullptr, steering).ids ==
            generate(*lm_local_, prompt, 6, nullptr, steering).ids);
    const auto layout = client_->input_layout(*lm_remote_.model, prompt);
    const auto local_layout = input_layout(*lm_local_, prompt);
    QCOMPARE(layout.size(), local_layout.size());
    for (size_t i = 0; i < layout.size(); ++i) {
      QCOMPARE(layout[i].text, local_layout[i].text);
      QVERIFY(layout[i].span == local_layout[i].span);
    }
  }

  void llavaEqualsLocal() {
    // An image-prefix LM: image and prompt tokens explained together, its prompt and its layout.
    const auto local_model = test::shared_model("shapes-llava");
    const RemoteModel view = client_->load_model("shapes-llava");
    QVERIFY(!view.default_prompt.empty());
    QCOMPARE(view.default_prompt, default_prompt(local_model->dir(), "", true));
    QCOMPARE(view.model->patch_grid(), local_model->patch_grid());
    auto request = [&](std::shared_ptr<const Model> model) {
      ExplainRequest r;
      r.model = std::move(model);
      r.image = image_;
      r.prompt = view.default_prompt;
      r.target = " a red circle";
      r.explain = ExplainWhat::All;
      r.mode = SuppressionMode::Correlated;
      return r;
    };
    AtmanExplainer local;
    require_equal(client_->make_explainer()->attribute(request(view.model)),
                  local.attribute(request(local_model)));
    const auto layout = client_->input_layout(*view.model, view.default_prompt);
    const auto want = input_layout(*local_model, view.default_prompt);
    QCOMPARE(layout.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      QCOMPARE(layout[i].is_image, want[i].is_image);
      QCOMPARE(layout[i].row, want[i].row);
      QCOMPARE(layout[i].col, want[i].col);
    }
    const auto pixels = local_model->preprocess(*image_);
    QVERIFY(client_->generate(*view.model, view.default_prompt, 5, image_.get()).ids ==
            generate(*local_model, view.default_prompt, 5, &pixels).ids);
  }

  void anyresLlavaEqualsLocal() {
    // LLaVA-NeXT (core/tiny_llava.h): its number of image tokens depends on the image's size, which
    // InputLayout is sent; the tile view and rectangles of positions and candidates come back.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::filesystem::path models = dir.path().toStdString();
    const test::llava::Spec spec = test::llava::next_spec(false);
    const auto local_model = Model::load(
        test::llava::write_model(models / "next", spec, test::llava::tensors_of(spec, 21)));
    ServerOptions so;
    so.models_dir = models;
    so.listen = "127.0.0.1:0";
    so.token = kToken;
    Server server(so);
    ConnectOptions o = options();
    o.address = "127.0.0.1:" + std::to_string(server.port());
    auto client = Client::connect(o);
    const RemoteModel view = client->load_model("next");
    const std::string prompt = "<image>\nWhat is it?";
    const RgbImage image = load_image(test::shared_dir() / "data" / "shapes-eval" / "000.png");
    QVERIFY_THROWS_EXCEPTION(InputError, client->input_layout(*view.model, prompt));
    const auto layout = client->input_layout(*view.model, prompt, &image);
    const PixelTensor pixels = local_model->preprocess(image);
    const auto want = input_layout(*local_model, prompt, &pixels);
    QCOMPARE(layout.size(), want.size());
    int tiles = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      QCOMPARE(layout[i].is_image, want[i].is_image);
      QCOMPARE(layout[i].view, want[i].view);
      QCOMPARE(layout[i].row, want[i].row);
      QCOMPARE(layout[i].col, want[i].col);
      QVERIFY(layout[i].rect.x == want[i].rect.x && layout[i].rect.y == want[i].rect.y &&
              layout[i].rect.width == want[i].rect.width &&
              layout[i].rect.height == want[i].rect.height);
      tiles += want[i].view == 1;
    }
    QVERIFY(tiles > 0);
    // The view's input geometry is the anyres base view's, from the config alone.
    const ClipInputGeometry g = view.model->input_geometry(image.width, image.height);
    QCOMPARE(g.width, local_model->input_geometry(image.width, image.height).width);
    QVERIFY(g.geometry.scale == pixels.geometry.scale);
    auto request = [&](std::shared_ptr<const Model> model) {
      ExplainRequest r;
      r.model = std::move(model);
      r.image = image_;
      r.prompt = prompt;
      r.target = " a circle";
      r.explain = ExplainWhat::ImagePatches;
      return r;
    };
    AtmanExplainer local;
    const Explanation got = client->make_explainer()->attribute(request(view.model));
    const Explanation expected = local.attribute(request(local_model));
    require_equal(got, expected);
    QVERIFY(std::any_of(got.candidates.begin(), got.candidates.end(),
                        [](const Candidate& c) { return c.view == 1; }));
    client.reset();
  }

  void serveCommand() {
    // The `atman serve` executable: refuses an open address without TLS, prints its port, serves,
    // and stops on SIGTERM.
    QTemporaryDir dir;
    const QString token_file = dir.filePath("token");
    {
      std::ofstream out(token_file.toStdString());
      out << "  " << kToken << "  \nsecond line ignored\n";
    }
    const QString models = QString::fromStdString(test::models_dir().string());
    QProcess refused;
    refused.start(ATMAN_CLI, {"serve", "--models-dir", models, "--listen", "0.0.0.0:0",
                              "--token-file", token_file});
    QVERIFY(refused.waitForFinished(30000));
    QCOMPARE(refused.exitCode(), 1);
    QVERIFY(refused.readAllStandardError().contains("without TLS and a token"));

    QProcess serve;
    serve.start(ATMAN_CLI, {"serve", "--models-dir", models, "--listen", "127.0.0.1:0",
                            "--token-file", token_file});
    QVERIFY(serve.waitForStarted());
    QElapsedTimer timer;
    timer.start();
    QByteArray out;
    while (timer.elapsed() < 30000 && !out.contains('\n')) {
      serve.waitForReadyRead(100);
      out += serve.readAllStandardOutput();
    }
    const QByteArray prefix = "atman serve: listening on ";
    QVERIFY2(out.startsWith(prefix), out.constData());
    ConnectOptions o = options();
    o.address = out.mid(prefix.size()).trimmed().toStdString();
    auto client = Client::connect(o);
    const auto view = client->load_model("facts-gpt2");
    AtmanExplainer local;
    require_equal(
        client->make_explainer()->attribute(lm_request(view.model, SuppressionMode::Single)),
        local.attribute(lm_request(lm_local_, SuppressionMode::Single)));
    serve.terminate();  // SIGTERM
    QVERIFY(serve.waitForFinished(30000));
    QCOMPARE(serve.exitStatus(), QProcess::NormalExit);
    QCOMPARE(serve.exitCode(), 0);
  }

  void serverTimeLimit() {
    // An explanation running past --timeout-s is stopped with a message naming the option.
    ServerOptions so;
    so.models_dir = test::models_dir();
    so.listen = "127.0.0.1:0";
    so.token = kToken;
    so.timeout_s = 1e-6;
    Server strict(so);
    auto o = options();
    o.address = "127.0.0.1:" + std::to_string(strict.port());
    auto client = Client::connect(o);
    const auto view = client->load_model("facts-gpt2");
    QVERIFY(test::error_of<Error>([&] {
              client->make_explainer()->attribute(lm_request(view.model, SuppressionMode::Single));
            }).contains("--timeout-s"));
  }

  void requestSizeLimit() {
    // A request over --max-request-mb is refused before any handler runs; the server goes on.
    ServerOptions so;
    so.models_dir = test::models_dir();
    so.listen = "127.0.0.1:0";
    so.token = kToken;
    so.max_request_mb = 1;
    Server small(so);
    auto o = options();
    o.address = "127.0.0.1:" + std::to_string(small.port());
    auto client = Client::connect(o);
    const auto view = client->load_model("shapes-clip");
    RgbImage big;
    big.width = big.height = 1024;  // 3 MiB of pixels
    big.pixels.assign(size_t(3) * 1024 * 1024, 128);
    const QString message =
        test::error_of<RemoteError>([&] { client->zero_shot(*view.model, big, labels_); });
    QVERIFY2(message.contains(QString::fromStdString(o.address)), qPrintable(message));
    QVERIFY2(message.contains("larger than max"), qPrintable(message));
    QCOMPARE(client->zero_shot(*view.model, *image_, labels_).size(), labels_.size());
  }

  void concurrencyLimitPerClient() {
    // A server allowing one call at a time per client refuses a second while the first runs.
    ServerOptions so;
    so.models_dir = test::models_dir();
    so.listen = "127.0.0.1:0";
    so.token = kToken;
    so.max_concurrent_per_client = 1;
    Server one(so);
    auto o = options();
    o.address = "127.0.0.1:" + std::to_string(one.port());
    auto client = Client::connect(o);
    const auto view = client->load_model("shapes-clip");
    auto request = clip_request(view.model, SuppressionMode::Correlated);
    request.batch_size = 1;
    QString second;
    QCOMPARE(test::error_of<Cancelled>([&] {
               client->make_explainer()->attribute(request, [&](int, int) {
                 second = test::error_of<RemoteError>([&] { client->info(); });
                 return false;  // then cancel: the point was the second call
               });
             }),
             QString("cancelled"));
    QVERIFY2(second.contains("too many calls at once"), qPrintable(second));
    // The slot is free again once the server has ended the first call.
    QString after = "not tried";
    for (int i = 0; i < 50 && !after.isEmpty(); ++i) {
      after = {};
      try {
        client->info();
      } catch (const RemoteError& e) {
        after = e.what();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    QVERIFY2(after.isEmpty(), qPrintable(after));
  }
  void tokenRequired() {
    QVERIFY(test::error_of<RemoteError>([&] {
              Client::connect(options(""));
            }).contains("requires a token"));
    QVERIFY(test::error_of<RemoteError>([&] {
              Client::connect(options("wrong"));
            }).contains("wrong token"));
    QVERIFY(test::error_of<RemoteError>([&] {
              auto o = options();
              o.address = "127.0.0.1:1";  // nothing listens there
              o.connect_timeout_s = 3;
              Client::connect(o);
            }).contains("127.0.0.1:1"));
  }

  void securityRulesAtStart() {
    ServerOptions so;
    so.models_dir = test::models_dir();
    so.listen = "127.0.0.1:0";
    QVERIFY(test::error_of<InputError>([&] { Server s(so); }).contains("requires a token"));
    so.listen = "0.0.0.0:0";
    so.token = kToken;
    QVERIFY(test::error_of<InputError>([&] { Server s(so); }).contains("without TLS and a token"));
    so.allow_no_token = true;
    so.token.clear();
    QVERIFY(test::error_of<InputError>([&] { Server s(so); }).contains("without TLS and a token"));
  }

  void namesStayInsideTheModelRoot() {
    for (const char* name : {"../models/shapes-clip", "/etc", "..", "shapes-clip/../facts-gpt2",
                             "./shapes-clip", "no-such-model", "openai/not-in-the-cache"}) {
      const QString message = test::error_of<ModelError>([&] { client_->load_model(name); });
      QVERIFY2(!message.startsWith("WRONG") && !message.startsWith("NO EXC"),
               qPrintable(QString(name) + ": " + message));
    }
    // A symbolic link inside the root that leads out of it is refused too.
    QTemporaryDir root;
    std::filesystem::create_directory_symlink(
        test::models_dir() / "shapes-clip",
        std::filesystem::path(root.path().toStdString()) / "escape");
    ServerOptions so;
    so.models_dir = root.path().toStdString();
    so.listen = "127.0.0.1:0";
    so.token = kToken;
    Server other(so);
    auto o = options();
    o.address = "127.0.0.1:" + std::to_string(other.port());
    auto client = Client::connect(o);
    QVERIFY(test::error_of<ModelError>([&] {
              client->load_model("escape");
            }).contains("outside the server's model folder"));
  }

  void hubIdsFromTheServersCache() {
    // A Hub cache laid out as huggingface_hub does (refs/main -> snapshots/<commit>), holding
    // facts-gpt2 as "atman-test/tiny-gpt2": a repo id is served from there, and only from there.
    QTemporaryDir cache;
    const std::filesystem::path repo =
        std::filesystem::path(cache.path().toStdString()) / "models--atman-test--tiny-gpt2";
    const std::filesystem::path snapshot = repo / "snapshots" / "0123456789abcdef";
    std::filesystem::create_directories(snapshot);
    std::filesystem::create_directories(repo / "refs");
    std::ofstream(repo / "refs" / "main") << "0123456789abcdef";
    for (const auto& file : std::filesystem::directory_iterator(test::models_dir() / "facts-gpt2"))
      std::filesystem::create_symlink(file.path(), snapshot / file.path().filename());
    ServerOptions so;
    so.models_dir = test::models_dir();
    so.hub_cache = cache.path().toStdString();
    so.listen = "127.0.0.1:0";
    so.token = kToken;
    Server hub(so);
    auto o = options();
    o.address = "127.0.0.1:" + std::to_string(hub.port());
    auto client = Client::connect(o);
    const RemoteModel view = client->load_model("atman-test/tiny-gpt2");
    QCOMPARE(view.model->name(), std::string("atman-test/tiny-gpt2"));
    const auto local_model = Model::load(snapshot);
    AtmanExplainer local;
    require_equal(
        client->make_explainer()->attribute(lm_request(view.model, SuppressionMode::Single)),
        local.attribute(lm_request(local_model, SuppressionMode::Single)));
    QVERIFY(test::error_of<ModelError>([&] {
              client->load_model("atman-test/other");
            }).contains("not in the server's Hub cache"));
  }

  void badInputSameErrorAsLocal() {
    // An empty image and an empty prompt: the same InputError text as the local core gives.
    auto empty = std::make_shared<const RgbImage>();
    auto local_request = clip_request(clip_local_, SuppressionMode::Single);
    auto remote_request = clip_request(clip_remote_.model, SuppressionMode::Single);
    local_request.image = remote_request.image = empty;
    AtmanExplainer local;
    auto remote = client_->make_explainer();
    const QString want = test::error_of<InputError>([&] { local.attribute(local_request); });
    QVERIFY(!want.startsWith("WRONG") && !want.startsWith("NO EXC"));
    QCOMPARE(test::error_of<InputError>([&] { remote->attribute(remote_request); }), want);

    auto lm_local = lm_request(lm_local_, SuppressionMode::Single);
    auto lm_remote = lm_request(lm_remote_.model, SuppressionMode::Single);
    lm_local.prompt = lm_remote.prompt = "";
    const QString want_lm = test::error_of<InputError>([&] { local.attribute(lm_local); });
    QVERIFY(!want_lm.startsWith("WRONG") && !want_lm.startsWith("NO EXC"));
    QCOMPARE(test::error_of<InputError>([&] { remote->attribute(lm_remote); }), want_lm);
    QCOMPARE(test::error_of<InputError>(
                 [&] { client_->make_explainer("no-such-method")->attribute(lm_remote); }),
             test::error_of<InputError>([&] { create_explainer("no-such-method"); }));
  }

  void encodedImageSameErrorAsLocal() {
    // Encoded bytes go through the server's decoder: a file that is no image gets the local text.
    const std::string bytes = "GIF89a, or rather not an image at all";
    const QString want = test::error_of<InputError>(
        [&] { decode_image(std::vector<uint8_t>(bytes.begin(), bytes.end()), "holiday.png"); });
    QVERIFY(!want.startsWith("WRONG") && !want.startsWith("NO EXC"));
    auto stub =
        v1::Atman::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + kToken);
    v1::PredictRequest request;
    request.set_model_id(clip_remote_.model->remote()->model_id);
    request.mutable_image()->set_encoded(bytes);
    request.mutable_image()->set_origin("holiday.png");
    request.add_labels(labels_[0]);
    v1::PredictReply reply;
    const grpc::Status status = stub->Predict(&ctx, request, &reply);
    QCOMPARE(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    QCOMPARE(QString::fromStdString(status.error_message()), want);
    // A valid PNG decodes to the same ranking as the pixels do.
    const std::vector<uint8_t> png = encode_png(*image_);
    grpc::ClientContext ctx2;
    ctx2.AddMetadata("authorization", std::string("Bearer ") + kToken);
    request.mutable_image()->set_encoded(std::string(png.begin(), png.end()));
    QVERIFY(stub->Predict(&ctx2, request, &reply).ok());
    const auto local = client_->zero_shot(*clip_remote_.model, *image_, {labels_[0]});
    QCOMPARE(reply.labels_size(), 1);
    QVERIFY(reply.labels(0).logit() == local[0].logit);
  }

  void cancelMidRun() {
    auto remote = client_->make_explainer("atman");
    auto request = clip_request(clip_remote_.model, SuppressionMode::Correlated);
    // An input no other test explains: the server's mask cache holds nothing of it yet, so every
    // value below is computed at batch size 1, as the local reference is.
    request.target = labels_[2];
    request.kappa = 0.55;
    request.batch_size = 1;
    int calls = 0;
    QVERIFY(test::error_of<Cancelled>([&] {
              remote->attribute(request, [&](int, int) { return ++calls < 3; });
            }) == "cancelled");
    QCOMPARE(calls, 3);
    // The server is fine and finishes the same request when asked again, reusing what it computed
    // before the cancel (at the same batch size, so the values are those of an uncancelled run).
    AtmanExplainer local;
    auto local_request = clip_request(clip_local_, SuppressionMode::Correlated);
    local_request.target = labels_[2];
    local_request.kappa = 0.55;
    local_request.batch_size = 1;
    const Explanation resumed = remote->attribute(request);
    require_equal(resumed, local.attribute(local_request));
    QVERIFY(resumed.timings.cache_hits > 0);
  }

  void tlsWithSelfSignedCa() {
    if (QStandardPaths::findExecutable("openssl").isEmpty()) QSKIP("openssl is not installed");
    QTemporaryDir dir;
    const QString d = dir.path();
    auto run = [&](const QStringList& arguments) {
      QProcess p;
      p.setWorkingDirectory(d);
      p.start("openssl", arguments);
      return p.waitForFinished(60000) && p.exitCode() == 0;
    };
    // A CA, and a server certificate for "localhost" signed by it; another CA that signed nothing.
    QVERIFY(run({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
                 "ca.pem", "-days", "1", "-subj", "/CN=atman test CA"}));
    QVERIFY(run({"req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
                 "server.csr", "-subj", "/CN=localhost"}));
    {
      std::ofstream ext((d + "/ext.cnf").toStdString());
      ext << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
    }
    QVERIFY(run({"x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "ext.cnf"}));
    QVERIFY(run({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out",
                 "other.pem", "-days", "1", "-subj", "/CN=another CA"}));
    const std::filesystem::path p = d.toStdString();
    ServerOptions so;
    so.models_dir = test::models_dir();
    so.listen = "127.0.0.1:0";
    so.token = kToken;
    so.tls_cert_pem = read_file(p / "server.pem");
    so.tls_key_pem = read_file(p / "server.key");
    Server tls(so);
    ConnectOptions o = options();
    o.address = "127.0.0.1:" + std::to_string(tls.port());
    o.ca_pem = read_file(p / "ca.pem");
    o.tls_server_name = "localhost";
    auto client = Client::connect(o);
    QCOMPARE(client->info().protocol_version, kProtocolVersion);
    auto view = client->load_model("facts-gpt2");
    AtmanExplainer local;
    require_equal(
        client->make_explainer()->attribute(lm_request(view.model, SuppressionMode::Single)),
        local.attribute(lm_request(lm_local_, SuppressionMode::Single)));
    // The wrong CA, and plain TCP to a TLS port, are refused.
    o.ca_pem = read_file(p / "other.pem");
    o.connect_timeout_s = 5;
    QVERIFY(!test::error_of<RemoteError>([&] { Client::connect(o); }).startsWith("WRONG"));
    QVERIFY(!test::error_of<RemoteError>([&] { Client::connect(o); }).startsWith("NO EXC"));
    o.ca_pem.clear();
    QVERIFY(!test::error_of<RemoteError>([&] { Client::connect(o); }).startsWith("NO EXC"));
  }

  void malformedMessages() {
    auto channel = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
    grpc::GenericStub generic(channel);
    for (const char* method : {"/atman.v1.Atman/LoadModel", "/atman.v1.Atman/Predict",
                               "/atman.v1.Atman/Explain", "/atman.v1.Atman/NoSuchMethod"}) {
      grpc::CompletionQueue cq;
      grpc::ClientContext ctx;
      ctx.AddMetadata("authorization", std::string("Bearer ") + kToken);
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      const std::string garbage = "\xff\xff\xff\xff\x0f garbage that is no protobuf \x01\x02";
      grpc::Slice slice(garbage);
      grpc::ByteBuffer send(&slice, 1);
      auto call = generic.PrepareUnaryCall(&ctx, method, send, &cq);
      call->StartCall();
      grpc::ByteBuffer received;
      grpc::Status status;
      call->Finish(&received, &status, reinterpret_cast<void*>(1));
      void* tag = nullptr;
      bool ok = false;
      QVERIFY(cq.Next(&tag, &ok));
      QVERIFY2(!status.ok(), method);
      cq.Shutdown();
      while (cq.Next(&tag, &ok)) {
      }
    }
    QCOMPARE(client_->info().protocol_version, kProtocolVersion);  // still serving
  }

  void clientKilledMidStream() {
    // The CLI as a client in its own process, killed while its explanation streams.
    QProcess cli;
    const QString token_file = QDir::temp().filePath("atman-test-token");
    {
      std::ofstream out(token_file.toStdString());
      out << kToken << "\n";
    }
    cli.start(
        ATMAN_CLI,
        {"explain",
         "--server",
         QString::fromStdString(address_),
         "--token-file",
         token_file,
         "--model",
         "shapes-clip",
         "--image",
         QString::fromStdString((test::shared_dir() / "data" / "shapes-eval" / "001.png").string()),
         "--labels",
         "a photo of a red circle",
         "--labels",
         "a photo of a green star",
         "--target",
         "a photo of a green star",
         "--mode",
         "correlated",
         "--kappa",
         "0.61",
         "--batch-size",
         "1",
         "--json",
         QDir::temp().filePath("atman-test-killed.json")});
    QVERIFY(cli.waitForStarted());
    // Killed as soon as it reports progress (the stream is open), or after a second at most.
    QElapsedTimer timer;
    timer.start();
    while (timer.elapsed() < 5000 && !cli.readAllStandardError().contains("%"))
      cli.waitForReadyRead(50);
    cli.kill();
    cli.waitForFinished();
    QFile::remove(token_file);
    // The server goes on serving, and the abandoned work did not corrupt its cache.
    AtmanExplainer local;
    require_equal(
        client_->make_explainer()->attribute(lm_request(lm_remote_.model, SuppressionMode::Single)),
        local.attribute(lm_request(lm_local_, SuppressionMode::Single)));
  }

  void cliServerMatchesLocal() {
    // `atman explain --server` writes the same JSON as a local run, timings aside.
    QTemporaryDir dir;
    auto run = [&](const QStringList& extra, const QString& out) {
      QProcess p;
      QStringList args = {
          "explain",  "--model", "facts-gpt2", "--prompt", "The bird lives in London. Answer:",
          "--target", " London", "--quiet",    "--json",   dir.filePath(out)};
      p.start(ATMAN_CLI, args + extra);
      p.waitForFinished(60000);
      return p.exitCode() == 0 ? test::read_json(dir.filePath(out).toStdString())
                               : nlohmann::json(QString(p.readAllStandardError()).toStdString());
    };
    const QString token_file = dir.filePath("token");
    {
      std::ofstream out(token_file.toStdString());
      out << kToken << "\n";
    }
    nlohmann::json local =
        run({"--models-dir", QString::fromStdString(test::models_dir().string())}, "local.json");
    nlohmann::json remote = run(
        {"--server", QString::fromStdString(address_), "--token-file", token_file}, "remote.json");
    QVERIFY2(local.is_object(), local.dump().c_str());
    QVERIFY2(remote.is_object(), remote.dump().c_str());
    local.erase("timings");
    remote.erase("timings");
    QCOMPARE(QString::fromStdString(remote.dump()), QString::fromStdString(local.dump()));
  }

  void evalRunnerRemoteMatchesLocal() {
    // The evaluation runner with the explainers on the server (RunOptions::make_explainer) scores
    // every item as a local run does: the same explanations, bit for bit.
    const auto items = eval::load_shapes_eval(test::shared_dir() / "data" / "shapes-eval", 3);
    const auto methods = eval::parse_methods("atman_single,attention,random");
    eval::RunOptions options;
    options.faithfulness_steps = 0;
    const eval::Report local = eval::evaluate_shapes(clip_local_, items, methods, options);
    options.make_explainer = [this](const std::string& name) {
      return std::unique_ptr<Explainer>(client_->make_explainer(name));
    };
    const eval::Report remote = eval::evaluate_shapes(clip_remote_.model, items, methods, options);
    QCOMPARE(remote.model, local.model);
    QCOMPARE(remote.n, 3);
    QCOMPARE(remote.items.size(), size_t(9));
    QCOMPARE(remote.items.size(), local.items.size());
    for (size_t k = 0; k < local.items.size(); ++k) {
      const eval::ItemResult& a = remote.items[k];
      const eval::ItemResult& b = local.items[k];
      QCOMPARE(a.item, b.item);
      QCOMPARE(a.key, b.key);
      QCOMPARE(a.method, b.method);
      QVERIFY(a.score.precision == b.score.precision);
      QVERIFY(a.score.recall == b.score.recall);
      QCOMPARE(a.score.hit, b.score.hit);
      QVERIFY(a.score.chance == b.score.chance);
      QCOMPARE(a.forwards, b.forwards);
    }
    for (size_t m = 0; m < local.methods.size(); ++m) {
      QVERIFY(remote.methods[m].mAP == local.methods[m].mAP);
      QVERIFY(remote.methods[m].mAR == local.methods[m].mAR);
      QVERIFY(remote.methods[m].pointing == local.methods[m].pointing);
    }
    // The deletion / insertion curves need the weights: refused for a remote model, with a message.
    options.faithfulness_steps = 2;
    QVERIFY(test::error_of<InputError>([&] {
              eval::evaluate_shapes(clip_remote_.model, items, methods, options);
            }).contains("faithfulness steps to 0"));
    // So is a remote model without remote explainers.
    options.faithfulness_steps = 0;
    options.make_explainer = {};
    QVERIFY(test::error_of<InputError>([&] {
              eval::evaluate_shapes(clip_remote_.model, items, methods, options);
            }).contains("RunOptions::make_explainer"));
  }

  void cliEvalServerMatchesLocal() {
    // `atman eval --server` writes the same JSON as a local run, seconds aside; it refuses
    // --faithfulness-steps.
    QTemporaryDir dir;
    const QString token_file = dir.filePath("token");
    {
      std::ofstream out(token_file.toStdString());
      out << kToken << "\n";
    }
    QString error;
    auto run = [&](const QStringList& extra, const QString& out) {
      QProcess p;
      QStringList args = {
          "eval",
          "shapes",
          "--model",
          "shapes-clip",
          "--data",
          QString::fromStdString((test::shared_dir() / "data" / "shapes-eval").string()),
          "--limit",
          "2",
          "--methods",
          "atman_single,random",
          "--quiet",
          "--json",
          dir.filePath(out)};
      p.start(ATMAN_CLI, args + extra);
      p.waitForFinished(120000);
      error = QString(p.readAllStandardError());
      return p.exitCode() == 0 ? test::read_json(dir.filePath(out).toStdString())
                               : nlohmann::json(error.toStdString());
    };
    const QStringList server = {"--server", QString::fromStdString(address_), "--token-file",
                                token_file};
    nlohmann::json local = run({"--models-dir", QString::fromStdString(test::models_dir().string()),
                                "--faithfulness-steps", "0"},
                               "local.json");
    nlohmann::json remote = run(server, "remote.json");  // the curves are off by default
    QVERIFY2(local.is_object(), local.dump().c_str());
    QVERIFY2(remote.is_object(), remote.dump().c_str());
    QCOMPARE(remote["n"].get<int>(), 2);
    for (auto* report : {&local, &remote})
      for (auto& [name, method] : (*report)["methods"].items()) method.erase("seconds");
    QCOMPARE(QString::fromStdString(remote.dump()), QString::fromStdString(local.dump()));
    const nlohmann::json refused = run(server + QStringList{"--faithfulness-steps", "5"}, "x.json");
    QVERIFY2(refused.is_string(), refused.dump().c_str());
    QVERIFY2(error.contains("run `atman eval` on the server machine"), qPrintable(error));
  }

  void concurrentClientsAndMemory() {
    // 8 clients at once, each with its own channel, in bounded loops; every answer is right.
    const Explanation want =
        AtmanExplainer().attribute(lm_request(lm_local_, SuppressionMode::Single));
    std::atomic<int> failures{0};
    // The clients stay connected across the loops: the measurement is of requests, not of gRPC
    // setting up and caching channels.
    std::vector<std::shared_ptr<Client>> clients;
    std::vector<RemoteModel> models;
    for (int t = 0; t < 8; ++t) {
      clients.push_back(Client::connect(options()));
      models.push_back(clients.back()->load_model("facts-gpt2"));
    }
    auto loop = [&](int rounds) {
      std::vector<std::thread> threads;
      for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
          try {
            auto explainer = clients[t]->make_explainer();
            for (int i = 0; i < rounds; ++i) {
              const Explanation got =
                  explainer->attribute(lm_request(models[t].model, SuppressionMode::Single));
              if (got.candidates.size() != want.candidates.size() ||
                  got.candidates[t % got.candidates.size()].value !=
                      want.candidates[t % want.candidates.size()].value)
                ++failures;
              clients[t]->info();
            }
          } catch (const std::exception& e) {
            qWarning("client %d: %s", t, e.what());
            ++failures;
          }
        });
      for (auto& thread : threads) thread.join();
    };
    loop(5);  // warm up: allocator pools, gRPC's threads
    QCOMPARE(failures.load(), 0);
    const long start = rss_kib();
    loop(25);  // 8 x 25 = 200 explanations (and 200 ServerInfo calls)
    const long before = rss_kib();
    loop(25);  // 200 more: a leak grows with every request, a warm-up does not repeat
    const long after = rss_kib();
    qInfo("resident memory: %ld KiB after warm-up, %ld after 200 requests", start, before);
    QCOMPARE(failures.load(), 0);
    qInfo("resident memory over 200 requests: %ld -> %ld KiB (%+ld KiB)", before, after,
          after - before);
#if defined(ATMAN_SANITIZED)
    qInfo("ASan keeps freed memory in quarantine: the growth bound is checked in Release only");
#else
    QVERIFY2(after - before < 8 * 1024, "more than 8 MiB of growth over 200 requests");
#endif
  }
};

QTEST_GUILESS_MAIN(TestRemote)
#include "test_remote.moc"
