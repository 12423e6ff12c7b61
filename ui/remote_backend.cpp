#include "remote_backend.h"

#include <QFile>
#include <QObject>

#include <utility>

#include "atman/remote.h"
#include "conversions.h"

namespace atman::ui {
namespace {

// Every call goes through here: the client's RemoteError (unreachable, refused, out of time)
// becomes ConnectionLost, so the worker can tell the window; the server's core errors (InputError,
// ModelError, Cancelled) pass through unchanged, as they would locally.
template <typename Call>
auto remoteCall(Call&& call) -> decltype(call()) {
  try {
    return call();
  } catch (const remote::RemoteError& e) {
    throw ConnectionLost(e.what());
  }
}

QStringList toQStringList(const std::vector<std::string>& values) {
  QStringList list;
  for (const std::string& v : values) list << toQString(v);
  return list;
}

class RemoteBackend final : public WorkerBackend {
 public:
  explicit RemoteBackend(std::shared_ptr<remote::Client> client)
      : m_client(std::move(client)), m_explainer(m_client->make_explainer("atman")) {}

  QString where() const override { return toQString(m_client->options().address); }

  LoadedModel loadModel(const QString& dirOrName, const QString& device,
                        const QString& dtype) override {
    LoadOptions options;
    options.device = toStd(device);
    options.dtype = toStd(dtype);
    const remote::RemoteModel remoteModel =
        remoteCall([&] { return m_client->load_model(toStd(dirOrName), options); });
    LoadedModel loaded;
    loaded.model = remoteModel.model;
    loaded.dir = dirOrName;  // the server's name for it: what a reload asks for
    loaded.defaultPrompt = toQString(remoteModel.default_prompt);
    if (remoteModel.model->kind() == ModelKind::Llava)
      loaded.inputLayout = [client = m_client, model = remoteModel.model](const std::string& prompt,
                                                                          const RgbImage* image) {
        return client->input_layout(*model, prompt, image);  // the client is thread-safe
      };
    return loaded;
  }

  std::vector<LabelScore> zeroShot(const Model& model, const RgbImage& image,
                                   const std::vector<std::string>& labels) override {
    return remoteCall([&] { return m_client->zero_shot(model, image, labels); });
  }

  Generation generate(const Model& model, const std::string& prompt, int maxNewTokens,
                      const RgbImage* image, const std::vector<SteeringFactor>& steering) override {
    return remoteCall(
        [&] { return m_client->generate(model, prompt, maxNewTokens, image, steering); });
  }

  Explanation explain(const ExplainRequest& request, const ProgressFn& progress) override {
    return remoteCall([&] { return m_explainer->attribute(request, progress); });
  }

  std::vector<Explanation> kappaSweep(const ExplainRequest& request,
                                      const std::vector<double>& kappas,
                                      const ProgressFn& progress) override {
    // The server keeps the masks of the explanation before it, so the sweep reuses them there.
    return remoteCall([&] { return m_explainer->kappa_sweep(request, kappas, progress); });
  }

  std::vector<NeighbourFactor> neighbours(const ExplainRequest& request, int candidate,
                                          double kappa) override {
    return remoteCall([&] { return m_explainer->neighbours(request, candidate, kappa); });
  }

 private:
  std::shared_ptr<remote::Client> m_client;
  std::unique_ptr<remote::RemoteExplainer> m_explainer;
};

}  // namespace

bool serverSupport() {
  return true;
}

std::shared_ptr<WorkerBackend> connectRemote(const ServerChoice& server, BackendInfo& info) {
  remote::ConnectOptions options;
  options.address = toStd(server.address.trimmed());
  options.token = toStd(server.token);
  if (!server.caFile.isEmpty()) {
    QFile ca(server.caFile);
    if (!ca.open(QIODevice::ReadOnly))
      throw InputError(toStd(QObject::tr("Cannot read the CA certificate %1: %2")
                                 .arg(server.caFile, ca.errorString())));
    options.ca_pem = ca.readAll().toStdString();
  }
  auto client = remote::Client::connect(options);  // checks token, certificate and protocol
  const remote::ServerInfo serverInfo = client->info();
  info.remote = true;
  info.where = toQString(options.address);
  info.version = toQString(serverInfo.version);
  info.devices = toQStringList(serverInfo.devices);
  info.models = toQStringList(serverInfo.models);
  return std::make_shared<RemoteBackend>(std::move(client));
}

}  // namespace atman::ui
