// Benchmark numbers as named values ("sequential.gateway.p50_ms" -> 0.31),
// so that repeats combine key by key and the table and the JSON file are
// written from the same data.
#ifndef REBOUND_BENCH_RESULTS_H_
#define REBOUND_BENCH_RESULTS_H_

#include <string>
#include <utility>
#include <vector>

namespace rebound::bench {

class ResultSet {
 public:
  // Adds or replaces `key`. Keys keep their first insertion order.
  void Set(const std::string& key, double value);
  // The value of `key`, or 0 when absent.
  double Get(const std::string& key) const;
  bool Has(const std::string& key) const;
  const std::vector<std::pair<std::string, double>>& values() const { return values_; }

 private:
  std::vector<std::pair<std::string, double>> values_;
};

// Whether a key counts events that must add up across repeats (errors)
// rather than be summarised by their median.
bool IsCountKey(const std::string& key);

// Combines repeats key by key: counts (IsCountKey) are summed, every other
// number is the median across repeats. Keys come in the first repeat's order.
ResultSet Combine(const std::vector<ResultSet>& repeats);

}  // namespace rebound::bench

#endif  // REBOUND_BENCH_RESULTS_H_
