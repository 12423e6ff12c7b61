// The processes of an MPI launch (mpirun, or srun under Slurm) as `atman eval` uses them: rank and
// size, the rank on this node (which GPU to take), and the gathering of text on rank 0. Compiled
// from mpi_shards.cpp with ATMAN_WITH_MPI, else from mpi_shards_off.cpp; nothing else in the
// project sees MPI.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace atman::cli {

class MpiRanks {
 public:
  virtual ~MpiRanks() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // This rank's index among the ranks on its node (OMPI_COMM_WORLD_LOCAL_RANK, SLURM_LOCALID, or
  // the ranks sharing its memory).
  virtual int local_rank() const = 0;
  // Collective: rank 0 gets every rank's text in rank order, the others an empty list.
  virtual std::vector<std::string> gather(const std::string& text) = 0;
  // Collective: returns when every rank has called it.
  virtual void barrier() = 0;
};

// The ranks when an MPI launcher started this process, else nullptr (one process, no MPI
// initialised, no mpirun needed). Without MPI support an InputError when the launcher started
// several processes: each would run the whole evaluation.
std::unique_ptr<MpiRanks> start_mpi();

}  // namespace atman::cli
