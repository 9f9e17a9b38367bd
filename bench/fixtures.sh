# Sourced by the load-generator benchmarks: a work directory removed at exit (with the nginx
# they start, NGINX_PID), the request they all send, and the files that make iris-lab and wrk
# send it (iris-lab with a random flower, checked as the guide checks it).

WORK=$(mktemp -d)
NGINX_PID=""
cleanup() {
    if [ -n "$NGINX_PID" ]; then kill "$NGINX_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

PREDICT_BODY='{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}'

# Writes DIR/predict.yaml (a class with one task, POST /predict) and DIR/post.lua (wrk's POST).
write_fixtures() {
    cat >"$1/predict.yaml" <<EOF
classes:
- name: PredictOnly
  wait: 0
  tasks:
  - {method: POST, path: /predict, body: iris, check: predict}
EOF
    cat >"$1/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$PREDICT_BODY'
wrk.headers["Content-Type"] = "application/json"
EOF
}
