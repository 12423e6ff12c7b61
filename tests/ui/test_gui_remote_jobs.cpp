// Every kind of job of the GUI's worker, run on an `atman serve` server (a JobRunner after a
// Connect job) and in this process (another JobRunner): model loading, zero-shot ranking, plain
// and steered generation, an explanation, a κ sweep and a neighbourhood must give the same values,
// bit for bit. Also: a connect with a wrong token fails without changing where the jobs run, and
// a cancelled remote explanation ends as cancelled.
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <atomic>
#include <functional>
#include <map>

#include "atman/error.h"
#include "atman/explanation.h"
#include "atman/inference.h"
#include "conversions.h"
#include "explain_session.h"
#include "job_runner.h"
#include "remote/server.h"

using namespace atman;
using namespace atman::ui;

namespace {

const QString kToken = QStringLiteral("gui-jobs-token-51be0d");
constexpr int kTimeoutMs = 90'000;

QString sharedDir() {
  return QStringLiteral(ATMAN_SHARED_DIR);
}

std::string valuesOf(const Explanation& e) {
  Explanation copy = e;
  copy.timings = {};
  return to_json(copy, 0);
}

// What the worker of a JobRunner delivered, by job.
struct Results {
  std::map<JobId, LoadedModel> loaded;
  std::map<JobId, BackendInfo> backends;
  std::map<JobId, Prediction> predictions;
  std::map<JobId, ExplainResult> explained;
  std::map<JobId, ExplanationList> sweeps;
  std::map<JobId, NeighbourResult> neighbours;
  std::map<JobId, QString> failed;
  std::vector<JobId> cancelled;

  explicit Results(const JobRunner& runner) {
    const CoreWorker* w = runner.worker();
    QObject::connect(w, &CoreWorker::modelLoaded,
                     [this](JobId j, const LoadedModel& m) { loaded[j] = m; });
    QObject::connect(w, &CoreWorker::backendChanged,
                     [this](JobId j, const BackendInfo& b) { backends[j] = b; });
    QObject::connect(w, &CoreWorker::predicted,
                     [this](JobId j, const Prediction& p) { predictions[j] = p; });
    QObject::connect(w, &CoreWorker::explained,
                     [this](JobId j, const ExplainResult& r) { explained[j] = r; });
    QObject::connect(w, &CoreWorker::prefetched,
                     [this](JobId j, const ExplanationList& s) { sweeps[j] = s; });
    QObject::connect(w, &CoreWorker::neighboursFound,
                     [this](JobId j, const NeighbourResult& n) { neighbours[j] = n; });
    QObject::connect(w, &CoreWorker::failed,
                     [this](JobId j, const QString& message) { failed[j] = message; });
    QObject::connect(w, &CoreWorker::cancelled, [this](JobId j) { cancelled.push_back(j); });
  }
};

bool waitFor(const std::function<bool()>& done) {
  QDeadlineTimer deadline(kTimeoutMs);
  while (!done()) {
    if (deadline.hasExpired()) return false;
    QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    QTest::qWait(5);
  }
  return true;
}

template <typename Map>
bool waitForJob(const Map& map, const Results& results, JobId job) {
  return waitFor([&] { return map.count(job) || results.failed.count(job); });
}

}  // namespace

class TestGuiRemoteJobs : public QObject {
  Q_OBJECT

  std::unique_ptr<remote::Server> m_server;
  QString m_address;
  std::unique_ptr<JobRunner> m_local, m_remote;
  std::unique_ptr<Results> m_localResults, m_remoteResults;
  std::shared_ptr<const RgbImage> m_image;

  // Loads `name` on both runners; returns {local, remote}.
  std::pair<LoadedModel, LoadedModel> loadBoth(const QString& name) {
    const JobId l = m_local->loadModel(sharedDir() + QStringLiteral("/models/") + name, "cpu");
    const JobId r = m_remote->loadModel(name, "cpu");
    if (!waitForJob(m_localResults->loaded, *m_localResults, l) ||
        !waitForJob(m_remoteResults->loaded, *m_remoteResults, r))
      qFatal("loading %s timed out", qPrintable(name));
    if (m_remoteResults->failed.count(r))
      qFatal("remote load failed: %s", qPrintable(m_remoteResults->failed[r]));
    return {m_localResults->loaded.at(l), m_remoteResults->loaded.at(r)};
  }

  ExplainRequest clipRequest(const std::shared_ptr<const Model>& model) const {
    ExplainRequest r;
    r.model = model;
    r.labels = {"a photo of a blue square", "a photo of a red circle", "a photo of a green star"};
    r.target = r.labels.front();
    r.explain = ExplainWhat::ImagePatches;
    return r;
  }

 private slots:
  void initTestCase() {
    remote::ServerOptions options;
    options.models_dir = toStd(sharedDir() + QStringLiteral("/models"));
    options.listen = "127.0.0.1:0";
    options.token = toStd(kToken);
    m_server = std::make_unique<remote::Server>(options);
    m_address = QStringLiteral("127.0.0.1:%1").arg(m_server->port());
    m_image = std::make_shared<const RgbImage>(
        load_image(toStd(sharedDir() + QStringLiteral("/data/shapes-eval/000.png"))));
    m_local = std::make_unique<JobRunner>();
    m_remote = std::make_unique<JobRunner>();
    m_localResults = std::make_unique<Results>(*m_local);
    m_remoteResults = std::make_unique<Results>(*m_remote);
  }

  void cleanupTestCase() {
    m_remote.reset();
    m_local.reset();
    m_server.reset();
  }

  void wrongTokenChangesNothing() {
    const JobId job = m_remote->connectServer(ServerChoice{m_address, QStringLiteral("x"), {}});
    QVERIFY(waitForJob(m_remoteResults->backends, *m_remoteResults, job));
    QVERIFY(m_remoteResults->failed.count(job));
    QVERIFY2(m_remoteResults->failed[job].contains(m_address),
             qPrintable(m_remoteResults->failed[job]));
    // Still local: a folder path loads here.
    const JobId load =
        m_remote->loadModel(sharedDir() + QStringLiteral("/models/shapes-clip"), "cpu");
    QVERIFY(waitForJob(m_remoteResults->loaded, *m_remoteResults, load));
    QVERIFY(m_remoteResults->loaded.count(load));
    QVERIFY(!m_remoteResults->loaded[load].model->remote());
  }

  void connect() {
    const JobId job = m_remote->connectServer(ServerChoice{m_address, kToken, {}});
    QVERIFY(waitForJob(m_remoteResults->backends, *m_remoteResults, job));
    QVERIFY2(!m_remoteResults->failed.count(job), qPrintable(m_remoteResults->failed[job]));
    const BackendInfo& info = m_remoteResults->backends[job];
    QVERIFY(info.remote);
    QCOMPARE(info.where, m_address);
    QVERIFY(info.devices.contains(QStringLiteral("cpu")));
    QVERIFY(info.models.contains(QStringLiteral("shapes-clip")));
    QVERIFY(info.models.contains(QStringLiteral("facts-gpt2")));
  }

  // A model chosen while connecting supersedes the connect: the jobs stay here, and the session
  // says so.
  void loadWhileConnectingStaysLocal() {
    ExplainSession session;
    QSignalSpy loaded(&session, &ExplainSession::modelLoaded);
    session.connectServer(ServerChoice{m_address, kToken, {}});
    session.loadModel(sharedDir() + QStringLiteral("/models/shapes-clip"), QStringLiteral("cpu"));
    QVERIFY(loaded.wait(kTimeoutMs));
    QVERIFY(session.model() && !session.model()->remote());
    QVERIFY(!session.backend().remote);
    QVERIFY(!session.isRunning(JobKind::Connect));
  }

  void clipJobsMatchLocal() {
    const auto [local, remote] = loadBoth(QStringLiteral("shapes-clip"));
    QVERIFY(remote.model->remote());
    QCOMPARE(remote.model->name(), local.model->name());
    QCOMPARE(remote.model->patch_grid(), local.model->patch_grid());

    // Zero-shot ranking.
    PredictRequest predict;
    predict.image = m_image;
    predict.labels = clipRequest(nullptr).labels;
    predict.model = local.model;
    const JobId pl = m_local->predict(predict);
    predict.model = remote.model;
    const JobId pr = m_remote->predict(predict);
    QVERIFY(waitForJob(m_localResults->predictions, *m_localResults, pl));
    QVERIFY(waitForJob(m_remoteResults->predictions, *m_remoteResults, pr));
    const auto& ll = m_localResults->predictions.at(pl).labels;
    const auto& rl = m_remoteResults->predictions.at(pr).labels;
    QCOMPARE(rl.size(), ll.size());
    for (size_t i = 0; i < ll.size(); ++i) {
      QCOMPARE(rl[i].label, ll[i].label);
      QVERIFY(rl[i].logit == ll[i].logit && rl[i].probability == ll[i].probability);
    }

    // Single and correlated explanations in one job, then a κ sweep and a neighbourhood.
    ExplainJob job;
    job.single = clipRequest(local.model);
    job.correlated = clipRequest(local.model);
    job.correlated->mode = SuppressionMode::Correlated;
    job.image = m_image;
    const JobId el = m_local->explain(job);
    job.single->model = job.correlated->model = remote.model;
    const JobId er = m_remote->explain(job);
    QVERIFY(waitForJob(m_localResults->explained, *m_localResults, el));
    QVERIFY(waitForJob(m_remoteResults->explained, *m_remoteResults, er));
    QVERIFY2(!m_remoteResults->failed.count(er), qPrintable(m_remoteResults->failed[er]));
    QCOMPARE(valuesOf(*m_remoteResults->explained.at(er).single),
             valuesOf(*m_localResults->explained.at(el).single));
    QCOMPARE(valuesOf(*m_remoteResults->explained.at(er).correlated),
             valuesOf(*m_localResults->explained.at(el).correlated));

    ExplainRequest sweep = *job.correlated;
    const std::vector<double> kappas{0.5, 0.9};
    sweep.model = local.model;
    const JobId sl = m_local->prefetch(sweep, m_image, kappas);
    sweep.model = remote.model;
    const JobId sr = m_remote->prefetch(sweep, m_image, kappas);
    QVERIFY(waitForJob(m_localResults->sweeps, *m_localResults, sl));
    QVERIFY(waitForJob(m_remoteResults->sweeps, *m_remoteResults, sr));
    const ExplanationList& swl = m_localResults->sweeps.at(sl);
    const ExplanationList& swr = m_remoteResults->sweeps.at(sr);
    QCOMPARE(swr.size(), kappas.size());
    QCOMPARE(swr.size(), swl.size());
    for (size_t i = 0; i < swl.size(); ++i) QCOMPARE(valuesOf(*swr[i]), valuesOf(*swl[i]));

    sweep.model = local.model;
    const JobId nl = m_local->neighbours(sweep, m_image, 27, 0.5);
    sweep.model = remote.model;
    const JobId nr = m_remote->neighbours(sweep, m_image, 27, 0.5);
    QVERIFY(waitForJob(m_localResults->neighbours, *m_localResults, nl));
    QVERIFY(waitForJob(m_remoteResults->neighbours, *m_remoteResults, nr));
    const auto& fl = m_localResults->neighbours.at(nl).factors;
    const auto& fr = m_remoteResults->neighbours.at(nr).factors;
    QVERIFY(!fl.empty());
    QCOMPARE(fr.size(), fl.size());
    for (size_t i = 0; i < fl.size(); ++i)
      QVERIFY(fr[i].candidate == fl[i].candidate && fr[i].similarity == fl[i].similarity &&
              fr[i].factor == fl[i].factor);
  }

  void generationMatchesLocal() {
    const auto [local, remote] = loadBoth(QStringLiteral("facts-gpt2"));
    QVERIFY(remote.model->generates());
    QCOMPARE(remote.defaultPrompt, local.defaultPrompt);
    PredictRequest request;
    request.prompt =
        "The cat is red. The dog lives in Paris. Question: Where does the dog live? Answer:";
    request.maxNewTokens = 4;
    request.steering = {{3, 0.2f}, {9, 2.0f}};  // plain and steered, in one Steer job
    request.model = local.model;
    const JobId l = m_local->predict(request);
    request.model = remote.model;
    const JobId r = m_remote->predict(request);
    QVERIFY(waitForJob(m_localResults->predictions, *m_localResults, l));
    QVERIFY(waitForJob(m_remoteResults->predictions, *m_remoteResults, r));
    QVERIFY2(!m_remoteResults->failed.count(r), qPrintable(m_remoteResults->failed[r]));
    const Prediction& pl = m_localResults->predictions.at(l);
    const Prediction& pr = m_remoteResults->predictions.at(r);
    QVERIFY(!pl.generation.ids.empty());
    QVERIFY(pr.generation.ids == pl.generation.ids);
    QCOMPARE(pr.generation.text, pl.generation.text);
    QVERIFY(pr.steered && pl.steered);
    QVERIFY(pr.steered->ids == pl.steered->ids);
  }

  // The steering panel's token layout of a server's LLaVA comes from the server (its image tokens
  // need the vision tower) and equals the local one.
  void llavaInputLayoutFromServer() {
    const auto [local, remote] = loadBoth(QStringLiteral("shapes-llava"));
    QVERIFY(!local.inputLayout);
    QVERIFY(remote.inputLayout);
    const std::string prompt = "<image>\nQuestion: What is in the picture? Answer:";
    QVERIFY_THROWS_EXCEPTION(ModelError, input_layout(*remote.model, prompt));
    const std::vector<InputPosition> want = input_layout(*local.model, prompt);
    const std::vector<InputPosition> got = remote.inputLayout(prompt, nullptr);
    QVERIFY(want.size() > 10);
    QCOMPARE(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i)
      QVERIFY(got[i].is_image == want[i].is_image && got[i].text == want[i].text &&
              got[i].span == want[i].span && got[i].row == want[i].row &&
              got[i].col == want[i].col);
  }

  void cancelledRemoteExplanation() {
    const auto [local, remote] = loadBoth(QStringLiteral("facts-gpt2"));
    ExplainRequest request;
    request.model = remote.model;
    std::string prompt;
    for (int i = 0; i < 40; ++i) prompt += " The dog lives in Paris.";
    request.prompt = prompt.substr(0, 400) + " The dog lives in";
    request.target = " Paris";
    request.explain = ExplainWhat::PromptTokens;
    request.batch_size = 1;  // a forward per batch: many chances to stop
    // Cancel from the worker's own progress report, so the job is surely running on the server:
    // the next progress callback returns false and the client cancels the call.
    std::atomic<bool> requested{false};
    const QMetaObject::Connection hook = QObject::connect(
        m_remote->worker(), &CoreWorker::progress, this,
        [&](JobId, double fraction) {
          if (fraction > 0 && fraction < 1 && !requested.exchange(true))
            m_remote->cancel(JobKind::Explain);
        },
        Qt::DirectConnection);
    ExplainJob job;
    job.single = request;
    const JobId id = m_remote->explain(job);
    const auto ended = [&](JobId j) {
      return m_remoteResults->explained.count(j) || m_remoteResults->failed.count(j) ||
             std::count(m_remoteResults->cancelled.begin(), m_remoteResults->cancelled.end(), j);
    };
    QVERIFY(waitFor([&] { return ended(id); }));
    QObject::disconnect(hook);
    QVERIFY(requested);
    QVERIFY2(std::count(m_remoteResults->cancelled.begin(), m_remoteResults->cancelled.end(), id),
             qPrintable(m_remoteResults->failed.count(id) ? m_remoteResults->failed[id]
                                                          : QStringLiteral("it finished")));
    // The server is still there for the next one.
    const JobId again = m_remote->explain(job);
    QVERIFY(waitFor([&] { return ended(again); }));
    QVERIFY(m_remoteResults->explained.count(again));
  }

  // The Connect dialog's CA file: TLS with a CA made here; another CA and a missing file fail
  // with their reasons, and the jobs stay where they were.
  void tlsWithCaFile() {
    if (QStandardPaths::findExecutable(QStringLiteral("openssl")).isEmpty())
      QSKIP("openssl is not installed");
    QTemporaryDir dir;
    const auto run = [&](const QStringList& arguments) {
      QProcess p;
      p.setWorkingDirectory(dir.path());
      p.start(QStringLiteral("openssl"), arguments);
      return p.waitForFinished(60000) && p.exitCode() == 0;
    };
    QVERIFY(run({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
                 "ca.pem", "-days", "1", "-subj", "/CN=atman gui test CA"}));
    QVERIFY(run({"req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
                 "server.csr", "-subj", "/CN=localhost"}));
    {
      QFile ext(dir.filePath(QStringLiteral("ext.cnf")));
      QVERIFY(ext.open(QIODevice::WriteOnly));
      ext.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    }
    QVERIFY(run({"x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "ext.cnf"}));
    QVERIFY(run({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out",
                 "other.pem", "-days", "1", "-subj", "/CN=another CA"}));
    const auto read = [&](const char* name) {
      QFile file(dir.filePath(QLatin1String(name)));
      return file.open(QIODevice::ReadOnly) ? file.readAll().toStdString() : std::string();
    };
    remote::ServerOptions options;
    options.models_dir = toStd(sharedDir() + QStringLiteral("/models"));
    options.listen = "127.0.0.1:0";
    options.token = toStd(kToken);
    options.tls_cert_pem = read("server.pem");
    options.tls_key_pem = read("server.key");
    remote::Server tls(options);
    const QString address = QStringLiteral("localhost:%1").arg(tls.port());

    JobRunner runner;
    Results results(runner);
    const auto connectWith = [&](const QString& caFile) {
      const JobId job = runner.connectServer(ServerChoice{address, kToken, caFile});
      if (!waitForJob(results.backends, results, job)) qFatal("connect timed out");
      return job;
    };
    const JobId missing = connectWith(dir.filePath(QStringLiteral("absent.pem")));
    QVERIFY2(results.failed[missing].contains(QStringLiteral("absent.pem")),
             qPrintable(results.failed[missing]));
    const JobId wrong = connectWith(dir.filePath(QStringLiteral("other.pem")));
    QVERIFY(results.failed.count(wrong));
    qInfo("wrong CA: %s", qPrintable(results.failed[wrong]));
    QVERIFY(results.backends.empty());  // nothing changed
    const JobId good = connectWith(dir.filePath(QStringLiteral("ca.pem")));
    QVERIFY2(!results.failed.count(good), qPrintable(results.failed[good]));
    QVERIFY(results.backends.at(good).remote);
    const JobId load = runner.loadModel(QStringLiteral("facts-gpt2"), QStringLiteral("cpu"));
    QVERIFY(waitForJob(results.loaded, results, load));
    QVERIFY2(results.loaded.count(load), qPrintable(results.failed[load]));
    QCOMPARE(toQString(results.loaded.at(load).model->remote()->address), address);
    runner.shutdown();  // before the server goes
  }
};

QTEST_GUILESS_MAIN(TestGuiRemoteJobs)
#include "test_gui_remote_jobs.moc"
