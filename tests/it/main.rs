//! The integration tests, one binary: each module is one area of iris-lab tested from the
//! outside (the real binary, real servers on 127.0.0.1:0, the Kubernetes and Cloud Trace test
//! servers in `support`).

mod support;

mod accept_queue;
mod autoscaling_accept;
mod cleanup;
mod cli;
mod compare;
mod contract;
mod demo;
mod deploy;
mod distributed;
mod distributed_kube;
mod docs;
mod doctor;
mod export;
mod load_cli;
mod load_cluster;
mod load_engine;
mod load_open;
mod load_pod_errors;
mod load_shape_cli;
mod load_tls;
mod locust_csv;
mod newcomer;
mod phases;
mod predict;
mod report;
mod report_html;
mod report_scaling;
mod serve_limits;
mod serve_predict_props;
mod serve_smoke;
mod sim;
mod smoke_failures;
mod trace;
mod verify;
mod watch;
mod web;
mod web_browser;
mod web_cluster;
mod web_form;
mod web_workers;
