// start_mpi() with Open MPI (ATMAN_WITH_MPI): MPI is initialised only when a launcher started the
// process, so that the same binary runs alone without mpirun.
#include <mpi.h>

#include <cstdlib>
#include <exception>
#include <limits>

#include "atman/error.h"
#include "mpi_shards.h"

namespace atman::cli {
namespace {

// Set by Open MPI's mpirun (OMPI_*), PMIx launchers such as srun --mpi=pmix (PMIX_RANK) and
// srun --mpi=pmi2 (PMI_RANK).
bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(name)) return true;
  return false;
}

void check(int code, const char* what) {
  if (code != MPI_SUCCESS) throw Error(std::string("MPI: ") + what + " failed");
}

class OpenMpiRanks final : public MpiRanks {
 public:
  OpenMpiRanks() {
    int provided = 0;
    // Only the main thread calls MPI; LibTorch's threads never do.
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
    local_rank_ = -1;
    for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"})
      if (const char* value = std::getenv(name); value && local_rank_ < 0)
        local_rank_ = std::atoi(value);
    if (local_rank_ < 0) {  // another launcher: rank among the processes sharing this node
      MPI_Comm node;
      check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node),
            "MPI_Comm_split_type");
      MPI_Comm_rank(node, &local_rank_);
      MPI_Comm_free(&node);
    }
  }
  ~OpenMpiRanks() override {
    // Unwinding from an error: the other ranks may wait in a collective that this one never
    // reaches, and MPI_Finalize would wait for them. Exiting without it makes mpirun (and srun
    // --kill-on-bad-exit) end the whole job instead of hanging.
    if (std::uncaught_exceptions() == 0) MPI_Finalize();
  }
  OpenMpiRanks(const OpenMpiRanks&) = delete;
  OpenMpiRanks& operator=(const OpenMpiRanks&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }

  std::vector<std::string> gather(const std::string& text) override {
    if (text.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
      throw Error("MPI: a rank's results exceed 2 GiB; use more ranks");
    int length = static_cast<int>(text.size());
    std::vector<int> lengths(rank_ == 0 ? size_ : 0), offsets(lengths.size());
    check(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, MPI_COMM_WORLD),
          "MPI_Gather");
    std::string all;
    if (rank_ == 0) {
      size_t total = 0;
      for (int r = 0; r < size_; ++r) {
        offsets[r] = static_cast<int>(total);
        total += static_cast<size_t>(lengths[r]);
      }
      if (total > static_cast<size_t>(std::numeric_limits<int>::max()))
        throw Error("MPI: the gathered results exceed 2 GiB");
      all.resize(total);
    }
    check(MPI_Gatherv(text.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(),
                      MPI_CHAR, 0, MPI_COMM_WORLD),
          "MPI_Gatherv");
    std::vector<std::string> texts;
    for (int r = 0; r < static_cast<int>(lengths.size()); ++r)
      texts.push_back(all.substr(offsets[r], lengths[r]));
    return texts;
  }

  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0;
};

}  // namespace

std::unique_ptr<MpiRanks> start_mpi() {
  if (!launched_by_mpi()) return nullptr;
  return std::make_unique<OpenMpiRanks>();
}

}  // namespace atman::cli
