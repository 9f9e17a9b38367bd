# Sourced by the load-generator benchmarks: a work directory removed at exit (with the servers
# they start, BENCH_PIDS), the request they all send, the files that make iris-lab and wrk send
# it (iris-lab with a random flower, checked as the guide checks it), and the nginx target.

WORK=$(mktemp -d)
BENCH_PIDS=()
cleanup() {
    for pid in "${BENCH_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

PREDICT_BODY='{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}'

# Writes DIR/predict.yaml (a class with one task, POST /predict; think time WAIT, default 0)
# and DIR/post.lua (wrk's POST).
write_fixtures() {
    cat >"$1/predict.yaml" <<EOF
classes:
- name: PredictOnly
  wait: ${2:-0}
  tasks:
  - {method: POST, path: /predict, body: iris, check: predict}
EOF
    cat >"$1/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$PREDICT_BODY'
wrk.headers["Content-Type"] = "application/json"
EOF
}

# Starts nginx on 127.0.0.1:$PORT (one worker, NOFILE open files) answering the contract's
# endpoints with static JSON; the other arguments run in front of it (e.g. taskset -c 0).
# Returns once it answers /predict.
start_nginx() {
    local nofile=$1
    shift
    cat >"$WORK/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile $nofile;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
daemon off;
events { worker_connections $((nofile - 50)); multi_accept on; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 600s;
    client_body_temp_path $WORK/body;
    server {
        listen 127.0.0.1:$PORT backlog=65535 reuseport;
        location = / { default_type application/json; return 200 '{"message": "Welcome to the Iris Prediction API! Visit /docs for more info.", "version": "2.0.0", "status": "running"}'; }
        location = /health { default_type application/json; return 200 '{"status": "healthy", "timestamp": 1732700000.123, "model_loaded": true, "model_test_time": "0.0012s"}'; }
        location = /predict { default_type application/json; return 200 '{"predicted_species": "setosa", "prediction_probability": 0.9791, "inference_time": "0.0012s", "total_time": "0.0030s"}'; }
        location = /docs { default_type text/html; return 200 '<!DOCTYPE html><html><head><title>Iris Prediction API - Swagger UI</title></head><body><div id="swagger-ui"></div></body></html>'; }
    }
}
CONF
    "$@" nginx -c "$WORK/nginx.conf" -p "$WORK" &
    BENCH_PIDS+=($!)
    for _ in $(seq 50); do
        python3 -c "import urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:$PORT/predict', data=b'{}'))" \
            2>/dev/null && return 0
        sleep 0.1
    done
    echo "bench: nginx did not answer on 127.0.0.1:$PORT" >&2
    cat "$WORK/error.log" >&2
    return 1
}
