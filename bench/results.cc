#include "bench/results.h"

#include "bench/latency_stats.h"

namespace rebound::bench {

void ResultSet::Set(const std::string& key, double value) {
  for (auto& [k, v] : values_) {
    if (k == key) {
      v = value;
      return;
    }
  }
  values_.emplace_back(key, value);
}

double ResultSet::Get(const std::string& key) const {
  for (const auto& [k, v] : values_) {
    if (k == key) return v;
  }
  return 0;
}

bool ResultSet::Has(const std::string& key) const {
  for (const auto& [k, v] : values_) {
    if (k == key) return true;
  }
  return false;
}

bool IsCountKey(const std::string& key) { return key.ends_with(".errors"); }

ResultSet Combine(const std::vector<ResultSet>& repeats) {
  ResultSet combined;
  if (repeats.empty()) return combined;
  for (const auto& [key, unused] : repeats.front().values()) {
    std::vector<double> values;
    for (const ResultSet& r : repeats) values.push_back(r.Get(key));
    if (IsCountKey(key)) {
      double sum = 0;
      for (double v : values) sum += v;
      combined.Set(key, sum);
    } else {
      combined.Set(key, Median(std::move(values)));
    }
  }
  return combined;
}

}  // namespace rebound::bench
