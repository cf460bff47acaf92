// Times mhacheck's reference forward pass (mha_forward) in-process, for the forward-pass
// benchmark against PyTorch (bench/forward/run.sh, bench/README.md "Forward pass").
//
//   forward_bench N L S E H need_weights threads repeats [seed]
//
// Builds random float32 query (L, N, E), key and value (S, N, E) (batch_first=False, distinct
// tensors) and parameters from initial_mha_parameters, runs mha_forward once untimed (warm-up), then
// `repeats` timed runs, and prints one JSON line: the median and minimum wall time per call in
// ms, every run's time (for pooling across processes), and the process's peak RSS (getrusage
// ru_maxrss) in MiB beside the RSS measured before the inputs were built (the start-up
// baseline). Run each configuration in its own process so the peak belongs to it alone.
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "forward/attention_kernels.hpp"
#include "mhacheck/npy.hpp"
#include "mhacheck/spec.hpp"

namespace {

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux: KiB
}

// Current resident set (VmRSS), for the baseline before the inputs exist.
double current_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  }
  return -1.0;
}

mhacheck::Array random_array(std::vector<std::int64_t> shape, mhacheck::Random& random) {
  mhacheck::Array array = mhacheck::make_array(mhacheck::DType::Float32, std::move(shape));
  random.fill_normal(array, 0.0, 1.0);
  return array;
}

// CPU time of the whole process (every thread), in ms: unlike wall time, it does not grow while
// other processes hold the cores.
double process_cpu_ms() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) * 1e-6;
}

long argument(char** argv, int index) { return std::strtol(argv[index], nullptr, 10); }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 9) {
    std::fprintf(stderr, "usage: %s N L S E H need_weights(0|1) threads repeats [seed]\n", argv[0]);
    return 2;
  }
  const long N = argument(argv, 1), L = argument(argv, 2), S = argument(argv, 3), E = argument(argv, 4),
             H = argument(argv, 5);
  const bool need_weights = argument(argv, 6) != 0;
  const int threads = static_cast<int>(argument(argv, 7));
  const int repeats = std::max(1, static_cast<int>(argument(argv, 8)));
  const unsigned long seed = argc > 9 ? std::strtoul(argv[9], nullptr, 10) : 1234;
  if (N <= 0 || L <= 0 || S <= 0 || E <= 0 || H <= 0 || E % H != 0 || threads <= 0) {
    std::fprintf(stderr, "forward_bench: need positive sizes, E divisible by H, threads >= 1\n");
    return 2;
  }

  const double baseline_mib = current_rss_mib();

  mhacheck::MhaOptions options;
  options.embed_dim = E;
  options.num_heads = H;
  options.dtype = mhacheck::DType::Float32;  // bias=True, batch_first=False: PyTorch's defaults
  mhacheck::Random random(seed);
  mhacheck::StateDict parameters = mhacheck::initial_mha_parameters(options, random);
  mhacheck::Array query = random_array({L, N, E}, random);
  mhacheck::Array key = random_array({S, N, E}, random);
  mhacheck::Array value = random_array({S, N, E}, random);

  mhacheck::MhaInputs inputs;
  inputs.query = &query;
  inputs.key = &key;
  inputs.value = &value;
  inputs.need_weights = need_weights;
  inputs.average_attn_weights = true;  // PyTorch's default

  double checksum = 0.0;
  auto run_once = [&]() {
    mhacheck::MhaOutputs outputs = mhacheck::mha_forward(options, parameters, inputs, threads);
    // Touch the results so nothing can be optimised away.
    checksum += static_cast<double>(outputs.attn_output.data<float>()[0]);
    if (outputs.attn_output_weights) checksum += static_cast<double>(outputs.attn_output_weights->data<float>()[0]);
  };

  auto start = std::chrono::steady_clock::now();
  run_once();  // warm-up: first-touch page faults, OpenBLAS thread start-up
  const double warmup_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

  std::vector<double> times, cpu_times;
  for (int r = 0; r < repeats; ++r) {
    start = std::chrono::steady_clock::now();
    const double cpu_start = process_cpu_ms();
    run_once();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    cpu_times.push_back(process_cpu_ms() - cpu_start);
  }
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t n = sorted.size();
  const double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  const double peak = peak_rss_mib();
  auto json_list = [](const std::vector<double>& values) {
    std::string list;
    for (double t : values) {
      char item[32];
      std::snprintf(item, sizeof item, "%s%.3f", list.empty() ? "" : ", ", t);
      list += item;
    }
    return list;
  };

  std::printf(
      "{\"tool\": \"mhacheck\", \"N\": %ld, \"L\": %ld, \"S\": %ld, \"E\": %ld, \"H\": %ld, \"need_weights\": %s, "
      "\"threads\": %d, \"repeats\": %d, \"median_ms\": %.3f, \"min_ms\": %.3f, \"max_ms\": %.3f, \"warmup_ms\": %.3f, "
      "\"peak_rss_mib\": %.1f, \"baseline_rss_mib\": %.1f, \"peak_over_baseline_mib\": %.1f, \"checksum\": %.6g, "
      "\"times_ms\": [%s], \"cpu_ms\": [%s]}\n",
      N, L, S, E, H, need_weights ? "true" : "false", threads, repeats, median, sorted.front(), sorted.back(), warmup_ms,
      peak, baseline_mib, peak - baseline_mib, checksum, json_list(times).c_str(), json_list(cpu_times).c_str());
  return 0;
}
