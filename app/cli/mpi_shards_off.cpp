// start_mpi() of an `atman` built without MPI (ATMAN_WITH_MPI=OFF): always one process.
#include <cstdlib>

#include "atman/error.h"
#include "mpi_shards.h"

namespace atman::cli {

std::unique_ptr<MpiRanks> start_mpi() {
  // Open MPI's mpirun and Slurm's srun --mpi=pmi2 say how many processes they started.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    const char* value = std::getenv(name);
    if (value && std::atoi(value) > 1)
      throw InputError(
          "this atman was built without MPI (ATMAN_WITH_MPI=OFF), so each of the " +
          std::string(value) +
          " processes would run the whole evaluation: build with libopenmpi-dev installed, or run "
          "one process per shard with --shard I/N");
  }
  return nullptr;
}

}  // namespace atman::cli
