// The data plane's Prometheus metrics, declared in one place.
//
// Label values are bounded: configured model ids (or "unknown"), provider
// names from the configuration, and fixed enums. Never request data.
#ifndef REBOUND_SERVER_METRICS_H_
#define REBOUND_SERVER_METRICS_H_

#include <memory>
#include <string>
#include <string_view>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace rebound {

class Metrics {
 public:
  Metrics();

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  // outcome: ok, upstream_error, exhausted, invalid_request, unknown_model,
  // overloaded, shutting_down, cancelled, stream_interrupted.
  void RecordRequest(std::string_view model, std::string_view outcome);
  // outcome: success, http_error, timeout, transport_error,
  // stream_interrupted, overloaded, cancelled. status_class: 2xx, 4xx, 5xx, none.
  void RecordAttempt(std::string_view model, std::string_view provider, std::string_view outcome,
                     std::string_view status_class, double ttfb_seconds, double duration_seconds);
  void RecordOverhead(double seconds);
  void RecordMalformedEvent(std::string_view model);
  void RecordConfigLoad(bool ok);

  prometheus::Gauge& in_flight() { return *in_flight_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Counter>* attempts_;
  prometheus::Family<prometheus::Histogram>* ttfb_;
  prometheus::Family<prometheus::Histogram>* duration_;
  prometheus::Histogram* overhead_;
  prometheus::Family<prometheus::Counter>* malformed_events_;
  prometheus::Family<prometheus::Counter>* config_loads_;
  prometheus::Gauge* in_flight_;
};

}  // namespace rebound

#endif  // REBOUND_SERVER_METRICS_H_
