"""Decodes an OTLP/HTTP metrics request body with the published OpenTelemetry schema
(the `opentelemetry-proto` package, not iris-lab's own types) and prints it as JSON:
{"resource": {key: value}, "metrics": {name: {"kind", "temporality", "monotonic",
"points": [{"attributes": {...}, "value" | "count", "sum", "bucket_counts", "bounds"}]}}}.
"""

import json
import sys

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2


def attributes(kvs):
    return {kv.key: kv.value.string_value for kv in kvs}


def main(path):
    request = metrics_service_pb2.ExportMetricsServiceRequest()
    with open(path, "rb") as f:
        request.ParseFromString(f.read())
    out = {"resource": {}, "metrics": {}}
    for rm in request.resource_metrics:
        out["resource"].update(attributes(rm.resource.attributes))
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = m.WhichOneof("data")
                entry = {"kind": kind, "unit": m.unit, "points": []}
                if kind in ("sum", "gauge"):
                    data = getattr(m, kind)
                    if kind == "sum":
                        entry["temporality"] = data.aggregation_temporality
                        entry["monotonic"] = data.is_monotonic
                    for p in data.data_points:
                        entry["points"].append(
                            {
                                "attributes": attributes(p.attributes),
                                "value": p.as_double if p.HasField("as_double") else p.as_int,
                                "start": p.start_time_unix_nano,
                                "time": p.time_unix_nano,
                            }
                        )
                elif kind == "histogram":
                    entry["temporality"] = m.histogram.aggregation_temporality
                    for p in m.histogram.data_points:
                        entry["points"].append(
                            {
                                "attributes": attributes(p.attributes),
                                "count": p.count,
                                "sum": p.sum,
                                "bucket_counts": list(p.bucket_counts),
                                "bounds": list(p.explicit_bounds),
                            }
                        )
                out["metrics"][m.name] = entry
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
