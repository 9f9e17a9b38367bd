use super::*;
use iris_base::units::Stage;
use iris_loadgen::Stripe;
use iris_record::DEFAULT_OUT_DIR;

/// A plan with every field set to something other than its default.
pub fn every_field_set() -> RunPlan {
    let class = UserClass::builtin("StressTestUser").unwrap();
    RunPlan {
        load: LoadPlan {
            users: 7,
            spawn_rate: 2.5,
            duration: Duration::new(61, 5),
            class,
            timeout: Duration::from_millis(1500),
            connection: ConnectionPolicy {
                max_requests: Some(10),
                max_age: Some(Duration::from_secs(30)),
            },
            source_ports: Some((40_000, 50_000)),
            trace_sample: 0.25,
            stages: Some(Stages(vec![
                Stage {
                    duration: Duration::from_millis(1500),
                    target: 3.5,
                },
                Stage {
                    duration: Duration::new(2, 1),
                    target: 0.0,
                },
            ])),
            open: Some(OpenModel {
                rate: 12.5,
                max_in_flight: 9,
                queue: true,
                stripe: Stripe { index: 1, of: 3 },
            }),
        },
        scenario: Some(PathBuf::from("scenario.yaml")),
        out_dir: PathBuf::from("runs"),
        label: Some("every field".into()),
        csv: Some(PathBuf::from("out/run")),
        thresholds: Thresholds {
            max_failure_rate: Some(0.01),
            max_p95: Some(Duration::from_millis(500)),
        },
        insecure: true,
        watch_cluster: true,
        mode: RunMode::Kubernetes {
            workers: 3,
            pods: PodSettings {
                image: "iris-lab:test".into(),
                cpu: Some("2".into()),
                memory: Some("1Gi".into()),
                node_selector: [("pool".to_string(), "load".to_string())].into(),
                start_delay: Duration::from_secs(7),
            },
        },
    }
}

/// Every field of the plan, named: a field added to any of these types fails to compile here
/// until it is set in [`every_field_set`] and checked below.
#[test]
fn every_field_is_set_and_survives_json() {
    let plan = every_field_set();
    let json = serde_json::to_string(&plan).unwrap();
    let back: RunPlan = serde_json::from_str(&json).unwrap();
    assert_eq!(back, plan, "{json}");

    let RunPlan {
        load,
        scenario,
        out_dir,
        label,
        csv,
        thresholds,
        insecure,
        watch_cluster,
        mode,
    } = &back;
    let LoadPlan {
        users,
        spawn_rate,
        duration,
        class,
        timeout,
        connection,
        source_ports,
        trace_sample,
        stages,
        open,
    } = load;
    let ConnectionPolicy {
        max_requests,
        max_age,
    } = connection;
    let Some(OpenModel {
        rate,
        max_in_flight,
        queue,
        stripe: Stripe { index, of },
    }) = open
    else {
        panic!("open model lost: {json}");
    };
    let Thresholds {
        max_failure_rate,
        max_p95,
    } = thresholds;
    let RunMode::Kubernetes {
        workers,
        pods:
            PodSettings {
                image,
                cpu,
                memory,
                node_selector,
                start_delay,
            },
    } = mode
    else {
        panic!("mode lost: {json}");
    };
    let defaults = RunPlan::builder(UserClass::builtin("IrisPredictionAPIUser").unwrap())
        .users(1)
        .build()
        .unwrap();
    let d = &defaults.load;
    assert_ne!(*users, d.users);
    assert_ne!(*spawn_rate, d.spawn_rate);
    assert_ne!(*duration, d.duration);
    assert_ne!(class, &d.class);
    assert_ne!(*timeout, d.timeout);
    assert!(max_requests.is_some() && max_age.is_some());
    assert!(source_ports.is_some());
    assert_ne!(*trace_sample, d.trace_sample);
    assert!(stages.is_some());
    assert!(*rate > 0.0 && *max_in_flight != DEFAULT_MAX_IN_FLIGHT && *queue);
    assert!(*index > 0 && *of > 1);
    assert!(scenario.is_some() && label.is_some() && csv.is_some());
    assert_ne!(out_dir, &defaults.out_dir);
    assert!(max_failure_rate.is_some() && max_p95.is_some());
    assert!(*insecure && *watch_cluster);
    assert!(*workers > 1);
    assert!(!image.is_empty() && cpu.is_some() && memory.is_some());
    assert!(!node_selector.is_empty());
    assert_ne!(*start_delay, DEFAULT_WORKER_START_DELAY);
}

#[test]
fn every_mode_survives_json() {
    for mode in [
        RunMode::OneProcess,
        RunMode::LocalWorkers { workers: 2 },
        RunMode::Kubernetes {
            workers: 2,
            pods: PodSettings::new("img"),
        },
    ] {
        let plan = RunPlan {
            mode,
            ..every_field_set()
        };
        let json = serde_json::to_string(&plan).unwrap();
        assert_eq!(serde_json::from_str::<RunPlan>(&json).unwrap(), plan);
    }
}

fn builder() -> PlanBuilder {
    RunPlan::builder(UserClass::builtin("IrisPredictionAPIUser").unwrap())
}

#[test]
fn the_builder_settles_defaults_once() {
    let plan = builder().users(150).build().unwrap();
    assert_eq!(plan.load.spawn_rate, DEFAULT_SPAWN_RATE);
    assert_eq!(plan.load.duration, DEFAULT_DURATION);
    assert_eq!(plan.load.timeout, DEFAULT_TIMEOUT);
    assert_eq!(plan.load.trace_sample, DEFAULT_TRACE_SAMPLE);
    assert_eq!(plan.out_dir, PathBuf::from(DEFAULT_OUT_DIR));
    assert_eq!(plan.mode, RunMode::OneProcess);
    assert!(!plan.watch_cluster && !plan.insecure);
    // Stages give the users (their peak) and the length (their total).
    let stages: Stages = "30s:10,1m:2.5".parse().unwrap();
    let plan = builder()
        .users(99)
        .duration(Duration::from_secs(1))
        .stages(stages)
        .build()
        .unwrap();
    assert_eq!(
        (plan.load.users, plan.load.duration),
        (10, Duration::from_secs(90))
    );
    // The open model: its slots are the users.
    let plan = builder().arrival_rate(20.0).build().unwrap();
    let open = plan.load.open.unwrap();
    assert_eq!((open.max_in_flight, plan.load.users), (500, 500));
    // The wait overrides the class's.
    let wait = Wait::new(0.0, 0.0).unwrap();
    assert_eq!(
        builder()
            .users(1)
            .wait(wait)
            .build()
            .unwrap()
            .load
            .class
            .wait,
        wait
    );
}

#[test]
fn the_builder_refuses_what_cannot_run() {
    use PlanError as E;
    let err = |b: PlanBuilder| b.build().unwrap_err();
    assert_eq!(err(builder()), E::UsersMissing);
    assert_eq!(err(builder().users(0)), E::NoUsers);
    assert_eq!(err(builder().users(1).max_in_flight(3)), E::OpenModelOnly);
    assert_eq!(err(builder().users(1).queue(true)), E::OpenModelOnly);
    let too_many = 1 << 40;
    let e = err(builder().arrival_rate(1.0).max_in_flight(too_many));
    assert_eq!(e, E::MaxInFlight(too_many));
    assert_eq!(err(builder().arrival_rate(0.0)), E::ArrivalRate(0.0));
    assert_eq!(err(builder().users(1).spawn_rate(0.0)), E::SpawnRate(0.0));
    assert_eq!(
        err(builder().users(1).trace_sample(2.0)),
        E::TraceSample(2.0)
    );
    let e = err(builder().users(1).max_failure_rate(-1.0));
    assert_eq!(e, E::MaxFailureRate(-1.0));
    let local = |n| RunMode::LocalWorkers { workers: n };
    assert_eq!(err(builder().users(4).mode(local(1))), E::TooFewWorkers);
    let e = err(builder().users(2).mode(local(3)));
    assert_eq!(
        e,
        E::WorkersOverUsers {
            workers: 3,
            users: 2
        }
    );
    let kube = RunMode::Kubernetes {
        workers: 5,
        pods: PodSettings::new("i"),
    };
    let e = err(builder().users(4).mode(kube));
    assert_eq!(
        e,
        E::WorkersOverUsers {
            workers: 5,
            users: 4
        }
    );
    assert!(builder().users(4).mode(local(4)).build().is_ok());
}

/// Every refusal reads as one line that names the flag and what to do.
#[test]
fn plan_errors_read_as_one_line_naming_the_flag() {
    let lines = [
        (PlanError::NoUsers, "--users must be 1 or more"),
        (
            PlanError::UsersMissing,
            "--users is required: the number of virtual users, e.g. --users 150 \
             (or --stages, or --arrival-rate)",
        ),
        (PlanError::SpawnRate(0.0), "--spawn-rate 0: must be above 0"),
        (
            PlanError::TraceSample(2.0),
            "--trace-sample 2: must be from 0 to 1",
        ),
        (
            PlanError::MaxFailureRate(-1.0),
            "--max-failure-rate -1: must be from 0 to 1",
        ),
        (
            PlanError::ArrivalRate(0.0),
            "--arrival-rate 0: must be above 0",
        ),
        (
            PlanError::OpenModelOnly,
            "--max-in-flight and --queue apply to the open model only: add --arrival-rate R",
        ),
        (
            PlanError::MaxInFlight(1 << 40),
            "--max-in-flight 1099511627776: at most 4294967295 requests can be in flight",
        ),
        (
            PlanError::TooFewWorkers,
            "--workers must be 2 or more (1 worker is a plain `load`)",
        ),
        (
            PlanError::WorkersOverUsers {
                workers: 3,
                users: 2,
            },
            "--workers 3 is more than --users 2: every worker needs a user",
        ),
    ];
    for (error, line) in lines {
        assert_eq!(error.to_string(), line);
    }
}
